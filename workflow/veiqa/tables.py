"""The paper's result tables (Tables 3, 4, 5 of Ahmed et al. 2024) built from the correlation frame of
:func:`veiqa.stats.correlations`, as DataFrames, CSV and Markdown.

Every table puts the pixel-PRI control (``pair_kind == "image"``: the similarity measure computed between the distorted
image and its PRI directly) beside the VEI method (``pair_kind == "vei"``), statistic by statistic: columns
``"<STAT> image"`` and ``"<STAT> VEI"`` for STAT in PLCC, SROCC, KROCC, RMSE, plus ``N`` (images in the VEI group).
With intervals under the paper protocol, ``"PLCC image chance"`` / ``"PLCC VEI chance"`` hold PLCC's chance level
(the paper protocol's PLCC has no interval). The caption (``df.attrs["caption"]``) names the dataset, the
selection, the protocol, the sign convention and, figure by figure, the interval it carries (:func:`interval_text`:
only what the run computed).
"""

from __future__ import annotations

import math
import os
from typing import Sequence

import numpy as np
import pandas as pd

from .contracts import FIT_OK
from .io import VeiqaError, atomic_path
from .specs import MEASURES
from .stats.protocols import FIT_STATS, MIN_CI_CONTENTS, MIN_CI_IMAGES

STAT_LABELS = {"plcc": "PLCC", "srocc": "SROCC", "krocc": "KROCC", "rmse": "RMSE"}
DEFAULT_STATS = ("plcc", "srocc", "krocc", "rmse")
METHOD_LABELS = {"image": "image", "vei": "VEI"}

PROTOCOL_TEXT = {
    "paper": 'Protocol "paper": logistic fitted and evaluated on the same images',
    "content_separated": ('Protocol "content_separated": k-fold over reference contents, logistic fitted on the '
                          'training contents, statistics on the pooled out-of-fold predictions of held-out contents'),
}
SIGN_TEXT = ("PLCC and RMSE (score units) after the 5-parameter logistic mapping; SROCC and KROCC signed so that "
             "positive means agreement with the human scores (multiplied by -1 for DMOS-like scores or "
             "lower-is-better measures).")


def column_name(stat: str, pair_kind: str) -> str:
    """Column label of ``stat`` for ``pair_kind`` ("image" → "PLCC image", "vei" → "PLCC VEI")."""
    return f"{STAT_LABELS[stat]} {METHOD_LABELS[pair_kind]}"


def _select(corr: pd.DataFrame, **eq) -> pd.DataFrame:
    m = np.ones(len(corr), bool)
    for k, v in eq.items():
        m &= (corr[k] == v).to_numpy()
    return corr[m]


def _pixel_arm(base: pd.DataFrame, arm: str | None, pixel_arm: str | None) -> str:
    arms = sorted(set(base["arm"]))
    if pixel_arm is not None:
        if pixel_arm not in arms:
            raise VeiqaError(f"pixel-PRI arm {pixel_arm!r} has no pair_kind 'image' rows (available: {arms})")
        return pixel_arm
    if arm is not None and arm in arms:
        return arm
    if len(arms) == 1:
        return arms[0]
    if not arms:
        raise VeiqaError("no pair_kind 'image' (pixel-PRI control) rows for this selection")
    raise VeiqaError(f"several pixel-PRI arms {arms}: pass pixel_arm=")


def _sort_rows(keys: Sequence[str], pool_label: str = "all") -> list[str]:
    keys = sorted(set(keys))
    if pool_label in keys:
        keys.remove(pool_label)
        keys.append(pool_label)
    return keys


