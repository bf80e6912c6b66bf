"""Seconds per stage of the aggregation rules on a saved scores table (prints timings; no test times anything).

Usage: PYTHONPATH=workflow python scripts/bench_aggregate.py results/demo/collected.parquet [--bootstrap 200]
       [--folds 3] [--permutations 200] [--measure psnr] [--workers 1] [--repeat 1]

Stages, as the rules run them: ``correlations`` (:func:`veiqa.ranking.correlations_all_arms`; also timed with
``n_perm = 0``, so the permutation chance level's share is printed), ``comparisons``
(:func:`veiqa.comparisons.comparisons`, both protocols), ``table6 sensitivity`` (:func:`veiqa.table6.sensitivity_corr`)
and ``tables`` (Tables 3-6 built in memory). The first PRI of each distortion in the table is taken as its default.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from veiqa import comparisons, ranking, table6, tables
from veiqa.stats.protocols import PROTOCOLS


def _timed(label, fn, repeat):
    best = None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        dt, dc = time.perf_counter() - t, time.process_time() - c
        best = (dt, dc) if best is None or dt < best[0] else best
    print(f"{label:<34} {best[0]:7.2f} s wall  {best[1]:7.2f} s CPU")
    return out, best[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scores")
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--permutations", type=int, default=200)
    ap.add_argument("--measure", default="psnr")
    ap.add_argument("--logistic", default="monotone", choices=["monotone", "nlinfit"])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs per stage (the fastest is printed)")
    a = ap.parse_args()
    d = pd.read_parquet(a.scores)
    default_pri = {x: d.loc[d.distortion == x, "pri"].iloc[0] for x in d.distortion.unique()}
    kw = dict(k=a.folds, n_boot=a.bootstrap, seed=0, logistic=a.logistic, workers=a.workers)
    print(f"{a.scores}: {len(d)} rows, bootstrap {a.bootstrap}, folds {a.folds}, permutations {a.permutations}, "
          f"workers {a.workers}")
    res, t_corr = _timed("correlations", lambda: ranking.correlations_all_arms(d, default_pri, n_perm=a.permutations,
                                                                                **kw), a.repeat)
    _, t_noperm = _timed("correlations, no permutations", lambda: ranking.correlations_all_arms(
        d, default_pri, n_perm=0, **kw), a.repeat)
    print(f"{'  permutation share':<34} {t_corr - t_noperm:7.2f} s")
    comp, _ = _timed("comparisons", lambda: comparisons.comparisons(
        d, default_pri, res.folds, a.measure, n_boot=a.bootstrap, seed=0, logistic=a.logistic, workers=a.workers),
        a.repeat)
    sens, _ = _timed("table6 sensitivity", lambda: table6.sensitivity_corr(
        d, default_pri, res.folds, a.measure, n_boot=a.bootstrap, seed=0, logistic=a.logistic,
        n_perm=a.permutations), a.repeat)
    ds = sorted(set(d["dataset"]))[0]
    corr = res.corr[~res.corr["arm"].str.contains("@", regex=False)]
    arm = sorted(set(corr.loc[corr.pair_kind == "vei", "arm"]))[0]

    def build():
        for p in PROTOCOLS:
            tables.table_per_distortion(corr, ds, arm, measure=a.measure, protocol=p, with_ci=True)
            tables.table_per_arm(corr, ds, measure=a.measure, protocol=p, with_ci=True)
            tables.table_per_measure(corr, ds, arm, protocol=p, with_ci=True)
            table6.table6(corr, ds, a.measure, p, comparisons=comp[p], sensitivity=sens)

    _timed("tables 3-6", build, a.repeat)


if __name__ == "__main__":
    main()
