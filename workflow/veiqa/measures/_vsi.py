"""VSI (Zhang, Shen & Li 2014), batched torch, following VSI.m and piq 0.8.0.

Parameters are those of the authors' VSI.m: SDSP saliency (Zhang, Gong, Zhang & Yang 2013) computed at
256×256 in CIE L*a*b* (log-Gabor band-pass in frequency, ω0 = 0.021, σ_F = 1.34; centre prior σ_D = 145;
warm-colour prior σ_C = 0.001) and resized back; LMN colour channels (L = 0.06R + 0.63G + 0.27B,
M = 0.30R + 0.04G − 0.35B, N = 0.34R − 0.60G + 0.17B); downsampling by round(min(H, W)/256); Scharr gradient
magnitude of L; C1 = 1.27, C2 = 386, C3 = 130, α = 0.40, β = 0.02; images in [0, 255].

Conventions are piq 0.8.0's (the implementation the project used before; the tests compare against it), where
they differ from VSI.m: bilinear resizes by ``torch.nn.functional.interpolate`` (to 256×256 with
``align_corners=False``, back with ``align_corners=True``; MATLAB's imresize is bicubic with antialiasing),
sRGB → XYZ (D65 matrix) → L*a*b* with the D50 white point, piq's centre-prior coordinates
(grid·256 + 1), replicate padding before the average pooling, Scharr kernels /16 with zero padding, the real
part of the complex power S_C^β (VSI.m: ``real(S_C.^β)``), and eps = machine epsilon in the final ratio.

Computed differently from piq for speed only: the log-Gabor filter (real and even, so ``rfft2``/``irfft2``
give exactly the real part of piq's complex ``ifft2``) and the centre prior are built once per
(device, dtype) and cached; a grey input (maps; VSI is defined for RGB, a grey image is used as R = G = B)
is resized and gamma-expanded as one channel (identical values, 3× less work); the saliency and LMN channels
of an image that occurs more than once in a block (a reference shared by its distorted images) are computed once.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F

from ._common import check_pair, distinct
from ._fsim import _scharr_magnitude, _sim, blockwise_255

C1, C2, C3, ALPHA, BETA = 1.27, 386.0, 130.0, 0.40, 0.02
OMEGA0, SIGMA_F, SIGMA_D, SIGMA_C = 0.021, 1.34, 145.0, 0.001
SDSP_SIZE = 256

_RGB2XYZ = ((0.4124564, 0.3575761, 0.1804375), (0.2126729, 0.7151522, 0.0721750), (0.0193339, 0.1191920, 0.9503041))
_D50 = (0.9642119944211994, 1.0, 0.8251882845188288)
_RGB2LMN = ((0.06, 0.63, 0.27), (0.30, 0.04, -0.35), (0.34, -0.6, 0.17))


@lru_cache(maxsize=8)
def _sdsp_constants(device: torch.device, dtype: torch.dtype):
    """Half-spectrum log-Gabor filter (256×129) and centre prior S_D (256×256) of SDSP, piq's grid."""
    n = SDSP_SIZE
    g = torch.arange(-n / 2, n / 2, dtype=torch.float64) / n
    xx, yy = g.reshape(-1, 1).expand(n, n), g.reshape(1, -1).expand(n, n)
    radius = torch.sqrt(xx**2 + yy**2)
    r = radius * (radius <= 0.5)
    r = torch.roll(r, (-(n // 2), -(n // 2)), (0, 1)).clone()
    r[0, 0] = 1.0
    lg = torch.exp(-torch.log(r / OMEGA0) ** 2 / (2 * SIGMA_F**2))
    lg[0, 0] = 0.0
    s_d = torch.exp(-((xx * n + 1) ** 2 + (yy * n + 1) ** 2) / SIGMA_D**2)
    cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64  # complex × complex: no promotion
    return lg[:, : n // 2 + 1].to(device=device, dtype=cdtype), s_d.to(device=device, dtype=dtype)


def _mix(m, x: torch.Tensor) -> torch.Tensor:
    """Per-pixel 3×3 colour matrix on N×3×H×W; a grey N×1×H×W input is taken as R = G = B."""
    w = torch.tensor(m, dtype=x.dtype, device=x.device)
    if x.shape[1] == 1:
        return x * w.sum(1).reshape(1, 3, 1, 1)
    return torch.einsum("kc,nchw->nkhw", w, x)


def _rgb2lab(x: torch.Tensor) -> torch.Tensor:
    """piq's rgb2lab for [0, 1] input: sRGB gamma expansion, D65 sRGB → XYZ, L*a*b* relative to D50.

    A grey input (N×1×H×W, R = G = B) is converted with one gamma expansion and one cube root per pixel:
    t_c = lin·k_c with k_c = (Σ_j M_cj)/white_c, so t_c^(1/3) = lin^(1/3)·k_c^(1/3)."""
    lin = torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    white = torch.tensor(_D50, dtype=torch.float64)
    if x.shape[1] == 1:
        k = torch.tensor(_RGB2XYZ, dtype=torch.float64).sum(1) / white
        k3 = k ** (1.0 / 3.0)
        cube = lin ** (1.0 / 3.0)
        f = [torch.where(lin * kc > 0.008856, cube * k3c, (903.3 * kc) / 116.0 * lin + 16.0 / 116.0)
             for kc, k3c in zip(k.tolist(), k3.tolist())]
        fx, fy, fz = f
    else:
        t = _mix(_RGB2XYZ, lin) / white.to(x).reshape(1, 3, 1, 1)
        f = torch.where(t > 0.008856, t ** (1.0 / 3.0), (903.3 * t + 16.0) / 116.0)
        fx, fy, fz = f[:, 0:1], f[:, 1:2], f[:, 2:3]
    return torch.cat([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=1)


def _minmax(t: torch.Tensor, eps: float) -> torch.Tensor:
    lo = t.amin(dim=(-2, -1), keepdim=True)
    hi = t.amax(dim=(-2, -1), keepdim=True)
    return (t - lo) / (hi - lo + eps)


def sdsp(x: torch.Tensor) -> torch.Tensor:
    """SDSP visual saliency of N×C×H×W images in [0, 255] (C = 3 RGB, or C = 1 grey as R = G = B),
    N×1×H×W in [0, 1]: at 256×256, S = S_F·S_D·S_C (frequency, centre and colour priors), resized back
    bilinearly and min-max normalised (piq's ``sdsp``)."""
    H, W = x.shape[-2:]
    eps = torch.finfo(x.dtype).eps
    lg, s_d = _sdsp_constants(x.device, x.dtype)
    # resize first, then scale to [0, 1] (linear, so the same values; one pass over the full-size image less)
    small = F.interpolate(x, size=(SDSP_SIZE, SDSP_SIZE), mode="bilinear", align_corners=False) / 255.0
    lab = _rgb2lab(small)
    band = torch.fft.irfft2(torch.fft.rfft2(lab) * lg, s=(SDSP_SIZE, SDSP_SIZE))
    s_f = band.pow(2).sum(dim=1, keepdim=True).sqrt()
    ab = _minmax(lab[:, 1:], eps)
    s_c = 1.0 - torch.exp(-ab.pow(2).sum(dim=1, keepdim=True) / SIGMA_C**2)
    vs = F.interpolate(s_f * s_d * s_c, size=(H, W), mode="bilinear", align_corners=True)
    return _minmax(vs, eps)


def _pooled_features(x: torch.Tensor):
    """SDSP saliency and LMN channels of images in [0, 255], average-pooled by VSI's factor round(min(H, W)/256)
    (replicate padding, piq's convention)."""
    vs = sdsp(x)
    lmn = _mix(_RGB2LMN, x)
    f = max(1, round(min(vs.shape[-2:]) / 256))
    if f > 1:
        p, q = f // 2, (f - 1) // 2
        vs = F.avg_pool2d(F.pad(vs, (p, q, p, q), mode="replicate"), f)
        lmn = F.avg_pool2d(F.pad(lmn, (p, q, p, q), mode="replicate"), f)
    return vs, lmn


def _distinct_features(x: torch.Tensor):
    """:func:`_pooled_features` computed once per distinct image of the batch (a reference shared by several
    pairs, a PRI identical to its image), gathered back to N rows: the same values."""
    u, inverse = distinct(x)
    vs, lmn = _pooled_features(u)
    return (vs, lmn) if inverse is None else (vs[inverse], lmn[inverse])


def _vsi_block(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """VSI of a block of pairs in [0, 255] (C = 1 or 3)."""
    n = x.shape[0]
    if max(1, round(min(x.shape[-2:]) / 256)) > 1:  # x and y apart until pooled: no full-size concatenation
        (vs_a, lmn_a), (vs_b, lmn_b) = _distinct_features(x), _distinct_features(y)
        vs, lmn = torch.cat([vs_a, vs_b]), torch.cat([lmn_a, lmn_b])
    else:
        vs, lmn = _distinct_features(torch.cat([x, y]))
    gm = _scharr_magnitude(lmn[:, :1])
    vs_x, vs_y, gm_x, gm_y, c_x, c_y = vs[:n], vs[n:], gm[:n], gm[n:], lmn[:n], lmn[n:]
    s_c = _sim(c_x[:, 1:2], c_y[:, 1:2], C3) * _sim(c_x[:, 2:3], c_y[:, 2:3], C3)
    # real part of the complex power s_c^β (VSI.m: real(S_C.^β)), as piq computes it
    s_c_pow = s_c.abs() ** BETA * torch.cos(BETA * torch.atan2(torch.zeros_like(s_c), s_c))
    s = _sim(vs_x, vs_y, C1) * _sim(gm_x, gm_y, C2) ** ALPHA * s_c_pow
    vs_max = torch.maximum(vs_x, vs_y)
    eps = torch.finfo(x.dtype).eps
    return ((s * vs_max).sum(dim=(1, 2, 3)) + eps) / (vs_max.sum(dim=(1, 2, 3)) + eps)


def default_chunk(device: torch.device) -> int:
    """Pairs per block: small on CPU (cache-friendly; ~10 MB of temporaries per 224×224 grey pair), larger on GPU."""
    return 256 if torch.device(device).type == "cuda" else 8


def vsi(x: torch.Tensor, y: torch.Tensor, data_range=1.0, chunk: int | None = None) -> torch.Tensor:
    """Visual saliency-induced index (Zhang, Shen & Li 2014), Tensor[N]; higher is better, 1 = identical.

    Torch implementation of VSI.m with piq 0.8.0's conventions (see the module docstring); checked against
    ``piq.vsi`` in the tests.  ``data_range`` (float or Tensor[N]): inputs are divided by it, clipped to
    [0, 1] and scaled to [0, 255].  VSI is defined for RGB; a grey input (maps) is used as R = G = B, as piq
    does by replicating the channel.  Computed in the input dtype; non-finite results are returned as NaN.
    ``chunk``: pairs per batch (memory bound; default 8 on CPU, 256 on CUDA).
    """
    check_pair(x, y)
    if x.shape[1] not in (1, 3):
        raise ValueError(f"VSI expects 1 or 3 channels, got {x.shape[1]}")
    return blockwise_255(_vsi_block, x, y, data_range, chunk or default_chunk(x.device))