def _assemble(row_key: str, rows: list[str], vei: pd.DataFrame, base_for: dict, stats: Sequence[str],
              with_ci: bool) -> tuple[pd.DataFrame, list[str]]:
    shown = pd.concat([vei] + [b for b in base_for.values() if b is not None], ignore_index=True)
    chance = with_ci and "plcc" in stats and "plcc_chance" in shown and bool(np.isfinite(shown["plcc_chance"]).any())
    out = []
    failed = []
    for r in rows:
        v = vei[vei[row_key] == r]
        b = base_for.get(r)
        rec = {row_key: r, "N": int(v["n"].iloc[0]) if len(v) else np.nan}
        for s in stats:
            for kind, sel in (("image", b), ("vei", v)):
                val = float(sel[s].iloc[0]) if sel is not None and len(sel) else np.nan
                rec[column_name(s, kind)] = val
                if with_ci:
                    if sel is not None and len(sel):
                        lo, hi = float(sel[f"{s}_ci_low"].iloc[0]), float(sel[f"{s}_ci_high"].iloc[0])
                    else:
                        lo = hi = np.nan
                    rec[column_name(s, kind) + " CI low"] = lo
                    rec[column_name(s, kind) + " CI high"] = hi
            if s == "plcc" and chance:
                for kind, sel in (("image", b), ("vei", v)):
                    ok = sel is not None and len(sel)
                    rec[column_name(s, kind) + " chance"] = float(sel["plcc_chance"].iloc[0]) if ok else np.nan
        for kind, sel in (("image", b), ("vei", v)):
            if sel is not None and len(sel) and (sel["fit_status"].iloc[0] != FIT_OK):
                failed.append(f"{r} ({METHOD_LABELS[kind]}: {sel['mapping'].iloc[0]})")
        _counts(rec, r, v, failed)
        out.append(rec)
    return pd.DataFrame(out), failed


def _counts(rec: dict, r: str, v: pd.DataFrame, notes: list[str]) -> None:
    """Columns "N identical" / "N undefined" / "N dropped" of the VEI group (same-images rule of
    :mod:`veiqa.stats.same_images`); the drop reasons go to the caption notes (as "<row>: dropped <n> (<reasons>)")."""
    for col, name in (("n_identical", "N identical"), ("n_undefined", "N undefined"), ("n_dropped", "N dropped")):
        rec[name] = int(v[col].iloc[0]) if len(v) and col in v and pd.notna(v[col].iloc[0]) else 0
    why = str(v["drop_reasons"].iloc[0]) if len(v) and "drop_reasons" in v and pd.notna(v["drop_reasons"].iloc[0]) \
        else ""
    if why and rec["N dropped"]:
        notes.append(f"{r}: dropped {rec['N dropped']} ({why})")


def interval_text(rows: pd.DataFrame, stats: Sequence[str], protocol: str, chance_column: str = "") -> str:
    """What interval each figure of a table carries, read from the correlation rows it shows (only what the run
    computed): the statistics with a percentile interval and how it was resampled, those without one and why, and
    the paper protocol's PLCC chance level where it was computed (shown in ``chance_column``)."""
    if rows.empty:
        return ""
    lab = {"plcc": "PLCC", "srocc": "SROCC", "krocc": "KROCC", "rmse": "RMSE"}
    has = {s: np.isfinite(rows[f"{s}_ci_low"].astype(float)).to_numpy() for s in stats}
    with_ci = [s for s in stats if has[s].any()]
    notes = rows["ci_note"].fillna("").astype(str) if "ci_note" in rows else pd.Series("", index=rows.index)
    boot = rows["n_boot"].fillna(0).astype(int) if "n_boot" in rows else pd.Series(0, index=rows.index)
    out = []
    if with_ci:
        sel = rows[has[with_ci[0]]]
        level = ", ".join(f"{100 * v:g}%" for v in sorted(set(sel["ci_level"].astype(float))))
        n_b = ", ".join(str(v) for v in sorted(set(sel["n_boot"].astype(int))))
        how = ("contents resampled with replacement within each fold, per-fold figures recomputed with the fold "
               "mappings fixed and averaged" if protocol == "content_separated" else
               "a cluster bootstrap: contents (reference scenes) resampled with replacement")
        out.append(f"Intervals: {', '.join(lab[s] for s in with_ci)} with {level} percentile intervals of a content "
                   f"bootstrap ({how}; {n_b} resamples)")
    for s in stats:
        if s in with_ci:
            continue
        if protocol == "paper" and s in FIT_STATS:
            why = "it depends on the in-sample fit, which no resampling of fixed predictions bounds honestly"
        elif (boot == 0).all():
            why = "bootstrap off"
        elif (notes != "").all():
            why = f"fewer than {MIN_CI_CONTENTS} contents or {MIN_CI_IMAGES} images"
        else:
            why = "fewer than 90% of the resamples gave a finite value"
        out.append(f"{lab[s]}: no interval ({why})")
    if with_ci and ((notes != "") & ~has[with_ci[0]]).any():
        out.append(f"rows with fewer than {MIN_CI_CONTENTS} contents or {MIN_CI_IMAGES} images have no interval")
    if chance_column and "plcc_chance" in rows and np.isfinite(rows["plcc_chance"].astype(float)).any():
        perms = rows["n_perm"].dropna().astype(int)
        n_p = f"{perms.min()}" if perms.min() == perms.max() else f"{perms.min()}-{perms.max()}"
        out.append(f"PLCC chance level in column(s) {chance_column}: the 95th percentile of the PLCC that a useless "
                   f"measure reaches at this N and these contents ({n_p} valid permutations giving each content the "
                   "values of another, logistic refitted); quote the paper protocol's PLCC only beside it")
    return " " + "; ".join(out) + "." if out else ""


