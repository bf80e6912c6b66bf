"""The paper's Table 6: the VEI method beside standard NR-IQA methods, per dataset and distortion.

One row per distortion (the pooled row ``all`` last) × method, in a fixed order of kinds: the VEI arm(s) with
pretrained weights, the NR methods (NIQE, BRISQUE, PIQE; :mod:`veiqa.controls`), the pixel-PRI
control (no CNN), the random-weights control arm(s) and the FR ceiling. Columns: PLCC and SROCC with their bootstrap
intervals (``"<STAT> CI low"`` / ``"<STAT> CI high"``, folded into the value's cell in the Markdown by
:func:`veiqa.tables.compact_ci`), N (images in the correlation), ``n_nan`` (images without a value, e.g. NR status
``too_small``, left out of it and counted) and the logistic fit's status. Only default-PRI arms enter (grids are in
the ranked table). The VEI arms, the pixel-PRI control, the control and the FR ceiling use the table measure;
each NR method is its own score.

Sensitivity row (:data:`NO_IDENTICAL`, after ``all``; :func:`sensitivity_corr`)
    The pooled row recomputed without the images where any arm's two inputs were identical (status ``identical``:
    the VEI arm's two heat maps, or the distorted image and its PRI). Such pairs sit at the measure's ceiling (PSNR
    101 dB for 224×224 maps), a second group apart from the others, and a two-group split can drive PLCC; the row
    shows the figures without it, over the same images for every method.
"""

from __future__ import annotations

import pandas as pd

import numpy as np

from . import arms as A
from .arms import DEFAULT_PRI, KIND_LABELS, at_measure
from .contracts import FIT_OK, STATUS_IDENTICAL
from .io import VeiqaError
from .nr import LABELS as NR_LABELS  # display names of the NR methods (their one home: veiqa.nr)
from .ranking import split_default
from .tables import PROTOCOL_TEXT, SIGN_TEXT, _select, _sort_rows, interval_text, measure_notes

#: Label of the sensitivity row: the pooled row without the images of identical pairs.
NO_IDENTICAL = "all, without identical pairs"

KIND_ORDER = (A.VEI, A.NR, A.PIXEL, A.RANDOM_CONTROL, A.FR_CEILING)
STATS = ("plcc", "srocc")
STAT_LABELS = {"plcc": "PLCC", "srocc": "SROCC"}
COLUMNS = ["dataset", "distortion", "method", "kind", "arm", "measure", "N", "n_nan", "n_dropped",
           "PLCC", "PLCC CI low", "PLCC CI high", "SROCC", "SROCC CI low", "SROCC CI high", "fit_status"]


def method_label(arm: str, kind: str) -> str:
    """How a row names its method (``kind``: :data:`veiqa.arms.KINDS`): ``VEI <arm>``, ``NIQE``, ``pixel PRI (no
    CNN)``, ``FR ceiling`` ..."""
    if kind == A.VEI:
        return f"VEI {arm}"
    if kind == A.RANDOM_CONTROL:
        return f"VEI {arm} (random weights)"
    if kind == A.NR:
        return NR_LABELS.get(arm, arm.upper())
    if kind == A.PIXEL:
        return "pixel PRI (no CNN)"
    return "FR ceiling"


def _caption(dataset: str, measure: str, protocol: str, loader: str | None, kinds: set, nr: list[str],
             failed: list[str], intervals: str) -> str:
    cap = (f"Table 6. {dataset}: the VEI method beside standard no-reference IQA methods, per distortion. "
           f"VEI, pixel-PRI (the measure on the raw image and its PRI, no CNN), random-weights control and FR "
           f"ceiling rows use measure '{measure}'.")
    if nr:
        cap += (f" NR methods ({', '.join(NR_LABELS.get(m, m) for m in nr)}) score the distorted image alone "
                "(lower = better quality); NIQE and BRISQUE are the authors' release codes and models, not MATLAB's "
                "built-in niqe()/brisque(). BRISQUE was trained on LIVE (the whole database, says its release): its "
                "figures on LIVE are in-sample.")
        if loader == "live" and "brisque" in nr:
            cap += " This dataset is LIVE, so its BRISQUE rows are in-sample."
    cap += (" The PRI is chosen by the known distortion label, so the VEI and pixel-PRI rows are distortion-aware, "
            "while the NR methods are not: pooled rows are not like-for-like.")
    if A.FR_CEILING in kinds:
        cap += (" FR ceiling: the measure between each distorted image and its pristine reference, which no "
                "no-reference method sees.")
    cap += (f" {PROTOCOL_TEXT.get(protocol, 'Protocol ' + repr(protocol))}. {SIGN_TEXT} n_nan: images without a "
            "value (e.g. too small for an NR method), left out of that row; n_dropped: images left out because they "
            "failed for another method or measure of the distortion, so that every method of a distortion is "
            "correlated over the same images.")
    cap += intervals
    if failed:
        cap += " Failed logistic fits (PLCC from the fallback mapping named): " + ", ".join(failed) + "."
    return cap


