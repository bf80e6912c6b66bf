#!/usr/bin/env python
"""Scale benchmark: the workflow's bookkeeping on a synthetic dataset of N small images (default 10,000).

Builds a dataset in the demo's layout (N/20 tiny random "photographs" × 4 distortions × 5 levels, 16×16 PNG, proxy
scores), runs the whole workflow on it once with cheap settings (native resolution, PSNR only, no bootstrap), then
times what a user waits for on a dataset of this size:

* ``snakemake -n`` (dry run, DAG of every shard job, after staging),
* a no-op rerun (everything up to date), and
* the per-job start-up overhead: the full run's job count and summed job time per rule (from the rules'
  ``benchmark:`` files), and what a job's Python start-up costs with the imports of a torch-free script such as
  ``pri`` and with ``torch`` on top (``--startup-only`` prints just that).

Prints the figures; nothing is asserted. Usage::

    .venv/bin/python scripts/bench_scale.py [--n 10000] [--shard-size 256] [--workdir /tmp/veiqa-scale] [--cores 2]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def build(root: Path, n: int, side: int = 16) -> None:
    rng = np.random.default_rng(0)
    (root / "reference").mkdir(parents=True, exist_ok=True)
    (root / "distorted").mkdir(exist_ok=True)
    rows = ["image,reference,distortion,level,score"]
    n_refs = max(1, n // 20)
    for r in range(n_refs):
        ref = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        Image.fromarray(ref).save(root / "reference" / f"r{r:05d}.png")
        for d in ("gb", "wn", "jpeg", "jp2k"):
            for level in range(1, 6):
                noise = rng.normal(0, 4 * level, ref.shape)
                img = np.clip(ref + noise, 0, 255).astype(np.uint8)
                name = f"r{r:05d}__{d}__{level}.png"
                Image.fromarray(img).save(root / "distorted" / name)
                rows.append(f"distorted/{name},reference/r{r:05d}.png,{d},{level},{1 - level / 6:.4f}")
    (root / "scores.csv").write_text("\n".join(rows) + "\n")


def run(cmd: list[str], cwd: Path) -> tuple[float, str]:
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}")
    return dt, p.stdout + p.stderr


def startup_seconds(modules: list[str], repeat: int = 3) -> float:
    """Median wall time of a fresh Python that imports what a job's preamble and script import, and ends as a job
    does (where this checkout's jobs end by ``veiqa.smk.quick_exit``, by it: no interpreter teardown)."""
    code = ("import sys; sys.path.insert(0, %r); import snakemake.logging, snakemake.iocontainers; " % str(REPO / "workflow")
            + "; ".join(f"import {m}" for m in modules))
    if "quick_exit" in (REPO / "workflow" / "scripts" / "_veiqa.py").read_text():
        code += "; from veiqa.smk import quick_exit; quick_exit()"
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


#: Rules whose script imports torch (the others start in a fraction of the time).
TORCH_RULES = {"gradcam", "measures_vei", "measures_image", "fr_ceiling", "setmetrics"}


def print_startup() -> tuple[float, float]:
    light = ["pandas", "veiqa.pri", "veiqa.shards", "veiqa.smk"]
    a, b = startup_seconds(light + ["torch"]), startup_seconds(light)
    print(f"per-job start-up: a torch-free script (pri, nr_methods, stage, collect, tables ...) {b:.2f} s; one that "
          f"needs torch ({', '.join(sorted(TORCH_RULES))}) {a:.2f} s")
    return a, b


def print_job_times(logs: Path, startup: tuple[float, float]) -> None:
    """Job count and summed job time per rule, and the share of the run's job time that is per-job start-up."""
    sys.path.insert(0, str(REPO / "scripts"))
    from bench_pipeline import job_times

    times = job_times(logs)
    for rule, v in sorted(times.items(), key=lambda kv: -sum(kv[1])):
        print(f"  {rule:<16}{len(v):>6} jobs{sum(v):>9.1f} s summed{sum(v) / len(v):>8.2f} s per job")
    n_torch = sum(len(v) for r, v in times.items() if r in TORCH_RULES)
    n_light = sum(len(v) for r, v in times.items() if r not in TORCH_RULES)
    over = n_torch * startup[0] + n_light * startup[1]
    total = sum(sum(v) for v in times.values())
    print(f"per-job start-up in all: {n_torch} torch jobs x {startup[0]:.2f} s + {n_light} others x "
          f"{startup[1]:.2f} s = {over:.0f} s of {total:.0f} s summed job time ({100 * over / total:.0f} %)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--shard-size", type=int, default=256)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/veiqa-scale"))
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="reuse an existing workdir (skip building and the full run)")
    ap.add_argument("--startup-only", action="store_true", help="print only the per-job start-up figures")
    a = ap.parse_args()
    startup = print_startup()
    if a.startup_only:
        return
    wd = a.workdir
    if not a.keep and wd.exists():
        shutil.rmtree(wd)
    wd.mkdir(parents=True, exist_ok=True)
    data = wd / "synthetic"
    cfg = wd / "scale.yaml"
    if not (data / "scores.csv").exists():
        t = time.perf_counter()
        build(data, a.n)
        print(f"built {a.n} images in {time.perf_counter() - t:.1f} s")
    cfg.write_text(
        "datasets:\n"
        f"  synthetic: {{loader: demo, source: {data}}}\n"
        f"shard_size: {a.shard_size}\n"
        "measures: [psnr]\n"
        "compare: {size: 0}\n"
        "gradcam: {resolution: native, batch_size: 256, num_workers: 0}\n"
        "aggregate: {bootstrap: 0, folds: 2, figure_samples: 1}\n"
        "setmetrics: {enabled: false}\n"
    )
    # config.yaml names no dataset, so the synthetic one is the only one (the targets are named anyway).
    sm = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--configfile", str(cfg),
          "--cores", str(a.cores)]
    targets = ["results/synthetic/tables/ranked_arms.csv"]
    if not a.keep:
        dt, _ = run(sm + ["resources/synthetic/manifest.parquet"], wd)
        print(f"staging {a.n} images: {dt:.1f} s")
        dt, out = run(sm + ["-n"] + targets, wd)
        n_jobs = out.split("total", 1)[1].split()[0] if "total" in out else "?"
        print(f"dry run before the first full run (DAG of {n_jobs} jobs): {dt:.2f} s")
        dt, _ = run(sm + targets, wd)
        print(f"full run (cheap settings, {a.cores} cores): {dt:.1f} s; job times per rule:")
        print_job_times(wd / "logs", startup)
    times_n, times_noop = [], []
    for _ in range(3):
        dt, out = run(sm + ["-n"] + targets, wd)
        assert "Nothing to be done" in out, out[-2000:]
        times_n.append(dt)
        dt, out = run(sm + targets, wd)
        assert "Nothing to be done" in out, out[-2000:]
        times_noop.append(dt)
    print(f"snakemake -n on {a.n} images, all up to date: median {np.median(times_n):.2f} s "
          f"(runs: {', '.join(f'{t:.2f}' for t in times_n)})")
    print(f"no-op rerun on {a.n} images: median {np.median(times_noop):.2f} s "
          f"(runs: {', '.join(f'{t:.2f}' for t in times_noop)})")


if __name__ == "__main__":
    main()
