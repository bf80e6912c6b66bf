"""Simulated databases with known truth: bias and interval coverage of every figure veiqa reports.

Each run draws one database of C contents × L distortion levels (one distortion) with content effects in both the
measure and the score, evaluates it with :func:`veiqa.stats.correlations` (both protocols) and
:func:`veiqa.stats.nested_selection` (a grid of arms), and records each reported figure and its 95 % interval.

Scenarios (per image j of content i at level ℓ, z = standardised level, c_i, d_i ~ N(0, 1) content effects):

* ``null``:  score y = −0.8 z + c_i + e (e ~ N(0, 0.5²)); measure x = d_i + u (u ~ N(0, 1)): x is independent of y.
* ``level``: the measure knows the distortion level only: x = −0.8 z + d_i + u.
* ``real``:  the measure tracks the image's quality: x = (−0.8 z + c_i + e) + d_i + u.

The grid for nested selection has ``--arms`` arms; in ``null`` every arm is null, otherwise arm 0 follows the
scenario and the others are null. Truth: 0 under ``null``; otherwise each figure's population value (paper protocol
on one database of ``--truth-contents`` contents; for nested figures, the best arm's). Printed per scenario, number
of contents, protocol and figure: the mean and SD of the point estimate, the truth, how often the 95 % interval
misses the truth (``miss``) and excludes 0 (``excl0``), how many runs printed an interval (``n_ci``), and, where the
run reports one, the mean chance level (``chance``: the value a useless measure reaches at this N and number of
contents) and how often the figure exceeded it (``>chance``).

Runs with whatever ``veiqa`` is first on ``PYTHONPATH`` (columns that a version does not report are skipped), e.g.
``PYTHONPATH=workflow python scripts/simulate_stats.py --runs 100``.
"""

from __future__ import annotations

import argparse
import inspect
import time

import numpy as np
import pandas as pd

from veiqa import stats

FIGS = ("plcc", "srocc", "krocc", "plcc_raw")
NESTED = ("srocc", "plcc")


def simulate(rng, scenario: str, n_contents: int, n_levels: int, n_arms: int, dataset: str = "sim") -> pd.DataFrame:
    z = np.linspace(-1.0, 1.0, n_levels)
    c = rng.normal(size=n_contents)
    e = rng.normal(scale=0.5, size=(n_contents, n_levels))
    quality = -0.8 * z[None, :] + c[:, None] + e
    rows = []
    for a in range(n_arms):
        d = rng.normal(size=n_contents)
        u = rng.normal(size=(n_contents, n_levels))
        if scenario == "null" or a > 0:
            x = d[:, None] + u
        elif scenario == "level":
            x = -0.8 * z[None, :] + d[:, None] + u
        else:
            x = quality + d[:, None] + u
        for i in range(n_contents):
            for j in range(n_levels):
                rows.append((dataset, "d1", f"arm{a}", "vei", "m", f"c{i}_l{j}", f"c{i}", x[i, j], quality[i, j],
                             True, True))
    return pd.DataFrame(rows, columns=list(stats.REQUIRED_COLUMNS))


def figures(df: pd.DataFrame, n_boot: int, seed: int, n_perm: int) -> list[dict]:
    """One record per reported figure: protocol, figure, value, ci low/high (NaN when none), chance level."""
    kw = {"n_perm": n_perm} if "n_perm" in inspect.signature(stats.correlations).parameters else {}
    res = stats.correlations(df, k=5, n_boot=n_boot, seed=seed, **kw)
    corr = res.corr[(res.corr["distortion"] == "d1") & (res.corr["arm"] == "arm0")]
    out = []
    for r in corr.to_dict("records"):
        for s in FIGS:
            if s not in r or not np.isfinite(r.get(s, np.nan)):
                continue
            lo, hi = r.get(f"{s}_ci_low", np.nan), r.get(f"{s}_ci_high", np.nan)
            out.append({"protocol": r["protocol"], "figure": s, "value": r[s], "lo": lo, "hi": hi,
                        "chance": r.get(f"{s}_chance", np.nan)})
    _, summ = stats.nested_selection(res.predictions[res.predictions["distortion"] == "d1"],
                                     res.corr[res.corr["distortion"] == "d1"], n_boot=n_boot, seed=seed)
    for r in summ.to_dict("records"):
        for s in NESTED:
            out.append({"protocol": "nested", "figure": f"{s}_nested", "value": r[f"{s}_nested"],
                        "lo": r.get(f"{s}_nested_lo", np.nan), "hi": r.get(f"{s}_nested_hi", np.nan),
                        "chance": np.nan})
    return out


