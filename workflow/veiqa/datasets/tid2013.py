"""TID2013 (Ponomarenko et al. 2015).

Release layout::

    reference_images/I01.BMP ... I25.BMP               (25 references, 512x384)
    distorted_images/iXX_TT_L.bmp                      (3000 = 25 refs x 24 types x 5 levels)
    mos_with_names.txt                                 ("<mos> <name>" per line, 3000 lines)

Names are case-inconsistent both on disk and in the score file (``I01_01_1.bmp``, ``I01_11_1.BMP``,
``i01_01_2.bmp``), so files are matched case-insensitively and ids are lower case.

Distortion types (``TT``): 01 additive Gaussian noise→wn, 08 Gaussian blur→gb, 10 JPEG→jpeg,
11 JPEG2000→jp2k; every other type keeps its code (``other:02`` ...).

Score: MOS, **higher is better**. The range recorded is 0..9, the scale of TID2013's MOS (pairwise-comparison
wins; the paper gives 0..9); the release's values span 0.24..7.21. Every TID2013 image is 512x384.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..io import VeiqaError
from ._common import FileIndex, Loader, ScoreScale, finite_score, locate_score_file, other, read_whitespace_table

DISTORTION_MAP = {"01": "wn", "08": "gb", "10": "jpeg", "11": "jp2k"}
TYPE_NAMES = {
    "01": "additive Gaussian noise", "02": "additive noise in color components", "03": "spatially correlated noise",
    "04": "masked noise", "05": "high frequency noise", "06": "impulse noise", "07": "quantization noise",
    "08": "Gaussian blur", "09": "image denoising", "10": "JPEG compression", "11": "JPEG2000 compression",
    "12": "JPEG transmission errors", "13": "JPEG2000 transmission errors", "14": "non eccentricity pattern noise",
    "15": "local block-wise distortions", "16": "mean shift", "17": "contrast change", "18": "change of color saturation",
    "19": "multiplicative Gaussian noise", "20": "comfort noise", "21": "lossy compression of noisy images",
    "22": "image color quantization with dither", "23": "chromatic aberrations", "24": "sparse sampling and reconstruction",
}
SCORE_FILES = ("mos_with_names.txt",)
SCORE_RANGE = (0.0, 9.0)
SIZE = (512, 384)
SCALE = ScoreScale("MOS", higher_is_better=True, range=SCORE_RANGE, size=SIZE)
_NAME = re.compile(r"^i(\d{2})_(\d{2})_(\d)\.bmp$", re.IGNORECASE)


def _load(root: Path, score_file=None):
    """Read TID2013 (``mos_with_names.txt``) into the candidate table."""
    path = locate_score_file(root, SCORE_FILES, score_file, "TID2013")
    t = read_whitespace_table(path, ["mos", "name"], {"mos": finite_score, "name": str})
    idx = FileIndex(root, ["distorted_images", "reference_images"])
    rows = []
    for mos, name in zip(t["mos"], t["name"]):
        m = _NAME.match(name)
        if not m:
            raise VeiqaError(f"{path}: image name {name!r} is not iXX_TT_L.bmp")
        ref, typ, lvl = m.groups()
        rows.append(SCALE.row(name[:-4].lower(), f"i{ref}", DISTORTION_MAP.get(typ, other(typ)), typ, int(lvl),
                              idx.resolve(f"distorted_images/{name}"), idx.resolve(f"reference_images/I{ref}.BMP"),
                              mos))
    return SCALE.table(rows, dataset="tid2013", score_file=path, note="MOS 0..9, higher is better")


LOADER = Loader("tid2013", "TID2013", _load, markers=("distorted_images", "reference_images"), expected_rows=3000,
                layout="distorted_images/iXX_TT_L.bmp, reference_images/IXX.BMP, mos_with_names.txt")
