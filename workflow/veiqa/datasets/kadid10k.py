"""KADID-10k (Lin, Hosu & Saupe 2019).

Release layout (``kadid10k/``)::

    images/IXX.png                 (81 references, 512x384)
    images/IXX_TT_LL.png           (10125 = 81 refs x 25 types x 5 levels), in the same folder
    dmos.csv                       (dist_img,ref_img,dmos,var)

Distortion types (``TT``): 01 Gaussian blur→gb, 02 lens blur, 03 motion blur, 04 color diffusion, 05 color shift,
06 color quantization, 07 color saturation 1, 08 color saturation 2, 09 JPEG2000→jp2k, 10 JPEG→jpeg,
11 white noise→wn, 12 white noise in color component, 13 impulse noise, 14 multiplicative noise, 15 denoise,
16 brighten, 17 darken, 18 mean shift, 19 jitter, 20 non-eccentricity patch, 21 pixelate, 22 quantization,
23 color block, 24 high sharpen, 25 contrast change (others keep their code, ``other:02`` ...).

Score: despite the column name ``dmos``, KADID-10k's score is the mean of absolute-category ratings on a 1..5 scale
(1 bad .. 5 imperceptible), i.e. a MOS, **higher is better**: the release's values span 1.00..4.93, and the mean score falls from
4.08 at level 1 (mildest) to 2.01 at level 5. It is recorded as score_kind "MOS", range 1..5.
Every KADID-10k image is 512x384.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..io import VeiqaError
from ._common import FileIndex, Loader, ScoreScale, locate_score_file, other, read_csv_checked

DISTORTION_MAP = {"01": "gb", "09": "jp2k", "10": "jpeg", "11": "wn"}
TYPE_NAMES = {
    "01": "gaussian blur", "02": "lens blur", "03": "motion blur", "04": "color diffusion", "05": "color shift",
    "06": "color quantization", "07": "color saturation 1", "08": "color saturation 2", "09": "jpeg2000",
    "10": "jpeg", "11": "white noise", "12": "white noise in color component", "13": "impulse noise",
    "14": "multiplicative noise", "15": "denoise", "16": "brighten", "17": "darken", "18": "mean shift",
    "19": "jitter", "20": "non-eccentricity patch", "21": "pixelate", "22": "quantization", "23": "color block",
    "24": "high sharpen", "25": "contrast change",
}
SCORE_FILES = ("dmos.csv",)
SCORE_RANGE = (1.0, 5.0)
SIZE = (512, 384)
SCALE = ScoreScale("MOS", higher_is_better=True, range=SCORE_RANGE, size=SIZE)
_NAME = re.compile(r"^I(\d{2})_(\d{2})_(\d{2})\.png$", re.IGNORECASE)
_REF = re.compile(r"^I(\d{2})\.png$", re.IGNORECASE)


def _load(root: Path, score_file=None):
    """Read KADID-10k (``dmos.csv``) into the candidate table."""
    path = locate_score_file(root, SCORE_FILES, score_file, "KADID-10k")
    t = read_csv_checked(path, ["dist_img", "ref_img", "dmos"], {"dist_img": str, "ref_img": str},
                         "header dist_img,ref_img,dmos,var")
    scores = pd.to_numeric(t["dmos"], errors="coerce")
    bad = scores.isna() | ~scores.between(-1e300, 1e300)
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise VeiqaError(f"{path}: line {i + 2}: dmos {t['dmos'].iloc[i]!r} is not a finite number")
    idx = FileIndex(root, ["images"])
    rows = []
    for i, (name, ref_name, score) in enumerate(zip(t["dist_img"], t["ref_img"], scores)):
        m = _NAME.match(str(name).strip())
        r = _REF.match(str(ref_name).strip())
        if not m or not r or r.group(1) != m.group(1):
            raise VeiqaError(f"{path}: line {i + 2}: {name!r},{ref_name!r} is not IXX_TT_LL.png,IXX.png")
        ref, typ, lvl = m.groups()
        name, ref_name = str(name).strip(), str(ref_name).strip()
        rows.append(SCALE.row(name[:-4].lower(), f"i{ref}", DISTORTION_MAP.get(typ, other(typ)), typ, int(lvl),
                              idx.resolve(f"images/{name}"), idx.resolve(f"images/{ref_name}"), score))
    return SCALE.table(rows, dataset="kadid10k", score_file=path,
                      note="column 'dmos' is a MOS on the 1..5 ACR scale; higher is better")


LOADER = Loader("kadid10k", "KADID-10k", _load, markers=("images", "dmos.csv"), expected_rows=10125,
                layout="images/IXX_TT_LL.png and images/IXX.png, dmos.csv")
