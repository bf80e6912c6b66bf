"""The image pairs of tests/fixtures/matlab_reference.json: two real TID2013 pairs and pairs derived from the real
TID2013 references by fixed numpy operations (reproducible bit for bit), built the same way here and in the
development-time Octave run (scripts/matlab_reference/run_reference.m)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _read(p: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(p).convert("RGB"), dtype=np.uint8)


def _box3(a: np.ndarray) -> np.ndarray:
    """3×3 box blur per channel, edge samples repeated, rounded half up to uint8."""
    p = np.pad(a.astype(np.int64), ((1, 1), (1, 1), (0, 0)), mode="edge")
    s = sum(p[i : i + a.shape[0], j : j + a.shape[1]] for i in range(3) for j in range(3))
    return ((2 * s + 9) // 18).astype(np.uint8)


def _lsb(a: np.ndarray) -> np.ndarray:
    """Nearly identical: +1 grey level on every 7th sample (flat index), saturating at 255."""
    b = a.astype(np.int64).reshape(-1).copy()
    b[::7] += 1
    return np.minimum(b, 255).reshape(a.shape).astype(np.uint8)


def _tint(a: np.ndarray) -> np.ndarray:
    """A colour shift that keeps luminance nearly constant: R + 12, B − 31 (0.299·12 ≈ 0.114·31), clipped."""
    b = a.astype(np.int64) + np.array([12, 0, -31])
    return np.clip(b, 0, 255).astype(np.uint8)


PAIRS = ("tid_i01_awgn5", "tid_i03_awgn1", "i04_lsb", "i04_box3", "i03_tint", "i01_vs_i03")


def build(tid_dir) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (reference, distorted) uint8 H×W×3 arrays."""
    d = Path(tid_dir)
    i01, i03, i04 = _read(d / "I01.BMP"), _read(d / "I03.BMP"), _read(d / "I04.BMP")
    return {
        "tid_i01_awgn5": (i01, _read(d / "i01_01_5.bmp")),
        "tid_i03_awgn1": (i03, _read(d / "i03_01_1.bmp")),
        "i04_lsb": (i04, _lsb(i04)),
        "i04_box3": (i04, _box3(i04)),
        "i03_tint": (i03, _tint(i03)),
        "i01_vs_i03": (i01, i03),
    }
