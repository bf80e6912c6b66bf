"""Benchmark veiqa.stats.correlations on a synthetic long table (prints timings).

Usage: .venv/bin/python scripts/bench_stats.py [--distortions 24] [--refs 25] [--levels 5] [--arms 3]
       [--measures 6] [--n-boot 1000] [--k 5] [--logistic monotone|nlinfit] [--scores results/demo/collected.parquet]

Demo-sized (200 images × 4 distortions, 2 Grad-CAM arms + the pixel-PRI control, 11 measures, both protocols):
    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_stats.py --distortions 4 --refs 10 --levels 5 --arms 2 \
        --measures 11
Prints the whole run and, separately, the same run without bootstrap (fits and point statistics only).
``--scores`` times the correlations rule's computation on a saved scores table instead (every PRI strength, as the
rule does; the first PRI of each distortion in the table is taken as its default).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from veiqa.stats import correlations


def synthetic(n_dist, n_refs, n_levels, arms, measures, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(n_dist):
        for r in range(n_refs):
            for lv in range(n_levels):
                q = rng.uniform(0, 9)
                for arm, pk in [(a, "vei") for a in arms] + [("image", "image")]:
                    for m in measures:
                        v = 20 + 2.5 * q + rng.normal(0, 2.0)
                        rows.append(("tid", f"d{d:02d}", arm, pk, m, f"i{r:02d}_{d:02d}_{lv}", f"I{r:02d}",
                                     v, q + rng.normal(0, 0.3), True, True))
    return pd.DataFrame(rows, columns=["dataset", "distortion", "arm", "pair_kind", "measure", "image_id", "ref_id",
                                       "value", "score", "higher_is_better", "measure_higher_is_better"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--distortions", type=int, default=24)
    ap.add_argument("--refs", type=int, default=25)
    ap.add_argument("--levels", type=int, default=5)
    ap.add_argument("--arms", type=int, default=3)
    ap.add_argument("--measures", type=int, default=6)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--logistic", default="monotone", choices=["monotone", "nlinfit"])
    ap.add_argument("--workers", type=int, default=1, help="worker processes (the workflow gives its threads)")
    ap.add_argument("--scores", help="a results/<ds>/collected.parquet to time instead of the synthetic table")
    a = ap.parse_args()
    if a.scores:
        from veiqa import ranking

        d = pd.read_parquet(a.scores)
        default_pri = {x: d.loc[d.distortion == x, "pri"].iloc[0] for x in d.distortion.unique()}
        t, c = time.perf_counter(), time.process_time()
        res = ranking.correlations_all_arms(d, default_pri, k=a.k, n_boot=a.n_boot, seed=0, logistic=a.logistic,
                                                  workers=a.workers)
        print(f"{a.scores}: {len(d)} rows, {len(res.corr)} corr rows, n_boot={a.n_boot} k={a.k} "
              f"logistic={a.logistic}: {time.perf_counter() - t:.1f} s wall; CPU {time.process_time() - c:.1f} s")
        return
    df = synthetic(a.distortions, a.refs, a.levels, [f"arm{i}" for i in range(a.arms)],
                   [f"m{i}" for i in range(a.measures)])
    for n_boot in dict.fromkeys([a.n_boot, 0]):
        t, c = time.perf_counter(), time.process_time()
        res = correlations(df, n_boot=n_boot, k=a.k, seed=0, logistic=a.logistic, workers=a.workers)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        ng = len(res.corr) // 2
        print(f"rows={len(df)} groups={ng} (x2 protocols) n_boot={n_boot} k={a.k} logistic={a.logistic} "
              f"workers={a.workers}: "
              f"{dt:.1f} s wall, {1e3 * dt / len(res.corr):.1f} ms per group-protocol; CPU {dc:.1f} s; "
              f"fits={len(res.fits)}")
    for n in (125, 3000):
        g = res.corr[res.corr["n"] == n]
        if len(g):
            print(f"  n={n}: {len(g)} rows")


if __name__ == "__main__":
    main()