def measure_notes(measures) -> str:
    """Caption note for the measures whose statistics use their deviation from an ideal value (the spec's
    ``stat_label``, e.g. NCC: |1 - NK|, lower = more similar)."""
    notes = [f"{m}: {MEASURES[m].stat_note}" for m in sorted(set(measures)) if m in MEASURES and MEASURES[m].ideal
             is not None]
    return (" " + "; ".join(notes) + ".") if notes else ""


def _caption(title: str, dataset: str, what: str, protocol: str, pixel: str, failed: list[str],
             intervals: str) -> str:
    cap = (f"{title} {dataset}: {what}. Pixel-PRI control (pair_kind 'image', arm '{pixel}') beside the VEI "
           f"method (pair_kind 'vei'). {PROTOCOL_TEXT.get(protocol, 'Protocol ' + repr(protocol))}. {SIGN_TEXT}")
    cap += intervals
    cap += (" N identical: VEI pairs whose two inputs were identical (status 'identical'); N undefined: VEI pairs "
            "where this measure is undefined by design (status zero_map, constant_map or too_small), left out of "
            "this row only; N dropped: VEI pairs left out because the image failed for another measure or arm of "
            "this dataset and distortion, so that every arm and measure of a row correlates over the same images.")
    fits = [f for f in failed if ": dropped " not in f]
    drops = [f for f in failed if ": dropped " in f]
    if fits:
        cap += " Failed logistic fits (PLCC/RMSE from the fallback mapping named): " + ", ".join(fits) + "."
    if drops:
        cap += " Dropped (measure:status=count): " + "; ".join(drops) + "."
    return cap


def _fit_text(vei: pd.DataFrame) -> str:
    """Which logistic fit (``aggregate.logistic``) the PLCC/RMSE come from, when the corr frame says."""
    if "logistic" not in vei or not len(vei):
        return ""
    methods = sorted(set(vei["logistic"].dropna().astype(str)))
    return f" Logistic fit: {', '.join(methods)}." if methods else ""


def _intervals(vei: pd.DataFrame, base: pd.DataFrame, stats: Sequence[str], protocol: str, with_ci: bool) -> str:
    if not with_ci:
        return ""
    cols = " / ".join(f"'{column_name('plcc', k)} chance'" for k in ("image", "vei"))
    return interval_text(pd.concat([vei, base], ignore_index=True), stats, protocol, cols)


