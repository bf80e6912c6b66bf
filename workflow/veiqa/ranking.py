"""Ablation grids: statistics over every arm, degenerate-pair counts, and the ranked table of all arms.

An *arm* is one way of scoring images: a Grad-CAM configuration (backbone, weights, input resolution, target layer,
target class, map normalisation) with one pseudo-reference strength, or the pixel-PRI control (``image``) with one
pseudo-reference strength. The default PRI strength of each distortion (the first value of its grid) gives arms
named as in :func:`veiqa.config.cam_arms`; other strengths append ``@<pri label>`` (e.g. ``…-minmax@q10``).
Arms with other strengths are evaluated per distortion only (pooling distortions needs one PRI per distortion).

Degenerate pairs: a pair whose PRI decodes to exactly the input's pixels (``pri_identical``), or whose two heat maps
are identical after preparation (measure status ``identical``), carries no information about the distortion beyond
"the re-degradation did nothing"; when many pairs of an arm are degenerate, its correlation may rest on a split of
the images into two groups. The ranked table counts both, so a reader sees it.
"""

from __future__ import annotations

import pandas as pd

from . import arms, stats
from .arms import DEFAULT_PRI, kind_labels
from .contracts import STATUS_IDENTICAL, STATUS_ZERO

POOL = "all"


