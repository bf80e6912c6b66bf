"""SIQAD, the Screen Image Quality Assessment Database (Yang, Fang & Lin 2015).

Release layout::

    references/cimR.bmp                     (20 screen-content references, sizes vary)
    DistortedImages/cimR_T_L.bmp            (980 = 20 refs x 7 types x 7 levels)
    sccdmos.txt                             ("<dmos> <name>" per line, 980 lines)

A ``DMOS_SIQAD.mat`` (49x20, row (T-1)*7+(L-1), column R-1) circulates too, but it disagrees with ``sccdmos.txt`` in
74 of 980 entries (by whole numbers such as 8 or 20), so it is not read; ``sccdmos.txt`` is the score file.

Distortion types (``T``): 1 Gaussian noise→wn, 2 Gaussian blur→gb, 3 motion blur, 4 contrast change,
5 JPEG→jpeg, 6 JPEG2000→jp2k, 7 layer-segmentation-based coding (others keep their code, ``other:3`` ...).

Score: DMOS, **lower is better**. The range recorded is 0..100: the values in ``sccdmos.txt`` span 24.25..90.07,
i.e. a 0..100 difference scale; the release's documentation was not available to confirm the nominal bounds.
Image sizes vary between references, so there is no expected size (staging checks each image against its reference).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..io import VeiqaError
from ._common import FileIndex, Loader, ScoreScale, finite_score, locate_score_file, other, read_whitespace_table

DISTORTION_MAP = {"1": "wn", "2": "gb", "5": "jpeg", "6": "jp2k"}
TYPE_NAMES = {"1": "Gaussian noise", "2": "Gaussian blur", "3": "motion blur", "4": "contrast change",
              "5": "JPEG", "6": "JPEG2000", "7": "layer segmentation based coding"}
SCORE_FILES = ("sccdmos.txt",)
SCORE_RANGE = (0.0, 100.0)
SCALE = ScoreScale("DMOS", higher_is_better=False, range=SCORE_RANGE)
_NAME = re.compile(r"^cim(\d+)_(\d)_(\d)\.bmp$", re.IGNORECASE)


def _load(root: Path, score_file=None):
    """Read SIQAD (``sccdmos.txt``) into the candidate table."""
    path = locate_score_file(root, SCORE_FILES, score_file, "SIQAD")
    t = read_whitespace_table(path, ["dmos", "name"], {"dmos": finite_score, "name": str})
    pairs = list(zip(t["dmos"], t["name"]))
    idx = FileIndex(root, ["DistortedImages", "references"])
    rows = []
    for dmos, name in pairs:
        m = _NAME.match(name)
        if not m:
            raise VeiqaError(f"{path}: image name {name!r} is not cimR_T_L.bmp")
        ref, typ, lvl = m.groups()
        rows.append(SCALE.row(name[:-4].lower(), f"cim{ref}", DISTORTION_MAP.get(typ, other(typ)), typ, int(lvl),
                              idx.resolve(f"DistortedImages/{name}"), idx.resolve(f"references/cim{ref}.bmp"), dmos))
    return SCALE.table(rows, dataset="siqad", score_file=path, note="DMOS, lower is better")


LOADER = Loader("siqad", "SIQAD", _load, markers=("DistortedImages", "references"), expected_rows=980,
                layout="DistortedImages/cimR_T_L.bmp, references/cimR.bmp, sccdmos.txt")
