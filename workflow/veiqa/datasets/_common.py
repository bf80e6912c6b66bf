"""Shared pieces of the dataset loaders: the candidate-table schema, case-insensitive file lookup, score-file errors.

A *loader* reads one IQA release rooted at a directory and returns the **candidate table**: one row per distorted
image listed in the release's score file, whether or not the file is actually on disk (staging checks that).
Columns (see :data:`CANDIDATE_COLUMNS`):

``image_id``
    Unique, stable id without slashes: the distorted file's stem in lower case (``i01_01_5``, ``1600.awgn.1``,
    ``cim1_1_1``); LIVE, whose files are ``img<N>.bmp`` in each distortion folder, uses ``<folder>_img<N>``.
``ref_id``
    The reference's file stem in lower case (``i01``, ``1600``, ``buildings``).
``distortion``
    ``gb`` (Gaussian blur), ``wn`` (additive white Gaussian noise), ``jpeg``, ``jp2k``, or ``other:<db code>``.
``db_distortion``
    The database's own code or name for the distortion (``01``, ``awgn``, ``gblur``, ...).
``level``
    Distortion level where the database defines discrete levels (nullable ``Int64``; LIVE has none).
``path``, ``ref_path``
    POSIX paths relative to the release root. When the file exists they are spelled as on disk (releases are
    case-inconsistent: TID2013 lists ``I01_11_1.BMP`` next to ``i01_01_2.bmp``); otherwise as the score file names it.
``score``, ``score_kind``, ``higher_is_better``, ``score_min``, ``score_max``
    The subjective (or, for the demo, proxy) score, its kind (``MOS``, ``DMOS`` or ``proxy``), its direction and
    the range of its scale; each loader documents where the range comes from.
``expected_width``, ``expected_height``
    The size every image of the database has, where it is fixed (nullable ``Int64``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from ..io import VeiqaError
from ..pri import DISTORTIONS

#: The distortion codes a loader maps its own types onto (the registry :data:`veiqa.pri.DISTORTIONS`).
PAPER_DISTORTIONS: tuple[str, ...] = tuple(DISTORTIONS)

CANDIDATE_COLUMNS: tuple[str, ...] = (
    "image_id",
    "ref_id",
    "distortion",
    "db_distortion",
    "level",
    "path",
    "ref_path",
    "score",
    "score_kind",
    "higher_is_better",
    "score_min",
    "score_max",
    "expected_width",
    "expected_height",
)

_DTYPES: dict[str, str] = {
    "image_id": "string",
    "ref_id": "string",
    "distortion": "string",
    "db_distortion": "string",
    "level": "Int64",
    "path": "string",
    "ref_path": "string",
    "score": "float64",
    "score_kind": "string",
    "higher_is_better": "bool",
    "score_min": "float64",
    "score_max": "float64",
    "expected_width": "Int64",
    "expected_height": "Int64",
}


def other(code: str) -> str:
    """The ``distortion`` value of a distortion outside the paper's four: ``other:<db code>``."""
    return f"other:{code}"


class FileIndex:
    """Case-insensitive lookup of the files under one folder of a release (built once, by one directory walk).

    ``resolve("distorted_images/I01_11_1.BMP")`` returns the path as spelled on disk (``distorted_images/i01_11_1.bmp``)
    or, when no file matches, the name as given. Paths are POSIX, relative to ``root``.
    """

    def __init__(self, root: Path, folders: Iterable[str]):
        self.root = Path(root)
        self._map: dict[str, str] = {}
        for folder in folders:
            actual = find_child(self.root, folder)
            if actual is None:
                continue
            for dirpath, _dirnames, filenames in os.walk(actual):
                rel_dir = Path(dirpath).relative_to(self.root).as_posix()
                for fn in filenames:
                    rel = f"{rel_dir}/{fn}" if rel_dir != "." else fn
                    self._map.setdefault(rel.lower(), rel)

    def resolve(self, rel: str) -> str:
        return self._map.get(rel.lower(), rel)


def find_child(parent: Path, name: str) -> Path | None:
    """``parent/name`` if it exists, else the one child whose name matches case-insensitively, else ``None``.

    ``name`` may contain ``/``; each component is matched in turn.
    """
    cur = Path(parent)
    for part in Path(name).parts:
        exact = cur / part
        if exact.exists():
            cur = exact
            continue
        if not cur.is_dir():
            return None
        matches = [c for c in cur.iterdir() if c.name.lower() == part.lower()]
        if not matches:
            return None
        cur = sorted(matches)[0]
    return cur


def locate_score_file(root: Path, candidates: Iterable[str], score_file: str | os.PathLike | None, what: str) -> Path:
    """The score file to read: ``score_file`` when given, else the first of ``candidates`` found under ``root``.

    Raises :class:`VeiqaError` naming the files looked for when there is none.
    """
    if score_file is not None:
        p = Path(score_file)
        if not p.is_file():
            raise VeiqaError(f"{p}: score file not found (given as the {what} score file)")
        return p
    candidates = list(candidates)
    for name in candidates:
        p = find_child(root, name)
        if p is not None and p.is_file():
            return p
    raise VeiqaError(
        f"{root}: no {what} score file found; expected one of {', '.join(candidates)} in this folder "
        f"(or pass score_file=...)"
    )


