#!/usr/bin/env python
"""Pipeline benchmark: the demo from scratch, end to end, and where its time goes.

Runs ``snakemake --cores N`` on the default configuration (the built-in demo: 200 pairs) in an empty working
directory, then prints

* the wall time of the run from scratch,
* the summed job time per rule, from the ``benchmark:`` files every rule writes (``logs/<ds>/benchmarks/``: each
  job's wall time, Python start-up and imports included),
* how busy the cores were: the summed CPU time of all jobs over wall time × cores (the rest is idle: jobs
  waiting on each other, or single-threaded start-up),
* a timeline from the run's Snakemake log: when staging ended, when the first Grad-CAM job started, when the shard
  jobs ended and how long the aggregation tail took,
* the ratio of the wall time to the summed Grad-CAM job time (the target is at most 1.5), and
* the wall time of a no-op rerun (everything up to date) and of ``snakemake -n``.

Prints the figures; nothing is asserted. Usage::

    .venv/bin/python scripts/bench_pipeline.py [--cores 2] [--workdir /tmp/veiqa-pipeline] [--configfile extra.yaml]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def rule_of(bench: Path, root: Path) -> str:
    """The rule a benchmark file belongs to, from its path (see the `benchmark:` lines in workflow/rules)."""
    parts = bench.relative_to(root).parts  # <ds>/benchmarks/...
    rest = parts[2:]
    if rest[0] == "vei":
        return "gradcam"
    if rest[0] == "pri":
        return "pri"
    if rest[0] == "measures":
        return "measures_image" if rest[-2] == "image" else "measures_vei"
    if rest[0] == "controls":
        return "nr_methods" if rest[-2] == "nr" else "fr_ceiling"
    name = Path(rest[0]).stem
    return "figure2" if name.startswith("figure2-") else name


def job_times(logs: Path, column: str = "s") -> dict[str, list[float]]:
    """Per rule, each job's ``column`` of its benchmark file: ``s`` (wall time) or ``cpu_time``."""
    out: dict[str, list[float]] = defaultdict(list)
    for f in sorted(logs.glob("*/benchmarks/**/*.tsv")):
        with open(f) as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if rows:
            out[rule_of(f, logs)].append(float(rows[-1][column]))
    return out


def phases(workdir: Path) -> dict[str, tuple[float, float]]:
    """(first start, last end) of each rule's jobs in seconds from the run's start, read from the Snakemake log of
    the first run (its timestamps have one-second resolution)."""
    import datetime
    import re

    logs = sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"))
    if not logs:
        return {}
    ts, rule_of_job, start, end, pending = None, {}, {}, {}, None
    for line in logs[0].read_text().splitlines():
        if m := re.match(r"\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]", line):
            ts = datetime.datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
        elif m := re.match(r"(?:local)?(?:rule|checkpoint) (\w+):", line):
            pending = m.group(1)
        elif (m := re.match(r"\s+jobid: (\d+)", line)) and pending:
            rule_of_job[m.group(1)], start[m.group(1)], pending = pending, ts, None
        elif m := re.match(r"Finished jobid: (\d+)", line):
            end[m.group(1)] = ts
    if not start:
        return {}
    t0 = min(start.values())
    out: dict[str, tuple[float, float]] = {}
    for j, rule in rule_of_job.items():
        a, b = (start[j] - t0).total_seconds(), (end.get(j, start[j]) - t0).total_seconds()
        lo, hi = out.get(rule, (a, b))
        out[rule] = (min(lo, a), max(hi, b))
    return out


def run(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/veiqa-pipeline"))
    ap.add_argument("--configfile", type=Path, action="append", default=[],
                    help="extra config files merged over config.yaml (default: none, the full demo)")
    a = ap.parse_args()
    wd = a.workdir
    if wd.exists():
        shutil.rmtree(wd)
    wd.mkdir(parents=True)
    sm = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores", str(a.cores),
          "--configfile", str(REPO / "config.yaml"), *map(str, a.configfile)]
    wall = run(sm, wd)
    times = job_times(wd / "logs")
    cpu = job_times(wd / "logs", "cpu_time")
    total = sum(sum(v) for v in times.values())
    total_cpu = sum(sum(v) for v in cpu.values())
    print(f"demo from scratch, {a.cores} cores: {wall:.1f} s wall; {sum(map(len, times.values()))} jobs, "
          f"{total:.1f} s summed job time, {total_cpu:.1f} s summed CPU time")
    print(f"cores busy: {100 * total_cpu / (wall * a.cores):.0f} % (summed CPU time / (wall x {a.cores} cores))")
    print(f"{'rule':<16}{'jobs':>5}{'sum s':>9}{'mean s':>9}{'cpu s':>9}")
    for rule, v in sorted(times.items(), key=lambda kv: -sum(kv[1])):
        print(f"{rule:<16}{len(v):>5}{sum(v):>9.1f}{sum(v) / len(v):>9.2f}{sum(cpu[rule]):>9.1f}")
    ph = phases(wd)
    if "collect" in ph and "stage" in ph:
        print(f"timeline (s from the start, Snakemake log): staging until {ph['stage'][1]:.0f}; first Grad-CAM job "
              f"{ph.get('gradcam', (float('nan'),))[0]:.0f}; shard jobs until {ph['collect'][0]:.0f}; aggregation tail "
              f"{wall - ph['collect'][0]:.0f} s (collect, correlations, tables, plots)")
    g = sum(times.get("gradcam", []))
    if g:
        print(f"wall / summed Grad-CAM job time: {wall / g:.2f} (target <= 1.5)")
    print(f"snakemake -n, all up to date: {run(sm + ['-n'], wd):.1f} s")
    print(f"no-op rerun: {run(sm, wd):.1f} s")


if __name__ == "__main__":
    main()
