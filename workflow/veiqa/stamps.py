"""Content stamps: a checksum list of a dataset's source (or a weight file) that Snakemake can compare.

Snakemake decides what to rerun from modification times. A release folder's mtime says nothing about an edited
score file deep inside, and copying a file back can move an mtime without a change. :func:`write_stamp` writes a
``sha256sum``-style list (``<sha256>  <relative path>`` per file, sorted) of a file or of every file under a
folder, and rewrites it only when that list changed, so the stamp's mtime moves exactly on a real change and a rule
that takes the stamp as input reruns exactly then. Hashes are reused from a cache keyed by size, mtime and inode,
so an unchanged release costs one ``stat`` per file (the first stamp of a large release reads every byte once).

The workflow writes stamps in a rule (``source_stamp``, ``weight_stamp``), never while it builds its DAG: there it
only reads, with :func:`fingerprint` (the digest of the list, the cache read but not written), which it gives the
stamp rule as a parameter, so Snakemake reruns the rule exactly when the content changed (its ``params`` trigger).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .io import VeiqaError, sha256_file, write_bytes_atomic


def _files(source: Path) -> list[tuple[str, Path]]:
    if source.is_file():
        return [(source.name, source)]
    out = []
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith("."):
                p = Path(dirpath) / name
                out.append((p.relative_to(source).as_posix(), p))
    return sorted(out)


def digests(source: str | os.PathLike, cache: str | os.PathLike | None = None,
            update_cache: bool = True) -> list[tuple[str, str]]:
    """(relative path, sha256) of ``source`` (a file) or of every non-hidden file under it (a folder), sorted.
    Hashes are reused from ``cache`` while a file's size, mtime and inode stay; the cache is rewritten when it
    changed, unless ``update_cache`` is false (then nothing is written)."""
    source = Path(source).expanduser()
    if not source.exists():
        raise VeiqaError(f"{source}: not found (a dataset source or weight file named in the configuration)")
    old: dict = {}
    if cache is not None and Path(cache).is_file():
        try:
            old = json.loads(Path(cache).read_text())
        except ValueError:
            old = {}
    new, out = {}, []
    for rel, p in _files(source):
        st = p.stat()
        key = [st.st_size, st.st_mtime_ns, st.st_ino]
        hit = old.get(rel)
        sha = hit[1] if hit and hit[0] == key else sha256_file(p)
        new[rel] = [key, sha]
        out.append((rel, sha))
    if cache is not None and update_cache and new != old:
        write_bytes_atomic(cache, json.dumps(new, sort_keys=True).encode())
    return out


def _listing(pairs: list[tuple[str, str]]) -> bytes:
    return "".join(f"{sha}  {rel}\n" for rel, sha in pairs).encode()


def fingerprint(source: str | os.PathLike, cache: str | os.PathLike | None = None) -> str:
    """The sha256 of the checksum list :func:`write_stamp` would write for ``source``; writes nothing (the cache is
    read, not updated: what the workflow computes while it builds its DAG)."""
    return hashlib.sha256(_listing(digests(source, cache, update_cache=False))).hexdigest()


def write_stamp(source: str | os.PathLike, stamp: str | os.PathLike, cache: str | os.PathLike | None = None) -> Path:
    """Write the checksum list of ``source`` to ``stamp`` only when it differs from what is there; return ``stamp``."""
    text = _listing(digests(source, cache))
    stamp = Path(stamp)
    if not (stamp.is_file() and stamp.read_bytes() == text):
        write_bytes_atomic(stamp, text)
    return stamp