def read_whitespace_table(path: Path, columns: list[str], types: Mapping[str, Callable]) -> pd.DataFrame:
    """Read a whitespace-separated text file with no header (e.g. ``"5.51429 I01_01_1.bmp"`` per line).

    Blank lines are skipped; CRLF line ends are accepted. Any line with the wrong number of fields or a value that
    does not convert raises :class:`VeiqaError` naming the file, the line number and the line.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise VeiqaError(f"{path}: score file is not UTF-8/ASCII text ({e})") from e
    except OSError as e:
        raise VeiqaError(f"{path}: cannot read score file ({e})") from e
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(columns):
            raise VeiqaError(
                f"{path}: line {lineno} has {len(fields)} fields, expected {len(columns)} "
                f"({' '.join(columns)}): {line.strip()[:80]!r}"
            )
        row = {}
        for col, val in zip(columns, fields):
            try:
                row[col] = types[col](val)
            except ValueError as e:
                raise VeiqaError(f"{path}: line {lineno}: {col} {val!r} is not valid ({e})") from e
        rows.append(row)
    if not rows:
        raise VeiqaError(f"{path}: score file has no rows")
    return pd.DataFrame(rows, columns=columns)


def read_csv_checked(path: Path, need: list[str], dtype: Mapping[str, type], expected: str) -> pd.DataFrame:
    """A CSV score file with the columns ``need`` and at least one row, or an error naming the file and the problem
    (``expected`` describes the header in the message)."""
    try:
        t = pd.read_csv(path, dtype=dict(dtype))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise VeiqaError(f"{path}: cannot parse CSV ({type(e).__name__}: {e})") from e
    missing = [c for c in need if c not in t.columns]
    if missing:
        raise VeiqaError(f"{path}: missing column(s) {', '.join(missing)} (expected {expected})")
    if t.empty:
        raise VeiqaError(f"{path}: score file has no rows")
    return t


def finite_score(value: str) -> float:
    """Parse a score, refusing NaN and infinities."""
    v = float(value)
    if not np.isfinite(v):
        raise ValueError("not a finite number")
    return v


@dataclass(frozen=True)
class ScoreScale:
    """What one database's score is, the same for all its rows: ``kind`` (``MOS``, ``DMOS`` or ``proxy``), its
    direction, the ``(min, max)`` range of its scale and the fixed image ``size`` (width, height) or None."""

    kind: str
    higher_is_better: bool
    range: tuple[float, float]
    size: tuple[int, int] | None = None

    def row(self, image_id: str, ref_id: str, distortion: str, db_distortion: str, level: int | None, path: str,
            ref_path: str, score: float) -> dict:
        """One candidate-table row (the columns of :data:`CANDIDATE_COLUMNS`) with this scale's fields filled in."""
        width, height = self.size if self.size is not None else (None, None)
        return {
            "image_id": image_id, "ref_id": ref_id, "distortion": distortion, "db_distortion": db_distortion,
            "level": level, "path": path, "ref_path": ref_path, "score": float(score), "score_kind": self.kind,
            "higher_is_better": self.higher_is_better, "score_min": self.range[0], "score_max": self.range[1],
            "expected_width": width, "expected_height": height,
        }

    def table(self, rows: list[dict], *, dataset: str, score_file: Path, note: str = "") -> pd.DataFrame:
        """The candidate table of rows made by :meth:`row` (:func:`make_table`)."""
        return make_table(rows, dataset=dataset, score_file=score_file, note=note)


def make_table(rows: list[dict], *, dataset: str, score_file: Path, note: str = "") -> pd.DataFrame:
    """Build the candidate table from row dicts with the canonical columns and dtypes.

    Raises :class:`VeiqaError` naming ``score_file`` when an image id occurs twice (a duplicated score-file row).
    ``dataset``, ``score_file`` and ``note`` go into ``DataFrame.attrs`` for staging's provenance.
    """
    df = pd.DataFrame(rows, columns=list(CANDIDATE_COLUMNS))
    df = df.astype(_DTYPES)
    dup = df["image_id"][df["image_id"].duplicated()]
    if len(dup):
        raise VeiqaError(
            f"{score_file}: {len(dup)} image(s) listed more than once, e.g. {dup.iloc[0]!r}; a score file must list each image once"
        )
    df.attrs.update({"dataset": dataset, "score_file": str(score_file), "note": note})
    return df


class Loader:
    """One database's loader: ``loader(root, score_file=None)`` returns its candidate table.

    ``markers`` are names (folders or files, matched case-insensitively) whose presence marks a folder as this
    release's root; staging uses them to find the root inside an archive or a parent folder. ``layout`` describes
    the expected layout for error messages. ``expected_rows`` is the number of distorted images the release lists
    (staging warns when a score file yields another number, e.g. a truncated copy).
    """

    def __init__(self, name: str, title: str, load: Callable[..., pd.DataFrame], markers: tuple[str, ...], layout: str,
                 expected_rows: int | None = None):
        self.name = name
        self.expected_rows = expected_rows
        self.title = title
        self._load = load
        self.markers = markers
        self.layout = layout
        self.__doc__ = load.__doc__

    def __call__(self, root: str | os.PathLike, score_file: str | os.PathLike | None = None) -> pd.DataFrame:
        root = Path(root)
        if not root.is_dir():
            raise VeiqaError(f"{root}: {self.title} root folder not found (expected {self.layout})")
        return self._load(root, score_file=score_file)

    def looks_like_root(self, folder: Path) -> bool:
        """Whether ``folder`` contains all of this loader's marker names."""
        return all(find_child(folder, m) is not None for m in self.markers)

    def __repr__(self) -> str:
        return f"<veiqa dataset loader {self.name!r} ({self.title})>"
