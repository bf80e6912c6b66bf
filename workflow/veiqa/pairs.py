"""Similarity tables for the workflow's shards: heat-map pairs (the VEI method) and raw image/PRI pairs (the
pixel-PRI control), in the long format the aggregation reads; :func:`veiqa.collect.collect` joins them with the scores.

torch is imported by the two table builders only."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .arms import PIXEL_LABEL
from .contracts import MEASURE_SHARD, STATUS_ERROR, STATUS_TOO_SMALL_NET
from .io import ImageError, read_image
from .progress import Progress

_log = logging.getLogger(__name__)
#: The measure shards' columns: their home is the table's contract (veiqa.contracts.MEASURE_SHARD). Among them
#: ``measure_higher_is_better``: whether a higher value means better quality of the distorted image, written once
#: here by the producer (:meth:`veiqa.specs.MeasureSpec.quality_higher_is_better`; NR methods:
#: :data:`veiqa.nr.LOWER_IS_BETTER`) and read by the statistics. What an arm is (its kind, its backbone) is not
#: here: :func:`veiqa.collect.collect` adds it from the arm's record.
COLUMNS = list(MEASURE_SHARD.names)


def _error_rows(ids, names, status, pair_kind, arm, pri_identical) -> pd.DataFrame:
    k = len(names)
    return pd.DataFrame({
        "image_id": np.repeat(np.asarray(ids, dtype=object), k),
        "measure": np.tile(np.asarray(names, dtype=object), len(ids)),
        "value": np.full(len(ids) * k, np.nan),
        "status": status,
        "pair_kind": pair_kind,
        "arm": arm,
        "pri_identical": np.repeat(np.asarray(pri_identical, dtype=bool), k),
    })


def vei_table(vei: pd.DataFrame, names, size: int, normalize: str, arm: str,
              pri_identical: dict[str, bool] | None = None, log=None, batch_size: int = 256) -> pd.DataFrame:
    """Measures between the distorted image's map and its PRI's map for every row of a Grad-CAM shard.

    Maps are upsampled (bilinear) to ``size``×``size`` (``0``: kept at layer size) and, for ``normalize="minmax"``,
    scaled to [0, 1] each; unnormalised maps are compared with each pair scaled by its own maximum. Rows whose
    Grad-CAM failed get NaN values with status ``error``; a one-cell map (an image smaller than the network's
    stride at native resolution) carries no spatial information: NaN with status ``too_small_for_network``.
    Progress (pairs done, pairs/s) goes to ``log`` (default: this module's logger) after each batch of
    ``batch_size`` pairs.
    """
    import torch

    from . import measures as M

    names = list(names)
    pri_identical = pri_identical or {}
    progress = Progress(len(vei), "pairs", f"measures {arm}", log=log or _log, interval=0)
    parts = []
    ok = vei["error"].fillna("") == ""
    one_cell = ok & (vei["map_h"] * vei["map_w"] == 1)
    for sel, status in ((~ok, STATUS_ERROR), (one_cell, STATUS_TOO_SMALL_NET)):
        bad = vei[sel]
        if len(bad):
            parts.append(_error_rows(bad["image_id"], names, status, "vei", arm,
                                     [pri_identical.get(i, False) for i in bad["image_id"]]))
            progress.update(len(bad))
    good = vei[ok & ~one_cell]
    for (h, w), grp in good.groupby(["map_h", "map_w"], sort=True):
        for start in range(0, len(grp), batch_size):
            chunk = grp.iloc[start:start + batch_size]
            a = torch.from_numpy(np.stack([np.asarray(v, dtype=np.float32) for v in chunk["cam_dist"]])
                                 .reshape(-1, 1, h, w))
            b = torch.from_numpy(np.stack([np.asarray(v, dtype=np.float32) for v in chunk["cam_pri"]])
                                 .reshape(-1, 1, h, w))
            x, y = M.prepare_maps(a.double(), b.double(), size=size or None, normalize=normalize)
            dr = 1.0 if normalize == "minmax" else None
            t = M.measure_table(list(chunk["image_id"]), x, y, names, mode="map", data_range=dr)
            t["pair_kind"] = "vei"
            t["arm"] = arm
            t["pri_identical"] = t["image_id"].map(lambda i: bool(pri_identical.get(i, False)))
            parts.append(t)
            progress.update(len(chunk))
    return _with_direction(_finish(parts, vei["image_id"], names), "pri")


def image_table(rows: pd.DataFrame, root: str | Path, pri: pd.DataFrame, names, log=None,
                batch_size: int = 64, reference: str = "pri") -> pd.DataFrame:
    """Measures between each distorted image and its PRI (image mode: the reference implementations'
    conventions, RGB in 0..255), in batches of up to ``batch_size`` images of one size. Unreadable pairs get NaN
    with status ``error``. ``reference``: what ``pri`` holds, ``"pri"`` or ``"pristine"`` (the FR ceiling passes
    the true references), which sets the quality direction of the values. Progress (pairs done, pairs/s) goes to
    ``log`` (default: this module's logger) after each batch."""
    from . import measures as M

    names = list(names)
    log = log or _log
    pri = pri.set_index("image_id")
    progress = Progress(len(rows), "pairs", "measures image", log=log, interval=0)  # rate counts the decoding too
    parts, groups = [], {}
    bad_ids = []
    for r in rows.itertuples(index=False):
        p = pri.loc[r.image_id]
        try:
            if p["error"]:
                raise ImageError(p["error"])
            x = read_image(Path(root) / r.path)
            y = read_image(p["pri_path"])
        except ImageError as e:
            log.warning("pixel-PRI control not computed for %s: %s", r.image_id, e)
            bad_ids.append(r.image_id)
            continue
        groups.setdefault(x.shape, []).append((r.image_id, x, y, bool(p["identical"])))
    if bad_ids:
        parts.append(_error_rows(bad_ids, names, STATUS_ERROR, "image", PIXEL_LABEL,
                                 [bool(pri.loc[i, "identical"]) for i in bad_ids]))
        progress.update(len(bad_ids))
    for shape, group in sorted(groups.items()):
        for start in range(0, len(group), batch_size):
            items = group[start:start + batch_size]
            ids = [i for i, *_ in items]
            # N×C×H×W, contiguous (a permuted N×H×W×C view made every measure work on strided channels-last
            # data), in float32, the precision measure_table computes image pairs in (8-bit values are exact)
            x = _nchw([it[1] for it in items])
            y = _nchw([it[2] for it in items])
            t = M.measure_table(ids, x, y, names, mode="image")
            t["pair_kind"] = "image"
            t["arm"] = PIXEL_LABEL
            ident = {it[0]: it[3] for it in items}
            t["pri_identical"] = t["image_id"].map(ident).astype(bool)
            parts.append(t)
            progress.update(len(items))
    return _with_direction(_finish(parts, rows["image_id"], names), reference)


def _with_direction(df: pd.DataFrame, reference: str) -> pd.DataFrame:
    """The quality direction of each row's measure, compared with ``reference`` (``"pri"`` or ``"pristine"``)."""
    from .specs import MEASURES

    df["measure_higher_is_better"] = df["measure"].map(
        {m: MEASURES[m].quality_higher_is_better(reference) for m in set(df["measure"])}).astype(bool)
    return df


def _nchw(images):
    """A contiguous float32 N×C×H×W tensor of N H×W×C (or H×W) uint8 images of one shape."""
    import torch

    a = np.stack(images)
    if a.ndim == 3:
        a = a[..., None]
    return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2), dtype=np.float32))


def _finish(parts, order, names) -> pd.DataFrame:
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    rank = {i: n for n, i in enumerate(order)}
    mrank = {m: n for n, m in enumerate(names)}
    df = df.assign(_r=df["image_id"].map(rank), _m=df["measure"].map(mrank)).sort_values(["_r", "_m"], kind="stable")
    df = df.drop(columns=["_r", "_m"]).reset_index(drop=True)
    df["value"] = df["value"].astype("float64")
    df["pri_identical"] = df["pri_identical"].astype(bool)
    if "measure_higher_is_better" not in df:
        df["measure_higher_is_better"] = pd.Series(dtype=bool)  # set by the producer (_with_direction, nr_table)
    return df[COLUMNS]
