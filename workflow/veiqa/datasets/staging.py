"""Staging: from a release (folder or archive) to ``manifest.parquet`` + ``rejected.parquet``.

:func:`stage` finds the release root (inside an archive it is extracted once into ``<out_dir>/raw`` by
:mod:`veiqa.datasets.archives`), runs the database's loader, keeps the configured distortions, opens every kept
image and its reference fully with Pillow (in a thread pool, hashing each file with SHA-256 from the same read), and
splits the rows into accepted (manifest) and rejected (with a reason). Nothing about one image stops the others;
only a missing or unparsable score file, a missing folder, or a bad setting raises :class:`~veiqa.io.VeiqaError`.

Paths in both tables are POSIX and relative to the release root. The root is stored in the Parquet provenance
metadata (``root_rel``: relative to the manifest's folder when the root lies inside it, as it does for extracted
archives, or inside the working directory, so two clones write the same bytes; else ``root``: absolute);
:func:`read_manifest` returns it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable

import pandas as pd

from ..contracts import MANIFEST, REJECT_REASONS, REJECTED
from ..io import VeiqaError, read_provenance, write_parquet
from ._common import PAPER_DISTORTIONS, Loader
from .archives import _SKIP_DIRS, ARCHIVE_SUFFIXES, extract_archive, is_archive

log = logging.getLogger("veiqa.datasets")

#: The columns of manifest.parquet and rejected.parquet, and the reason codes of the latter: their home is the
#: tables' contracts (veiqa.contracts.MANIFEST, REJECTED).
MANIFEST_COLUMNS: tuple[str, ...] = MANIFEST.names
REJECTED_COLUMNS: tuple[str, ...] = REJECTED.names
REASONS = REJECT_REASONS


def find_root(loader: Loader, base: Path, max_depth: int = 2) -> Path:
    """The folder at or below ``base`` (at most ``max_depth`` levels) that holds ``loader.markers``.

    ``base`` itself wins; else the single match at the shallowest depth; several matches at that depth raise
    :class:`VeiqaError`; none returns ``base`` (the loader then names what is missing).
    """
    if loader.looks_like_root(base):
        return base
    level = [base]
    for _ in range(max_depth):
        nxt = []
        for d in level:
            try:
                children = sorted(c for c in d.iterdir() if c.is_dir())
            except OSError:
                continue
            nxt.extend(c for c in children if not c.name.startswith(".") and c.name not in _SKIP_DIRS)
        hits = [d for d in nxt if loader.looks_like_root(d)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise VeiqaError(
                f"{base}: several folders look like a {loader.title} root ({', '.join(str(h) for h in hits)}); "
                f"name one of them as the source"
            )
        level = nxt
    return base


# ----------------------------------------------------------------------------------------------- image checks


@dataclass(frozen=True)
class Probe:
    """The result of opening one file: its size and SHA-256, or why it could not be used."""

    ok: bool
    width: int = 0
    height: int = 0
    sha256: str = ""
    code: str = ""
    reason: str = ""


def probe_image(path: Path) -> Probe:
    """Read ``path`` once, hash it (SHA-256) and decode it fully with Pillow (``Image.load``).

    Failure codes: ``missing`` (no such file), ``unreadable`` (OS error), ``not_image`` (empty or not a format
    Pillow recognises), ``truncated`` (decoder ran out of data), ``corrupt`` (any other decoding error).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Probe(False, code="missing", reason="file not found")
    except OSError as e:
        return Probe(False, code="unreadable", reason=f"cannot read file ({e.strerror or e})")
    digest = hashlib.sha256(data).hexdigest()
    if not data:
        return Probe(False, sha256=digest, code="not_image", reason="empty file (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            w, h = im.size
    except UnidentifiedImageError:
        return Probe(False, sha256=digest, code="not_image", reason=f"not an image ({len(data)} bytes in no format Pillow reads)")
    except Exception as e:  # Pillow raises OSError, ValueError, SyntaxError, struct.error, ... on damaged data
        msg = str(e) or type(e).__name__
        code = "truncated" if "truncat" in msg.lower() or isinstance(e, EOFError) else "corrupt"
        return Probe(False, sha256=digest, code=code, reason=f"cannot decode ({type(e).__name__}: {msg})")
    return Probe(True, width=int(w), height=int(h), sha256=digest)


# ----------------------------------------------------------------------------------------------- staging


def _select(df: pd.DataFrame, distortions, name: str, logger: logging.Logger) -> tuple[pd.DataFrame, list[str] | None]:
    """Rows whose ``distortion`` is in ``distortions`` (``None``, ``"all"`` or ``"*"``: every row)."""
    if distortions is None or (isinstance(distortions, str) and distortions.lower() in ("all", "*")):
        return df, None
    if isinstance(distortions, str):
        distortions = [distortions]
    wanted = [str(d).strip() for d in distortions]
    present = sorted(set(df["distortion"]))
    for d in wanted:
        if d in PAPER_DISTORTIONS:
            if d not in present:
                logger.warning("%s: no images of distortion %r in this database", name, d)
        elif d.startswith("other:"):
            if d not in present:
                raise VeiqaError(f"distortions: {d!r} does not occur in {name} (it has: {', '.join(present)})")
        else:
            raise VeiqaError(
                f"distortions: {d!r} is not a distortion name; use gb, wn, jpeg, jp2k, other:<database code> or 'all' "
                f"({name} has: {', '.join(present)})"
            )
    return df[df["distortion"].isin(wanted)].reset_index(drop=True), wanted


def _check_folders(df: pd.DataFrame, root: Path, loader: Loader) -> None:
    folders = sorted({str(PurePosixPath(p).parent) for p in pd.concat([df["path"], df["ref_path"]]).unique()})
    for f in folders:
        if f not in ("", ".") and not (root / f).is_dir():
            raise VeiqaError(f"{root}: folder {f}/ not found; the {loader.title} loader expects {loader.layout}")


def _table(rows: list[dict], columns: Iterable[str], dtypes: dict) -> pd.DataFrame:
    """A frame with exactly ``columns`` in that order and fixed dtypes, also when ``rows`` is empty."""
    columns = list(columns)
    return pd.DataFrame(rows, columns=columns).astype({c: dtypes[c] for c in columns})


def stage(
    name: str,
    source: str | os.PathLike,
    out_dir: str | os.PathLike,
    distortions: Iterable[str] | str | None = PAPER_DISTORTIONS,
    logger: logging.Logger | None = None,
    *,
    score_file: str | os.PathLike | None = None,
    check_expected_size: bool = True,
    workers: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stage database ``name`` from ``source`` into ``out_dir``; return ``(manifest, rejected)``.

    ``source`` is the release folder (or a folder holding it, up to two levels up) or a ``.zip``/``.tar[.gz|.bz2|.xz]``
    archive, extracted once into ``<out_dir>/raw``. ``distortions`` selects rows by their ``distortion`` value
    (default the paper's gb, wn, jpeg, jp2k; ``"all"`` keeps everything). ``score_file`` overrides the release's own
    score file. ``check_expected_size=False`` skips the database's fixed-size check (the check against each image's
    reference still applies). ``workers`` is the thread-pool size (default ``min(8, cpu_count)``).

    Writes ``<out_dir>/manifest.parquet`` (:data:`MANIFEST_COLUMNS`) and ``<out_dir>/rejected.parquet``
    (:data:`REJECTED_COLUMNS`), both always, atomically, with the root and settings in the provenance metadata.
    Each rejected image is logged at WARNING level with its id, path and reason.
    """
    from .loaders import LOADERS

    logger = logger or log
    if name not in LOADERS:
        raise VeiqaError(f"dataset {name!r} is unknown; known datasets: {', '.join(sorted(LOADERS))}")
    loader = LOADERS[name]
    source = Path(source)
    out_dir = Path(out_dir)
    if not source.exists():
        raise VeiqaError(f"{source}: {loader.title} source not found (a folder or a .zip/.tar* archive)")
    if source.is_dir():
        base = source
    elif is_archive(source):
        base = extract_archive(source, out_dir, logger)
    else:
        raise VeiqaError(f"{source}: not a folder and not a supported archive ({', '.join(ARCHIVE_SUFFIXES)})")
    root = find_root(loader, base).resolve()

    cand = loader(root, score_file=score_file)
    attrs = dict(cand.attrs)
    n_listed = len(cand)
    if root != base.resolve():
        logger.info("%s: release root found at %s", name, root)
    if loader.expected_rows is not None and n_listed != loader.expected_rows:
        logger.warning("%s: %s lists %d distorted images; the %s release has %d (a partial or modified score file?)",
                       name, attrs.get("score_file"), n_listed, loader.title, loader.expected_rows)
    kept, wanted = _select(cand, distortions, name, logger)
    _check_folders(kept, root, loader)

    paths = list(dict.fromkeys(list(kept["ref_path"]) + list(kept["path"])))
    n_workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(1, n_workers)) as pool:
        probes = dict(zip(paths, pool.map(lambda p: probe_image(root / p), paths)))

    accepted, rejected = [], []
    for rec in kept.to_dict("records"):
        img, ref = probes[rec["path"]], probes[rec["ref_path"]]
        code = reason = ""
        exp = (rec["expected_width"], rec["expected_height"])
        has_exp = check_expected_size and not (pd.isna(exp[0]) or pd.isna(exp[1]))
        if not img.ok:
            code, reason = img.code, img.reason
        elif not ref.ok:
            code, reason = "reference", f"reference {rec['ref_path']}: {ref.reason}"
        elif has_exp and (img.width, img.height) != (int(exp[0]), int(exp[1])):
            code = "size"
            reason = f"image is {img.width}x{img.height}, expected {int(exp[0])}x{int(exp[1])} for every {loader.title} image"
        elif has_exp and (ref.width, ref.height) != (int(exp[0]), int(exp[1])):
            code = "reference"
            reason = (f"reference {rec['ref_path']} is {ref.width}x{ref.height}, "
                      f"expected {int(exp[0])}x{int(exp[1])} for every {loader.title} image")
        elif (img.width, img.height) != (ref.width, ref.height):
            code = "size"
            reason = f"image is {img.width}x{img.height} but its reference {rec['ref_path']} is {ref.width}x{ref.height}"
        if code:
            logger.warning("%s: rejected %s (%s): %s", name, rec["image_id"], rec["path"], reason)
            rejected.append({**rec, "dataset": name, "reason_code": code, "reason": reason})
        else:
            accepted.append({**rec, "dataset": name, "width": img.width, "height": img.height,
                             "sha256": img.sha256, "ref_sha256": ref.sha256})

    dtypes = {**kept.dtypes.to_dict(), "dataset": "string", "width": "int64", "height": "int64", "sha256": "string",
              "ref_sha256": "string", "reason_code": "string", "reason": "string"}
    manifest = _table(accepted, MANIFEST_COLUMNS, dtypes)
    rej = _table(rejected, REJECTED_COLUMNS, dtypes)

    out_dir.mkdir(parents=True, exist_ok=True)
    out_abs = out_dir.resolve()

    def shown(p):  # inside the working directory: relative to the manifest's folder, so two clones write the same bytes
        if p is None:
            return None
        p = Path(p).resolve()
        inside = p.is_relative_to(out_abs) or p.is_relative_to(Path.cwd().resolve())
        return Path(os.path.relpath(p, out_abs)).as_posix() if inside else str(p)

    root_rel = shown(root) if not Path(shown(root)).is_absolute() else None

    meta = {
        "dataset": name,
        "title": loader.title,
        "root": str(root) if root_rel is None else None,  # absolute only outside the manifest's folder
        "root_rel": root_rel,
        "source": shown(source.resolve()),
        "score_file": shown(attrs.get("score_file")),
        "score_note": attrs.get("note"),
        "distortions": wanted if wanted is not None else "all",
        "check_expected_size": bool(check_expected_size),
        "counts": {"listed": n_listed, "kept": len(kept), "accepted": len(manifest), "rejected": len(rej)},
    }
    write_parquet(manifest, out_dir / "manifest.parquet", meta, contract=MANIFEST)
    write_parquet(rej, out_dir / "rejected.parquet", meta, contract=REJECTED)
    logger.info(
        "%s: %d images listed in %s, %d kept by distortions=%s, %d accepted, %d rejected -> %s",
        name, n_listed, attrs.get("score_file"), len(kept), meta["distortions"], len(manifest), len(rej),
        out_dir / "manifest.parquet",
    )
    return manifest, rej


def read_manifest(path: str | os.PathLike) -> tuple[pd.DataFrame, Path]:
    """Read a ``manifest.parquet`` (or ``rejected.parquet``) and return it with its release root.

    The root is ``root_rel`` resolved against the file's folder when recorded (extracted archives), else ``root``;
    ``root / row.path`` is then each image's file.
    """
    path = Path(path)
    if not path.is_file():
        raise VeiqaError(f"{path}: manifest not found (run dataset staging first)")
    prov = read_provenance(path)
    if "root" not in prov:
        raise VeiqaError(f"{path}: no dataset root in the Parquet metadata; not written by veiqa staging")
    root = (path.parent / prov["root_rel"]).resolve() if prov.get("root_rel") else Path(prov["root"])
    return pd.read_parquet(path), root
