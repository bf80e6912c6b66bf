"""SSIM (with its luminance, contrast and structure terms), MS-SSIM (``msssim.m``'s default ``method='product'``,
and its ``'wtd_sum'`` as ``ms_ssim_wtd``) and SSIMLoss, in batched, differentiable torch.

Written in torch (rather than calling piq) because piq's SSIM does not report the three terms, its automatic
downsampling is a plain ``avg_pool2d`` (Wang's ``ssim.m`` filters with symmetric padding and keeps ceil(H/f)
samples) and its MS-SSIM pads odd sizes differently from ``msssim.m``.  Checked against scikit-image's
``structural_similarity`` (SSIM) and piq's ``multi_scale_ssim`` (MS-SSIM) in tests/test_measures.py.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ._common import as_range, check_pair, gaussian_1d, grey as to_grey, separable_filter_valid, wang_downsample

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


def _centre(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each pair's mean c (N×1×1×1), the shift of :func:`_moments`."""
    return 0.5 * (x.mean(dim=(1, 2, 3), keepdim=True) + y.mean(dim=(1, 2, 3), keepdim=True))


def _moments(x: torch.Tensor, y: torch.Tensor, c: torch.Tensor | None = None):
    """Local means, their products and the local (co)variances under the Gaussian window.

    The (co)variances are computed from inputs shifted by each pair's mean c (σxy = E[(x−c)(y−c)] −
    (μx−c)(μy−c), the same quantity): float32 then loses far fewer digits to E[x²] − μ² cancellation.
    ``c``: the shift (default :func:`_centre` of x and y; a stripe of rows passes its whole image's)."""
    g = gaussian_1d(WINDOW, SIGMA, dtype=x.dtype, device=x.device)
    C = x.shape[1]
    c = _centre(x, y) if c is None else c
    xs, ys = x - c, y - c
    stacked = torch.cat([xs, ys, xs * xs, ys * ys, xs * ys], dim=1)
    f = separable_filter_valid(stacked, g)
    mx, my, exx, eyy, exy = f.split(C, dim=1)
    sxx, syy, sxy = exx - mx * mx, eyy - my * my, exy - mx * my
    mu_x, mu_y = mx + c, my + c
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    return mu_x, mu_y, mu_xx, mu_yy, mu_xy, sxx, syy, sxy


def _prepare(x, y, data_range, downsample, grey="luma"):
    check_pair(x, y)
    x, y = to_grey(x, grey, data_range), to_grey(y, grey, data_range)
    if downsample:
        f = wang_factor(*x.shape[-2:])
        x, y = wang_downsample(x, f), wang_downsample(y, f)
    if min(x.shape[-2:]) < WINDOW:
        raise ValueError(f"SSIM needs images of at least {WINDOW}x{WINDOW} (after downsampling), got {tuple(x.shape[-2:])}")
    return x, y


def ssim_maps(x: torch.Tensor, y: torch.Tensor, data_range=1.0, downsample: bool = True, terms: bool = False,
              grey: str = "luma"):
    """Per-pixel SSIM map (N×C'×h×w, 'valid' region) and, if ``terms``, the l, c, s maps of Wang et al. (2004).

    ``grey`` (see :func:`veiqa.measures._common.grey`): how RGB is reduced first; C' = 1, or C with
    ``"channels"``.

    l = (2μxμy + C1)/(μx² + μy² + C1), c = (2σxσy + C2)/(σx² + σy² + C2), s = (σxy + C3)/(σxσy + C3),
    C1 = (0.01 L)², C2 = (0.03 L)², C3 = C2/2, so that SSIM = l·c·s per pixel (α = β = γ = 1).
    """
    x, y = _prepare(x, y, data_range, downsample, grey)
    lum, cs, con, struct = _maps(x, y, as_range(data_range, x), terms)
    if not terms:
        return lum * cs
    return lum * cs, lum, con, struct