def table6(corr: pd.DataFrame, dataset: str, measure: str = "psnr", protocol: str = "paper",
           loader: str | None = None, pool_label: str = "all", comparisons: pd.DataFrame | None = None,
           alpha: float = 0.05, sensitivity: pd.DataFrame | None = None) -> pd.DataFrame:
    """Table 6 of ``dataset`` under ``protocol`` from the correlation frame of :func:`veiqa.stats.correlations`
    (as :func:`veiqa.ranking.correlations_all_arms` writes it). ``loader`` (the dataset's loader name) marks
    BRISQUE's LIVE figures as in-sample in the caption. ``comparisons``: this protocol's table of
    :func:`veiqa.comparisons.comparisons`; adds the column ``vs pixel PRI`` (:func:`add_verdicts`). ``sensitivity``:
    the frame of :func:`sensitivity_corr`, whose rows (distortion :data:`NO_IDENTICAL`) follow the pooled row. The
    caption is in ``df.attrs["caption"]``."""
    n_left = None
    if sensitivity is not None:
        sens = _select(sensitivity, dataset=dataset, protocol=protocol, distortion=NO_IDENTICAL)
        n_left = int(sens["n_identical_left"].iloc[0]) if len(sens) else 0
        corr = pd.concat([corr, sens.drop(columns="n_identical_left")], ignore_index=True)
    sel = _select(corr, dataset=dataset, protocol=protocol)
    sel = sel[at_measure(sel, measure) & (sel["pri_setting"] == DEFAULT_PRI)].copy()
    if not (sel["pair_kind"] == "vei").any():
        raise VeiqaError(f"no VEI rows for dataset={dataset!r} measure={measure!r} protocol={protocol!r}")
    sel["kind"] = sel["arm_kind"]
    rank = {k: i for i, k in enumerate(KIND_ORDER)}
    found = set(sel.loc[sel["kind"] == A.NR, "arm"])
    nr = [m for m in NR_LABELS if m in found] + sorted(found - set(NR_LABELS))
    nr_rank = {m: i for i, m in enumerate(nr)}
    order = _sort_rows(set(sel["distortion"]) - {NO_IDENTICAL}, pool_label)
    dist_rank = {d: i for i, d in enumerate(order + [NO_IDENTICAL])}
    sel = sel.assign(_d=sel["distortion"].map(dist_rank), _k=sel["kind"].map(rank),
                     _a=[nr_rank.get(a, 0) for a in sel["arm"]])
    sel = sel.sort_values(["_d", "_k", "_a", "arm"], kind="stable")
    out = pd.DataFrame({
        "dataset": sel["dataset"].to_numpy(), "distortion": sel["distortion"].to_numpy(),
        "method": [method_label(a, k) for a, k in zip(sel["arm"], sel["kind"])],
        "kind": [KIND_LABELS[k] for k in sel["kind"]],
        "arm": sel["arm"].to_numpy(), "measure": sel["measure"].to_numpy(),
        "N": sel["n"].astype(int).to_numpy(), "n_nan": sel["n_nan"].astype(int).to_numpy(),
        "n_dropped": sel["n_dropped"].fillna(0).astype(int).to_numpy() if "n_dropped" in sel else 0,
    })
    for s in STATS:
        lab = STAT_LABELS[s]
        out[lab] = sel[s].astype(float).to_numpy()
        out[f"{lab} CI low"] = sel[f"{s}_ci_low"].astype(float).to_numpy()
        out[f"{lab} CI high"] = sel[f"{s}_ci_high"].astype(float).to_numpy()
    out["fit_status"] = sel["fit_status"].to_numpy()
    out = out[COLUMNS].reset_index(drop=True)
    failed = [f"{d} ({m}: {mp})" for d, m, st, mp in zip(out["distortion"], out["method"], sel["fit_status"],
                                                        sel["mapping"]) if st != FIT_OK]
    if protocol == "paper" and "plcc_chance" in sel and np.isfinite(sel["plcc_chance"].astype(float)).any():
        out.insert(out.columns.get_loc("PLCC CI high") + 1, "PLCC chance", sel["plcc_chance"].astype(float).to_numpy())
    out.attrs["caption"] = _caption(dataset, measure, protocol, loader, set(sel["kind"]), nr, failed,
                                    interval_text(sel, STATS, protocol, "'PLCC chance'"))
    out.attrs["caption"] += measure_notes(sel["measure"])
    drops = sel.loc[sel["drop_reasons"].fillna("").astype(str) != "", ["distortion", "drop_reasons"]] \
        if "drop_reasons" in sel else sel.iloc[:0]
    if len(drops):
        out.attrs["caption"] += " Images left out for a failure (method measures:status=images): " + "; ".join(
            f"{d}: {r}" for d, r in drops.drop_duplicates().itertuples(index=False)) + "."
    if n_left is not None:
        out.attrs["caption"] += (f" Row '{NO_IDENTICAL}' (sensitivity check): the pooled row recomputed without the "
                                 f"{n_left} images where any method's two inputs were identical (status 'identical': "
                                 "two identical heat maps, or an image equal to its PRI), which sit at the measure's "
                                 "ceiling (PSNR's finite value for identical inputs) and can make a two-group split "
                                 "that drives PLCC; every method over the same remaining images" +
                                 (" (none in this run: the row repeats the pooled figures with its own resamples)."
                                  if n_left == 0 else "."))
    if comparisons is not None:
        out = add_verdicts(out, comparisons, alpha)
    return out


