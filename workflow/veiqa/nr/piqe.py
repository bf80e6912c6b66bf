"""PIQE (Venkatanath N, Praneeth D, Maruthi Chandrasekhar Bh, Channappayya & Medasani 2015, "Blind image quality
evaluation using perception based features", NCC 2015) — opinion- and training-free.

Follows MATLAB's ``piqe`` (Image Processing Toolbox), whose documentation describes the steps:

1. pad the image at the bottom/right to whole 16×16 blocks by replicating the last row/column; grey by MATLAB
   ``rgb2gray`` (uint8, rounded); values 0..255;
2. MSCN ``(I−μ)/(σ+1)`` with the 7×7 σ = 7/6 Gaussian and replicate boundary (``imgaussfilt``);
3. per 16×16 block of the MSCN map: the block is *spatially active* when its sample variance ν > 0.1; an active
   block shows a *noticeable artifact* when any of the 11 six-pixel segments of any of its four edges has a sample
   standard deviation < 0.1, and *noise* when ``σ > 2β`` with σ = sqrt(ν), ``β = |σ − r| / max(σ, r)`` and r the ratio of
   the sample standard deviations of the block's centre (columns 8 and 9, 1-based) and its surround;
4. ``PIQE = 100 · (Σ_active [artifact·(1−ν) + noise·ν] + 1) / (N_active + 1)``.

The surround follows MATLAB's code exactly: it deletes column 8 and then column 9 *of the already shortened block*,
i.e. the original columns 8 and 10 (column 9 stays in the surround). A uniform image has no active block and scores
100. Lower is better (0..100).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .features import matlab_gray, mscn

BLOCK = 16
ACTIVITY_THRESHOLD = 0.1
IMPAIRED_THRESHOLD = 0.1
SEGMENT = 6
SURROUND_COLUMNS = np.array([c for c in range(BLOCK) if c not in (7, 9)])     # 0-based: MATLAB deletes 8, then 9 of 15


def _blocks(x: np.ndarray) -> np.ndarray:
    h, w = x.shape
    return x.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).transpose(0, 2, 1, 3).reshape(-1, BLOCK, BLOCK)


def block_maps(img: np.ndarray) -> dict[str, np.ndarray]:
    """Per-block quantities of PIQE, each an array over the blocks in row-major order (plus the grid shape)."""
    im = np.round(matlab_gray(img))
    h, w = im.shape
    im = np.pad(im, ((0, -h % BLOCK), (0, -w % BLOCK)), mode="edge")
    norm, _ = mscn(im, boundary="replicate")
    b = _blocks(norm)
    var = b.reshape(len(b), -1).var(axis=1, ddof=1)
    edges = np.stack([b[:, 0, :], b[:, :, BLOCK - 1], b[:, BLOCK - 1, :], b[:, :, 0]], axis=1)      # (n, 4, 16)
    seg_std = sliding_window_view(edges, SEGMENT, axis=2).std(axis=3, ddof=1)                        # (n, 4, 11)
    artifact = (seg_std < IMPAIRED_THRESHOLD).any(axis=(1, 2))
    centre = b[:, :, 7:9].transpose(0, 2, 1).reshape(len(b), -1).std(axis=1, ddof=1)
    surround = b[:, :, SURROUND_COLUMNS].reshape(len(b), -1).std(axis=1, ddof=1)
    sigma = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = centre / surround
        ratio = np.where(np.isnan(ratio), 0.0, ratio)
        beta = np.abs(sigma - ratio) / np.maximum(sigma, ratio)
        noise = sigma > 2 * beta
    return {"variance": var, "active": var > ACTIVITY_THRESHOLD, "artifact": artifact, "noise": noise,
            "grid": np.array(im.shape) // BLOCK}


def piqe(img: np.ndarray) -> float:
    """PIQE score of one image (lower = better, 0..100)."""
    from .errors import ImageTooSmallError

    if min(np.asarray(img).shape[:2]) < 7:
        raise ImageTooSmallError(f"PIQE needs an image of at least 7×7 pixels; got shape {np.asarray(img).shape[:2]}")
    m = block_maps(img)
    act, v = m["active"], m["variance"]
    dist = np.sum(act * (m["artifact"] * (1 - v) + m["noise"] * v))
    return float(100.0 * (dist + 1.0) / (act.sum() + 1.0))
