"""The long table the statistics read (the collected table, :mod:`veiqa.collect`): its columns, its checks, and the
columns that describe an arm rather than a value."""

from __future__ import annotations

import pandas as pd

from ..contracts import CORRELATION_INPUT
from ..io import VeiqaError

#: Group keys of the statistics: one correlation per dataset × distortion × arm × pair kind × measure.
GROUP_KEYS = ("dataset", "distortion", "arm", "pair_kind", "measure")
#: The columns the statistics read: their home is the contract veiqa.contracts.CORRELATION_INPUT.
REQUIRED_COLUMNS = CORRELATION_INPUT.names
#: Columns of the long table that describe an arm (one value per arm and pair kind: its kind, the PRI setting of a
#: grid arm; :mod:`veiqa.arms`), carried onto the correlation and fit rows when the table has them.
ARM_ATTRIBUTES = ("arm_kind", "pri_setting")


def validate(df: pd.DataFrame) -> pd.DataFrame:
    """The long table, checked (every column of :data:`REQUIRED_COLUMNS`, directions boolean and constant where they
    must be, one row per group and image) and typed for the statistics."""
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise VeiqaError(f"correlation input table lacks column(s) {missing}; it has {list(df.columns)}")
    df = df.copy()
    for c in ("dataset", "distortion", "arm", "pair_kind", "measure", "image_id", "ref_id"):
        df[c] = df[c].astype(str)
    for c in ("value", "score"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    for c in ("higher_is_better", "measure_higher_is_better"):
        if df[c].isna().any():
            raise VeiqaError(f"column {c!r} has missing values; it must be a boolean for every row")
        df[c] = df[c].astype(bool)
    # a measure's direction is its producer's (veiqa.pairs.COLUMNS): one per kind of pair, e.g. PSNR against the PRI
    # and PSNR against the pristine reference (the FR ceiling) go opposite ways
    for key, col in ((["dataset"], "higher_is_better"), (["pair_kind", "measure"], "measure_higher_is_better")):
        nun = df.groupby(key)[col].nunique()
        bad = list(nun.index[nun > 1])
        if bad:
            raise VeiqaError(f"column {col!r} is not constant within {key} {bad}: check the manifest/measure table")
    dup = df.duplicated(list(GROUP_KEYS) + ["image_id"])
    if dup.any():
        first = df.loc[dup, list(GROUP_KEYS) + ["image_id"]].iloc[0].to_dict()
        raise VeiqaError(f"duplicate rows for the same group and image_id (e.g. {first})")
    return df


def arm_attributes(df: pd.DataFrame) -> pd.DataFrame | None:
    """One row per (arm, pair_kind) with the table's :data:`ARM_ATTRIBUTES`; None when it has none of them."""
    cols = [c for c in ARM_ATTRIBUTES if c in df.columns]
    if not cols:
        return None
    a = df[["arm", "pair_kind", *cols]].drop_duplicates()
    dup = a.duplicated(["arm", "pair_kind"])
    if dup.any():
        arm = a.loc[dup, "arm"].iloc[0]
        raise VeiqaError(f"arm {arm!r} has more than one value of {cols} in the long table")
    return a