def _one_arm_table(key: str, sel: pd.DataFrame, vei: pd.DataFrame, arm: str, pixel_arm: str | None,
                   stats: Sequence[str], with_ci: bool, pool_label: str, title: str, dataset: str, what: str,
                   protocol: str) -> pd.DataFrame:
    """Tables 3 and 5: the rows ``key`` (distortion or measure) of one VEI arm beside its pixel-PRI control."""
    base_all = _select(sel, pair_kind="image")
    b_arm = _pixel_arm(base_all, arm, pixel_arm)
    base = _select(base_all, arm=b_arm)
    rows = _sort_rows(vei[key], pool_label)
    base_for = {r: base[base[key] == r] for r in rows}
    df, failed = _assemble(key, rows, vei, base_for, stats, with_ci)
    df.attrs["caption"] = _caption(title, dataset, what, protocol, b_arm, failed,
                                   _intervals(vei, base[base[key].isin(rows)], stats, protocol, with_ci)) \
        + _fit_text(vei) + measure_notes(vei["measure"])
    return df


def table_per_distortion(corr: pd.DataFrame, dataset: str, arm: str, measure: str = "psnr",
                         protocol: str = "paper", stats: Sequence[str] = DEFAULT_STATS,
                         pixel_arm: str | None = None, with_ci: bool = False,
                         pool_label: str = "all") -> pd.DataFrame:
    """Table 3: one row per distortion (pooled row ``pool_label`` last) for one VEI arm and measure."""
    sel = _select(corr, dataset=dataset, measure=measure, protocol=protocol)
    vei = _select(sel, pair_kind="vei", arm=arm)
    if vei.empty:
        raise VeiqaError(f"no VEI rows for dataset={dataset!r} arm={arm!r} measure={measure!r} protocol={protocol!r}")
    return _one_arm_table("distortion", sel, vei, arm, pixel_arm, stats, with_ci, pool_label, "Table 3.",
                          dataset, f"correlations per distortion, arm '{arm}', measure '{measure}'", protocol)


def table_per_arm(corr: pd.DataFrame, dataset: str, measure: str = "psnr", distortion: str = "all",
                  protocol: str = "paper", stats: Sequence[str] = DEFAULT_STATS, pixel_arm: str | None = None,
                  with_ci: bool = False) -> pd.DataFrame:
    """Table 4: one row per VEI arm (CNN backbone) for one measure and distortion (default: all pooled).

    The pixel-PRI control does not depend on the backbone, so its columns repeat the same values on every row (unless the
    corr frame holds pair_kind 'image' rows under the same arm name, which are then used row by row).
    """
    sel = _select(corr, dataset=dataset, measure=measure, protocol=protocol, distortion=distortion)
    vei = _select(sel, pair_kind="vei")
    if vei.empty:
        raise VeiqaError(f"no VEI rows for dataset={dataset!r} measure={measure!r} distortion={distortion!r} "
                         f"protocol={protocol!r}")
    base_all = _select(sel, pair_kind="image")
    rows = _sort_rows(vei["arm"])
    base_for, used = {}, set()
    for r in rows:
        b_arm = _pixel_arm(base_all, r, pixel_arm)
        used.add(b_arm)
        base_for[r] = _select(base_all, arm=b_arm)
    df, failed = _assemble("arm", rows, vei, base_for, stats, with_ci)
    df.attrs["caption"] = _caption("Table 4.", dataset, f"correlations per CNN backbone (arm), measure '{measure}', "
                                   f"distortion '{distortion}'", protocol, ", ".join(sorted(used)), failed,
                                   _intervals(vei, pd.concat(list(base_for.values())), stats, protocol, with_ci)) \
        + _fit_text(vei) + measure_notes(vei["measure"])
    return df


def table_per_measure(corr: pd.DataFrame, dataset: str, arm: str, distortion: str = "all",
                      protocol: str = "paper", stats: Sequence[str] = DEFAULT_STATS,
                      pixel_arm: str | None = None, with_ci: bool = False) -> pd.DataFrame:
    """Table 5: one row per similarity measure for one VEI arm and distortion (default: all pooled)."""
    sel = _select(corr, dataset=dataset, protocol=protocol, distortion=distortion)
    vei = _select(sel, pair_kind="vei", arm=arm)
    if vei.empty:
        raise VeiqaError(f"no VEI rows for dataset={dataset!r} arm={arm!r} distortion={distortion!r} "
                         f"protocol={protocol!r}")
    return _one_arm_table("measure", sel, vei, arm, pixel_arm, stats, with_ci, "all", "Table 5.", dataset,
                          f"correlations per similarity measure, arm '{arm}', distortion '{distortion}'", protocol)


