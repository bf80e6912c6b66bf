"""PSNR, NCC (NK), PCC and NAE: pixel-wise measures, batched torch, written by hand (no library offers NK/NAE
batched).

Their sums accumulate in float64 and the results are float64 whatever the input dtype: with float32 8-bit images
the per-sample differences and products are exact, so the values equal the float64 computation (the reference
libraries' precision) at almost no cost."""

from __future__ import annotations

import math

import torch

from ._common import as_range, check_pair


def psnr_ceiling(n_samples: int) -> float:
    """PSNR (dB) given to identical pairs of ``n_samples`` samples (C·H·W): 10·log10(4 · 255² · n_samples).

    It is the PSNR of an error of half an 8-bit grey level (L/510) on one sample of the image, so MSE =
    (L/510)²/n.  Why this value: on 8-bit images the smallest non-zero MSE is one grey level on one sample,
    (L/255)²/n, whose PSNR is 10·log10(255²·n) = ceiling − 6.02 dB; identical pairs therefore rank strictly
    above every non-identical 8-bit pair of the same size, and the value is finite, so a correlation keeps the
    row.  E.g. 512×384 RGB: 111.8 dB (one-level error: 105.8 dB); 224×224 grey map: 101.1 dB.
    """
    return 10 * math.log10(4 * 255.0**2 * n_samples)


def psnr(x: torch.Tensor, y: torch.Tensor, data_range=1.0, identical: str = "ceiling") -> torch.Tensor:
    """Peak signal-to-noise ratio 10·log10(L² / MSE) per pair (Tensor[N]), MSE over all channels and pixels.

    Same convention as scikit-image's ``peak_signal_noise_ratio`` and MATLAB's ``psnr`` (all channels pooled;
    images in [0, 255] use data_range 255).  The MSE is floored at (L/510)²/n (n = C·H·W samples per pair), so
    identical pairs (MSE = 0, +inf in skimage/MATLAB) get the finite :func:`psnr_ceiling`; the ``compute``
    status still says ``"identical"``.  Ordering stays monotone: PSNR is a non-increasing function of the MSE
    everywhere; the floor binds only for MSE below a quarter of a one-grey-level error on one sample, which
    no non-identical 8-bit pair reaches (it lies ≥ 6.02 dB below the ceiling).  Float maps whose MSE is
    below the floor (pairs differing by less than that) tie with identical pairs at the ceiling.
    ``identical="nan"`` gives the former behaviour (NaN for MSE = 0; no floor).  ``data_range`` is a float or
    Tensor[N].  Hand-written; verified against scikit-image.
    """
    check_pair(x, y)
    if identical not in ("ceiling", "nan"):
        raise ValueError(f"identical must be 'ceiling' or 'nan', got {identical!r}")
    mse = (x - y).pow(2).flatten(1).sum(1, dtype=torch.float64) / x[0].numel()
    L = as_range(data_range, x).reshape(-1).double()
    if identical == "nan":
        val = 10 * torch.log10(L * L / mse)
        return torch.where(mse > 0, val, torch.full_like(val, float("nan")))
    n = x[0].numel()
    floor = (L / 510.0) ** 2 / n
    return 10 * torch.log10(L * L / torch.maximum(mse, floor))


def ncc(x: torch.Tensor, y: torch.Tensor, data_range=None) -> torch.Tensor:
    """Normalised cross-correlation NK = Σ x·y / Σ x² per pair (all channels and pixels), Tensor[N]; x is the
    reference (first argument), 1 = identical.

    The definition of Eskicioglu & Fisher (1995, "Image quality measures and their performance", IEEE Trans.
    Commun. 43(12)), used by Mustafa et al. (2017), which Ahmed et al. (2024) cite for NCC.  Not symmetric, not
    bounded by 1, not invariant to offset (NK(x, x + c) = 1 + c·Σx/Σx²); it is invariant to a common gain of
    both inputs (hence to the map normalisation's scale).  An all-zero reference gives **NaN** (status
    ``"zero_map"``).  For the gain- and offset-invariant Pearson correlation see :func:`pcc`.  Hand-written;
    checked by hand in the tests.  ``data_range`` is unused (NK is invariant to a common gain); it is accepted so
    that every measure of the registry (:data:`veiqa.specs.MEASURES`) is called as ``fn(x, y, data_range)``.
    """
    check_pair(x, y)
    xf, yf = x.flatten(1), y.flatten(1)
    den = (xf * xf).sum(1, dtype=torch.float64)
    num = (xf * yf).sum(1, dtype=torch.float64)
    return torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)), torch.full_like(den, float("nan")))


def pcc(x: torch.Tensor, y: torch.Tensor, data_range=None) -> torch.Tensor:
    """Pearson correlation coefficient (zero-mean normalised cross-correlation) of the flattened pair, all
    channels, Tensor[N].  (veiqa's ``ncc`` before NK became the default; Pearson's r as ``numpy.corrcoef``.)

    PCC = Σ(x−x̄)(y−ȳ) / sqrt(Σ(x−x̄)² · Σ(y−ȳ)²), in [−1, 1], invariant to gain and offset of either input.
    Undefined when either input is constant (incl. all zeros): **NaN** (status ``"constant_map"`` /
    ``"zero_map"``).  Hand-written (no reference library computes it batched); checked by hand and
    against ``numpy.corrcoef`` in the tests.  ``data_range`` is unused (as for :func:`ncc`).
    """
    check_pair(x, y)
    xf, yf = x.flatten(1).double(), y.flatten(1).double()
    xc = xf - xf.mean(1, keepdim=True)
    yc = yf - yf.mean(1, keepdim=True)
    den = torch.sqrt((xc * xc).sum(1) * (yc * yc).sum(1))
    num = (xc * yc).sum(1)
    # exact test for constancy (max == min): a rounded mean can leave a tiny non-zero variance
    ok = (xf.amax(1) > xf.amin(1)) & (yf.amax(1) > yf.amin(1)) & (den > 0)
    return torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), torch.full_like(den, float("nan")))


def nae(x: torch.Tensor, y: torch.Tensor, data_range=None) -> torch.Tensor:
    """Normalised absolute error Σ|x − y| / Σ|x| per pair (x is the reference), Tensor[N]; 0 = identical.

    If the reference is all zeros the ratio is undefined: 0 when y is all zeros too, otherwise **NaN**
    (status ``"zero_map"``).  Hand-written.  ``data_range`` is unused (as for :func:`ncc`).
    """
    check_pair(x, y)
    num = (x - y).abs().flatten(1).sum(1, dtype=torch.float64)
    den = x.abs().flatten(1).sum(1, dtype=torch.float64)
    safe = torch.where(den > 0, den, torch.ones_like(den))
    out = torch.where(den > 0, num / safe, torch.full_like(num, float("nan")))
    return torch.where((den == 0) & (num == 0), torch.zeros_like(out), out)
