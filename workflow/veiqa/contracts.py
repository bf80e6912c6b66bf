"""The columns of every Parquet table veiqa writes, and the one vocabulary of the per-row ``status`` strings.

Statuses
    Every status a row of a measure shard (VEI arms, the pixel-PRI arm, the NR methods, the FR ceiling) may carry
    is a named constant here with its meaning (:data:`STATUS_MEANINGS`); the producers (:mod:`veiqa.measures`,
    :mod:`veiqa.pairs`, :mod:`veiqa.controls`) and the statistics (:mod:`veiqa.stats.same_images`) import them
    from here. The subsets the statistics need (:data:`UNDEFINED_BY_DESIGN`, :data:`NAN_STATUSES`) are defined
    beside them. The logistic fits' ``fit_status`` (:data:`FIT_STATUSES`) and the reasons the same-N rule gives for
    a dropped image (:data:`DROP_REASONS`) are separate vocabularies.

Table contracts
    One :class:`Contract` per table: its required columns with their kind (:data:`KINDS`), the columns that must
    not hold nulls, the columns whose values come from a vocabulary, the rows whose value must be NaN
    (``nan_when``) and, for the set metrics, the value columns that are NaN exactly where their status is not ok
    (``ok_iff_value``). A table may have more columns than its contract names (columns are added without breaking the
    check; add them here to have them checked). :func:`check` raises :class:`ContractError` naming the table, the
    file and what is wrong; :func:`veiqa.io.write_parquet` calls it (``contract=``) before the atomic write, so a
    table that breaks its contract never lands.

Direction: this module is the one home of the column lists. The modules that had their own list read it from
here (``veiqa.pairs.COLUMNS``, ``veiqa.stats.REQUIRED_COLUMNS``, ``veiqa.datasets.MANIFEST_COLUMNS`` /
``REJECTED_COLUMNS``, ``veiqa.setmetrics.NAN_STATUS``, the PRI index's columns), never the other way round: the
producers import this module for the statuses, so it imports nothing of the package but :mod:`veiqa.errors` and
:mod:`veiqa.arms` (the kinds of arm; no cycle, and the core may import it). One exception: the Grad-CAM shard's
exact Arrow types stay in ``veiqa.gradcam.SHARD_COLUMNS``; tests/test_contracts.py keeps its names equal to
:data:`VEI`'s.

docs/tables.md is generated from this module (:func:`tables_markdown`).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

from .arms import KINDS as ARM_KINDS
from .errors import VeiqaError

# ------------------------------------------------------------------------------------------------ statuses

STATUS_OK = "ok"
STATUS_IDENTICAL = "identical"
STATUS_ZERO = "zero_map"
STATUS_CONSTANT = "constant_map"
STATUS_TOO_SMALL = "too_small"
STATUS_TOO_SMALL_NET = "too_small_for_network"
STATUS_ERROR = "error"
STATUS_NAN = "nan"

#: Every status a row of a measure shard (and of the collected table) may carry, with its meaning.
STATUS_MEANINGS: dict[str, str] = {
    STATUS_OK: "the value is computed and defined",
    STATUS_IDENTICAL: "the two inputs are equal everywhere (PSNR is then its finite ceiling, not +inf)",
    STATUS_ZERO: "either map is all zeros (PCC is NaN, NCC and NAE too when the reference map is the zero one; "
                 "other measures have values)",
    STATUS_CONSTANT: "either map is constant but not zero (PCC is NaN; other measures have values)",
    STATUS_TOO_SMALL: "the image's smaller side is below the measure's or NR method's minimum size (NaN)",
    STATUS_TOO_SMALL_NET: "the Grad-CAM map has one cell: the image is smaller than the network's stride (NaN)",
    STATUS_ERROR: "an input could not be read, or the method failed on it (logged; NaN)",
    STATUS_NAN: "an NR method returned a non-finite value (NaN)",
}
STATUSES: tuple[str, ...] = tuple(STATUS_MEANINGS)
#: The statuses of :func:`veiqa.measures.compute` (one per measure and pair), in its order of precedence after ok.
MEASURE_STATUSES = (STATUS_OK, STATUS_IDENTICAL, STATUS_ZERO, STATUS_CONSTANT, STATUS_TOO_SMALL)
#: Statuses under which a NaN is the measure's own "undefined here": only that measure's row leaves the image
#: (:mod:`veiqa.stats.same_images`); a NaN under any other status, or none, is a failure.
UNDEFINED_BY_DESIGN = (STATUS_ZERO, STATUS_CONSTANT, STATUS_TOO_SMALL)
#: Statuses whose value is NaN in every row (checked by the measure-shard contract). ``zero_map`` and
#: ``constant_map`` are not among them: they make only some measures NaN.
NAN_STATUSES = (STATUS_TOO_SMALL, STATUS_TOO_SMALL_NET, STATUS_ERROR, STATUS_NAN)

#: ``fit_status`` of a logistic fit (:mod:`veiqa.stats.logistic`) and of a correlation row (any fold failed).
FIT_OK = "ok"
FIT_FAILED = "failed"
FIT_STATUSES = (FIT_OK, FIT_FAILED)

#: Why the same-N rule (:mod:`veiqa.stats.same_images`) dropped an image, besides a failed row's own status.
REASON_MISSING = "missing"
REASON_NO_SCORE = "no_score"
DROP_REASON_MEANINGS: dict[str, str] = {
    REASON_MISSING: "a measure or arm has no row for an image its table has",
    REASON_NO_SCORE: "the image has no finite score",
    STATUS_NAN: "a NaN value whose status is ok, or without a status",
}
DROP_REASONS = tuple(DROP_REASON_MEANINGS)

#: ``reason_code`` of a row of ``rejected.parquet`` (:mod:`veiqa.datasets.staging`).
REJECT_REASONS = ("missing", "unreadable", "not_image", "truncated", "corrupt", "size", "reference")

# ------------------------------------------------------------------------------------------------ contracts

#: Column kinds: what a column's dtype must be (an empty object column, of a table without rows, is any kind).
KINDS: dict[str, str] = {
    "string": "text (object or string dtype; every non-null value a str)",
    "float": "floating point",
    "int": "integer",
    "number": "integer or floating point",
    "bool": "boolean",
    "list": "object dtype; every non-null value an array or list",
}


@dataclasses.dataclass(frozen=True)
class Contract:
    """One table: ``columns`` (name → kind of :data:`KINDS`, in the table's order), ``not_null`` (columns without
    nulls), ``vocab`` (column → the values it may hold), ``nan_when`` ((column, statuses): the ``value`` column is
    NaN in every row whose ``column`` is one of ``statuses``), ``ok_iff_value`` (value column → status column: the
    status is ``ok`` exactly where the value is not NaN), ``key`` (the column an error message quotes to name a bad
    row) and a one-line ``doc``."""

    name: str
    doc: str
    columns: Mapping[str, str]
    not_null: tuple[str, ...] = ()
    vocab: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    nan_when: tuple[str, tuple[str, ...]] | None = None
    ok_iff_value: Mapping[str, str] = dataclasses.field(default_factory=dict)
    key: str = "image_id"

    def __post_init__(self):
        bad = {c: k for c, k in self.columns.items() if k not in KINDS}
        unknown = [c for c in (*self.not_null, *self.vocab, *self.ok_iff_value, *self.ok_iff_value.values())
                   if c not in self.columns]
        if bad or unknown:
            raise ValueError(f"contract {self.name}: unknown kinds {bad} or columns {unknown}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.columns)


class ContractError(VeiqaError):
    """A table that breaks its contract (the message names the table, the file and what is wrong)."""


def _kind_ok(s, kind: str) -> bool:
    import numpy as np
    import pandas as pd

    t = pd.api.types
    if len(s) == 0 and s.dtype == object:  # an empty table built from column names: no value of a wrong kind
        return True
    if kind == "float":
        return t.is_float_dtype(s)
    if kind == "int":
        return t.is_integer_dtype(s) and not t.is_bool_dtype(s)
    if kind == "number":
        return t.is_numeric_dtype(s) and not t.is_bool_dtype(s)
    if kind == "bool":
        return t.is_bool_dtype(s)
    vals = s.dropna()
    if kind == "string":
        return (t.is_string_dtype(s) or s.dtype == object) and (len(vals) == 0 or t.infer_dtype(vals) == "string")
    return s.dtype == object and all(isinstance(v, (list, tuple, np.ndarray)) for v in vals)


def _example(df, rows, key: str) -> str:
    if key in df.columns and rows.any():
        v = df.loc[rows, key].iloc[0]
        return f" (e.g. {key} {v.item() if hasattr(v, 'item') else v!r})"
    return ""


def problems(df, contract: Contract) -> list[str]:
    """What is wrong with ``df`` under ``contract``, one phrase each (empty when it holds)."""
    import numpy as np

    out = []
    missing = [c for c in contract.columns if c not in df.columns]
    if missing:
        out.append(f"missing column(s) {missing}")
    present = [c for c in contract.columns if c in df.columns]
    for c in present:
        kind = contract.columns[c]
        if not _kind_ok(df[c], kind):
            out.append(f"column {c!r} should be {kind}, has dtype {df[c].dtype}")
    for c in contract.not_null:
        if c in df.columns:
            nul = df[c].isna().to_numpy()
            if nul.any():
                out.append(f"column {c!r} holds nulls in {int(nul.sum())} row(s){_example(df, nul, contract.key)}")
    for c, allowed in contract.vocab.items():
        if c in df.columns:
            vals = df[c]
            bad = (vals.notna() & ~vals.isin(allowed)).to_numpy()
            if bad.any():
                unknown = sorted(map(str, set(vals[bad])))
                out.append(f"unknown {c} {unknown} in {int(bad.sum())} row(s){_example(df, bad, contract.key)} "
                           f"(known: {list(allowed)})")
    if contract.nan_when and {"value", contract.nan_when[0]} <= set(df.columns):
        col, statuses = contract.nan_when
        v = np.asarray(df["value"], dtype=float)
        bad = df[col].isin(statuses).to_numpy() & ~np.isnan(v)
        if bad.any():
            out.append(f"value is not NaN in {int(bad.sum())} row(s) whose {col} is one of {list(statuses)}"
                       f"{_example(df, bad, contract.key)}")
    for c, st in contract.ok_iff_value.items():
        if {c, st} <= set(df.columns):
            nan, ok = df[c].isna().to_numpy(), (df[st] == STATUS_OK).to_numpy()
            bad = nan == ok
            if bad.any():
                out.append(f"{c} and its status {st} disagree (NaN with {STATUS_OK!r}, or a value without) in "
                           f"{int(bad.sum())} row(s){_example(df, bad, contract.key)}")
    return out


def check(df, contract: Contract, path=None):
    """Return ``df`` unchanged when it holds ``contract``; else raise :class:`ContractError` naming the table, the
    file (``path``, when given) and every problem found."""
    found = problems(df, contract)
    if found:
        where = f" {path}" if path is not None else ""
        raise ContractError(f"{contract.name} table{where}: " + "; ".join(found))
    return df


# ------------------------------------------------------------------------------------------------ the tables

_GROUP = {"dataset": "string", "distortion": "string", "arm": "string", "pair_kind": "string", "measure": "string"}

MANIFEST = Contract(
    "manifest", "one row per accepted distorted image of a staged dataset (results/<ds>/manifest.parquet)",
    {"dataset": "string", "image_id": "string", "ref_id": "string", "distortion": "string",
     "db_distortion": "string", "level": "number", "path": "string", "ref_path": "string", "score": "float",
     "score_kind": "string", "higher_is_better": "bool", "score_min": "number", "score_max": "number",
     "width": "int", "height": "int", "sha256": "string", "ref_sha256": "string"},
    not_null=("dataset", "image_id", "ref_id", "distortion", "path", "ref_path", "higher_is_better", "width",
              "height", "sha256", "ref_sha256"),
)
REJECTED = Contract(
    "rejected", "one row per listed image that staging left out, with why (results/<ds>/rejected.parquet)",
    {"dataset": "string", "image_id": "string", "ref_id": "string", "distortion": "string",
     "db_distortion": "string", "level": "number", "path": "string", "ref_path": "string",
     "reason_code": "string", "reason": "string"},
    not_null=("dataset", "image_id", "reason_code", "reason"),
    vocab={"reason_code": REJECT_REASONS},
)
PRI = Contract(
    "PRI", "one row per image of a PRI shard: its pseudo-reference image file, or the error that prevented it",
    {"image_id": "string", "pri_path": "string", "pri_sha256": "string", "identical": "bool",
     "mean_abs_diff": "float", "error": "string"},
    not_null=("image_id", "pri_path", "pri_sha256", "identical", "error"),
)
VEI = Contract(
    "Grad-CAM (VEI)", "one row per (image, PRI) pair of a shard: both Grad-CAM maps, flattened, or an error",
    {"image_id": "string", "backbone": "string", "weights": "string", "weights_sha256": "string",
     "target_class": "int", "target_prob_dist": "float", "target_prob_pri": "float", "pred_class_dist": "int",
     "pred_class_pri": "int", "map_h": "int", "map_w": "int", "cam_dist": "list", "cam_pri": "list",
     "zero_dist": "bool", "zero_pri": "bool", "error": "string"},
    not_null=("image_id", "backbone", "cam_dist", "cam_pri", "error"),
)
MEASURE_SHARD = Contract(
    "measure shard", "one row per image × measure of an arm's shard (VEI arms, pixel-PRI arm, NR methods, "
    "FR ceiling): veiqa.pairs.COLUMNS",
    {"image_id": "string", "measure": "string", "value": "float", "status": "string", "pair_kind": "string",
     "arm": "string", "pri_identical": "bool", "measure_higher_is_better": "bool"},
    not_null=("image_id", "measure", "status", "pair_kind", "arm", "pri_identical", "measure_higher_is_better"),
    vocab={"status": STATUSES},
    nan_when=("status", NAN_STATUSES),
)
CORRELATION_INPUT = Contract(
    "correlation input", "the columns the statistics read (veiqa.stats.REQUIRED_COLUMNS); a subset of the "
    "collected table",
    {**_GROUP, "image_id": "string", "ref_id": "string", "value": "float", "score": "number",
     "higher_is_better": "bool", "measure_higher_is_better": "bool"},
)
SCORES = Contract(
    "collected table", "every measure shard of a dataset joined with the manifest's scores "
    "(results/<ds>/collected.parquet, veiqa.collect)",
    {**_GROUP, "pri": "string", "arm_kind": "string", "backbone": "string", "image_id": "string", "ref_id": "string",
     "level": "number", "value": "float", "status": "string", "pri_identical": "bool", "score": "float",
     "score_kind": "string", "higher_is_better": "bool", "measure_higher_is_better": "bool"},
    not_null=(*_GROUP, "pri", "arm_kind", "backbone", "image_id", "ref_id", "status", "pri_identical",
              "higher_is_better", "measure_higher_is_better"),
    vocab={"status": STATUSES, "arm_kind": ARM_KINDS},
    nan_when=("status", NAN_STATUSES),
)
CORR = Contract(
    "corr", "one row per dataset × distortion × arm × pair kind × measure × protocol: the correlations",
    {**_GROUP, "protocol": "string", "n": "int", "n_nan": "int", "n_undefined": "int", "n_dropped": "int",
     "drop_reasons": "string", "fit_status": "string", "fit_message": "string", "plcc": "float", "srocc": "float",
     "krocc": "float", "rmse": "float", "plcc_raw": "float"},
    not_null=(*_GROUP, "protocol", "n", "fit_status"),
    vocab={"fit_status": FIT_STATUSES},
    key="arm",
)
FITS = Contract(
    "fits", "one row per logistic fit (group × protocol × fold; fold -1 = all points)",
    {**_GROUP, "protocol": "string", "fold": "int", "b1": "float", "b2": "float", "b3": "float", "b4": "float",
     "b5": "float", "fit_status": "string", "fit_message": "string", "n_fit": "int", "rss": "float"},
    not_null=(*_GROUP, "protocol", "fold", "fit_status"),
    vocab={"fit_status": FIT_STATUSES},
    key="arm",
)
FOLDS = Contract(
    "folds", "the fold of each reference content per dataset (content-separated protocol)",
    {"dataset": "string", "ref_id": "string", "fold": "int", "k": "int"},
    not_null=("dataset", "ref_id", "fold", "k"),
    key="ref_id",
)
PREDICTIONS = Contract(
    "predictions", "per image and protocol the mapped prediction (in-sample for paper, out-of-fold otherwise)",
    {**_GROUP, "protocol": "string", "image_id": "string", "ref_id": "string", "fold": "int", "value": "float",
     "score": "float", "prediction": "float"},
    not_null=(*_GROUP, "protocol", "image_id", "ref_id", "fold"),
)

DEGENERATE = Contract(
    "degenerate", "per dataset × distortion (and pooled) × arm × measure: images, identical PRIs, identical and "
    "all-zero maps (results/<ds>/stats/degenerate.parquet, veiqa.ranking.degenerate_counts)",
    {**_GROUP, "n_images": "int", "n_pri_identical": "int", "n_maps_identical": "int", "n_zero_map": "int"},
    not_null=(*_GROUP, "n_images", "n_pri_identical", "n_maps_identical", "n_zero_map"),
    key="arm",
)

#: Set metrics: each column that can be NaN and the column saying why, "ok" exactly where the number is there (the
#: statuses are free text, e.g. "failed: ..."; veiqa.setmetrics.NAN_STATUS reads this).
SET_METRICS_NAN_STATUS: dict[str, str] = {
    "fid": "fid_status", "fid_sqrtm_imag_max": "fid_status", "fid_sqrtm_rel_err": "fid_sqrtm_rel_err_status",
    "kid_mean": "kid_status", "kid_std": "kid_std_status",
    "is_mean": "is_status", "is_ref_mean": "is_status", "is_std": "is_std_status", "is_ref_std": "is_ref_std_status",
    "lpips_mean": "lpips_status", "lpips_std": "lpips_status",
}
SET_METRICS = Contract(
    "set metrics", "per distortion × level: FID, KID, IS and LPIPS of the distorted set against its references "
    "(veiqa.setmetrics)",
    {"distortion": "string", "level": "number", "n_images": "int", "n_refs": "int", "extractor": "string",
     "extractor_label": "string", "extractor_standard": "bool",
     **{c: "float" for c in SET_METRICS_NAN_STATUS}, **{s: "string" for s in SET_METRICS_NAN_STATUS.values()}},
    # level is null for a database without discrete levels (LIVE): one row per distortion
    not_null=("distortion", "n_images", "n_refs", "extractor", "extractor_label", "extractor_standard",
              *dict.fromkeys(SET_METRICS_NAN_STATUS.values())),
    ok_iff_value=SET_METRICS_NAN_STATUS,
    key="level",
)

#: Every contract, in the order docs/tables.md lists them.
CONTRACTS: tuple[Contract, ...] = (MANIFEST, REJECTED, PRI, VEI, MEASURE_SHARD, SCORES, CORRELATION_INPUT, CORR,
                                   FITS, FOLDS, PREDICTIONS, DEGENERATE, SET_METRICS)


def tables_markdown() -> str:
    """docs/tables.md: every table's columns and the status vocabulary (written by scripts/gen_tables_docs.py;
    tests/test_docs.py checks the page is up to date)."""
    lines = ["# Tables and statuses", "",
             "<!-- generated from workflow/veiqa/contracts.py by scripts/gen_tables_docs.py: edit the contracts, "
             "then run that script -->", "",
             "Every Parquet table veiqa writes is checked against its contract (`veiqa.contracts`) before the atomic "
             "write, and the measure shards again when `collect` reads them: a table with a missing column, a column "
             "of the wrong kind, nulls where none may be, a value outside its vocabulary, or a non-NaN value under a "
             "status that means NaN stops the job with a message naming the table, the file and the fault. A table "
             "may hold more columns than listed.", "",
             "## Row statuses", "", "| status | meaning |", "|---|---|"]
    lines += [f"| `{s}` | {m} |" for s, m in STATUS_MEANINGS.items()]
    lines += ["", f"Undefined by design (only that measure's row leaves the image): "
              f"{', '.join(f'`{s}`' for s in UNDEFINED_BY_DESIGN)}. "
              f"Always NaN: {', '.join(f'`{s}`' for s in NAN_STATUSES)}. "
              f"Statuses of `veiqa.measures.compute`: {', '.join(f'`{s}`' for s in MEASURE_STATUSES)}.", "",
              f"Logistic fits (`fit_status`): {', '.join(f'`{s}`' for s in FIT_STATUSES)}. "
              "Reasons the same-N rule gives for a dropped image, besides a failed row's status: "
              + "; ".join(f"`{r}` ({m})" for r, m in DROP_REASON_MEANINGS.items()) + ".", "",
              "## Tables", "", "Kinds: " + "; ".join(f"{k}: {v}" for k, v in KINDS.items()) + ".", ""]
    for c in CONTRACTS:
        lines += [f"### {c.name}", "", c.doc[0].upper() + c.doc[1:] + ".", "", "| column | kind | rule |",
                  "|---|---|---|"]
        for col, kind in c.columns.items():
            rule = []
            if col in c.not_null:
                rule.append("not null")
            if col in c.vocab:
                vocab = c.vocab[col]
                rule.append("one of the row statuses" if vocab == STATUSES else
                            "one of " + ", ".join(f"`{v}`" for v in vocab))
            if c.nan_when and col == "value":
                rule.append(f"NaN when {c.nan_when[0]} is " + ", ".join(f"`{s}`" for s in c.nan_when[1]))
            if col in c.ok_iff_value:
                rule.append(f"NaN exactly when `{c.ok_iff_value[col]}` is not `{STATUS_OK}`")
            lines.append(f"| `{col}` | {kind} | {'; '.join(rule)} |")
        lines.append("")
    return "\n".join(lines)
