"""Runs Snakemake through a real (private, single-node) SLURM cluster.

The session fixture ``slurm_cluster`` installs SLURM and munge with ``scripts/slurm/local_slurm.sh install``
(Debian packages; needs root and apt-get), starts the cluster with ``local_slurm.sh up`` and stops exactly the
daemons it started with ``local_slurm.sh down`` at the end. A cluster that was already up before the tests
is reused and left running. Without root/apt-get/SLURM the tests skip with the reason; set
``VEIQA_REQUIRE_SLURM=1`` (CI) to turn those skips into failures.

* ``test_snakemake_jobs_run_as_slurm_jobs``: a two-rule Snakefile run with ``--profile
  workflow/profiles/slurm-local-test``; each rule writes ``$SLURM_JOB_ID`` into its output, and
  ``scontrol show job`` confirms the jobs ran in partition ``debug`` with the CPUs, memory and time limit
  the rule's ``resources:`` block (or the profile's default-resources) asked for.
* ``test_demo_workflow_slurm_equals_local``: the project's Snakefile run locally and through SLURM into two
  working directories; every Parquet file under ``results/`` must have the same contents and provenance.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "slurm" / "local_slurm.sh"
TEST_PROFILE = REPO / "workflow" / "profiles" / "slurm-local-test"
SLURM_DIR = Path(os.environ.get("VEIQA_SLURM_DIR", "/tmp/veiqa-slurm"))

# ---- Test B parameters (demo workflow, local vs SLURM) ---------------------------------------------------
# Merged over <repo>/config.yaml (written to a second --configfile; Snakemake merges nested keys) to make the
# demo small and fast. Both runs get the same override.
DEMO_CONFIG_OVERRIDE: dict = {
    "datasets": {"demo": {"loader": "demo", "source": "builtin", "references": ["chelsea", "coins"]}},
    "distortions": ["gb", "jpeg"],
    "measures": ["psnr", "ssim"],
    "aggregate": {"folds": 2, "bootstrap": 20, "figure_samples": 1},
    "setmetrics": {"enabled": False},  # CI time: the set metrics' Inception network is not what this test is about
}
# Snakemake targets; empty = the Snakefile's default target. The collected scores: every per-shard job (staging,
# PRI, Grad-CAM, measures, NR, FR ceiling) and collect go through SLURM; the aggregation after it (statistics,
# tables, plots: CPU-only jobs like the others) is left out for CI time (test_workflow runs it locally).
DEMO_TARGETS: list[str] = ["results/demo/collected.parquet"]
# Cores for the local run (the SLURM run gets its CPUs from the profile's resources).
DEMO_LOCAL_CORES = 2
# Wall-clock limit of each of the two runs, seconds.
DEMO_TIMEOUT_S = 1200
# Tolerances for float columns. The two runs may use different thread counts (local --cores vs the SLURM
# job's cpus_per_task), which can change the order of floating-point reductions in torch/numpy.
DEMO_RTOL = 1e-5
DEMO_ATOL = 1e-7
# Provenance fields (dotted paths into the JSON) that may legitimately differ between the two runs.
# Provenance is designed to be host- and time-free (veiqa.io.provenance), so this starts empty;
# absolute paths of the two working directories are normalised to "<workdir>" before comparing.
PROVENANCE_FIELDS_THAT_MAY_DIFFER: tuple[str, ...] = ()


def _require() -> bool:
    return os.environ.get("VEIQA_REQUIRE_SLURM", "") not in ("", "0", "false", "no")


def _skip(reason: str):
    if _require():
        pytest.fail(f"VEIQA_REQUIRE_SLURM is set but: {reason}")
    pytest.skip(reason)


def _script(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args, "--dir", str(SLURM_DIR)],
        capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture(scope="session")
def slurm_cluster():
    """Install and start the private SLURM cluster; yield its environment (with SLURM_CONF); stop it after."""
    have_slurm = all(shutil.which(b) for b in ("slurmctld", "slurmd", "sbatch", "munged"))
    if not have_slurm:
        if os.geteuid() != 0:
            _skip("SLURM is not installed and installing it needs root (run scripts/slurm/local_slurm.sh install as root)")
        if not shutil.which("apt-get"):
            _skip("SLURM is not installed and apt-get is missing (scripts/slurm/local_slurm.sh installs Debian packages)")
    if os.geteuid() != 0:
        _skip("starting the local SLURM cluster needs root (munged runs as user munge, slurmd as root)")
    # pytest-xdist workers each run this session fixture: they share one cluster, registered (by process id)
    # in a users file under a file lock; the last live user stops it, and only if the tests started it.
    SLURM_DIR.parent.mkdir(parents=True, exist_ok=True)
    lock_path = SLURM_DIR.parent / f".{SLURM_DIR.name}.pytest.lock"
    users_path = SLURM_DIR.parent / f".{SLURM_DIR.name}.pytest.users"
    with _locked(lock_path):
        r = _script("install", timeout=900)
        if r.returncode != 0:
            _skip(f"could not install SLURM (local_slurm.sh install exited {r.returncode}):\n{r.stderr[-3000:]}")
        users = _read_users(users_path)
        if not users["pids"]:
            users["we_started"] = _script("status").returncode != 0
        r = _script("up", timeout=180)
        if r.returncode != 0:
            pytest.fail(f"local_slurm.sh up failed (exit {r.returncode}):\n{r.stdout}\n{r.stderr[-4000:]}")
        users["pids"].append(os.getpid())
        users_path.write_text(json.dumps(users))
    m = re.search(r"^export SLURM_CONF=(.+)$", r.stdout, re.M)
    assert m, f"local_slurm.sh up did not print 'export SLURM_CONF=...':\n{r.stdout}"
    etc = re.search(r"^etc_conf (\S+) (\S+)$", r.stdout, re.M)
    env = dict(os.environ, SLURM_CONF=m.group(1))
    try:
        yield {"env": env, "conf": m.group(1), "etc_conf_ours": bool(etc and etc.group(1) == "ours"),
               "etc_conf": etc.group(2) if etc else "/etc/slurm/slurm.conf", "stdout": r.stdout}
    finally:
        with _locked(lock_path):
            users = _read_users(users_path)
            users["pids"] = [p for p in users["pids"] if p != os.getpid()]
            if users["pids"]:
                users_path.write_text(json.dumps(users))
            else:
                users_path.unlink(missing_ok=True)
                if users["we_started"]:
                    d = _script("down", timeout=120)
                    assert d.returncode == 0, f"local_slurm.sh down failed:\n{d.stdout}\n{d.stderr}"


def _read_users(path: Path) -> dict:
    """The users file, without processes that have died (a killed test session must not pin the cluster)."""
    users = json.loads(path.read_text()) if path.is_file() else {"pids": [], "we_started": False}
    users["pids"] = [p for p in users["pids"] if Path(f"/proc/{p}").exists()]
    return users


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _need_jobstep_config(cluster):
    # Inside a job, snakemake's jobstep plugin drops SLURM_CONF before its nested srun, which then reads
    # the compiled-in /etc/slurm/slurm.conf; local_slurm.sh links it to our config only if it was free.
    if not cluster["etc_conf_ours"]:
        _skip(f"{cluster['etc_conf']} belongs to another SLURM installation; srun inside Snakemake's jobs "
              "would not find the private test cluster")


def _snakemake(args: list[str], cwd: Path, env: dict, timeout: int) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=timeout)
    return r


def _slurm_logs(workdir: Path) -> str:
    out = []
    for p in sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log")):
        out.append(f"--- {p}:\n{p.read_text(errors='replace')[-3000:]}")
    return "\n".join(out)


def _scontrol_job(job_id: str, env: dict) -> dict[str, str]:
    """``scontrol show job -o ID`` parsed into a dict (MinJobAge=300 keeps finished jobs visible)."""
    r = subprocess.run(["scontrol", "show", "job", "-o", job_id], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"scontrol show job {job_id}: {r.stderr}"
    return dict(kv.split("=", 1) for kv in r.stdout.split() if "=" in kv)


TINY_SNAKEFILE = """
localrules: all

