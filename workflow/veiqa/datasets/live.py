"""LIVE Image Quality Assessment Database, Release 2 (Sheikh, Sabir & Bovik 2006).

Release layout (``databaserelease2/``)::

    jp2k/img1.bmp ... img227.bmp      jpeg/img1.bmp ... img233.bmp
    wn/img1.bmp ... img174.bmp        gblur/img1.bmp ... img174.bmp     fastfading/img1.bmp ... img174.bmp
    refimgs/<name>.bmp  (29 references)
    dmos.mat             dmos (1x982), orgs (1x982)
    dmos_realigned.mat   dmos_new (1x982), dmos_std, orgs  -- the realigned DMOS recommended by the LIVE authors
    refnames_all.mat     refnames_all (1x982 cell of reference file names)

The 982 entries of the ``.mat`` arrays run through the folders in the order jp2k (227), jpeg (233), wn (174),
gblur (174), fastfading (174); entry *k* of a folder is ``img<k>.bmp``. ``orgs == 1`` marks the 203 entries that are
copies of a reference image (DMOS 0); they are excluded, leaving 779 distorted images.

Score: DMOS, **lower is better**. ``dmos_realigned.mat`` (``dmos_new``) is read when present, else ``dmos.mat``
(``dmos``). The range recorded is the nominal 0..100 scale of the difference scores (raw ratings were given on a
continuous 1..100 scale); realigned values lie slightly outside it (-2.64..111.77 in the release file).
LIVE has no discrete levels (``level`` is null) and its images vary in size (no expected size; staging still
checks each image against its reference's size).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import VeiqaError
from ._common import FileIndex, Loader, ScoreScale, locate_score_file, other

FOLDERS: tuple[tuple[str, int], ...] = (("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174), ("fastfading", 174))
N_ENTRIES = sum(n for _, n in FOLDERS)  # 982
DISTORTION_MAP = {"jp2k": "jp2k", "jpeg": "jpeg", "wn": "wn", "gblur": "gb", "fastfading": other("fastfading")}
SCORE_FILES = ("dmos_realigned.mat", "dmos.mat")
SCORE_RANGE = (0.0, 100.0)
SCALE = ScoreScale("DMOS", higher_is_better=False, range=SCORE_RANGE)


def _loadmat(path: Path) -> dict:
    import scipy.io

    try:
        return scipy.io.loadmat(str(path))
    except Exception as e:  # scipy raises ValueError, TypeError, MatReadError... on damaged files
        raise VeiqaError(f"{path}: cannot read MATLAB file ({type(e).__name__}: {e})") from e


def _vector(m: dict, key: str, path: Path) -> np.ndarray:
    if key not in m:
        found = sorted(k for k in m if not k.startswith("__"))
        raise VeiqaError(f"{path}: variable {key!r} not found (variables present: {', '.join(found) or 'none'})")
    v = np.asarray(m[key]).ravel()
    if v.size != N_ENTRIES:
        raise VeiqaError(f"{path}: {key!r} has {v.size} entries, expected {N_ENTRIES} (LIVE Release 2)")
    return v


def _load(root: Path, score_file=None):
    """Read LIVE Release 2 (``dmos_realigned.mat`` or ``dmos.mat`` + ``refnames_all.mat``) into the candidate table."""
    dmos_path = locate_score_file(root, SCORE_FILES, score_file, "LIVE Release 2")
    m = _loadmat(dmos_path)
    key = "dmos_new" if "dmos_new" in m else "dmos"
    dmos = _vector(m, key, dmos_path).astype(np.float64)
    orgs = _vector(m, "orgs", dmos_path)
    if not np.isfinite(dmos).all():
        raise VeiqaError(f"{dmos_path}: {key!r} contains non-finite values")
    names_path = (
        dmos_path.parent / "refnames_all.mat"
        if (dmos_path.parent / "refnames_all.mat").is_file()
        else locate_score_file(root, ("refnames_all.mat",), None, "LIVE Release 2 reference-name")
    )
    refnames = _vector(_loadmat(names_path), "refnames_all", names_path)
    idx = FileIndex(root, [f for f, _ in FOLDERS] + ["refimgs"])
    rows = []
    k = 0
    for folder, count in FOLDERS:
        for j in range(1, count + 1):
            if int(orgs[k]) == 0:
                ref = np.asarray(refnames[k]).ravel()
                if ref.size != 1:
                    raise VeiqaError(f"{names_path}: entry {k + 1} of refnames_all is not one file name")
                ref_name = str(ref[0])
                rows.append(
                    SCALE.row(f"{folder}_img{j}", Path(ref_name).stem.lower(), DISTORTION_MAP[folder], folder, None,
                              idx.resolve(f"{folder}/img{j}.bmp"), idx.resolve(f"refimgs/{ref_name}"), dmos[k])
                )
            k += 1
    return SCALE.table(
        rows,
        dataset="live",
        score_file=dmos_path,
        note=f"DMOS from {dmos_path.name}:{key}; orgs==1 reference copies excluded; lower is better",
    )


LOADER = Loader("live", "LIVE Release 2", _load, markers=("refimgs",), expected_rows=779,
                layout="jp2k/ jpeg/ wn/ gblur/ fastfading/ with img<N>.bmp, refimgs/, dmos_realigned.mat or dmos.mat, refnames_all.mat")
