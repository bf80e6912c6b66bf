"""Natural-scene-statistics building blocks shared by NIQE, BRISQUE and PIQE, after the authors' MATLAB releases.

* :func:`matlab_gray` — MATLAB ``rgb2gray`` (luma weights of the NTSC inverse; a uint8 image stays uint8, rounded
  half away from zero, as ``imlincomb`` does).
* :func:`gaussian_window` — ``fspecial('gaussian', 7, 7/6)`` normalised to sum 1.
* :func:`mscn` — mean-subtracted contrast-normalised coefficients ``(I - μ) / (σ + C)``, ``C = 1`` on the 0..255
  scale; ``σ = sqrt(|G*I² − μ²|)`` as the releases compute it. Boundary: ``'zero'`` is ``filter2(.., 'same')``
  (BRISQUE), ``'replicate'`` is ``imfilter(.., 'replicate')`` (NIQE), ``'symmetric'`` for PIQE.
* :func:`aggd_fit`, :func:`ggd_fit` — the moment-matching estimators of ``estimateaggdparam.m`` /
  ``estimateggdparam.m``: a grid search over the shape α = 0.2:0.001:10 (not a root finder), so α is a multiple of
  0.001 exactly as in MATLAB.
* :func:`imresize_half` — MATLAB ``imresize(im, 0.5)``: bicubic (a = −0.5) with the antialiasing kernel widened by 2,
  symmetric boundary, rows first then columns, no rounding for double input.

All functions work on float64 and are vectorised over leading axes where it matters (the NIQE patches).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.special import gamma as _gamma

# MATLAB rgb2gray: first row of inv([1 0.956 0.621; 1 -0.272 -0.647; 1 -1.106 1.703]).
RGB2GRAY = np.linalg.inv(np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]]))[0]

ALPHA_GRID = np.arange(200, 10001) / 1000.0          # 0.2:0.001:10, exactly as MATLAB builds it
_R_AGGD = _gamma(2.0 / ALPHA_GRID) ** 2 / (_gamma(1.0 / ALPHA_GRID) * _gamma(3.0 / ALPHA_GRID))
_R_GGD = 1.0 / _R_AGGD


def matlab_gray(img: np.ndarray) -> np.ndarray:
    """Grey image as float64 on 0..255: an H×W array passes through; H×W×3 uint8 goes through MATLAB ``rgb2gray``."""
    img = np.asarray(img)
    if img.ndim == 2:
        return img.astype(np.float64)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f"expected an H×W or H×W×3 image, got shape {img.shape}")
    rgb = img[..., :3].astype(np.float64)
    y = rgb @ RGB2GRAY
    if img.dtype == np.uint8:
        y = np.clip(np.floor(y + 0.5), 0, 255)     # imlincomb: round half away from zero, saturate
    return y


def gaussian_window(size: int = 7, sigma: float = 7.0 / 6.0) -> np.ndarray:
    """``fspecial('gaussian', size, sigma)``: a normalised size×size Gaussian."""
    r = (np.arange(size) - (size - 1) / 2.0) ** 2
    g = np.exp(-(r[:, None] + r[None, :]) / (2.0 * sigma * sigma))
    g[g < np.finfo(float).eps * g.max()] = 0.0
    return g / g.sum()


def gaussian_1d(size: int = 7, sigma: float = 7.0 / 6.0) -> np.ndarray:
    """The normalised 1-D factor of :func:`gaussian_window` (``fspecial``'s window is its outer product)."""
    r = (np.arange(size) - (size - 1) / 2.0) ** 2
    g = np.exp(-r / (2.0 * sigma * sigma))
    return g / g.sum()


_MODES = {"zero": "constant", "replicate": "nearest", "symmetric": "reflect"}


def _filter(x: np.ndarray, w: np.ndarray | None, boundary: str) -> np.ndarray:
    """``filter2``/``imfilter`` with the window ``w`` (None: the default Gaussian, applied as two 1-D passes).

    The window is symmetric, so correlation equals convolution. The separable form agrees with the 7×7 direct sum to
    ~1e-13 (checked in the tests) and costs 14 instead of 49 multiply-adds per pixel.
    """
    mode = _MODES[boundary]
    if w is None:
        g = gaussian_1d()
        out = ndimage.correlate1d(x, g, axis=0, mode=mode, cval=0.0)
        return ndimage.correlate1d(out, g, axis=1, mode=mode, cval=0.0)
    return ndimage.correlate(x, w, mode=mode, cval=0.0)


def mscn(img: np.ndarray, boundary: str = "replicate", c: float = 1.0,
         window: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MSCN coefficients of a grey float image on 0..255 and the local σ map they were divided by."""
    mu = _filter(img, window, boundary)
    sigma = np.sqrt(np.abs(_filter(img * img, window, boundary) - mu * mu))
    return (img - mu) / (sigma + c), sigma


def _nearest_alpha(r_grid: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The grid α whose ratio is nearest to ``target``, the first one on ties (MATLAB ``[~, i] = min(...)``).

    Both ratio curves are strictly monotonic over the grid, so the nearest point is one of the two neighbours of the
    target's insertion point: O(log n) per target instead of a full scan. (The releases minimise the squared
    difference for the AGGD and the absolute one for the GGD: the same nearest point.)
    """
    target = np.asarray(target, dtype=np.float64)
    t = target.ravel()
    increasing = r_grid[-1] > r_grid[0]
    grid = r_grid if increasing else r_grid[::-1]
    hi = np.clip(np.searchsorted(grid, t), 1, len(grid) - 1)
    lo = hi - 1
    d_lo, d_hi = np.abs(grid[lo] - t), np.abs(grid[hi] - t)
    if increasing:
        idx = np.where(d_lo <= d_hi, lo, hi)                  # ties: the smaller α comes first
    else:
        n = len(grid) - 1
        idx = np.where(d_hi <= d_lo, n - hi, n - lo)         # back to ascending α; ties: the smaller α
    return ALPHA_GRID[idx].reshape(target.shape)


def aggd_fit(vec: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Asymmetric generalised Gaussian fit by moment matching (``estimateaggdparam.m``).

    Returns ``(alpha, leftstd, rightstd)``: the shape and the root mean squares of the negative and of the positive
    samples (zeros are in neither side, as ``vec(vec<0)`` / ``vec(vec>0)``). Reduces along ``axis``. Samples with
    no negative or no positive value have NaN spreads and, as MATLAB's ``min`` over NaNs returns the first index,
    α = 0.2 (the grid's first point), not NaN.
    """
    v = np.asarray(vec, dtype=np.float64)
    v2 = v * v
    neg = v < 0
    n_neg, n_pos = np.sum(neg, axis=axis), np.sum(v > 0, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        sq_neg = np.sum(v2 * neg, axis=axis)
        sq_all = np.sum(v2, axis=axis)
        leftstd = np.sqrt(sq_neg / n_neg)
        rightstd = np.sqrt((sq_all - sq_neg) / n_pos)          # zeros add nothing to either sum
        gammahat = leftstd / rightstd
        rhat = np.mean(np.abs(v), axis=axis) ** 2 / (sq_all / v.shape[axis])
        rhatnorm = rhat * (gammahat ** 3 + 1) * (gammahat + 1) / (gammahat ** 2 + 1) ** 2
    alpha = _nearest_alpha(_R_AGGD, np.nan_to_num(rhatnorm, nan=0.0, posinf=0.0))
    # one-sided or all-zero samples: rhatnorm is NaN (or Inf), every (r_gam - rhatnorm)^2 is NaN (Inf), and MATLAB's
    # min returns the first index: α = 0.2, finite, while the spreads stay NaN
    alpha = np.where(np.isfinite(rhatnorm), alpha, ALPHA_GRID[0])
    return alpha, leftstd, rightstd


def ggd_fit(vec: np.ndarray) -> tuple[float, float]:
    """Generalised Gaussian fit by moment matching (BRISQUE's ``estimateggdparam.m``): ``(alpha, sigma)``."""
    v = np.asarray(vec, dtype=np.float64).ravel()
    sigma_sq = np.mean(v * v)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = sigma_sq / np.mean(np.abs(v)) ** 2
    if not np.isfinite(rho):                      # all zero: MATLAB's min over NaNs returns the first index
        return float(ALPHA_GRID[0]), float(np.sqrt(sigma_sq))
    return float(_nearest_alpha(_R_GGD, np.array([rho]))[0]), float(np.sqrt(sigma_sq))


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def _resize_weights(n_in: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB imresize's ``contributions`` for the bicubic kernel with antialiasing (scale < 1)."""
    n_out = int(np.ceil(n_in * scale))
    width = 4.0 / scale if scale < 1 else 4.0
    x = np.arange(1, n_out + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    p = int(np.ceil(width)) + 2
    idx = left[:, None] + np.arange(p)[None, :]
    dist = u[:, None] - idx
    w = scale * _cubic(scale * dist) if scale < 1 else _cubic(dist)
    w = w / w.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(n_in), np.arange(n_in - 1, -1, -1)])
    idx = aux[np.mod(idx.astype(np.int64) - 1, 2 * n_in)]
    keep = np.any(w != 0, axis=0)
    return w[:, keep], idx[:, keep]


def imresize_half(img: np.ndarray) -> np.ndarray:
    """MATLAB ``imresize(img, 0.5)`` of a 2-D float image (bicubic, antialiased)."""
    out = np.asarray(img, dtype=np.float64)
    for axis in (0, 1):
        w, idx = _resize_weights(out.shape[axis], 0.5)
        moved = np.moveaxis(out, axis, 0)
        res = np.einsum("op,op...->o...", w, moved[idx])
        out = np.moveaxis(res, 0, axis)
    return out
