"""Which images every arm and measure of a table is correlated over (the same-N rule), and why others left.

A *table* is one dataset × distortion (the pooled distortion included): every arm (VEI arms, the pixel-PRI
control, the random-weights controls, the NR methods, the FR ceiling) and every measure of it is correlated over
the same images, so that two rows of a table can be compared. Two kinds of missing value are told apart:

Undefined by design (:data:`UNDEFINED_BY_DESIGN`)
    The measure has no value for this pair by its own definition: NCC (NK) or NAE of an all-zero reference map
    (status ``zero_map``), PCC of a constant map (``constant_map``), a window larger than the image (``too_small``:
    SSIM, MS-SSIM, an NR method's minimum size). Only that measure's row leaves the image (counted in
    ``n_undefined``); the other measures of the arm and the other arms keep it, so e.g. the VEI arm's PSNR is
    correlated over the same images as the pixel-PRI control's whatever the ``measures:`` list holds.
A failure
    Anything else: a NaN value with another status (``error``, ``too_small_for_network``, ``nan``, ``identical``
    under a NaN convention, no status), a measure or arm without a row for an image the table has (``missing``), or
    an image without a score (``no_score``). The image leaves **every arm and measure of the table** (counted per
    row in ``n_dropped`` where the row itself had a finite value); the pooled table leaves every image that left a
    per-distortion table. ``reasons`` says which arm, which measures and which status, with image counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Statuses under which a NaN is the measure's own "undefined here" (a NaN row with any other status, or none, is a
# failure), and the other reasons for a drop: their home is veiqa.contracts.
from ..contracts import REASON_MISSING, REASON_NO_SCORE, STATUS_NAN, STATUS_OK, UNDEFINED_BY_DESIGN
TABLE_KEYS = ("dataset", "distortion")
SERIES_KEYS = ("arm", "pair_kind", "measure")


def _failures(base: pd.DataFrame, fail: np.ndarray, status: pd.Series) -> pd.DataFrame:
    """Rows (dataset, distortion, arm, pair_kind, measure, image_id, status) of every failure of ``base``: its
    failed rows and, per table, the (series, image) pairs without a row."""
    keys = list(TABLE_KEYS) + list(SERIES_KEYS) + ["image_id"]
    parts = [base.loc[fail, keys].assign(status=status[fail].to_numpy())]
    for tkey, g in base.groupby(list(TABLE_KEYS), sort=True):
        present = g.groupby(list(SERIES_KEYS) + ["image_id"], sort=False).size().unstack("image_id", fill_value=0)
        if present.to_numpy().all():
            continue
        miss = (present == 0).stack()
        miss = miss[miss.to_numpy()].reset_index()[list(SERIES_KEYS) + ["image_id"]]
        parts.append(miss.assign(dataset=tkey[0], distortion=tkey[1], status=REASON_MISSING)[keys + ["status"]])
    return pd.concat(parts, ignore_index=True)


def _reasons(fails: pd.DataFrame, n_measures: dict) -> dict:
    """``{(dataset, distortion): "arm measures:status=images; ..."}``: per arm the measures that failed for an image
    (``all measures`` when every measure of the arm did) and their statuses, with the number of images."""
    if fails.empty:
        return {}
    per = fails.groupby(list(TABLE_KEYS) + ["arm", "pair_kind", "image_id"], sort=True).agg(
        measures=("measure", lambda m: tuple(sorted(set(m)))), status=("status", lambda s: "+".join(sorted(set(s)))))
    per = per.reset_index()
    full = [len(m) == n_measures.get((d, a, p), -1) for d, a, p, m in
            zip(per["dataset"], per["arm"], per["pair_kind"], per["measures"])]
    per["what"] = [f"{a} {'all measures' if f and len(m) > 1 else '+'.join(m)}"
                   for a, m, f in zip(per["arm"], per["measures"], full)]
    out: dict = {}
    for tkey, g in per.groupby(list(TABLE_KEYS), sort=True):
        c = g.groupby(["what", "status"], sort=True)["image_id"].nunique()
        out[tuple(tkey)] = "; ".join(f"{w}:{s}={int(n)}" for (w, s), n in c.items())
    return out


def common_rows(full: pd.DataFrame, pool_label: str | None = None) -> tuple[np.ndarray, dict, np.ndarray]:
    """Rows of ``full`` (the long table, optionally with pooled copies under ``distortion == pool_label``) that enter
    their correlation, by the rule of the module docstring.

    Returns ``(keep, reasons, undefined)``: ``keep`` (bool per row) — a finite value and score, and an image that
    did not fail anywhere in its table; ``reasons`` — ``{(dataset, distortion): text}`` for the tables that lost
    images; ``undefined`` (bool per row) — NaN by design (:data:`UNDEFINED_BY_DESIGN`), left out of its own row only.
    The status of a row is its ``status`` column (``nan`` without one)."""
    fin_v = np.isfinite(full["value"].to_numpy(float))
    fin_s = np.isfinite(full["score"].to_numpy(float))
    status = (full["status"].astype(str) if "status" in full.columns
              else pd.Series(STATUS_NAN, index=full.index)).to_numpy(object)
    undefined = ~fin_v & fin_s & np.isin(status, UNDEFINED_BY_DESIGN)
    fin = fin_v & fin_s
    fail = ~fin & ~undefined
    why = np.where(~fin_s, REASON_NO_SCORE, np.where(np.isin(status, (STATUS_OK, "None", "")), STATUS_NAN, status))
    pooled = (full["distortion"] == pool_label).to_numpy() if pool_label is not None else np.zeros(len(full), bool)
    base = full[~pooled]
    fails = _failures(base, fail[~pooled], pd.Series(why[~pooled], index=base.index))
    n_measures = base.groupby(["dataset", "arm", "pair_kind"], sort=False)["measure"].nunique().to_dict()
    reasons = _reasons(fails, n_measures)
    bad = pd.MultiIndex.from_arrays([fails["dataset"], fails["distortion"], fails["image_id"]])
    idx = pd.MultiIndex.from_arrays([full["dataset"], full["distortion"], full["image_id"]])
    out = idx.isin(bad)
    if pooled.any():
        bad_ds = pd.MultiIndex.from_arrays([fails["dataset"], fails["image_id"]])
        out[pooled] = pd.MultiIndex.from_arrays([full["dataset"][pooled], full["image_id"][pooled]]).isin(bad_ds)
        reasons.update(_reasons(fails.assign(distortion=pool_label), n_measures))
    return fin & ~out, reasons, undefined
