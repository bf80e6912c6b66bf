"""Shared building blocks of the similarity measures: colour conversion, Wang's downsampling, filters, statuses."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# The statuses' home is veiqa.contracts (one vocabulary for every table); re-exported for veiqa.measures.
from ..contracts import STATUS_CONSTANT, STATUS_IDENTICAL, STATUS_OK, STATUS_TOO_SMALL, STATUS_ZERO  # noqa: F401

#: Luminance weights Y = 0.299 R + 0.587 G + 0.114 B (the YIQ "Y" of FeatureSIM.m; ``grey="luma"``).
LUMA_WEIGHTS = (0.299, 0.587, 0.114)

#: MATLAB's ``rgb2gray`` weights (first row of inv of the NTSC YIQ matrix; documented as 0.2989/0.5870/0.1140).
#: For uint8 input MATLAB rounds the weighted sum to uint8 (half away from zero).
RGB2GRAY_WEIGHTS = (0.298936021293775, 0.587043074451121, 0.114020904255103)

#: Grey conversions of :func:`grey` (``compute``'s ``grey`` option).
GREY_MODES = ("rgb2gray", "luma", "channels")



def check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    """Raise ValueError unless x and y are floating N×C×H×W tensors of the same shape."""
    if x.ndim != 4 or y.ndim != 4:
        raise ValueError(f"expected N×C×H×W tensors, got shapes {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape != y.shape:
        raise ValueError(f"shape mismatch: {tuple(x.shape)} vs {tuple(y.shape)}")
    if not (x.is_floating_point() and y.is_floating_point()):
        raise ValueError("expected floating-point tensors (convert uint8 images with .double() or .float())")


def as_range(data_range, ref: torch.Tensor) -> torch.Tensor:
    """data_range (float or Tensor[N]) as a tensor broadcastable to N×1×1×1."""
    dr = torch.as_tensor(data_range, dtype=ref.dtype, device=ref.device)
    if dr.ndim == 0:
        return dr.reshape(1, 1, 1, 1)
    return dr.reshape(-1, 1, 1, 1)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """N×3×H×W RGB → N×1×H×W luminance Y = 0.299R + 0.587G + 0.114B; N×1×H×W passes through."""
    if x.shape[1] == 1:
        return x
    if x.shape[1] != 3:
        raise ValueError(f"expected 1 or 3 channels, got {x.shape[1]}")
    w = torch.tensor(LUMA_WEIGHTS, dtype=x.dtype, device=x.device).reshape(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def rgb2gray(x: torch.Tensor, data_range=255.0) -> torch.Tensor:
    """MATLAB's ``rgb2gray`` of an 8-bit image: round(0.298936 R + 0.587043 G + 0.114021 B) to an integer grey
    level (half away from zero, saturating at 0 and 255), for N×3×H×W input in [0, data_range] (scaled to
    [0, 255] for the rounding and back).  N×1×H×W passes through.  Not differentiable (rounding); reference
    codes that take 8-bit grey (``ssim.m``, ``msssim.m``, ``GMSD.m`` called on ``rgb2gray(imread(...))``)
    see exactly these values."""
    if x.shape[1] == 1:
        return x
    if x.shape[1] != 3:
        raise ValueError(f"expected 1 or 3 channels, got {x.shape[1]}")
    L = as_range(data_range, x)
    w = torch.tensor(RGB2GRAY_WEIGHTS, dtype=x.dtype, device=x.device).reshape(1, 3, 1, 1)
    g = ((x * (255.0 / L)) * w).sum(dim=1, keepdim=True)
    return torch.floor(g + 0.5).clamp_(0, 255) * (L / 255.0)


def grey(x: torch.Tensor, mode: str = "luma", data_range=255.0) -> torch.Tensor:
    """Reduce N×C×H×W colour input as a luminance-based measure's reference code does.

    ``"rgb2gray"``: MATLAB's rounded 8-bit :func:`rgb2gray` (for images in [0, data_range] that are 8-bit);
    ``"luma"``: unrounded Y = 0.299R + 0.587G + 0.114B (differentiable); ``"channels"``: no conversion (the
    measure is evaluated per channel and averaged, e.g. a GAN loss on colour).  Grey input passes through.
    """
    if mode == "rgb2gray":
        return rgb2gray(x, data_range)
    if mode == "luma":
        return luminance(x)
    if mode == "channels":
        return x
    raise ValueError(f"grey must be one of {GREY_MODES}, got {mode!r}")


def _symmetric_index(n: int, before: int, after: int, device) -> torch.Tensor:
    """Indices implementing MATLAB's 'symmetric' padding (edge sample repeated) of a length-n axis."""
    idx = torch.arange(-before, n + after, device=device)
    idx = torch.where(idx < 0, -idx - 1, idx)
    idx = torch.where(idx >= n, 2 * n - idx - 1, idx)
    return idx


