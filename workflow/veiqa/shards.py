"""Sharding: the image list is known only after staging, so later rules work on shards of N images.

Shards are per dataset and distortion: shard ``k`` holds the images of that distortion, sorted by image id,
at positions ``[k*N, (k+1)*N)``. The layout depends only on the manifest and N.

:func:`sync_shard_files` (run by the ``shard_index`` job, :func:`write_shard_index`, never while Snakemake builds
its DAG) writes each shard's rows (only the columns the shard rules read: no scores) to
``resources/<ds>/shards/<distortion>/shard-<k>.parquet`` and rewrites a file only when its content changed. The
shard rules take that file as input, so re-staging after an edited score, or after adding a distortion, reruns no
PRI, Grad-CAM or measure job whose images are unchanged; a replaced image reruns its own shard only.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
from pathlib import Path

import pandas as pd


@functools.lru_cache(maxsize=64)
def _read_manifest(path: str, mtime_ns: int) -> pd.DataFrame:
    return pd.read_parquet(path)


def read_manifest(path: str | os.PathLike) -> pd.DataFrame:
    """Read a manifest, cached by path and modification time (input functions call this many times)."""
    p = str(path)
    return _read_manifest(p, os.stat(p).st_mtime_ns)


def dataset_root(manifest_path: str | os.PathLike) -> Path:
    """The folder the manifest's ``path`` and ``ref_path`` columns are relative to (see :mod:`veiqa.datasets`)."""
    from .io import read_provenance

    prov = read_provenance(manifest_path)
    if prov.get("root_rel"):
        return Path(manifest_path).parent / prov["root_rel"]
    return Path(prov["root"])


def shard_counts(manifest: pd.DataFrame, size: int) -> dict[str, int]:
    """Number of shards per distortion present in the manifest."""
    counts = manifest["distortion"].value_counts()
    return {d: math.ceil(n / size) for d, n in sorted(counts.items())}


def select(manifest: pd.DataFrame, distortion: str, k: int, size: int) -> pd.DataFrame:
    """Rows of shard ``k`` of ``distortion``."""
    part = manifest[manifest["distortion"] == distortion].sort_values("image_id", kind="stable")
    if k < 0 or k * size >= max(len(part), 1):
        raise IndexError(f"shard {k} of distortion {distortion!r} does not exist "
                         f"({len(part)} images, {size} per shard)")
    return part.iloc[k * size:(k + 1) * size].reset_index(drop=True)


def shard_names(manifest_path: str | os.PathLike, size: int) -> list[tuple[str, int]]:
    """(distortion, k) for every shard of a staged dataset."""
    counts = shard_counts(read_manifest(Path(manifest_path)), size)
    return [(d, k) for d, n in counts.items() for k in range(n)]


def shard_rows(manifest_path: str | os.PathLike, distortion: str, k: int, size: int) -> tuple[pd.DataFrame, Path]:
    """The manifest rows of one shard and the folder their paths are relative to (what every shard rule reads)."""
    return select(read_manifest(manifest_path), distortion, int(k), size), dataset_root(manifest_path)


#: The manifest columns a shard rule reads (scores are deliberately absent: they matter only to the aggregation).
#: The reference's path and checksum serve the FR ceiling (veiqa.controls).
SHARD_COLUMNS = ["image_id", "distortion", "path", "sha256", "width", "height", "ref_path", "ref_sha256"]


def shard_file(dataset_dir: str | os.PathLike, distortion: str, k: int) -> Path:
    return Path(dataset_dir) / "shards" / distortion / f"shard-{k}.parquet"


def _content_hash(rows: pd.DataFrame, root: str) -> str:
    h = hashlib.sha256(root.encode() + b"\0" + ",".join(rows.columns).encode())
    h.update(pd.util.hash_pandas_object(rows, index=False).values.tobytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=64)
def _sync(manifest_path: str, mtime_ns: int, size: int) -> tuple[tuple[str, int], ...]:
    from .io import read_provenance, write_parquet

    manifest = _read_manifest(manifest_path, mtime_ns)
    root = Path(os.path.abspath(dataset_root(manifest_path)))
    inside = root.is_relative_to(Path.cwd())
    names = []
    for d, n in shard_counts(manifest, size).items():
        for k in range(n):
            out = shard_file(Path(manifest_path).parent, d, k)
            # A root inside the working directory is stored relative to the shard file: no absolute path in the bytes.
            root_s = Path(os.path.relpath(root, os.path.abspath(out.parent))).as_posix() if inside else str(root)
            rows = select(manifest, d, k, size)
            rows = rows[[c for c in SHARD_COLUMNS if c in rows.columns]]
            content = _content_hash(rows, root_s)
            if not (out.is_file() and read_provenance(out).get("content") == content):
                write_parquet(rows, out, meta={"content": content, "root": root_s,
                                               "root_is_relative": inside, "shard": [d, k, size]})
            names.append((d, k))
    return tuple(names)


def sync_shard_files(manifest_path: str | os.PathLike, size: int) -> list[tuple[str, int]]:
    """Write every shard's rows file whose content changed (see the module docstring); return (distortion, k) pairs."""
    p = str(manifest_path)
    return list(_sync(p, os.stat(p).st_mtime_ns, size))


def write_shard_index(manifest_path: str | os.PathLike, size: int, out: str | os.PathLike) -> list[tuple[str, int]]:
    """The ``shard_index`` job: write the shard files whose rows changed (:func:`sync_shard_files`), then the list of
    every shard, (distortion, k), to ``out`` (JSON, atomically). The DAG reads that list; nothing is written while
    Snakemake builds it."""
    import json

    from .io import write_bytes_atomic

    names = sync_shard_files(manifest_path, size)
    write_bytes_atomic(out, json.dumps({"shard_size": size, "shards": names}, indent=1).encode())
    return names


def read_shard_index(path: str | os.PathLike) -> list[tuple[str, int]]:
    """(distortion, k) of every shard, from the file :func:`write_shard_index` wrote (cached by path and
    modification time: every shard's input function asks)."""
    p = str(path)
    return list(_read_index(p, os.stat(p).st_mtime_ns))


@functools.lru_cache(maxsize=64)
def _read_index(path: str, mtime_ns: int) -> tuple[tuple[str, int], ...]:
    import json

    return tuple((d, int(k)) for d, k in json.loads(Path(path).read_text())["shards"])


def read_shard(path: str | os.PathLike) -> tuple[pd.DataFrame, Path]:
    """A shard's rows (written by :func:`sync_shard_files`) and the folder their paths are relative to."""
    from .io import read_provenance

    prov = read_provenance(path)
    root = Path(prov["root"])
    return pd.read_parquet(path), (Path(path).parent / root if prov.get("root_is_relative") else root)
