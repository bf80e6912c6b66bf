"""The control arms computed outside the Grad-CAM chain, per shard: the standard NR-IQA methods and the FR ceiling
(the third control computed on pixels, the pixel-PRI control, is :func:`veiqa.pairs.image_table`; the fourth, the
random-weights control, is a Grad-CAM arm). Words: docs/layout.md ("Words").

Both write rows in the long measure-shard format of :mod:`veiqa.pairs` (columns :data:`veiqa.pairs.COLUMNS`), so
:func:`veiqa.collect.collect` joins them with the VEI arms and the pixel-PRI control, and the statistics treat them
the same way (logistic mapping, PLCC/SROCC/KROCC/RMSE, both protocols, bootstrap intervals).

NR methods (``pair_kind == "nr"``)
    Each method of :data:`veiqa.nr.METHODS` named in the config (``nr_methods``) scores the distorted image alone
    (:func:`veiqa.nr.score_many`). The arm and the measure are the method's name (``niqe``, ``brisque``, ``piqe``).
    Lower scores mean better quality for all three. An image a method cannot score gets NaN with a status:
    ``too_small`` (smaller than the method needs), ``error`` (unreadable image or a failure of the method, logged),
    ``nan`` (the method returned a non-finite value). A missing model file (:class:`veiqa.nr.ModelFileError`) or
    an unknown method stops the job: they concern the whole run, not one image.

FR ceiling (``pair_kind == "fr"``, arm ``fr-ceiling``)
    The configured FR measures (:mod:`veiqa.measures`, image mode, the same conventions as the pixel-PRI control)
    between the distorted image and its pristine reference (the manifest's ``ref_path``). It sees the reference,
    which no NR method does; it shows what the measure reaches when the PRI is replaced by the true reference.

Direction
    Each producer writes the quality direction of its values in the column ``measure_higher_is_better`` (see
    :data:`veiqa.pairs.COLUMNS`): the FR ceiling's measures keep their own direction (more similar to the pristine
    reference = better), the PRI arms the reverse, NR scores are lower-is-better. The FR ceiling's rows keep the
    measure's name; they are told apart by ``pair_kind`` and ``arm``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .arms import FR_LABEL
from .contracts import STATUS_ERROR, STATUS_NAN, STATUS_OK, STATUS_TOO_SMALL
from .io import ImageError, VeiqaError, read_image

NR_KIND = "nr"
FR_KIND = "fr"
FR_ARM = FR_LABEL  # veiqa.arms, the one home of the label


# ------------------------------------------------------------------------------------------------ NR methods

def _check_methods(methods: Iterable[str]) -> list[str]:
    from . import nr

    methods = list(methods)
    unknown = [m for m in methods if m not in nr.METHODS]
    if unknown:
        raise VeiqaError(f"unknown NR method(s) {unknown}; known: {list(nr.METHODS)}")
    return methods


def _checked(v) -> tuple[float, str]:
    v = float(v)
    return (v, STATUS_OK) if math.isfinite(v) else (math.nan, STATUS_NAN)


def score_image(img: np.ndarray, methods: Sequence[str], image_id: str = "", log=None) -> dict[str, tuple[float, str]]:
    """(value, status) of each NR method on one image. All methods at once (:func:`veiqa.nr.score_many`); when that
    fails, method by method, so that one method's failure on this image leaves the others' scores.

    Failures that concern this image (:class:`veiqa.nr.NRError`, a singular matrix) become a status; others (a
    missing model file: :class:`veiqa.nr.ModelFileError`) concern the whole run and propagate."""
    from . import nr

    methods = _check_methods(methods)
    per_image = (nr.NRError, np.linalg.LinAlgError)
    try:
        return {m: _checked(v) for m, v in nr.score_many(img, methods).items()}
    except per_image:
        pass
    out = {}
    for m in methods:
        try:
            out[m] = _checked(nr.score(img, m))
        except per_image as e:
            out[m] = (math.nan, STATUS_TOO_SMALL if isinstance(e, nr.ImageTooSmallError) else STATUS_ERROR)
            if log:
                log.warning("%s not scored for %s (%s): %s", m, image_id, out[m][1], e)
    return out


def nr_table(rows: pd.DataFrame, root: str | Path, methods: Iterable[str], log=None) -> pd.DataFrame:
    """NR scores of every distorted image of a shard (manifest rows with ``image_id`` and ``path`` relative to
    ``root``), one row per image × method, in the long measure-shard format."""
    from . import nr
    from .pairs import _finish

    methods = _check_methods(methods)
    recs = []
    for r in rows.itertuples(index=False):
        try:
            img = read_image(Path(root) / r.path)
        except ImageError as e:
            if log:
                log.warning("NR methods not computed for %s: %s", r.image_id, e)
            res = {m: (math.nan, STATUS_ERROR) for m in methods}
        else:
            res = score_image(img, methods, r.image_id, log)
        recs += [(r.image_id, m, v, s) for m, (v, s) in res.items()]
    df = pd.DataFrame(recs, columns=["image_id", "measure", "value", "status"])
    df["pair_kind"] = NR_KIND
    df["arm"] = df["measure"]
    df["pri_identical"] = False
    df["measure_higher_is_better"] = not nr.LOWER_IS_BETTER
    return _finish([df], rows["image_id"], methods)


# ------------------------------------------------------------------------------------------------ FR ceiling

def fr_table(rows: pd.DataFrame, root: str | Path, names: Iterable[str], log=None) -> pd.DataFrame:
    """The FR measures ``names`` between every distorted image of a shard and its pristine reference (manifest
    rows with ``image_id``, ``path`` and ``ref_path``, relative to ``root``), in the long measure-shard format.

    The pairs go through :func:`veiqa.pairs.image_table` (the pixel-PRI control's code: image mode, batched by size,
    unreadable pairs NaN with status ``error``) with the reference in place of the PRI."""
    from .pairs import image_table

    if "ref_path" not in rows.columns:
        raise VeiqaError("the manifest has no 'ref_path' column: the FR ceiling needs each image's reference")
    refs = pd.DataFrame({"image_id": rows["image_id"].to_numpy(),
                         "pri_path": [str(Path(root) / p) for p in rows["ref_path"]],
                         "identical": False, "error": ""})
    t = image_table(rows, root, refs, names, log=log, reference="pristine")
    t["pair_kind"] = FR_KIND
    t["arm"] = FR_ARM
    return t


# ------------------------------------------------------------------------------------------------ shard job

def run_shard(kind: str, rows_file: str | Path, distortion: str, names: Sequence[str], out: str | Path, dataset: str,
              log) -> pd.DataFrame:
    """One shard job of the workflow: ``kind`` ``"nr"`` (NR methods ``names``) or ``"fr"`` (FR ceiling, measures
    ``names``) on the shard rows file ``rows_file`` (:func:`veiqa.shards.read_shard`) of ``distortion``; writes
    ``out`` atomically with its provenance."""
    from . import shards
    from .contracts import MEASURE_SHARD
    from .io import write_parquet

    rows, root = shards.read_shard(rows_file)
    if kind == NR_KIND:
        df = nr_table(rows, root, names, log=log)
    elif kind == FR_KIND:
        df = fr_table(rows, root, names, log=log)
    else:
        raise VeiqaError(f"unknown control kind {kind!r} (expected {NR_KIND!r} or {FR_KIND!r})")
    arm = FR_ARM if kind == FR_KIND else NR_KIND
    write_parquet(df, out, meta={"dataset": dataset, "distortion": distortion, "arm": arm, "measures": list(names)},
                  contract=MEASURE_SHARD)
    counts = df["status"].value_counts().to_dict()
    log.info("%s: %d values for %d images, statuses %s", arm, len(df), df["image_id"].nunique(), counts)
    return df
