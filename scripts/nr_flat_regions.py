"""How much the sign of the MSCN round-off in flat 7×7 regions moves NIQE and BRISQUE (docs/nr-methods.md).

Where the 7×7 window is constant, μ equals the pixel up to floating-point round-off, so the MSCN value
``(I − μ)/(σ + 1)`` is round-off (|v| ~ 1e-14) whose sign depends on the order of the filter's additions (numpy's here,
MATLAB's or Octave's elsewhere). The fits do not see its size but do see its sign: the AGGD's left/right spreads are
means over the negative and the positive samples (zeros are in neither), so the counts move.

This script scores each image with the MSCN in flat windows (max − min ≤ 1e-9 over the 7×7 window with the method's
boundary, at each scale) set to: the round-off as numpy/SciPy compute it ("round-off": veiqa's value, checked equal to
``nr.score``), exactly 0 (the exact-arithmetic value), +1e-14, −1e-14 (one sign over every flat window, as a filter
whose additions run in one order gives for one grey level), and random signs (3 seeds; an upper bound, not a
plausible round-off pattern), and prints the flat fraction of the full-scale image and the spread of NIQE and BRISQUE
over the one-sign variants (round-off, 0, +, −) and over all, relative to veiqa's value.

Usage: PYTHONPATH=workflow .venv/bin/python scripts/nr_flat_regions.py [IMAGE ...]
(default: the five ../shared/datasets/tid2013_samples images and two synthetic images with flat regions)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from veiqa import nr  # noqa: E402
from veiqa.io import read_image  # noqa: E402
from veiqa.nr import brisque as B  # noqa: E402
from veiqa.nr import features as F  # noqa: E402
from veiqa.nr import niqe as N  # noqa: E402

SAMPLES = REPO.parent / "shared" / "datasets" / "tid2013_samples"
TINY = 1e-14
MODES = {"zero": "constant", "replicate": "nearest"}


def flat_windows(img: np.ndarray, boundary: str) -> np.ndarray:
    hi = ndimage.maximum_filter(img, size=7, mode=MODES[boundary], cval=0.0)
    lo = ndimage.minimum_filter(img, size=7, mode=MODES[boundary], cval=0.0)
    return hi - lo <= 1e-9


def make_mscn(variant: str, seed: int = 0):
    original = F.mscn
    rng = np.random.default_rng(seed)

    def patched(img, boundary="replicate", c=1.0, window=None):
        out, sigma = original(img, boundary, c, window)
        if variant == "round-off":
            return out, sigma
        m = flat_windows(img, boundary)
        if variant == "zero":
            out[m] = 0.0
        elif variant == "plus":
            out[m] = TINY
        elif variant == "minus":
            out[m] = -TINY
        else:
            out[m] = TINY * rng.choice([-1.0, 1.0], size=int(m.sum()))
        return out, sigma
    return patched


VARIANTS = [("round-off", 0), ("zero", 0), ("plus", 0), ("minus", 0), ("random", 1), ("random", 2), ("random", 3)]


def scores(img: np.ndarray) -> dict:
    out = {}
    for variant, seed in VARIANTS:
        fn = make_mscn(variant, seed)
        B.mscn, N.mscn = fn, fn
        try:
            out[(variant, seed)] = {m: nr.score(img, m) for m in ("niqe", "brisque")}
        finally:
            B.mscn, N.mscn = F.mscn, F.mscn
    default = {m: nr.score(img, m) for m in ("niqe", "brisque")}
    assert default == out[("round-off", 0)], (default, out[("round-off", 0)])   # veiqa's value is the round-off
    return out


def synthetic() -> dict:
    rng = np.random.default_rng(0)
    base = read_image(SAMPLES / "I04.BMP") if SAMPLES.is_dir() else rng.integers(0, 256, (384, 512, 3), np.uint8)
    grey = F.matlab_gray(base).astype(np.uint8)
    pasted = grey.copy()
    pasted[:200, :260] = 128                                     # a flat sky-like third of the image
    poster = (np.round(ndimage.gaussian_filter(rng.normal(0, 1, (384, 512)), 12) * 40) * 8 + 128)
    poster = np.clip(poster, 0, 255).astype(np.uint8)            # smooth field posterised into flat terraces
    return {"I04 + flat 200x260 patch": pasted, "posterised smooth field": poster}


def main() -> None:
    if len(sys.argv) > 1:
        images = {p: read_image(p) for p in sys.argv[1:]}
    else:
        images = {n: read_image(SAMPLES / n) for n in ("I01.BMP", "I03.BMP", "I04.BMP", "i01_01_5.bmp",
                                                       "i03_01_1.bmp")} if SAMPLES.is_dir() else {}
        images.update(synthetic())
    print("image\tflat%\tmethod\tround-off (veiqa)\t0\t+tiny\t-tiny\trandom signs (3)\t"
          "spread one-sign\tspread all")
    for name, img in images.items():
        flat = 100 * flat_windows(F.matlab_gray(img), "replicate").mean()
        res = scores(img)
        for m in ("niqe", "brisque"):
            ref = res[("round-off", 0)][m]
            one = [res[(v, 0)][m] for v in ("round-off", "zero", "plus", "minus")]
            rnd = [res[("random", s)][m] for s in (1, 2, 3)]
            rel = lambda v: 100 * (max(v) - min(v)) / abs(ref)  # noqa: E731
            print(f"{name}\t{flat:.1f}\t{m}\t" + "\t".join(f"{v:.4f}" for v in one)
                  + f"\t{min(rnd):.4f}..{max(rnd):.4f}\t{rel(one):.2f}%\t{rel(one + rnd):.2f}%")


if __name__ == "__main__":
    main()