def split_default(scores: pd.DataFrame, default_pri: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows at each distortion's default PRI strength (arm names as they are, ``pri_setting`` =
    :data:`veiqa.arms.DEFAULT_PRI`), and the other grid rows (arm names suffixed with ``@<pri>`` so that the
    statistics tell them apart, ``pri_setting`` = the PRI label; code reads the column, never the suffix)."""
    is_default = scores["pri"] == scores["distortion"].map(default_pri)
    default = scores[is_default].assign(pri_setting=DEFAULT_PRI)
    grid = scores[~is_default].copy()
    grid["arm"] = grid["arm"] + "@" + grid["pri"]
    grid["pri_setting"] = grid["pri"]
    return default, grid


def correlations_all_arms(scores: pd.DataFrame, default_pri: dict[str, str], **kw) -> stats.CorrelationResult:
    """:func:`veiqa.stats.correlations` over the default-PRI arms (with the pooled ``all`` row) and over the other PRI
    strengths (per distortion only), concatenated."""
    default, grid = split_default(scores, default_pri)
    # folds once per dataset, over every content of the scores, so that a content is in the same fold for every
    # arm (default and grid strengths) and nested selection compares candidates on the same folds
    folds = stats.assign_folds(scores[["dataset", "ref_id"]].astype(str), k=kw.get("k", 5), seed=kw.get("seed", 0))
    kw = {**kw, "folds": folds}
    res = stats.correlations(default, **kw)
    if grid.empty:
        return res
    g = stats.correlations(grid, **kw)
    keep = lambda df: df[df["distortion"] != kw.get("pool_label", POOL)]  # noqa: E731
    return stats.CorrelationResult(
        corr=pd.concat([res.corr, keep(g.corr)], ignore_index=True),
        fits=pd.concat([res.fits, keep(g.fits)], ignore_index=True),
        folds=res.folds,
        predictions=pd.concat([res.predictions, keep(g.predictions)], ignore_index=True),
    )


def degenerate_counts(scores: pd.DataFrame, default_pri: dict[str, str]) -> pd.DataFrame:
    """Per dataset × distortion (and pooled) × arm × measure: n images, n with a PRI identical to the input, n with
    identical heat maps (status ``identical``), n with an all-zero map (status ``zero_map``)."""
    default, grid = split_default(scores, default_pri)
    parts = []
    for df, pool in ((default, True), (grid, False)):
        if df.empty:
            continue
        frames = [df] + ([df.assign(distortion=POOL)] if pool else [])
        d = pd.concat(frames, ignore_index=True)
        g = d.groupby(["dataset", "distortion", "arm", "pair_kind", "measure"], sort=True)
        parts.append(g.agg(n_images=("image_id", "size"),
                           n_pri_identical=("pri_identical", "sum"),
                           n_maps_identical=("status", lambda s: int((s == STATUS_IDENTICAL).sum())),
                           n_zero_map=("status", lambda s: int((s == STATUS_ZERO).sum()))).reset_index())
    out = pd.concat(parts, ignore_index=True)
    for c in ("n_pri_identical", "n_maps_identical", "n_zero_map"):
        out[c] = out[c].astype(int)
    return out


NESTED_COLS = ("nested_set", "nested_srocc", "nested_srocc_lo", "nested_srocc_hi", "nested_plcc", "nested_plcc_lo",
               "nested_plcc_hi", "nested_n", "nested_chosen")
#: Candidate sets of nested selection: ``all`` = the arms of the table measure (VEI arms, random-weights controls,
#: the pixel-PRI control); ``vei`` = the VEI arms with pretrained weights only.
CANDIDATE_SETS = ("all", "vei")
CANDIDATE_KINDS = {"all": (arms.VEI, arms.RANDOM_CONTROL, arms.PIXEL), "vei": (arms.VEI,)}


def candidate_arms(corr: pd.DataFrame, candidate_set: str) -> set:
    """(arm, pair_kind) pairs that nested selection may choose from under ``candidate_set``."""
    if candidate_set not in CANDIDATE_SETS:
        raise ValueError(f"unknown candidate set {candidate_set!r} (expected one of {CANDIDATE_SETS})")
    keep = CANDIDATE_KINDS[candidate_set]
    return {(a, p) for a, p, k in zip(corr["arm"], corr["pair_kind"], corr["arm_kind"]) if k in keep}


def ranked_table(corr: pd.DataFrame, degenerate: pd.DataFrame, measure: str,
                 protocol: str = "content_separated", default_pri: dict[str, str] | None = None,
                 nested: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> pd.DataFrame:
    """All arms of each dataset × distortion ranked by SROCC (signed: positive = agrees with the scores) under
    ``protocol``, with its bootstrap interval, PLCC, N, the dropped and degenerate-pair counts. Column ``pri`` names
    the PRI strength (the distortion's default from ``default_pri``; ``default`` on pooled rows).

    The ranking is **in-sample** (column ``ranking``): the top SROCC of a grid is biased upward (winner's curse).
    ``nested`` = :func:`veiqa.stats.nested_selection` output (per_fold, summary) adds the out-of-fold choice:
    ``folds_chosen`` (outer folds whose inner contents chose this arm) and, repeated on every row of a dataset ×
    distortion, the nested SROCC/PLCC of the chosen arms on the held-out contents with their intervals
    (``nested_*``; ``nested_chosen`` lists fold=arm)."""
    sel = corr[arms.at_measure(corr, measure) & (corr["protocol"] == protocol)].copy()
    sel = sel.merge(degenerate, on=["dataset", "distortion", "arm", "pair_kind", "measure"], how="left")
    sel["kind"] = kind_labels(sel["arm_kind"])
    dp = default_pri or {}
    sel["pri"] = [dp.get(d, "default") if p == DEFAULT_PRI else p for p, d in zip(sel["pri_setting"], sel["distortion"])]
    order = {d: i for i, d in enumerate(sorted(set(sel["distortion"]) - {POOL}) + [POOL])}
    sel = sel.assign(_d=sel["distortion"].map(order)).sort_values(
        ["dataset", "_d", "srocc"], ascending=[True, True, False], na_position="last", kind="stable")
    sel["rank"] = sel.groupby(["dataset", "distortion"]).cumcount() + 1
    sel["ranking"] = "in-sample"
    for c in ("n_dropped", "drop_reasons"):
        if c not in sel:
            sel[c] = 0 if c == "n_dropped" else ""
    cols = ["dataset", "distortion", "rank", "ranking", "arm", "kind", "pri", "srocc", "srocc_ci_low",
            "srocc_ci_high", "plcc", "plcc_ci_low", "plcc_ci_high", "n", "n_dropped", "drop_reasons",
            "n_pri_identical", "n_maps_identical", "n_zero_map", "fit_status"]
    out = sel[cols].rename(columns={"srocc_ci_low": "srocc_lo", "srocc_ci_high": "srocc_hi",
                                    "plcc_ci_low": "plcc_lo", "plcc_ci_high": "plcc_hi"})
    caption = (
        f"All arms ranked by SROCC under protocol '{protocol}' (k-fold over reference contents), measure "
        f"'{measure}', with 95% bootstrap intervals (contents resampled). The ranking is in-sample: the top SROCC of "
        "a grid is biased upward (winner's curse). SROCC is signed: positive means the arm agrees with the scores. "
        "n_dropped: pairs left out because the image failed for another arm or measure of the distortion "
        "(drop_reasons names arm, measures and status); n_pri_identical: pairs whose PRI equals the input; n_maps_identical: pairs whose two "
        "heat maps are identical; many such pairs mean the correlation may rest on a two-group split. NR methods "
        "(kind NR method) are scored by their own method; the FR ceiling is the measure between each image and its "
        "pristine reference.")
    if nested is not None:
        out = _add_nested(out, *nested, measure)
        sets = sorted(set(nested[1]["candidate_set"])) if len(nested[1]) and "candidate_set" in nested[1] else []
        caption += (" Nested selection (candidate set: " + (", ".join(sets) or "none") + "): per outer fold of "
                    "contents the best arm on the inner contents only (folds_chosen); nested_srocc/nested_plcc are "
                    "the means over outer folds of the chosen arm's SROCC and signed PLCC on the held-out contents, "
                    "with 95% intervals that resample contents within folds and redo the choice per resample: the "
                    "estimate of choosing an arm by this grid, free of the winner's curse.")
    out.attrs["caption"] = caption
    return out.reset_index(drop=True)


def _add_nested(out: pd.DataFrame, per_fold: pd.DataFrame, summary: pd.DataFrame, measure: str) -> pd.DataFrame:
    pf = per_fold[per_fold["measure"] == measure]
    chosen = pf.groupby(["dataset", "distortion", "arm"])["fold"].apply(
        lambda f: ";".join(str(int(v)) for v in sorted(f))).rename("folds_chosen").reset_index()
    out = out.merge(chosen, on=["dataset", "distortion", "arm"], how="left")
    out["folds_chosen"] = out["folds_chosen"].fillna("")
    sm = summary[summary["measure"] == measure].rename(columns={
        "srocc_nested": "nested_srocc", "srocc_nested_lo": "nested_srocc_lo", "srocc_nested_hi": "nested_srocc_hi",
        "plcc_nested": "nested_plcc", "plcc_nested_lo": "nested_plcc_lo", "plcc_nested_hi": "nested_plcc_hi",
        "n": "nested_n", "chosen": "nested_chosen", "candidate_set": "nested_set"})
    return out.merge(sm[["dataset", "distortion", *NESTED_COLS]], on=["dataset", "distortion"], how="left")


def nested_summary(ranked: pd.DataFrame, others: pd.DataFrame | None = None,
                   measure: str | None = None) -> pd.DataFrame:
    """One row per dataset × distortion × candidate set: the nested (out-of-fold) figures of :func:`ranked_table`,
    beside the in-sample maximum SROCC over the same candidates. ``others``: a further
    :func:`veiqa.stats.nested_selection` summary (e.g. the ``vei`` candidate set) added as rows of its own.
    The NR-IQA methods and the FR ceiling, scored by measures of their own, are never candidates."""
    rename = {"srocc_nested": "nested_srocc", "srocc_nested_lo": "nested_srocc_lo", "srocc_nested_hi": "nested_srocc_hi",
              "plcc_nested": "nested_plcc", "plcc_nested_lo": "nested_plcc_lo", "plcc_nested_hi": "nested_plcc_hi",
              "n": "nested_n", "chosen": "nested_chosen", "candidate_set": "nested_set"}
    kinds = {c: kind_labels(k) for c, k in CANDIDATE_KINDS.items()}
    parts = []
    nest = ranked.groupby(["dataset", "distortion"], sort=False)[list(NESTED_COLS)].first().reset_index()
    extra = [] if others is None or not len(others) else [
        others[others["measure"] == measure].rename(columns=rename) if measure else others.rename(columns=rename)]
    for nst in [nest] + extra:
        nst = nst.assign(nested_set=nst["nested_set"].fillna("all"))
        for cset, g in nst.groupby("nested_set", sort=False):
            cand = ranked[ranked["kind"].isin(kinds.get(cset, kinds["all"]))].sort_values(
                ["dataset", "distortion", "rank"], kind="stable")
            top = cand.groupby(["dataset", "distortion"], sort=False).agg(
                in_sample_best=("arm", "first"), in_sample_max_srocc=("srocc", "max")).reset_index()
            parts.append(top.merge(g[["dataset", "distortion", *NESTED_COLS]], on=["dataset", "distortion"]))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    out.attrs["caption"] = ("Choosing an arm out of fold. Candidate set (nested_set) 'all': the arms of the table "
                            "measure (VEI arms, random-weights controls, the pixel-PRI control); 'vei': the VEI arms "
                            "with pretrained weights only (the figure to quote for the VEI method). Beside the "
                            "in-sample best arm of the set and its upward-biased SROCC: the nested estimate (mean "
                            "over outer folds of the arm chosen on the inner contents, evaluated on the held-out "
                            "contents; 95% intervals resample contents and redo the choice) and the choice per fold.")
    return out
