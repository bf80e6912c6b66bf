"""Benchmark veiqa.stats.correlations on a synthetic TID2013-sized long table (prints timings).

Usage: .venv/bin/python scripts/bench_stats.py [--distortions 24] [--refs 25] [--levels 5] [--arms 3]
       [--measures 6] [--n-boot 1000] [--k 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from veiqa.stats import correlations, logistic5


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
    a = ap.parse_args()
    df = synthetic(a.distortions, a.refs, a.levels, [f"arm{i}" for i in range(a.arms)],
                   [f"m{i}" for i in range(a.measures)])
    t, c = time.perf_counter(), time.process_time()
    res = correlations(df, n_boot=a.n_boot, k=a.k, seed=0)
    dt, dc = time.perf_counter() - t, time.process_time() - c
    ng = len(res.corr) // 2
    print(f"rows={len(df)} groups={ng} (x2 protocols) n_boot={a.n_boot} k={a.k}: {dt:.1f} s total, "
          f"{1e3 * dt / len(res.corr):.1f} ms per group-protocol; CPU {dc:.1f} s; fits={len(res.fits)}")
    for n in (125, 3000):
        g = res.corr[res.corr["n"] == n]
        if len(g):
            print(f"  n={n}: {len(g)} rows")


if __name__ == "__main__":
    main()
