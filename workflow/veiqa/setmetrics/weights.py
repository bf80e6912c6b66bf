"""Weight files of the set-level metrics: their names, and where they are looked for (never downloaded)."""

from __future__ import annotations

from pathlib import Path

from ..io import VeiqaError


from ..weight_sources import get_source

FID_INCEPTION_FILE = get_source("inception_pytorch_fid").file
FID_INCEPTION_URL = get_source("inception_pytorch_fid").url
FID_INCEPTION_SHA256_PREFIX = get_source("inception_pytorch_fid").sha256  # a prefix: the one in its file name
LPIPS_BACKBONE_FILES = {net: get_source(f"lpips_{net}").file for net in ("alex", "vgg", "squeeze")}


def default_weights_dir() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def resolve_weights(path, filename: str, what: str, source: str = "") -> Path:
    """``path`` (a file, or a folder holding ``filename``) or, when None, the torch hub cache; else VeiqaError."""
    if path is not None:
        p = Path(path).expanduser()
        cand = p / filename if p.is_dir() else p
    else:
        cand = default_weights_dir() / filename
    if cand.is_file():
        return cand
    raise VeiqaError(
        f"{what}: weight file {filename} not found (looked for {cand}). Copy {filename} into the torch hub cache "
        f"{default_weights_dir()}/ or give its path in the config{' (' + source + ')' if source else ''}; "
        "veiqa never downloads weights at run time."
    )