def symmetric_pad(x: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """Pad the last two axes as MATLAB's padarray/imfilter 'symmetric' does (scipy's mode='reflect')."""
    if top == bottom == left == right == 0:
        return x
    H, W = x.shape[-2:]
    ih = _symmetric_index(H, top, bottom, x.device)
    iw = _symmetric_index(W, left, right, x.device)
    return x.index_select(-2, ih).index_select(-1, iw)


def wang_downsample(x: torch.Tensor, f: int) -> torch.Tensor:
    """Downsample by f exactly as Wang's ssim.m / msssim.m do.

    ``lpf = ones(f,f)/f^2; img = imfilter(img, lpf, 'symmetric', 'same'); img = img(1:f:end, 1:f:end)``.
    imfilter's anchor for an f×f kernel is floor((f+1)/2), so output sample i averages input rows
    i-floor((f-1)/2) … i+floor(f/2) with symmetric padding; the result has ceil(H/f) × ceil(W/f) samples.
    For even H, W and f = 2 this equals ``avg_pool2d(x, 2)``.
    """
    if f <= 1:
        return x
    before, after = (f - 1) // 2, f // 2
    if before == 0 and x.shape[-2] % f == 0 and x.shape[-1] % f == 0:  # f = 2, even sides: no window reaches the pad
        return F.avg_pool2d(x, kernel_size=f, stride=f)
    xp = symmetric_pad(x, before, after, before, after)
    return F.avg_pool2d(xp, kernel_size=f, stride=f)


def gaussian_1d(size: int = 11, sigma: float = 1.5, dtype=torch.float64, device=None) -> torch.Tensor:
    """Normalised 1-D Gaussian; its outer product is MATLAB's fspecial('gaussian', size, sigma)."""
    r = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    return g / g.sum()


def _correlate_valid(x: torch.Tensor, c: list[float], dim: int) -> torch.Tensor:
    """'Valid' correlation of axis ``dim`` (−1 or −2) with the taps ``c``: Σ_j c_j · x[j : j + m] over shifted
    views, accumulated in place in one output tensor (no temporaries)."""
    m = x.shape[dim] - len(c) + 1
    shifted = (lambda j: x[..., j : j + m]) if dim == -1 else (lambda j: x[..., j : j + m, :])
    out = shifted(0) * c[0]
    for j in range(1, len(c)):
        out.add_(shifted(j), alpha=c[j])
    return out


def separable_filter_valid(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Correlate every channel of x with the separable kernel g⊗g, 'valid' region only (MATLAB filter2 'valid').

    One axis after the other, each as a sum of k shifted views scaled by the taps (k multiply-adds a sample and
    axis, linear in pixels): on CPU 2–7× faster than the banded matrix products used before, and than a
    grouped ``conv2d`` (``scripts/bench_measures.py``). Differentiable.
    """
    c = [float(v) for v in g]
    return _correlate_valid(_correlate_valid(x, c, -1), c, -2)


def pair_status(x: torch.Tensor, y: torch.Tensor) -> list[str]:
    """Per-pair condition of N×C×H×W pairs, in order of precedence:

    ``"zero_map"`` (either map all zeros), ``"constant_map"`` (either map constant but not zero),
    ``"identical"`` (x == y everywhere), otherwise ``"ok"``.
    """
    xf, yf = x.flatten(1), y.flatten(1)
    (xlo, xhi), (ylo, yhi) = torch.aminmax(xf, dim=1), torch.aminmax(yf, dim=1)  # one pass each, no temporaries
    zero = ((xlo == 0) & (xhi == 0)) | ((ylo == 0) & (yhi == 0))
    const = (xlo == xhi) | (ylo == yhi)
    ident = (xf == yf).all(1)
    out = []
    for z, c, i in zip(zero.tolist(), const.tolist(), ident.tolist()):
        out.append(STATUS_ZERO if z else STATUS_CONSTANT if c else STATUS_IDENTICAL if i else STATUS_OK)
    return out


def distinct(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The distinct images of a batch N×…: ``(u, inverse)`` with ``u[inverse] == t``, first occurrences in order;
    ``inverse`` is None when all N differ (then ``u`` is ``t``). Exact equality: candidates share their sum (one
    pass), then ``torch.equal`` decides.

    A database's distorted images share their reference (5 levels of a distortion in one block, on LIVE, TID2013,
    KADID-10k and the demo), and a PRI identical to its image repeats it, so the per-image features of FSIM and VSI
    (:func:`per_distinct`) are computed once per distinct image."""
    n = t.shape[0]
    if n < 2:
        return t, None
    sums = t.reshape(n, -1).sum(1, dtype=torch.float64).tolist()
    keep: list[int] = []
    inverse: list[int] = []
    for i, s in enumerate(sums):
        for k, j in enumerate(keep):
            if sums[j] == s and torch.equal(t[i], t[j]):
                inverse.append(k)
                break
        else:
            inverse.append(len(keep))
            keep.append(i)
    if len(keep) == n:
        return t, None
    return t[keep], torch.tensor(inverse, device=t.device)


def per_distinct(fn, t: torch.Tensor) -> torch.Tensor:
    """``fn(t)`` for a function that maps each image of a batch on its own (N×… → N×…), evaluated once per
    distinct image (:func:`distinct`) and gathered back: the same values, less work when images repeat."""
    u, inverse = distinct(t)
    out = fn(u)
    return out if inverse is None else out[inverse]
