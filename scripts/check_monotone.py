"""Check that every fitted logistic of a run is monotone over its data range (prints a summary, exit 1 if not).

Usage: .venv/bin/python scripts/check_monotone.py results/<ds>/stats/fits.parquet results/<ds>/collected.parquet
       [--grid 2001] [--show 10]

For each fit (group × protocol × fold) the curve logistic5(·, b1..b5) is evaluated on a dense grid over the
min..max of the group's values in the scores table and must not change direction (:func:`veiqa.stats.is_monotone`).
Also prints how many fits failed (they have no curve). Fits of ``logistic: nlinfit`` are not constrained and may
well fail this check.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from veiqa.io import VeiqaError  # noqa: E402
from veiqa.stats import BETA_NAMES, is_monotone  # noqa: E402

KEYS = ["dataset", "distortion", "arm", "pair_kind", "measure"]


def _read(path: str, need: list[str]) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except (OSError, ValueError) as e:
        raise VeiqaError(f"{path}: cannot read parquet ({e})") from e
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise VeiqaError(f"{path}: missing column(s) {missing}")
    return df


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("fits")
    ap.add_argument("scores")
    ap.add_argument("--grid", type=int, default=2001)
    ap.add_argument("--show", type=int, default=10, help="non-monotone fits to list")
    a = ap.parse_args(argv)
    fits = _read(a.fits, KEYS + ["protocol", "fold", "fit_status", *BETA_NAMES])
    scores = _read(a.scores, KEYS[1:] + ["value"])
    if "dataset" not in scores.columns:
        scores = scores.assign(dataset=fits["dataset"].iloc[0] if len(fits) else "")
    scores = scores[np.isfinite(scores["value"].to_numpy(float))]
    pooled = scores.assign(distortion="all")
    ranges = pd.concat([scores, pooled]).groupby(KEYS)["value"].agg(["min", "max"])
    bad, checked = [], 0
    ok = fits[fits["fit_status"] == "ok"]
    for r in ok.itertuples(index=False):
        key = tuple(str(getattr(r, k)) for k in KEYS)
        if key not in ranges.index:
            continue
        lo, hi = ranges.loc[key]
        checked += 1
        mono, _ = is_monotone([float(getattr(r, b)) for b in BETA_NAMES], lo, hi, n_grid=a.grid)
        if not mono:
            bad.append((*key, r.protocol, int(r.fold)))
    print(f"{a.fits}: {len(fits)} fits, {len(fits) - len(ok)} failed, {checked} checked, "
          f"{len(bad)} not monotone over their data range")
    for b in bad[: a.show]:
        print("  not monotone:", " / ".join(map(str, b)))
    return 1 if bad else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except VeiqaError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