# ---------------------------------------------------------------------------------------------------- rendering

def _fmt(v, decimals: int) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.{decimals}f}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def to_markdown(df: pd.DataFrame, caption: str | None = None, decimals: int = 3) -> str:
    """A GitHub-flavoured Markdown pipe table of ``df`` (no index), floats with ``decimals`` places, NaN as "n/a",
    preceded by ``Table: <caption>`` and a blank line when a caption is given (or ``df.attrs["caption"]``).
    Integer-valued columns (e.g. N) are written without decimals."""
    caption = caption if caption is not None else df.attrs.get("caption")
    cols = list(df.columns)
    int_cols = {c for c in cols if pd.api.types.is_integer_dtype(df[c])
                or (pd.api.types.is_float_dtype(df[c]) and c == "N"
                    and df[c].dropna().map(float.is_integer).all())}
    lines = []
    if caption:
        lines += [f"Table: {caption}".replace("\n", " "), ""]
    lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cols) + " |")
    aligns = ["---:" if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) else ":---"
              for c in cols]
    lines.append("|" + "|".join(aligns) + "|")
    for rec in df.itertuples(index=False):
        cells = []
        for c, v in zip(cols, rec):
            if c in int_cols and not (v is pd.NA or isinstance(v, float) and math.isnan(v)):
                cells.append(str(int(v)))
            else:
                cells.append(_fmt(v, decimals))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def compact_ci(df: pd.DataFrame, decimals: int = 3) -> pd.DataFrame:
    """Fold each ``"<col> CI low"`` / ``"<col> CI high"`` pair into its column as text ``"0.721 [0.582, 0.855]"``
    (for reading; the CSV keeps the numbers in separate columns)."""
    out = df.copy()
    for col in [c for c in df.columns if f"{c} CI low" in df.columns and f"{c} CI high" in df.columns]:
        lo, hi = df[f"{col} CI low"], df[f"{col} CI high"]
        out[col] = [f"{_fmt(v, decimals)} [{_fmt(a, decimals)}, {_fmt(b, decimals)}]" for v, a, b in zip(df[col], lo, hi)]
        out = out.drop(columns=[f"{col} CI low", f"{col} CI high"])
    out.attrs = dict(df.attrs)
    return out


def write_table(df: pd.DataFrame, path_stem: str | os.PathLike, caption: str | None = None,
                decimals: int = 3, md_compact: bool = False,
                md_extra: Sequence[pd.DataFrame] = ()) -> tuple[str, str]:
    """Write ``<stem>.csv`` (full precision, no index) and ``<stem>.md`` (:func:`to_markdown`), each atomically.

    The caption goes into the Markdown only (CSV stays a plain rectangular table). With ``md_compact`` the Markdown
    shows each interval inside its value's cell (:func:`compact_ci`). ``md_extra``: further tables appended to the
    Markdown only, each with its own ``attrs["caption"]``. Returns the two paths.
    """
    text = to_markdown(compact_ci(df, decimals) if md_compact else df, caption, decimals)
    for extra in md_extra:
        text += "\n" + to_markdown(extra, None, decimals)
    return write_csv_md(df, path_stem, text)


def write_csv_md(df: pd.DataFrame, path_stem: str | os.PathLike, md_text: str) -> tuple[str, str]:
    """Write ``<stem>.csv`` (every column, full precision, no index) and ``<stem>.md`` (``md_text``), each
    atomically; a stem given with either suffix names the same pair. Returns the two paths."""
    stem = os.fspath(path_stem)
    if stem.endswith((".csv", ".md")):
        stem = os.path.splitext(stem)[0]
    csv_path, md_path = stem + ".csv", stem + ".md"
    with atomic_path(csv_path, suffix=".csv") as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n")
    with atomic_path(md_path, suffix=".md") as tmp:
        tmp.write_text(md_text, encoding="utf-8")
    return csv_path, md_path
