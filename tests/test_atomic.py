"""Atomic outputs (veiqa.io), content stamps (veiqa.stamps) and shard row files (veiqa.shards): fast, no Snakemake."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from veiqa import io as vio
from veiqa import shards, stamps


def with_umask(mask, fn, *args):
    old = os.umask(mask)
    try:
        return fn(*args)
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask,file_mode,dir_mode",
                         [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750), (0o077, 0o600, 0o700)])
def test_outputs_honour_the_umask(tmp_path, mask, file_mode, dir_mode):
    # The reference: what a plain open() / mkdir() gives under the same umask.
    def write():
        vio.write_bytes_atomic(tmp_path / "a.bin", b"x")
        with open(tmp_path / "plain.bin", "wb"):
            pass
        with vio.atomic_dir(tmp_path / "d") as d:
            (d / "f").write_bytes(b"y")
        (tmp_path / "plain_dir").mkdir()

    with_umask(mask, write)
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == (tmp_path / "plain.bin").stat().st_mode & 0o777 == file_mode
    assert (tmp_path / "d").stat().st_mode & 0o777 == (tmp_path / "plain_dir").stat().st_mode & 0o777 == dir_mode
    held = os.umask(0)
    os.umask(held)
    assert vio.current_umask() == held


def test_atomic_dir_replaces_whole_or_not_at_all(tmp_path):
    out = tmp_path / "plots"
    with vio.atomic_dir(out) as d:
        (d / "one.png").write_bytes(b"1")
    with pytest.raises(RuntimeError):
        with vio.atomic_dir(out) as d:
            (d / "two.png").write_bytes(b"2")
            raise RuntimeError("killed half-way")
    assert sorted(p.name for p in out.iterdir()) == ["one.png"]  # the old folder, untouched
    with vio.atomic_dir(out) as d:
        (d / "three.png").write_bytes(b"3")
    assert sorted(p.name for p in out.iterdir()) == ["three.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plots"]  # no temporaries left beside it


def test_stale_temporaries_of_dead_processes_only_are_removed(tmp_path):
    # A child writes a temporary file and a temporary folder, then dies by SIGKILL inside the atomic blocks.
    code = ("import os, signal, sys; sys.path.insert(0, sys.argv[2]); from veiqa import io; from pathlib import Path\n"
            "with io.atomic_dir(Path(sys.argv[1]) / 'scatter') as d:\n"
            "    (d / 'a.png').write_bytes(b'a')\n"
            "    with io.atomic_path(Path(sys.argv[1]) / 'x.parquet') as t:\n"
            "        t.write_bytes(b'half')\n"
            "        os.kill(os.getpid(), signal.SIGKILL)\n")
    workflow_dir = str(Path(vio.__file__).resolve().parents[1])
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path), workflow_dir])
    assert r.returncode == -9
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 2 and all(vio.TEMP_RE.match(n) for n in left), left
    with vio.atomic_path(tmp_path / "mine.txt") as live:  # a temporary of a live process (this one) stays
        live.write_text("in progress")
        removed = vio.remove_stale_temporaries([tmp_path])
        assert live.exists()
    assert sorted(p.name for p in removed) == left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


def test_a_stamp_moves_only_on_a_real_change(tmp_path):
    src = tmp_path / "release"
    (src / "sub").mkdir(parents=True)
    (src / "scores.txt").write_text("a 1\n")
    (src / "sub" / "img.bin").write_bytes(b"\0\1")
    (src / ".DS_Store").write_bytes(b"ignored")
    stamp, cache = tmp_path / "source.sha256", tmp_path / "cache.json"
    stamps.write_stamp(src, stamp, cache)
    # The format of sha256sum, so `sha256sum -c` checks it from the release folder.
    r = subprocess.run(["sha256sum", "-c", str(stamp)], cwd=src, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.count(": OK") == 2, r.stdout + r.stderr
    first = stamp.stat().st_mtime_ns
    os.utime(src / "scores.txt", ns=(first + 10**9, first + 10**9))  # touched, same bytes
    stamps.write_stamp(src, stamp, cache)
    assert stamp.stat().st_mtime_ns == first
    (src / "scores.txt").write_text("a 2\n")
    os.utime(src / "scores.txt", ns=(first + 2 * 10**9, first + 2 * 10**9))
    stamps.write_stamp(src, stamp, cache)
    assert stamp.stat().st_mtime_ns != first
    assert subprocess.run(["sha256sum", "-c", str(stamp)], cwd=src, capture_output=True).returncode == 0


def test_a_missing_source_names_the_path(tmp_path):
    with pytest.raises(vio.VeiqaError, match="nowhere"):
        stamps.write_stamp(tmp_path / "nowhere", tmp_path / "s.sha256")


def manifest(tmp_path, rows) -> Path:
    df = pd.DataFrame(rows)
    p = tmp_path / "resources/ds/manifest.parquet"
    vio.write_parquet(df, p, meta={"root_rel": "source"})
    return p


def rows_of(ids, distortion, score=0.5):
    return [{"image_id": i, "distortion": distortion, "path": f"d/{i}.png", "sha256": i * 2, "width": 4,
             "height": 4, "score": score, "level": 1} for i in ids]


def test_shard_files_change_only_with_their_rows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    m = manifest(Path("."), rows_of(["a", "b", "c"], "gb") + rows_of(["x"], "wn"))
    assert shards.sync_shard_files(m, 2) == [("gb", 0), ("gb", 1), ("wn", 0)]
    f = {n: shards.shard_file("resources/ds", *n) for n in [("gb", 0), ("gb", 1), ("wn", 0)]}
    before = {n: p.stat().st_mtime_ns for n, p in f.items()}
    rows, root = shards.read_shard(f[("gb", 1)])
    assert list(rows.image_id) == ["c"] and "score" not in rows and root.resolve() == (tmp_path / "resources/ds/source")
    # New scores, a new distortion, the same gb/wn images: no shard file is rewritten.
    os.utime(m, ns=(before[("gb", 0)] + 10**9,) * 2)
    m = manifest(Path("."), rows_of(["a", "b", "c"], "gb", 0.9) + rows_of(["x"], "wn", 0.1) + rows_of(["j"], "jpeg"))
    assert ("jpeg", 0) in shards.sync_shard_files(m, 2)
    assert {n: p.stat().st_mtime_ns for n, p in f.items()} == before
    # A replaced image (new checksum) rewrites its own shard only.
    changed = rows_of(["a", "b", "c"], "gb")
    changed[2]["sha256"] = "new"
    m = manifest(Path("."), changed + rows_of(["x"], "wn"))
    shards.sync_shard_files(m, 2)
    after = {n: p.stat().st_mtime_ns for n, p in f.items()}
    assert after[("gb", 1)] != before[("gb", 1)] and after[("gb", 0)] == before[("gb", 0)]
    assert after[("wn", 0)] == before[("wn", 0)]


def test_quick_exit_flushes_logs_and_streams_then_exits_with_the_code(tmp_path):
    # A finished job ends with veiqa.smk.quick_exit (os._exit, no interpreter teardown): whatever it logged and
    # printed must still reach the log file and the pipes, and the exit status must be the one asked for.
    log = tmp_path / "job.log"
    code = (
        "import logging, sys\n"
        "from veiqa.smk import quick_exit\n"
        f"h = logging.FileHandler({str(log)!r}); lg = logging.getLogger('t'); lg.addHandler(h); lg.setLevel('INFO')\n"
        "lg.info('last line of the job')\n"
        "sys.stdout.write('partial line, no newline'); sys.stderr.write('err tail')\n"
        "quick_exit(3)\n"
        "print('never printed')\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 3
    assert p.stdout == "partial line, no newline"
    assert p.stderr == "err tail"
    assert log.read_text() == "last line of the job\n"


def test_shard_index_lists_what_sync_wrote(tmp_path, monkeypatch):
    """The shard_index job's list is the shards sync_shard_files wrote, read back (after a rewrite too)."""
    monkeypatch.chdir(tmp_path)
    m = manifest(Path("."), rows_of(["a", "b", "c"], "gb") + rows_of(["x"], "wn"))
    idx = Path("resources/ds/shards/index.json")
    assert shards.write_shard_index(m, 2, idx) == shards.read_shard_index(idx) == [("gb", 0), ("gb", 1), ("wn", 0)]
    shards.write_shard_index(m, 3, idx)
    assert shards.read_shard_index(idx) == [("gb", 0), ("wn", 0)]
