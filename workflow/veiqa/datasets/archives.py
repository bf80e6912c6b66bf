"""Archives of a release: extracting a zip or tar (any compression) once, safely, into ``<out_dir>/raw``.

Member names that would land outside the extraction folder are refused; links and devices are skipped; the
extraction is atomic (a temporary folder renamed onto ``raw``) and recorded by a marker so it is done once.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from ..io import VeiqaError

log = logging.getLogger("veiqa.datasets")

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz")
_MARKER = ".veiqa_extracted.json"
_SKIP_DIRS = {"__MACOSX"}


def is_archive(path: str | os.PathLike) -> bool:
    """Whether ``path``'s name ends with one of :data:`ARCHIVE_SUFFIXES` (case-insensitive)."""
    return Path(path).name.lower().endswith(ARCHIVE_SUFFIXES)


def _safe_target(archive: Path, name: str, dest: Path) -> Path | None:
    """Where archive member ``name`` goes under ``dest``; ``None`` for members to skip (``__MACOSX``).

    Refuses (``VeiqaError``) absolute names, drive letters and any ``..`` component: nothing may land outside ``dest``.
    """
    n = name.replace("\\", "/")
    p = PurePosixPath(n)
    if n.startswith("/") or re.match(r"^[A-Za-z]:", n) or ".." in p.parts:
        raise VeiqaError(f"{archive}: member {name!r} would be written outside the extraction folder; refusing to extract")
    parts = [q for q in p.parts if q not in ("", ".")]
    if not parts or parts[0] in _SKIP_DIRS:
        return None
    target = dest.joinpath(*parts)
    if os.path.commonpath([os.path.abspath(target), os.path.abspath(dest)]) != os.path.abspath(dest):
        raise VeiqaError(f"{archive}: member {name!r} would be written outside the extraction folder; refusing to extract")
    return target


def _extract_zip(archive: Path, dest: Path, logger: logging.Logger) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = _safe_target(archive, info.filename, dest)
            if target is None:
                continue
            mode = (info.external_attr >> 16) & 0o170000
            if mode == 0o120000:
                logger.warning("%s: skipping symbolic link %s", archive, info.filename)
                continue
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def _extract_tar(archive: Path, dest: Path, logger: logging.Logger) -> None:
    with tarfile.open(archive, mode="r:*") as tf:
        for m in tf:
            target = _safe_target(archive, m.name, dest)
            if target is None:
                continue
            if m.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif m.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(m)
                with src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            else:
                logger.warning("%s: skipping %s (not a regular file or folder: links and devices are not extracted)",
                               archive, m.name)


def extract_archive(archive: str | os.PathLike, out_dir: str | os.PathLike,
                    logger: logging.Logger | None = None) -> Path:
    """Extract ``archive`` (zip or tar, any compression) into ``<out_dir>/raw`` once; return that folder.

    Extraction goes to a temporary folder renamed onto ``raw`` at the end, with a marker recording the archive's
    path, size and modification time; a later call with an unchanged archive returns at once, a changed archive is
    extracted afresh. Member names that would escape the folder are refused; links are skipped.
    """
    logger = logger or log
    archive = Path(archive).resolve()
    out_dir = Path(out_dir)
    raw = out_dir / "raw"
    st = archive.stat()
    stamp = {"archive": str(archive), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    marker = raw / _MARKER
    if marker.is_file():
        try:
            if json.loads(marker.read_text()) == stamp:
                logger.info("%s: already extracted into %s", archive, raw)
                return raw
        except (OSError, ValueError):
            pass
    elif raw.exists():
        raise VeiqaError(f"{raw}: exists but was not made by veiqa staging (no {_MARKER}); remove it or choose another out_dir")
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".raw.", dir=out_dir))
    try:
        logger.info("%s: extracting into %s", archive, raw)
        try:
            if archive.name.lower().endswith(".zip"):
                _extract_zip(archive, tmp, logger)
            else:
                _extract_tar(archive, tmp, logger)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, RuntimeError) as e:
            raise VeiqaError(f"{archive}: cannot extract archive ({type(e).__name__}: {e})") from e
        (tmp / _MARKER).write_text(json.dumps(stamp, sort_keys=True))
        if raw.exists():
            shutil.rmtree(raw)
        os.replace(tmp, raw)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return raw
