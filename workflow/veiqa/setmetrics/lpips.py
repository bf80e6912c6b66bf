"""LPIPS (Zhang et al. 2018) from the lpips package with offline backbone weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import VeiqaError, sha256_file
from ._tensors import _batch_tensor
from .weights import LPIPS_BACKBONE_FILES, resolve_weights


class LPIPSMetric:
    """LPIPS v0.1 (lpips package 0.1.4) with offline backbone weights; call with two ``N x 3 x H x W`` tensors in
    [0, 1] (or uint8 H x W x 3 arrays) to get N distances (float64 numpy)."""

    def __init__(self, model, net: str, backbone_path: Path, device: str = "cpu",
                 weight_files: dict[str, str] | None = None):
        self.model = model
        self.weight_files = dict(weight_files or {})  # path of each weight file used -> its full SHA-256
        self.net = net
        self.backbone_path = Path(backbone_path)
        self.device = device
        self.name = f"lpips-v0.1:{net}"

    def __call__(self, x, y) -> np.ndarray:
        import torch

        x, y = _batch_tensor(x).to(self.device), _batch_tensor(y).to(self.device)
        if x.shape != y.shape:
            raise VeiqaError(f"LPIPS: image shapes differ: {tuple(x.shape)} vs {tuple(y.shape)}")
        with torch.inference_mode():
            d = self.model(x, y, normalize=True)  # maps [0, 1] -> [-1, 1] as lpips expects
        return d.reshape(-1).to(torch.float64).cpu().numpy()


def load_lpips(net: str = "alex", backbone_weights=None, device: str = "cpu") -> LPIPSMetric:
    """Build LPIPS without any download: ``lpips.LPIPS(pretrained=True, net=net, pnet_rand=True)`` loads the
    published linear layers shipped in the package (checked here key by key), and the trunk gets the torchvision
    ImageNet checkpoint at ``backbone_weights`` (a file, or a folder holding it; default the torch hub cache):
    ``alexnet-owt-7be5be79.pth`` / ``vgg16-397923af.pth`` / ``squeezenet1_1-b8a52dc0.pth``.  lpips keeps
    torchvision's ``features`` modules under their original indices in ``net.net.sliceK.<index>``, so
    ``features.<index>.<param>`` of the checkpoint maps one-to-one; every mapped key must be present with the right
    shape and every ``features.*`` key of the checkpoint must be used."""
    import torch

    if net not in LPIPS_BACKBONE_FILES:
        raise VeiqaError(f"LPIPS: net must be one of {sorted(LPIPS_BACKBONE_FILES)}, got {net!r}")
    path = resolve_weights(backbone_weights, LPIPS_BACKBONE_FILES[net], f"LPIPS ({net} backbone)",
                            "torchvision's ImageNet checkpoint, https://download.pytorch.org/models/"
                            + LPIPS_BACKBONE_FILES[net])
    try:
        import lpips
    except ImportError as e:
        raise VeiqaError("LPIPS needs the lpips package (pip install lpips==0.1.4)") from e
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torchvision's 'pretrained' deprecation inside lpips
        model = lpips.LPIPS(pretrained=True, net=net, version="0.1", pnet_rand=True, verbose=False)
    # the linear layers: lpips loads them with strict=False, so verify they really came from the package file
    lin_file = Path(lpips.__file__).parent / "weights" / "v0.1" / f"{net}.pth"
    lin_sd = torch.load(lin_file, map_location="cpu", weights_only=True)
    own = model.state_dict()
    lin_keys = {k for k in own if k.startswith("lin") and not k.startswith("lins.")}  # lins.* alias lin*
    if set(lin_sd) != lin_keys or any(not torch.equal(own[k], lin_sd[k]) for k in lin_keys):
        raise VeiqaError(f"LPIPS: linear-layer weights {lin_file} do not match the {net} model")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise VeiqaError(f"LPIPS: cannot read {path} as a torchvision checkpoint ({e})") from e
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    trunk = model.net.state_dict()
    mapped = {}
    for k, v in trunk.items():
        src = "features." + k.split(".", 1)[1]
        if src not in sd:
            raise VeiqaError(f"LPIPS: {path} lacks {src} (not a torchvision {net} checkpoint?)")
        if tuple(sd[src].shape) != tuple(v.shape):
            raise VeiqaError(f"LPIPS: {path}: {src} has shape {tuple(sd[src].shape)}, expected {tuple(v.shape)}")
        mapped[k] = sd[src]
    unused = {k for k in sd if k.startswith("features.")} - {"features." + k.split(".", 1)[1] for k in trunk}
    if unused:
        raise VeiqaError(f"LPIPS: {path} has feature weights the {net} trunk does not use: {sorted(unused)[:5]}")
    model.net.load_state_dict(mapped, strict=True)
    model = model.to(device).eval()
    return LPIPSMetric(model, net, path, device,
                       weight_files={str(path): sha256_file(path), str(lin_file): sha256_file(lin_file)})
