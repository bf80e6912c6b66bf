"""PSNR, NCC and NAE: pixel-wise measures, batched torch, written by hand (no library offers NCC/NAE batched)."""

from __future__ import annotations

import torch

from ._common import as_range, check_pair


def psnr(x: torch.Tensor, y: torch.Tensor, data_range=1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio 10·log10(L² / MSE) per pair (Tensor[N]), MSE over all channels and pixels.

    Same convention as scikit-image's ``peak_signal_noise_ratio`` (all channels pooled; images in
    [0, 255] use data_range 255).  Identical pairs (MSE = 0) would give +inf: they give **NaN** here (the
    ``compute`` status says ``"identical"``).  ``data_range`` is a float or Tensor[N].  Hand-written;
    verified against scikit-image.
    """
    check_pair(x, y)
    mse = (x - y).pow(2).flatten(1).mean(1)
    L = as_range(data_range, x).reshape(-1)
    val = 10 * torch.log10(L * L / mse)
    return torch.where(mse > 0, val, torch.full_like(val, float("nan")))


def ncc(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Zero-mean normalised cross-correlation (Pearson r of the flattened pair, all channels), Tensor[N].

    NCC = Σ(x−x̄)(y−ȳ) / sqrt(Σ(x−x̄)² · Σ(y−ȳ)²), in [−1, 1], invariant to gain and offset of either input.
    Undefined when either input is constant (incl. all zeros): **NaN** (status ``"constant_map"`` /
    ``"zero_map"``).  Hand-written (no reference library computes it batched); checked by hand and
    against ``numpy.corrcoef`` in the tests.
    """
    check_pair(x, y)
    xf, yf = x.flatten(1), y.flatten(1)
    xc = xf - xf.mean(1, keepdim=True)
    yc = yf - yf.mean(1, keepdim=True)
    den = torch.sqrt((xc * xc).sum(1) * (yc * yc).sum(1))
    num = (xc * yc).sum(1)
    # exact test for constancy (max == min): a rounded mean can leave a tiny non-zero variance
    ok = (xf.amax(1) > xf.amin(1)) & (yf.amax(1) > yf.amin(1)) & (den > 0)
    return torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), torch.full_like(den, float("nan")))


def nae(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Normalised absolute error Σ|x − y| / Σ|x| per pair (x is the reference), Tensor[N]; 0 = identical.

    If the reference is all zeros the ratio is undefined: 0 when y is all zeros too, otherwise **NaN**
    (status ``"zero_map"``).  Hand-written.
    """
    check_pair(x, y)
    num = (x - y).abs().flatten(1).sum(1)
    den = x.abs().flatten(1).sum(1)
    safe = torch.where(den > 0, den, torch.ones_like(den))
    out = torch.where(den > 0, num / safe, torch.full_like(num, float("nan")))
    return torch.where((den == 0) & (num == 0), torch.zeros_like(out), out)
