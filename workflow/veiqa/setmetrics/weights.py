"""Weight files of the set-level metrics: their names, and where they are looked for (never downloaded)."""

from __future__ import annotations

from pathlib import Path

from ..io import VeiqaError


FID_INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
FID_INCEPTION_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
)
LPIPS_BACKBONE_FILES = {
    "alex": "alexnet-owt-7be5be79.pth",
    "vgg": "vgg16-397923af.pth",
    "squeeze": "squeezenet1_1-b8a52dc0.pth",
}


def _default_weights_dir() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def _resolve_weights(path, filename: str, what: str, source: str = "") -> Path:
    """``path`` (a file, or a folder holding ``filename``) or, when None, the torch hub cache; else VeiqaError."""
    if path is not None:
        p = Path(path).expanduser()
        cand = p / filename if p.is_dir() else p
    else:
        cand = _default_weights_dir() / filename
    if cand.is_file():
        return cand
    raise VeiqaError(
        f"{what}: weight file {filename} not found (looked for {cand}). Copy {filename} into the torch hub cache "
        f"{_default_weights_dir()}/ or give its path in the config{' (' + source + ')' if source else ''}; "
        "veiqa never downloads weights at run time."
    )
