"""Choosing an arm without the winner's curse: nested (out-of-fold) selection over folds of reference contents.

Ranking every arm of a grid by its pooled SROCC and reporting the best one is biased upward: the maximum of many
noisy estimates exceeds the true value of the arm it picks (under the content-separated protocol the pooled SROCC
equals the in-sample value, since SROCC does not involve the fitted mapping). :func:`nested_selection` instead, per
dataset × distortion × measure and for each *outer* fold f of the content folds of :func:`assign_folds`:

1. chooses the arm with the highest oriented SROCC on the *inner* contents only (the images of the other folds;
   ties go to the first arm in sorted order);
2. takes that arm's out-of-fold predictions on the outer contents: the content-separated protocol's logistic of
   fold f was fitted on exactly those inner contents, so neither the choice nor the mapping saw fold f.

The nested figures pool the chosen arms' out-of-fold predictions over all outer folds (they are on the score
scale, so predictions of different arms can be pooled, as the content-separated PLCC pools folds):
``plcc_nested`` = Pearson(prediction, score) and ``srocc_nested`` = Spearman(prediction, score). For one arm
chosen in every fold, ``srocc_nested`` differs from that arm's pooled SROCC of the raw values only by how the k fold
mappings interleave the folds; that cost is not small on small sets (demo run, pooled distortions, one arm chosen in
all 5 folds: in-sample 0.398, nested 0.300), so it is a conservative figure. The mean over outer folds of the
chosen arm's outer SROCC on its raw values (oriented) is reported as well (``srocc_outer_fold_mean``).
Percentile intervals come from a cluster bootstrap over contents (``n_boot`` resamples of the pooled out-of-fold
set; the choice is not redone per resample, so they reflect sampling of the evaluation set, like every interval of
:mod:`veiqa.stats.protocols`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..io import seed_from
from .weighted import bootstrap_weights, percentile_ci, weighted_stats

SELECT_KEYS = ("dataset", "distortion", "measure")


def _inner_srocc(g: pd.DataFrame, folds: np.ndarray, orientation: float) -> np.ndarray:
    """Oriented SROCC of one arm on the inner contents of each outer fold (NaN where undefined)."""
    fold = g["fold"].to_numpy()
    W = (fold[None, :] != folds[:, None]).astype(float)
    x, y = g["value"].to_numpy(float), g["score"].to_numpy(float)
    return weighted_stats(x, y, x, W, orientation, kendall=False)["srocc"]


def nested_selection(predictions: pd.DataFrame, corr: pd.DataFrame, *, measure: str | None = None,
                     n_boot: int = 1000, ci_level: float = 0.95, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nested arm selection per dataset × distortion × measure (all measures unless ``measure`` is given).

    ``predictions``/``corr``: the tables of :func:`veiqa.stats.correlations` (its content-separated rows are used;
    ``corr`` supplies each group's orientation). Returns ``(per_fold, summary)``:

    per_fold: dataset, distortion, measure, fold, arm, pair_kind (the arm chosen on the inner contents),
    srocc_inner (its inner SROCC), srocc_outer, plcc_outer (on the outer contents), n_outer, n_candidates;
    summary: dataset, distortion, measure, srocc_nested, srocc_nested_lo/_hi, plcc_nested, plcc_nested_lo/_hi,
    srocc_outer_fold_mean, n, n_refs, k_folds, n_candidates, chosen (``fold=arm`` list), most_chosen, n_most_chosen,
    n_boot, n_boot_valid, ci_level.
    """
    pr = predictions[predictions["protocol"] == "content_separated"]
    cs = corr[corr["protocol"] == "content_separated"]
    if measure is not None:
        pr, cs = pr[pr["measure"] == measure], cs[cs["measure"] == measure]
    orient = {tuple(r[:4]): r[4] for r in cs[["dataset", "distortion", "arm", "measure", "orientation"]]
              .itertuples(index=False)}
    fold_rows, summary_rows = [], []
    for keys, sel in pr.groupby(list(SELECT_KEYS), sort=True):
        key = dict(zip(SELECT_KEYS, keys))
        folds = np.array(sorted(sel["fold"].unique()))
        arms = sorted(set(zip(sel["arm"], sel["pair_kind"])))
        by_arm = {a: g for a, g in sel.groupby(["arm", "pair_kind"], sort=True)}
        inner = np.array([_inner_srocc(by_arm[a], folds, orient.get((key["dataset"], key["distortion"], a[0],
                                                                     key["measure"]), 1.0)) for a in arms])
        parts, mine = [], []
        for j, f in enumerate(folds):
            col = np.where(np.isfinite(inner[:, j]), inner[:, j], -np.inf)
            if not np.isfinite(col).any():
                continue
            a = arms[int(np.argmax(col))]
            g = by_arm[a]
            out = g[(g["fold"] == f) & np.isfinite(g["prediction"])]
            o = orient.get((key["dataset"], key["distortion"], a[0], key["measure"]), 1.0)
            st = weighted_stats(out["value"], out["score"], out["prediction"], np.ones((1, len(out))), o,
                                kendall=False) if len(out) >= 2 else {"srocc": [np.nan], "plcc": [np.nan]}
            mine.append({**key, "fold": int(f), "arm": a[0], "pair_kind": a[1], "srocc_inner": float(col.max()),
                         "srocc_outer": float(st["srocc"][0]), "plcc_outer": float(st["plcc"][0]),
                         "n_outer": int(len(out)), "n_candidates": len(arms)})
            parts.append(out)
        fold_rows += mine
        summary_rows.append({**key, **_pooled(parts, mine, key, len(folds), len(arms), n_boot, ci_level, seed)})
    per_fold = pd.DataFrame(fold_rows, columns=[*SELECT_KEYS, "fold", "arm", "pair_kind", "srocc_inner",
                                                "srocc_outer", "plcc_outer", "n_outer", "n_candidates"])
    return per_fold, pd.DataFrame(summary_rows)


