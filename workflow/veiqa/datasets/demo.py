"""The demo set veiqa builds itself from pristine images (no human ratings).

Layout (written by veiqa's demo builder)::

    reference/<ref>.png
    distorted/<ref>__<dist>__<level>.<ext>     dist in gb/wn/jpeg/jp2k, level 1..5; ext png (gb, wn), jpg, jp2
    scores.csv                                 image,reference,distortion,level,score (paths relative to the root)

Score: a **proxy**, not a human opinion: a full-reference quality measure of the distorted image against its
pristine source, higher is better, range 0..1 (the builder's documented range). score_kind is "proxy"; results
on the demo set say nothing about agreement with human judgement.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pandas as pd

from ..demo import content_id
from ..io import VeiqaError
from ._common import (PAPER_DISTORTIONS, FileIndex, Loader, locate_score_file, make_table, other,
                      read_csv_checked)

SCORE_FILES = ("scores.csv",)
SCORE_RANGE = (0.0, 1.0)
NOTE = ("proxy score: a full-reference measure of each distorted image against its pristine source "
        "(higher is better, 0..1), not a human opinion score")


def _relpath(value, path: Path, line: int, col: str) -> str:
    p = PurePosixPath(str(value).strip().replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or str(p) in ("", "."):
        raise VeiqaError(f"{path}: line {line}: {col} {value!r} must be a path relative to the demo root")
    return p.as_posix()


def _load(root: Path, score_file=None):
    """Read the demo set (``scores.csv``) into the candidate table."""
    path = locate_score_file(root, SCORE_FILES, score_file, "demo")
    need = ["image", "reference", "distortion", "level", "score"]
    t = read_csv_checked(path, need, {"image": str, "reference": str, "distortion": str}, ",".join(need))
    scores = pd.to_numeric(t["score"], errors="coerce")
    levels = pd.to_numeric(t["level"], errors="coerce")
    idx = FileIndex(root, ["distorted", "reference"])
    rows = []
    for i, rec in enumerate(t.itertuples(index=False)):
        line = i + 2
        if pd.isna(scores.iloc[i]) or abs(scores.iloc[i]) == float("inf"):
            raise VeiqaError(f"{path}: line {line}: score {rec.score!r} is not a finite number")
        lvl = levels.iloc[i]
        if pd.isna(rec.level) or str(rec.level).strip() == "":
            lvl = None
        elif pd.isna(lvl) or float(lvl) != int(lvl):
            raise VeiqaError(f"{path}: line {line}: level {rec.level!r} is not an integer")
        img = _relpath(rec.image, path, line, "image")
        ref = _relpath(rec.reference, path, line, "reference")
        dist = str(rec.distortion).strip()
        rows.append(
            {
                "image_id": PurePosixPath(img).stem.lower(),
                "ref_id": content_id(PurePosixPath(ref).stem.lower()),
                "distortion": dist if dist in PAPER_DISTORTIONS else other(dist),
                "db_distortion": dist,
                "level": None if lvl is None else int(lvl),
                "path": idx.resolve(img),
                "ref_path": idx.resolve(ref),
                "score": float(scores.iloc[i]),
                "score_kind": "proxy",
                "higher_is_better": True,
                "score_min": SCORE_RANGE[0],
                "score_max": SCORE_RANGE[1],
                "expected_width": None,
                "expected_height": None,
            }
        )
    return make_table(rows, dataset="demo", score_file=path, note=NOTE)


LOADER = Loader("demo", "veiqa demo set", _load, markers=("scores.csv", "distorted"),
                layout="reference/<ref>.png, distorted/<ref>__<dist>__<level>.<ext>, scores.csv")
