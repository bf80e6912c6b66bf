"""SSIM (with its luminance, contrast and structure terms), MS-SSIM and SSIMLoss, in batched, differentiable torch.

Written in torch (rather than calling piq) because piq's SSIM does not report the three terms, its automatic
downsampling is a plain ``avg_pool2d`` (Wang's ``ssim.m`` filters with symmetric padding and keeps ceil(H/f)
samples) and its MS-SSIM pads odd sizes differently from ``msssim.m``.  Checked against scikit-image's
``structural_similarity`` (SSIM) and piq's ``multi_scale_ssim`` (MS-SSIM) in tests/test_measures.py.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ._common import as_range, check_pair, gaussian_1d, luminance, separable_filter_valid, wang_downsample

K1, K2 = 0.01, 0.03
WINDOW, SIGMA = 11, 1.5
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


class SSIMResult(NamedTuple):
    """Mean SSIM and the means of its three term maps (each Tensor[N])."""

    ssim: torch.Tensor
    luminance: torch.Tensor
    contrast: torch.Tensor
    structure: torch.Tensor


def wang_factor(h: int, w: int) -> int:
    """Wang's ssim.m automatic downsampling factor f = max(1, round(min(H, W) / 256)) (MATLAB rounds half up)."""
    return max(1, int(min(h, w) / 256 + 0.5))


def _moments(x: torch.Tensor, y: torch.Tensor):
    g = gaussian_1d(WINDOW, SIGMA, dtype=x.dtype, device=x.device)
    C = x.shape[1]
    stacked = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    f = separable_filter_valid(stacked, g)
    mu_x, mu_y, exx, eyy, exy = f.split(C, dim=1)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    return mu_x, mu_y, mu_xx, mu_yy, mu_xy, exx - mu_xx, eyy - mu_yy, exy - mu_xy


def _prepare(x, y, data_range, downsample):
    check_pair(x, y)
    x, y = luminance(x), luminance(y)
    if downsample:
        f = wang_factor(*x.shape[-2:])
        x, y = wang_downsample(x, f), wang_downsample(y, f)
    if min(x.shape[-2:]) < WINDOW:
        raise ValueError(f"SSIM needs images of at least {WINDOW}x{WINDOW} (after downsampling), got {tuple(x.shape[-2:])}")
    return x, y


def ssim_maps(x: torch.Tensor, y: torch.Tensor, data_range=1.0, downsample: bool = True, terms: bool = False):
    """Per-pixel SSIM map (N×1×h×w, 'valid' region) and, if ``terms``, the l, c, s maps of Wang et al. (2004).

    l = (2μxμy + C1)/(μx² + μy² + C1), c = (2σxσy + C2)/(σx² + σy² + C2), s = (σxy + C3)/(σxσy + C3),
    C1 = (0.01 L)², C2 = (0.03 L)², C3 = C2/2, so that SSIM = l·c·s per pixel (α = β = γ = 1).
    """
    x, y = _prepare(x, y, data_range, downsample)
    L = as_range(data_range, x)
    c1, c2 = (K1 * L) ** 2, (K2 * L) ** 2
    mu_x, mu_y, mu_xx, mu_yy, mu_xy, sxx, syy, sxy = _moments(x, y)
    lum = (2 * mu_xy + c1) / (mu_xx + mu_yy + c1)
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    ssim_map = lum * cs
    if not terms:
        return ssim_map
    sx, sy = sxx.clamp_min(0).sqrt(), syy.clamp_min(0).sqrt()
    con = (2 * sx * sy + c2) / (sxx + syy + c2)
    c3 = c2 / 2
    struct = (sxy + c3) / (sx * sy + c3)
    return ssim_map, lum, con, struct


