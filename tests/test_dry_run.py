"""A dry run changes nothing (issue 25.3): parsing the workflow and building its DAG neither removes temporaries
nor records a lock owner; a real run's ``onstart`` does both (tests/test_faults.py covers resuming after kill -9)."""
import socket

from test_workflow import snakemake

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