rule all:
    input: "b.txt"

rule a:
    output: "a.txt"
    resources: mem_mb=300, runtime=5, cpus_per_task=2
    shell: "echo rule=a job=${{SLURM_JOB_ID:-}} > {output}"

rule b:
    input: "a.txt"
    output: "b.txt"
    threads: 2
    shell: "cat {input} > {output}; echo rule=b job=${{SLURM_JOB_ID:-}} >> {output}"
"""


def test_snakemake_jobs_run_as_slurm_jobs(slurm_cluster, tmp_path):
    _need_jobstep_config(slurm_cluster)
    env = slurm_cluster["env"]
    (tmp_path / "Snakefile").write_text(TINY_SNAKEFILE)
    r = _snakemake(["--profile", str(TEST_PROFILE), "--directory", str(tmp_path)], tmp_path, env, timeout=240)
    assert r.returncode == 0, f"snakemake failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}\n{_slurm_logs(tmp_path)}"

    lines = (tmp_path / "b.txt").read_text().splitlines()
    assert len(lines) == 2, lines
    ids = {}
    for line in lines:
        m = re.fullmatch(r"rule=(\w+) job=(\d*)", line)
        assert m, f"unexpected line {line!r}"
        assert m.group(2), f"rule {m.group(1)} did not run inside a SLURM job (empty SLURM_JOB_ID)"
        ids[m.group(1)] = m.group(2)
    assert set(ids) == {"a", "b"}
    assert ids["a"] != ids["b"], "the two rules should be two separate SLURM jobs"
    assert (tmp_path / "a.txt").read_text().strip() == f"rule=a job={ids['a']}"

    # Snakemake reported the same SLURM job ids it submitted ...
    for rule, jid in ids.items():
        assert re.search(rf"submitted with SLURM jobid {jid}\b", r.stdout + r.stderr), (rule, jid)
    # ... and SLURM allocated what the rule's resources (a) / the profile's default-resources (b: mem_mb=1000,
    # runtime=10, cpus_per_task = threads = 2) asked for.
    a, b = _scontrol_job(ids["a"], env), _scontrol_job(ids["b"], env)
    for job in (a, b):
        assert job["JobState"] == "COMPLETED", job
        assert job["Partition"] == "debug"
    assert a["NumCPUs"] == "2" and a["MinMemoryNode"] == "300M" and a["TimeLimit"] == "00:05:00", a
    assert b["NumCPUs"] == "2" and b["MinMemoryNode"] == "1000M" and b["TimeLimit"] == "00:10:00", b


# ---- Test B -------------------------------------------------------------------------------------------------
def _drop_field(d: dict, dotted: str) -> None:
    *parents, last = dotted.split(".")
    for p in parents:
        d = d.get(p) if isinstance(d, dict) else None
        if not isinstance(d, dict):
            return
    d.pop(last, None)


def _normalised_provenance(path: Path, workdir: Path) -> dict:
    import pyarrow.parquet as pq

    raw = (pq.read_schema(path).metadata or {}).get(b"veiqa.provenance")
    if raw is None:
        return {}
    text = raw.decode().replace(str(workdir.resolve()), "<workdir>").replace(str(workdir), "<workdir>")
    prov = json.loads(text)
    for f in PROVENANCE_FIELDS_THAT_MAY_DIFFER:
        _drop_field(prov, f)
    return prov


@pytest.mark.slow
def test_demo_workflow_slurm_equals_local(slurm_cluster, tmp_path):
    import pandas as pd

    snakefile, configfile = REPO / "Snakefile", REPO / "config.yaml"
    _need_jobstep_config(slurm_cluster)
    env = slurm_cluster["env"]

    import yaml

    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump(DEMO_CONFIG_OVERRIDE, sort_keys=False))
    common = ["-s", str(snakefile), "--configfile", str(configfile), str(override)]
    wd_local, wd_slurm = tmp_path / "local", tmp_path / "slurm"
    wd_local.mkdir()
    wd_slurm.mkdir()

    r = _snakemake([*common, "--directory", str(wd_local), "--cores", str(DEMO_LOCAL_CORES), *DEMO_TARGETS],
                   REPO, env, DEMO_TIMEOUT_S)
    assert r.returncode == 0, f"local run failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    r = _snakemake([*common, "--directory", str(wd_slurm), "--profile", str(TEST_PROFILE), *DEMO_TARGETS],
                   REPO, env, DEMO_TIMEOUT_S)
    assert r.returncode == 0, f"SLURM run failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}\n{_slurm_logs(wd_slurm)}"
    assert re.search(r"submitted with SLURM jobid \d+", r.stdout + r.stderr), "no job was submitted to SLURM"

    def parquets(wd: Path) -> list[str]:
        return sorted(str(p.relative_to(wd)) for p in (wd / "results").rglob("*.parquet"))

    files = parquets(wd_local)
    assert files, f"the local run wrote no Parquet file under {wd_local / 'results'}"
    slurm_files = parquets(wd_slurm)
    assert slurm_files == files, (
        "the two runs wrote different sets of Parquet files: only local "
        f"{sorted(set(files) - set(slurm_files))}, only SLURM {sorted(set(slurm_files) - set(files))}"
    )
    for rel in files:
        a, b = pd.read_parquet(wd_local / rel), pd.read_parquet(wd_slurm / rel)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=DEMO_RTOL, atol=DEMO_ATOL, obj=rel)
        pa_, pb_ = _normalised_provenance(wd_local / rel, wd_local), _normalised_provenance(wd_slurm / rel, wd_slurm)
        assert pa_ == pb_, f"{rel}: provenance differs:\nlocal: {pa_}\nslurm: {pb_}"


# ---- Test D: one switch decides the GPU request ----------------------------------------------------------------
GPU_CONFIG: dict = {
    "datasets": {"demo": {"loader": "demo", "source": "builtin", "references": ["coins"]}},
    "distortions": ["gb"],
    "measures": ["psnr"],
    "shard_size": 8,
}
GRADCAM_TARGET = "results/demo/vei/gb/box3/efficientnet_lite0-pretrained-network-last-own_top1-minmax/shard-0.parquet"


def _sbatch_lines(text: str, rule: str) -> list[str]:
    """The sbatch command lines the SLURM plugin built for ``rule`` (it logs them with --verbose)."""
    return [ln for ln in text.splitlines() if "sbatch" in ln and "--job-name" in ln and f"rule_{rule}" in ln]


@pytest.mark.slow
@pytest.mark.parametrize("gpus", [False, True])
def test_cluster_gpus_alone_decides_the_gradcam_gpu_request(slurm_cluster, tmp_path, gpus):
    """cluster.gpus=false: Grad-CAM's sbatch line asks for no GPU and the job runs on the CPU-only node;
    true: the line carries --gpus=1 (the test node has no GPU, so SLURM refuses or holds that job)."""
    import yaml

    _need_jobstep_config(slurm_cluster)
    env = slurm_cluster["env"]
    cfg = tmp_path / "gpu.yaml"
    cfg.write_text(yaml.safe_dump({**GPU_CONFIG, "cluster": {"gpus": gpus}}))
    args = ["-s", str(REPO / "Snakefile"), "--configfile", str(cfg), "--directory", str(tmp_path),
            "--profile", str(TEST_PROFILE), "--verbose", GRADCAM_TARGET]
    try:
        # With a GPU asked of a CPU-only node SLURM holds the job: a short wait is enough to read the sbatch line.
        r = _snakemake(args, REPO, env, timeout=150 if gpus else 600)
        text = r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:  # a job SLURM holds forever (no GPU anywhere) ends the wait
        text = (e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(errors="replace")
        r = None
    lines = _sbatch_lines(text, "gradcam")
    assert lines, f"no sbatch line for gradcam:\n{text[-6000:]}"
    if gpus:
        assert all("--gpus=1" in ln for ln in lines), lines
    else:
        assert not any("--gpus" in ln or "--gres" in ln for ln in lines), lines
        assert r is not None and r.returncode == 0, f"{text[-3000:]}\n{_slurm_logs(tmp_path)}"
        assert (tmp_path / GRADCAM_TARGET).is_file()
    # The other rules never ask for a GPU.
    for rule in ("stage", "pri"):
        assert not any("--gpus" in ln for ln in _sbatch_lines(text, rule)), rule


# ---- Test C -------------------------------------------------------------------------------------------------
FLAKY_SNAKEFILE = """
rule flaky:
    output: "ok.txt"
    resources: mem_mb=200, runtime=5, cpus_per_task=1, tries=lambda wc, attempt: attempt
    shell: "if [ {resources.tries} -lt 2 ]; then echo failing on attempt {resources.tries} >&2; exit 3; fi; "
           "echo attempt={resources.tries} job=${{SLURM_JOB_ID:-}} > {output}"
"""


def test_failed_job_is_retried_as_the_production_profile_says(slurm_cluster, tmp_path):
    """workflow/profiles/slurm (the one users run) resubmits a failed job: attempt 1 fails, attempt 2 succeeds."""
    _need_jobstep_config(slurm_cluster)
    env = slurm_cluster["env"]
    profile = REPO / "workflow" / "profiles" / "slurm"
    (tmp_path / "Snakefile").write_text(FLAKY_SNAKEFILE)
    r = _snakemake(["--profile", str(profile), "--directory", str(tmp_path),
                    "--slurm-init-seconds-before-status-checks", "2"], tmp_path, env, timeout=300)
    assert r.returncode == 0, f"snakemake failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}\n{_slurm_logs(tmp_path)}"
    m = re.fullmatch(r"attempt=(\d+) job=(\d+)", (tmp_path / "ok.txt").read_text().strip())
    assert m and m.group(1) == "2", (tmp_path / "ok.txt").read_text()
    jobs = re.findall(r"submitted with SLURM jobid (\d+)", r.stdout + r.stderr)
    assert len(set(jobs)) == 2 and m.group(2) == jobs[-1], jobs
    first = _scontrol_job(jobs[0], env)
    assert first["JobState"] == "FAILED", first
