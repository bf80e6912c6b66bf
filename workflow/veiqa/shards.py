"""Sharding: the image list is known only after staging, so later rules work on shards of N images.

Shards are per dataset and distortion: shard ``k`` holds the images of that distortion, sorted by image id,
at positions ``[k*N, (k+1)*N)``. The layout depends only on the manifest and N, so every rule recomputes it
identically without an extra file.
"""

from __future__ import annotations

import functools
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
        raise IndexError(f"shard {k} of distortion {distortion!r} does not exist ({len(part)} images, {size} per shard)")
    return part.iloc[k * size:(k + 1) * size].reset_index(drop=True)


def shard_names(manifest_path: str | os.PathLike, size: int) -> list[tuple[str, int]]:
    """(distortion, k) for every shard of a staged dataset."""
    counts = shard_counts(read_manifest(Path(manifest_path)), size)
    return [(d, k) for d, n in counts.items() for k in range(n)]


def shard_rows(manifest_path: str | os.PathLike, distortion: str, k: int, size: int) -> tuple[pd.DataFrame, Path]:
    """The manifest rows of one shard and the folder their paths are relative to (what every shard rule reads)."""
    return select(read_manifest(manifest_path), distortion, int(k), size), dataset_root(manifest_path)