def _maps(x: torch.Tensor, y: torch.Tensor, L: torch.Tensor, terms: bool, c: torch.Tensor | None = None):
    """l and cs maps of one scale (and the c, s maps if ``terms``; else None, None); ``c`` as in :func:`_moments`."""
    c1, c2 = (K1 * L) ** 2, (K2 * L) ** 2
    mu_x, mu_y, mu_xx, mu_yy, mu_xy, sxx, syy, sxy = _moments(x, y, c)
    lum = (2 * mu_xy + c1) / (mu_xx + mu_yy + c1)
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    if not terms:
        return lum, cs, None, None
    sx, sy = sxx.clamp_min(0).sqrt(), syy.clamp_min(0).sqrt()
    con = (2 * sx * sy + c2) / (sxx + syy + c2)
    c3 = c2 / 2
    struct = (sxy + c3) / (sx * sy + c3)
    return lum, cs, con, struct


#: Bytes of stacked moments (5 channels) one piece of :func:`_means` works on: the filter's passes and the map
#: arithmetic of a piece then stay in cache instead of streaming whole images through memory a dozen times
#: (the SSIM family of 4 float64 pairs at 512²: 195 → 64 ms on 2 cores). CPU only: on a GPU the block goes at once.
PIECE_BYTES = 2 << 20


