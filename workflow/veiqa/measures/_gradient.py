"""GMSD (Xue, Zhang, Mou & Bovik 2014), batched torch, following the authors' GMSD.m."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._common import as_range, check_pair, grey as to_grey

T_GMSD = 170.0  # for images in [0, 255]


def _gmsd_downsample(x: torch.Tensor) -> torch.Tensor:
    """GMSD.m: conv2(Y, ones(2)/4, 'same') (zero padding past the end) then Y(1:2:end, 1:2:end)."""
    H, W = x.shape[-2:]
    x = F.pad(x, (0, W % 2, 0, H % 2))
    return F.avg_pool2d(x, 2, 2)


def gradient_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Prewitt gradient magnitude, dx = [1 0 −1; 1 0 −1; 1 0 −1]/3, dy = dxᵀ, zero padding ('same'), i.e.
    ``conv2d(x, k, padding=1)`` (correlation), computed separably: a 3-sample sum along one axis, a central
    difference along the other (no im2col; float64 stays cheap)."""
    p = F.pad(x, (1, 1, 1, 1))
    v = p[..., :-2, :] + p[..., 1:-1, :] + p[..., 2:, :]  # summed along H: H × (W+2)
    h = p[..., :, :-2] + p[..., :, 1:-1] + p[..., :, 2:]  # summed along W: (H+2) × W
    gx = (v[..., :-2] - v[..., 2:]) / 3
    gy = (h[..., :-2, :] - h[..., 2:, :]) / 3
    return torch.sqrt(gx * gx + gy * gy)


def _gms_deficit(x: torch.Tensor, y: torch.Tensor, data_range, grey: str) -> torch.Tensor:
    """1 − GMS = (m_x − m_y)² / (m_x² + m_y² + T), the same map without the cancellation of GMS ≈ 1 (float32
    GMSD of nearly identical pairs keeps its digits; std(GMS) = std(1 − GMS))."""
    check_pair(x, y)
    L = as_range(data_range, x)
    x = to_grey(x, grey, data_range) * (255.0 / L)
    y = to_grey(y, grey, data_range) * (255.0 / L)
    gx = gradient_magnitude(_gmsd_downsample(x))
    gy = gradient_magnitude(_gmsd_downsample(y))
    return (gx - gy).square_() / (gx * gx + gy * gy + T_GMSD)


def gmsd(x: torch.Tensor, y: torch.Tensor, data_range=1.0, grey: str = "luma") -> torch.Tensor:
    """Gradient magnitude similarity deviation per pair, Tensor[N]; 0 = identical, lower is better.

    Follows GMSD.m, which takes 8-bit grey images: RGB inputs are reduced by ``grey`` (``"rgb2gray"``: MATLAB's
    rounded rgb2gray, what GMSD.m sees when called on ``rgb2gray(imread(f))`` and what ``compute`` uses in
    image mode; ``"luma"``: unrounded 0.299R + 0.587G + 0.114B), scaled to [0, 255]; 2×2 average
    filter then 2× subsampling; Prewitt gradients (/3); GMS = (2 m_x m_y + T)/(m_x² + m_y² + T) with T = 170;
    GMSD = std2(GMS), the *sample* standard deviation (N − 1).  piq's ``gmsd`` computes the same map but the
    population standard deviation (and pads odd sizes in both axes); the tests compare against piq with the
    factor sqrt(n/(n−1)) made explicit.  All-zero or constant pairs give a defined value (GMS = 1 where both
    gradients vanish).  Hand-written in torch.
    """
    return _gms_deficit(x, y, data_range, grey).flatten(1).std(dim=1, correction=1)
