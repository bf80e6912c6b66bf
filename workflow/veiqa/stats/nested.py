"""Choosing an arm without the winner's curse: nested (out-of-fold) selection over folds of reference contents.

Ranking every arm of a grid by its SROCC and reporting the best one is biased upward: the maximum of many noisy
estimates exceeds the true value of the arm it picks. :func:`nested_selection` instead, per dataset × distortion ×
measure and for each *outer* fold f of the content folds of :func:`assign_folds`:

1. chooses, among the candidate arms, the one with the highest oriented SROCC on the *inner* contents only (the
   images of the other folds; ties go to the first arm in sorted order);
2. evaluates that arm on the outer contents: SROCC of its raw values and PLCC of its out-of-fold predictions (the
   content-separated logistic of fold f was fitted on exactly those inner contents), both signed by the a-priori
   direction (:mod:`veiqa.stats.protocols`).

The nested figures ``srocc_nested`` / ``plcc_nested`` are the **mean over outer folds** of these per-fold figures.
(Pooling the out-of-fold predictions of k separately fitted mappings, as an earlier version did, is biased: each
fold is predicted at the level of its training contents, which anti-correlates with the held-out contents' mean
score, and gave about −0.3 under a null grid.) Their intervals resample the **whole selection**: contents are drawn
with replacement within each fold (:func:`veiqa.stats.weighted.stratified_content_counts`), and per resample the
choice on the inner contents is redone and the chosen arm evaluated on the resampled outer contents (the fold
mappings are not refitted). ``candidates`` restricts the arms that may be chosen; ``candidate_set`` labels it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..io import seed_from
from .weighted import percentile_ci, weighted_stats

SELECT_KEYS = ("dataset", "distortion", "measure")


def _inner_srocc(g: pd.DataFrame, folds: np.ndarray, orientation: float) -> np.ndarray:
    """Oriented SROCC of one arm on the inner contents of each outer fold (NaN where undefined)."""
    fold = g["fold"].to_numpy()
    W = (fold[None, :] != folds[:, None]).astype(float)
    x, y = g["value"].to_numpy(float), g["score"].to_numpy(float)
    return weighted_stats(x, y, x, W, orientation, kendall=False)["srocc"]


def nested_selection(predictions: pd.DataFrame, corr: pd.DataFrame, *, measure: str | None = None,
                     n_boot: int = 1000, ci_level: float = 0.95, seed: int = 0, candidates=None,
                     candidate_set: str = "all") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nested arm selection per dataset × distortion × measure (all measures unless ``measure`` is given).

    ``predictions``/``corr``: the tables of :func:`veiqa.stats.correlations` (its content-separated rows are used;
    ``corr`` supplies each group's orientation). ``candidates``: a set of (arm, pair_kind) that may be chosen
    (all arms when None); ``candidate_set`` names it in the output. Returns ``(per_fold, summary)``:

    per_fold: dataset, distortion, measure, fold, arm, pair_kind (the arm chosen on the inner contents),
    srocc_inner, srocc_outer, plcc_outer, n_outer, n_candidates, candidate_set;
    summary: dataset, distortion, measure, candidate_set, srocc_nested, srocc_nested_lo/_hi, plcc_nested,
    plcc_nested_lo/_hi (means over outer folds; intervals resample the whole selection), n, n_refs, k_folds,
    n_candidates, chosen (``fold=arm`` list), most_chosen, n_most_chosen, n_boot, n_boot_valid, ci_level.
    """
    from .protocols import MIN_CI_CONTENTS
    from .weighted import direction_signs, stratified_content_counts

    pr = predictions[predictions["protocol"] == "content_separated"]
    cs = corr[corr["protocol"] == "content_separated"]
    if measure is not None:
        pr, cs = pr[pr["measure"] == measure], cs[cs["measure"] == measure]
    if candidates is not None:
        cand = set(candidates)
        pr = pr[[(a, p) in cand for a, p in zip(pr["arm"], pr["pair_kind"])]]
    orient = {tuple(r[:4]): r[4] for r in cs[["dataset", "distortion", "arm", "measure", "orientation"]]
              .itertuples(index=False)}
    fold_rows, summary_rows = [], []
    for keys, sel in pr.groupby(list(SELECT_KEYS), sort=True):
        key = dict(zip(SELECT_KEYS, keys))
        sel = sel[np.isfinite(sel["prediction"].to_numpy(float))]
        folds = np.array(sorted(sel["fold"].unique()))
        refs, ref_index = np.unique(sel["ref_id"].astype(str).to_numpy(), return_inverse=True)
        fold_of_ref = np.empty(refs.size, int)
        fold_of_ref[ref_index] = sel["fold"].to_numpy()
        counts = np.ones((1, refs.size))
        if n_boot > 0 and refs.size >= MIN_CI_CONTENTS:
            rng = np.random.default_rng(seed_from(seed, "nested", *keys))
            counts = np.vstack([counts, stratified_content_counts(np.arange(refs.size), fold_of_ref, n_boot, rng)])
        ref_pos = {r: i for i, r in enumerate(refs)}
        arms = sorted(set(zip(sel["arm"], sel["pair_kind"])))
        B1, k = counts.shape[0], folds.size
        inner = np.full((len(arms), B1, k), -np.inf)
        outer_s = np.full((len(arms), B1, k), np.nan)
        outer_p = np.full((len(arms), B1, k), np.nan)
        n_out = np.zeros((len(arms), k), int)
        for ai, (arm, pk) in enumerate(arms):
            g = sel[(sel["arm"] == arm) & (sel["pair_kind"] == pk)]
            o = orient.get((key["dataset"], key["distortion"], arm, key["measure"]), 1.0)
            x, y, p = (g[c].to_numpy(float) for c in ("value", "score", "prediction"))
            fo = g["fold"].to_numpy()
            sp = p * direction_signs(x, p, fo) * o
            W = counts[:, [ref_pos[r] for r in g["ref_id"].astype(str)]]
            for j, f in enumerate(folds):
                wi = W * (fo != f)
                wo = W * (fo == f)
                si = weighted_stats(x, y, sp, wi, o, kendall=False)["srocc"]
                inner[ai, :, j] = np.where(np.isfinite(si), si, -np.inf)
                so = weighted_stats(x, y, sp, wo, o, kendall=False)
                outer_s[ai, :, j], outer_p[ai, :, j] = so["srocc"], so["plcc"]
                n_out[ai, j] = int((fo == f).sum())
        pick = np.argmax(inner, axis=0)  # B1 × k (first arm on ties)
        any_ok = np.isfinite(inner).any(axis=0)
        bi, fj = np.meshgrid(np.arange(B1), np.arange(k), indexing="ij")
        ch_s = np.where(any_ok, outer_s[pick, bi, fj], np.nan)
        ch_p = np.where(any_ok, outer_p[pick, bi, fj], np.nan)
        mine = []
        for j, f in enumerate(folds):
            if not any_ok[0, j]:
                continue
            a = arms[pick[0, j]]
            mine.append({**key, "fold": int(f), "arm": a[0], "pair_kind": a[1],
                         "srocc_inner": float(inner[pick[0, j], 0, j]), "srocc_outer": float(ch_s[0, j]),
                         "plcc_outer": float(ch_p[0, j]), "n_outer": int(n_out[pick[0, j], j]),
                         "n_candidates": len(arms), "candidate_set": candidate_set})
        fold_rows += mine
        chosen = [r["arm"] for r in mine]
        top = max(set(chosen), key=lambda a: (chosen.count(a), a == chosen[0])) if chosen else ""
        res = {**key, "candidate_set": candidate_set, "n": int(len(sel) // max(len(arms), 1)),
               "n_refs": int(refs.size), "k_folds": int(k), "n_candidates": len(arms),
               "chosen": ", ".join(f"{r['fold']}={r['arm']}" for r in mine), "most_chosen": top,
               "n_most_chosen": chosen.count(top) if chosen else 0, "n_boot": int(n_boot),
               "n_boot_valid": 0, "ci_level": float(ci_level)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fig = {"srocc": np.nanmean(ch_s, axis=1), "plcc": np.nanmean(ch_p, axis=1)}
        for s_ in ("srocc", "plcc"):
            res[f"{s_}_nested"] = float(fig[s_][0])
            res[f"{s_}_nested_lo"] = res[f"{s_}_nested_hi"] = np.nan
            if B1 > 1:
                res[f"{s_}_nested_lo"], res[f"{s_}_nested_hi"] = percentile_ci(fig[s_][1:], ci_level, asked=n_boot)
        if B1 > 1:
            res["n_boot_valid"] = int(min(np.isfinite(fig["srocc"][1:]).sum(), np.isfinite(fig["plcc"][1:]).sum()))
        summary_rows.append(res)
    per_fold = pd.DataFrame(fold_rows, columns=[*SELECT_KEYS, "fold", "arm", "pair_kind", "srocc_inner",
                                                "srocc_outer", "plcc_outer", "n_outer", "n_candidates",
                                                "candidate_set"])
    return per_fold, pd.DataFrame(summary_rows)