def _pieces(n: int, h: int, row_bytes: int, piece_bytes: int | None = None):
    """(image slice, first output row, end output row) covering n images of h valid output rows, each piece about
    ``piece_bytes`` (default :data:`PIECE_BYTES`): several whole images when they are small, else one image in
    stripes of rows (never fewer than 4·WINDOW rows, so that the WINDOW − 1 rows a stripe re-reads stay a small
    share)."""
    piece_bytes = PIECE_BYTES if piece_bytes is None else piece_bytes
    image_bytes = row_bytes * (h + WINDOW - 1)
    if image_bytes <= piece_bytes:
        k = max(1, piece_bytes // image_bytes)
        for i in range(0, n, k):
            yield slice(i, min(n, i + k)), 0, h
        return
    rows = max(4 * WINDOW, piece_bytes // row_bytes - (WINDOW - 1))
    for i in range(n):
        for r0 in range(0, h, rows):
            yield slice(i, i + 1), r0, min(h, r0 + rows)


def _means(x: torch.Tensor, y: torch.Tensor, L: torch.Tensor, terms: bool) -> dict:
    """Means over each pair of the SSIM, cs (and l, c, s) maps of one scale, computed piece by piece
    (:func:`_pieces`): the maps of a piece are summed, the sums divided by the valid-region size. The same values
    as the means of :func:`ssim_maps`'s whole maps (summation order aside: ≤ 1e-15 in float64)."""
    N, C, H, W = x.shape
    h, w = H - WINDOW + 1, W - WINDOW + 1
    names = ("ssim", "cs", "l", "c", "s") if terms else ("ssim", "cs")
    centre = _centre(x, y)
    Lr = L.expand(N, 1, 1, 1) if L.shape[0] == 1 else L
    sums = {k: x.new_zeros(N) for k in names}
    on_cpu = x.device.type == "cpu"  # on a GPU the whole block at once: pieces would only add kernel launches
    for sl, r0, r1 in _pieces(N, h, 5 * C * W * x.element_size(), None if on_cpu else 1 << 62):
        lum, cs, con, struct = _maps(x[sl, :, r0 : r1 + WINDOW - 1], y[sl, :, r0 : r1 + WINDOW - 1], Lr[sl], terms,
                                     centre[sl])
        maps = {"ssim": lum * cs, "cs": cs, "l": lum, "c": con, "s": struct}
        for k in names:
            sums[k][sl] += maps[k].sum(dim=(1, 2, 3))
    return {k: v / (C * h * w) for k, v in sums.items()}


def ssim(x: torch.Tensor, y: torch.Tensor, data_range=1.0, downsample: bool = True, return_terms: bool = False,
         grey: str = "luma"):
    """Mean SSIM of each pair (Tensor[N]); with ``return_terms`` an :class:`SSIMResult` with the term means.

    Follows Wang et al. (2004) and their ``ssim.m``: 11×11 Gaussian window σ = 1.5 (normalised), K1 = 0.01,
    K2 = 0.03, 'valid' filtering (no padding), mean over the valid region, and (``downsample=True``) the automatic
    downsampling f = max(1, round(min(H, W)/256)) by an f×f average filter with symmetric padding followed by
    subsampling (``downsample=False``: none, as Wang's earlier ``ssim_index.m`` and scikit-image).  RGB inputs
    are reduced to grey first: ``grey="luma"`` Y = 0.299R + 0.587G + 0.114B (unrounded, differentiable),
    ``"rgb2gray"`` MATLAB's rounded 8-bit rgb2gray (what ssim.m sees when called on ``rgb2gray(imread(f))``;
    ``compute`` uses it in image mode), ``"channels"`` each channel separately, the mean over channels
    (not differentiable with ``"rgb2gray"``).  ``data_range`` is a
    float or a Tensor[N] (one range per pair).  Differentiable.  Implemented here in torch; verified against
    scikit-image ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``.

    The terms returned are the means of the l, c and s maps (see :func:`ssim_maps`); SSIM is the mean of
    their per-pixel product, not the product of their means.
    """
    if not return_terms:
        return ssim_maps(x, y, data_range, downsample, grey=grey).mean(dim=(1, 2, 3))
    s, l, c, st = ssim_maps(x, y, data_range, downsample, terms=True, grey=grey)
    m = lambda t: t.mean(dim=(1, 2, 3))  # noqa: E731
    return SSIMResult(m(s), m(l), m(c), m(st))


def ms_ssim_min_size(levels: int = len(MS_SSIM_WEIGHTS)) -> int:
    """Smallest side for which the coarsest MS-SSIM scale (ceil(H / 2^(levels-1))) still holds an 11×11 window."""
    return (WINDOW - 1) * 2 ** (levels - 1) + 1


def ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range=1.0, weights=MS_SSIM_WEIGHTS, grey: str = "luma") -> torch.Tensor:
    """Multi-scale SSIM (Wang, Simoncelli & Bovik 2003) of each pair, Tensor[N].

    As ``msssim.m``: 5 scales with weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), the SSIM window of
    :func:`ssim`, no automatic downsampling, a 2×2 average filter with symmetric padding then 2× subsampling
    between scales; MS-SSIM = l_M^w_M · Π_j cs_j^w_j with the mean l·cs at the coarsest scale.  Negative
    cs values are clamped to 0 before the fractional powers (as piq does; MATLAB would give a complex number).
    RGB → grey first as in :func:`ssim` (``grey``; with ``"channels"`` each scale's term is the mean over
    channels).  Inputs whose smaller side is below :func:`ms_ssim_min_size` (161 for 5 scales)
    give NaN (the ``compute`` status is then ``"too_small"``): e.g. a 7×7 layer map must be upsampled (224×224
    is fine).  Implemented here in torch; verified against piq 0.8.0 ``multi_scale_ssim`` on even sizes.
    Differentiable.
    """
    return ssim_family(x, y, data_range, ("ms_ssim",), grey, weights)["ms_ssim"]


def ms_ssim_wtd(x: torch.Tensor, y: torch.Tensor, data_range=1.0, weights=MS_SSIM_WEIGHTS,
                grey: str = "luma") -> torch.Tensor:
    """MS-SSIM as ``msssim.m`` computes it with ``method='wtd_sum'`` (its default is ``'product'``, :func:`ms_ssim`),
    Tensor[N]: the same scale terms, combined as a weighted sum with the weights normalised to sum 1,
    ``Σ_{j<M} ŵ_j·cs_j + ŵ_M·ssim_M``, ``ŵ = w / Σw`` — no clamping (a sum needs none).  Some published "MATLAB"
    MS-SSIM values are this variant (e.g. pyiqa's calibration table).  Sizes, NaN and grey as :func:`ms_ssim`."""
    return ssim_family(x, y, data_range, ("ms_ssim_wtd",), grey, weights)["ms_ssim_wtd"]


#: What :func:`ssim_family` computes.
SSIM_FAMILY = ("ssim", "ssim_l", "ssim_c", "ssim_s", "ssim_nodownsample", "ms_ssim", "ms_ssim_wtd")


def ssim_family(x: torch.Tensor, y: torch.Tensor, data_range=1.0, names=SSIM_FAMILY, grey: str = "luma",
                weights=MS_SSIM_WEIGHTS) -> dict[str, torch.Tensor]:
    """SSIM (with ssim.m's downsampling) and its l, c, s term means, SSIM without downsampling and MS-SSIM of
    each pair, sharing their work: one grey conversion and one dyadic pyramid (msssim.m's 2×2 symmetric
    average, which *is* ssim.m's downsampling for f = 2), each scale's moments filtered once.  So SSIM without
    downsampling is MS-SSIM's first scale, and SSIM with f = 1 or 2 (images with smaller side < 640) is its
    first or second scale.  Returns ``{name: Tensor[N]}`` for the requested ``names`` (subset of
    :data:`SSIM_FAMILY`); values equal :func:`ssim` / :func:`ms_ssim` (same operations).  Differentiable.
    """
    check_pair(x, y)
    unknown = set(names) - set(SSIM_FAMILY)
    if unknown:
        raise ValueError(f"not in the SSIM family: {sorted(unknown)}")
    x, y = to_grey(x, grey, data_range), to_grey(y, grey, data_range)
    L = as_range(data_range, x)
    pyramid = [(x, y)]
    stats: dict[int, dict] = {}

    def scale(k: int, terms: bool = False) -> dict:
        while len(pyramid) <= k:
            a, b = pyramid[-1]
            pyramid.append((wang_downsample(a, 2), wang_downsample(b, 2)))
        if k not in stats or (terms and "l" not in stats[k]):
            stats[k] = _means(*pyramid[k], L, terms)
        return stats[k]

    out: dict[str, torch.Tensor] = {}
    if {"ssim", "ssim_l", "ssim_c", "ssim_s"} & set(names):
        f = wang_factor(*x.shape[-2:])
        if f <= 2:
            r = scale(f - 1, terms=True)
        else:
            a, b = _prepare(x, y, data_range, True)
            r = _means(a, b, L, True)
        out.update(ssim=r["ssim"], ssim_l=r["l"], ssim_c=r["c"], ssim_s=r["s"])
    if "ssim_nodownsample" in names:
        if min(x.shape[-2:]) < WINDOW:
            raise ValueError(f"SSIM needs images of at least {WINDOW}x{WINDOW}, got {tuple(x.shape[-2:])}")
        out["ssim_nodownsample"] = scale(0)["ssim"]
    for name in {"ms_ssim", "ms_ssim_wtd"} & set(names):
        if min(x.shape[-2:]) < ms_ssim_min_size(len(weights)):
            out[name] = torch.full((x.shape[0],), float("nan"), dtype=x.dtype, device=x.device)
            continue
        last = len(weights) - 1
        v = torch.stack([scale(k)["cs"] for k in range(last)] + [scale(last)["ssim"]])     # msssim.m's terms
        w = torch.tensor(weights, dtype=x.dtype, device=x.device).reshape(-1, 1)
        if name == "ms_ssim":           # method='product'
            out[name] = torch.prod(v.clamp_min(0) ** w, dim=0)
        else:                           # method='wtd_sum'
            out[name] = (v * (w / w.sum())).sum(0)
    return {k: out[k] for k in names}


class SSIMLoss(nn.Module):
    """1 − SSIM (mean over the batch), differentiable; ``downsample`` and ``data_range`` as in :func:`ssim`.

    ``colour="luminance"`` (default, as before): SSIM of Y = 0.299R + 0.587G + 0.114B, so a colour change that
    keeps Y gets no gradient.  ``colour="per_channel"``: SSIM of each channel, averaged (the usual practice of
    SSIM losses in image restoration and GAN training, e.g. pytorch-msssim's and piq's losses on RGB).
    """

    def __init__(self, data_range: float = 1.0, downsample: bool = True, colour: str = "luminance"):
        super().__init__()
        modes = {"luminance": "luma", "per_channel": "channels"}
        if colour not in modes:
            raise ValueError(f"colour must be one of {list(modes)}, got {colour!r}")
        self.data_range = data_range
        self.downsample = downsample
        self.colour = colour
        self._grey = modes[colour]

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 1.0 - ssim(x, y, self.data_range, self.downsample, grey=self._grey).mean()