def add_verdicts(t6: pd.DataFrame, comp: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Column ``vs pixel PRI`` of Table 6: for each VEI arm row, ``better`` / ``not distinguishable`` / ``worse`` than
    the pixel-PRI control by the paired content bootstrap of ΔSROCC, Holm-adjusted over its family of the
    comparison table (:func:`veiqa.comparisons.verdicts`), at ``alpha``; empty on other rows; ``no test`` where the
    comparison table has no p-value. The caption names the test, the family and alpha."""
    from . import comparisons as C

    v = C.verdicts(comp, alpha)
    key = {(d, a): verdict for d, a, verdict in v[["distortion", "arm", "verdict"]].itertuples(index=False)}
    out = t6.copy()
    out["vs pixel PRI"] = [key.get((d, a), "no test") if k == KIND_LABELS[A.VEI] and d != NO_IDENTICAL else ""
                           for d, a, k in zip(out["distortion"], out["arm"], out["kind"])]
    fam = comp[(comp["statistic"] == "srocc") & (comp["test"] == C.T_BOOT)]
    m = int(fam["p_value"].notna().sum())
    n_boot = sorted(set(int(b) for b in fam["n_boot"].dropna()))
    cap = (f" vs pixel PRI: the VEI arm is better / not distinguishable / worse than the pixel-PRI control by the "
           f"paired content bootstrap of delta SROCC ({', '.join(map(str, n_boot)) or 'no'} resamples, same images "
           f"and contents for both arms), Holm-adjusted over the {m} comparisons of that test in "
           f"comparisons.csv, alpha {alpha:g}")
    if (out["vs pixel PRI"] == "no test").any():
        cap += "; 'no test': no p-value (too few images or contents; see comparisons.csv, column note)"
    out.attrs = dict(t6.attrs)
    out.attrs["caption"] = t6.attrs.get("caption", "") + cap + "."
    return out


def sensitivity_corr(scores: pd.DataFrame, default_pri: dict[str, str], folds: pd.DataFrame, measure: str = "psnr",
                     **kw) -> pd.DataFrame:
    """The correlation rows of Table 6's sensitivity row: :func:`veiqa.stats.correlations` of the default-PRI rows at
    the table ``measure`` (and every NR method), all distortions pooled as :data:`NO_IDENTICAL`, without (1) the
    images that the correlation tables leave out for a failure and (2) the images where any row of the default table
    (any arm, any measure) has status ``identical``. ``folds``: the dataset's folds (``folds.parquet``), so the
    content-separated figures use the same folds as the other rows; ``kw``: further arguments of ``correlations``
    (bootstrap, seed, logistic, permutations). Adds the column ``n_identical_left`` (images left out for (2))."""
    from .stats import correlations
    from .stats.same_images import common_rows

    default, _ = split_default(scores, default_pri)
    default = default[common_rows(default)[0]]
    gone = set()
    if "status" in default:
        ident = (default["status"].astype(str) == STATUS_IDENTICAL).to_numpy()
        gone = set(zip(default.loc[ident, "dataset"], default.loc[ident, "image_id"]))
    sel = default[at_measure(default, measure)]
    drop = pd.Series([(d, i) in gone for d, i in zip(sel["dataset"], sel["image_id"])], index=sel.index, dtype=bool)
    sel = sel[~drop].assign(distortion=NO_IDENTICAL)
    if sel.empty:
        return pd.DataFrame()
    corr = correlations(sel, pool_label=None, folds=folds, **kw).corr
    counts = pd.Series([d for d, _ in gone]).value_counts() if gone else pd.Series(dtype=int)
    corr["n_identical_left"] = [int(counts.get(d, 0)) for d in corr["dataset"]]
    return corr