def _pooled(parts, mine, key, k, n_cand, n_boot, ci_level, seed) -> dict:
    """Pooled out-of-fold figures of the chosen arms, their cluster-bootstrap intervals and the choice summary."""
    outer = np.array([r["srocc_outer"] for r in mine], float)
    chosen = [r["arm"] for r in mine]
    top = max(set(chosen), key=lambda a: (chosen.count(a), a == chosen[0])) if chosen else ""
    res = {"n": 0, "n_refs": 0, "k_folds": k, "n_candidates": n_cand,
           "chosen": ", ".join(f"{r['fold']}={r['arm']}" for r in mine), "most_chosen": top,
           "n_most_chosen": chosen.count(top) if chosen else 0, "n_boot": int(n_boot), "n_boot_valid": 0,
           "ci_level": float(ci_level),
           "srocc_outer_fold_mean": float(np.nanmean(outer)) if np.isfinite(outer).any() else np.nan}
    for s in ("srocc", "plcc"):
        res[f"{s}_nested"] = res[f"{s}_nested_lo"] = res[f"{s}_nested_hi"] = np.nan
    if not parts:
        return res
    d = pd.concat(parts, ignore_index=True)
    y, p = d["score"].to_numpy(float), d["prediction"].to_numpy(float)
    refs, clusters = np.unique(d["ref_id"].astype(str).to_numpy(), return_inverse=True)
    res.update(n=int(len(d)), n_refs=int(refs.size))
    if len(d) < 2:
        return res
    point = weighted_stats(p, y, p, np.ones((1, len(d))), 1.0, kendall=False)
    res["srocc_nested"], res["plcc_nested"] = float(point["srocc"][0]), float(point["plcc"][0])
    if n_boot > 0:
        rng = np.random.default_rng(seed_from(seed, "nested", *(key[c] for c in SELECT_KEYS)))
        bs = weighted_stats(p, y, p, bootstrap_weights(len(d), n_boot, rng, clusters), 1.0, kendall=False)
        res["n_boot_valid"] = int(np.isfinite(bs["srocc"]).sum())
        for s in ("srocc", "plcc"):
            res[f"{s}_nested_lo"], res[f"{s}_nested_hi"] = percentile_ci(bs[s], ci_level)
    return res