def ssim(x: torch.Tensor, y: torch.Tensor, data_range=1.0, downsample: bool = True, return_terms: bool = False):
    """Mean SSIM of each pair (Tensor[N]); with ``return_terms`` an :class:`SSIMResult` with the term means.

    Follows Wang et al. (2004) and their ``ssim.m``: 11×11 Gaussian window σ = 1.5 (normalised), K1 = 0.01,
    K2 = 0.03, 'valid' filtering (no padding), mean over the valid region, and (``downsample=True``) the automatic
    downsampling f = max(1, round(min(H, W)/256)) by an f×f average filter with symmetric padding followed by
    subsampling.  RGB inputs are reduced to luminance Y = 0.299R + 0.587G + 0.114B first.  ``data_range`` is a
    float or a Tensor[N] (one range per pair).  Differentiable.  Implemented here in torch; verified against
    scikit-image ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``.

    The terms returned are the means of the l, c and s maps (see :func:`ssim_maps`); SSIM is the mean of
    their per-pixel product, not the product of their means.
    """
    if not return_terms:
        return ssim_maps(x, y, data_range, downsample).mean(dim=(1, 2, 3))
    s, l, c, st = ssim_maps(x, y, data_range, downsample, terms=True)
    m = lambda t: t.mean(dim=(1, 2, 3))  # noqa: E731
    return SSIMResult(m(s), m(l), m(c), m(st))


def ms_ssim_min_size(levels: int = len(MS_SSIM_WEIGHTS)) -> int:
    """Smallest side for which the coarsest MS-SSIM scale (ceil(H / 2^(levels-1))) still holds an 11×11 window."""
    return (WINDOW - 1) * 2 ** (levels - 1) + 1


def ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range=1.0, weights=MS_SSIM_WEIGHTS) -> torch.Tensor:
    """Multi-scale SSIM (Wang, Simoncelli & Bovik 2003) of each pair, Tensor[N].

    As ``msssim.m``: 5 scales with weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), the SSIM window of
    :func:`ssim`, no automatic downsampling, a 2×2 average filter with symmetric padding then 2× subsampling
    between scales; MS-SSIM = l_M^w_M · Π_j cs_j^w_j with the mean l·cs at the coarsest scale.  Negative
    cs values are clamped to 0 before the fractional powers (as piq does; MATLAB would give a complex number).
    RGB → luminance first.  Inputs whose smaller side is below :func:`ms_ssim_min_size` (161 for 5 scales)
    give NaN (the ``compute`` status is then ``"too_small"``): e.g. a 7×7 layer map must be upsampled (224×224
    is fine).  Implemented here in torch; verified against piq 0.8.0 ``multi_scale_ssim`` on even sizes.
    Differentiable.
    """
    check_pair(x, y)
    x, y = luminance(x), luminance(y)
    n = x.shape[0]
    if min(x.shape[-2:]) < ms_ssim_min_size(len(weights)):
        return torch.full((n,), float("nan"), dtype=x.dtype, device=x.device)
    L = as_range(data_range, x)
    c1, c2 = (K1 * L) ** 2, (K2 * L) ** 2
    w = torch.tensor(weights, dtype=x.dtype, device=x.device)
    vals = []
    for level in range(len(weights)):
        if level > 0:
            x, y = wang_downsample(x, 2), wang_downsample(y, 2)
        _, _, mu_xx, mu_yy, mu_xy, sxx, syy, sxy = _moments(x, y)
        cs_map = (2 * sxy + c2) / (sxx + syy + c2)
        if level == len(weights) - 1:
            lum = (2 * mu_xy + c1) / (mu_xx + mu_yy + c1)
            vals.append((lum * cs_map).mean(dim=(1, 2, 3)))
        else:
            vals.append(cs_map.mean(dim=(1, 2, 3)))
    v = torch.stack(vals, dim=0).clamp_min(0)
    return torch.prod(v ** w.reshape(-1, 1), dim=0)


class SSIMLoss(nn.Module):
    """1 − SSIM (mean over the batch), differentiable; ``downsample`` and ``data_range`` as in :func:`ssim`."""

    def __init__(self, data_range: float = 1.0, downsample: bool = True):
        super().__init__()
        self.data_range = data_range
        self.downsample = downsample

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 1.0 - ssim(x, y, self.data_range, self.downsample).mean()