def truths(scenario: str, n_levels: int, n_arms: int, n_contents: int, seed: int) -> dict:
    if scenario == "null":
        return {}
    df = simulate(np.random.default_rng(seed), scenario, n_contents, n_levels, 1)
    res = stats.correlations(df, protocols=("paper",), k=5, n_boot=0, seed=seed)
    r = res.corr[res.corr["distortion"] == "d1"].iloc[0]
    t = {s: float(r[s]) for s in FIGS}
    t["srocc_nested"], t["plcc_nested"] = t["srocc"], t["plcc"]
    return t


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=100, help="databases per scenario and number of contents")
    ap.add_argument("--boot", type=int, default=300, help="bootstrap resamples per figure")
    ap.add_argument("--perm", type=int, default=50, help="permutations for the chance level (where reported)")
    ap.add_argument("--contents", type=int, nargs="+", default=[10, 25])
    ap.add_argument("--levels", type=int, default=5)
    ap.add_argument("--arms", type=int, default=4, help="arms of the grid for nested selection")
    ap.add_argument("--scenarios", nargs="+", default=["null", "level", "real"])
    ap.add_argument("--truth-contents", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    t0 = time.time()
    print(f"# runs={a.runs} boot={a.boot} perm={a.perm} levels={a.levels} arms={a.arms} seed={a.seed}")
    print(f"{'scenario':8} {'C':>3} {'N':>4} {'protocol':18} {'figure':13} {'mean':>7} {'sd':>6} {'truth':>7} "
          f"{'miss%':>6} {'excl0%':>6} {'n_ci':>4} {'chance':>7} {'>chance%':>8}")
    for scen in a.scenarios:
        truth = truths(scen, a.levels, a.arms, a.truth_contents, a.seed + 999)
        for C in a.contents:
            recs = []
            for run in range(a.runs):
                rng = np.random.default_rng([a.seed, C, run, ["null", "level", "real"].index(scen)])
                for f in figures(simulate(rng, scen, C, a.levels, a.arms), a.boot, seed=run, n_perm=a.perm):
                    recs.append({**f, "run": run})
            d = pd.DataFrame(recs)
            for (prot, fig), g in d.groupby(["protocol", "figure"], sort=False):
                tv = truth.get(fig, 0.0) if scen != "null" else 0.0
                ci = g[np.isfinite(g["lo"]) & np.isfinite(g["hi"])]
                miss = ((ci["lo"] > tv) | (ci["hi"] < tv)).mean() * 100 if len(ci) else np.nan
                ex0 = ((ci["lo"] > 0) | (ci["hi"] < 0)).mean() * 100 if len(ci) else np.nan
                ch = g["chance"].dropna()
                above = (g.loc[ch.index, "value"] > ch).mean() * 100 if len(ch) else np.nan
                print(f"{scen:8} {C:>3} {C * a.levels:>4} {prot:18} {fig:13} {g['value'].mean():7.3f} "
                      f"{g['value'].std():6.3f} {tv:7.3f} {miss:6.1f} {ex0:6.1f} {len(ci):>4} "
                      f"{ch.mean() if len(ch) else np.nan:7.3f} {above:8.1f}", flush=True)
    print(f"# {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
