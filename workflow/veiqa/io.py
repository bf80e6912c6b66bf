"""Small I/O helpers shared by every stage: atomic writes, Parquet with provenance, image reading.

Every output of the workflow is written through :func:`atomic_path` (write to a temporary file in the same
folder, fsync, ``os.replace``), so a crash never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import socket
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from .errors import ImageError, VeiqaError  # noqa: F401  (re-exported: their home is veiqa.errors)
from .images import decode



PROVENANCE_KEY = b"veiqa.provenance"


def current_umask() -> int:
    """The process's umask (read from /proc where it can be, so no thread ever sees a changed umask)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"
#: Temporaries are named ``.<final name>.veiqa-<host>-<pid>-<random><suffix>`` beside their final path, so a run
#: killed by SIGKILL leaves files :func:`remove_stale_temporaries` can attribute to a process that is gone.
TEMP_RE = re.compile(r"^\..+\.veiqa-(?P<host>[A-Za-z0-9-]+)-(?P<pid>\d+)-[^/]*$")


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.veiqa-{_HOST}-{os.getpid()}-"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path`` atomically.

    The file gets the permissions a plain ``open()`` would give it (0666 less the umask), not ``mkstemp``'s 0600.
    On any exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=suffix or path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~current_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on success it replaces ``path`` (a folder output).

    The folder is built completely under its temporary name and renamed into place, so a kill leaves either the
    old folder, no folder, or the whole new one, never a partial one under the final name. Mode 0777 less the umask.
    """
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), dir=path.parent))
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o777 & ~current_umask())
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(tmp_path, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            shutil.rmtree(tmp_path)


def _pid_alive(pid: int) -> bool:
    """True while ``pid`` runs. A zombie (killed, not yet reaped: common in containers whose init does not reap
    orphans) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(roots, log=None) -> list[Path]:
    """Remove the temporaries of :func:`atomic_path` / :func:`atomic_dir` whose writing process is gone.

    Only names written on this host by a process id that no longer exists are removed; a temporary of a live
    process, or of another host sharing the file system (a cluster node), is left alone. Returns what was removed.
    """
    import shutil

    removed = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in list(dirnames) + filenames:
                m = TEMP_RE.match(name)
                if not m or m["host"] != _HOST or _pid_alive(int(m["pid"])):
                    continue
                p = Path(dirpath) / name
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                    dirnames.remove(name)
                else:
                    p.unlink(missing_ok=True)
                removed.append(p)
    if removed and log:
        log(f"veiqa: removed {len(removed)} temporary file(s) left by killed jobs (e.g. {removed[0]})")
    return removed


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def seed_from(*parts: Any) -> int:
    """A 64-bit seed derived from strings (e.g. an image id): the same inputs give the same seed everywhere."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "little")


def config_hash(obj: Any) -> str:
    """SHA-256 of a JSON-serialisable object with sorted keys (short, for provenance)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def package_versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("veiqa", "torch", "torchvision", "timm", "numpy", "scipy", "scikit-image", "pillow", "pandas",
                 "pyarrow"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


_RUN_CONTEXT: dict[str, Any] = {}


def set_run_context(**items: Any) -> None:
    """Provenance shared by every file a process writes (the rule, its parameters' hash, the config's hash)."""
    _RUN_CONTEXT.update(items)


def provenance(extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The provenance block stored in every Parquet file's metadata.

    Deliberately free of timestamps and host names, so two runs of the same inputs give identical files.
    """
    prov: dict[str, Any] = {"versions": package_versions(), **_RUN_CONTEXT}
    if extra:
        prov.update(extra)
    return prov


def write_parquet(df, path: str | os.PathLike, meta: Mapping[str, Any] | None = None, contract=None) -> None:
    """Write a pandas DataFrame to Parquet atomically, with ``meta`` merged into the provenance metadata.

    ``contract`` (a :class:`veiqa.contracts.Contract`): the table is checked first (:func:`veiqa.contracts.check`,
    :class:`veiqa.contracts.ContractError` naming the table, ``path`` and the fault), so a bad table never lands."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if contract is not None:
        from .contracts import check

        check(df, contract, path)
    table = pa.Table.from_pandas(df, preserve_index=False)
    md = dict(table.schema.metadata or {})
    md[PROVENANCE_KEY] = json.dumps(provenance(meta), sort_keys=True, default=str).encode()
    table = table.replace_schema_metadata(md)
    with atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_provenance(path: str | os.PathLike) -> dict[str, Any]:
    import pyarrow.parquet as pq

    md = pq.read_schema(path).metadata or {}
    raw = md.get(PROVENANCE_KEY)
    return json.loads(raw) if raw else {}


def read_image(path: str | os.PathLike, mode: str = "RGB") -> np.ndarray:
    """Read an image file fully into a uint8 array (H×W×3 for RGB, H×W for L), by the rules of
    :mod:`veiqa.images` (16-bit images scaled by their bit depth; transparency, CMYK, float and multi-frame files
    rejected by name).

    Raises :class:`ImageError` naming the file when it is missing, truncated, not an image or not faithfully readable.
    """
    return decode(path, mode)


def save_png(path: str | os.PathLike, arr: np.ndarray) -> None:
    """Save a uint8 array losslessly as PNG, atomically, with no timestamps (byte-identical reruns).

    zlib level 1: a third of the encoding time of Pillow's default level 6 on the demo photographs (21 vs 61 ms
    for a 512×512 RGB image) for files about 10 % larger; decoding takes the same time. The pixels are the same."""
    from PIL import Image

    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(arr).save(tmp, format="PNG", optimize=False, compress_level=1)
