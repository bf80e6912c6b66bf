"""CSIQ (Categorical Subjective Image Quality; Larson & Chandler 2010).

Release layout::

    src_imgs/<name>.png                                (30 references, 512x512)
    dst_imgs/<type>/<name>.<TYPE>.<level>.png          (866 distorted)
    csiq.beta.xlsx  (official sheet; all_by_image: image, dst_idx, dst_type, dst_lev, dmos_std, dmos)
    csiq_label.txt  (alternative: "<name>.<TYPE>.<level>.png <dmos>" per line, 866 lines)

Folders are ``awgn``, ``jpeg``, ``jpeg2000``, ``fnoise``, ``blur``, ``contrast``; the type token in the file name is
spelled inconsistently (``1600.AWGN.1.png``, ``1600.jpeg2000.1.png``), so files are matched case-insensitively.
The spreadsheet's ``dst_type`` names map to folders as noise→awgn, jpeg→jpeg, "jpeg 2000"→jpeg2000, fnoise→fnoise,
blur→blur, contrast→contrast; ``distortion``: awgn→wn, blur→gb, jpeg→jpeg, jpeg2000→jp2k, others ``other:<folder>``.

Score: DMOS, **lower is better**, on the 0..1 scale of the release (the sheet's values span exactly 0..1: CSIQ's
DMOS were realigned and normalised to [0, 1]). All CSIQ images are 512x512.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..io import VeiqaError
from ._common import FileIndex, Loader, ScoreScale, finite_score, locate_score_file, other, read_whitespace_table

SHEET_TYPES = {"noise": "awgn", "awgn": "awgn", "jpeg": "jpeg", "jpeg 2000": "jpeg2000", "jpeg2000": "jpeg2000",
               "fnoise": "fnoise", "1/f noise": "fnoise", "blur": "blur", "contrast": "contrast"}
DISTORTION_MAP = {"awgn": "wn", "blur": "gb", "jpeg": "jpeg", "jpeg2000": "jp2k",
                  "fnoise": other("fnoise"), "contrast": other("contrast")}
SCORE_FILES = ("csiq.beta.xlsx", "csiq.DMOS.xlsx", "csiq_label.txt")
SCORE_RANGE = (0.0, 1.0)
SIZE = (512, 512)
SCALE = ScoreScale("DMOS", higher_is_better=False, range=SCORE_RANGE, size=SIZE)


def _read_xlsx(path: Path) -> pd.DataFrame:
    """Rows (ref, folder, level, dmos) from the ``all_by_image`` sheet; the header row is found by its cells."""
    try:
        raw = pd.read_excel(path, sheet_name="all_by_image", header=None, engine="openpyxl")
    except ValueError as e:  # missing sheet
        raise VeiqaError(f"{path}: no sheet 'all_by_image' ({e})") from e
    except Exception as e:  # zipfile.BadZipFile, KeyError, ... on a damaged workbook
        raise VeiqaError(f"{path}: cannot read spreadsheet ({type(e).__name__}: {e})") from e
    need = ["image", "dst_type", "dst_lev", "dmos"]
    header = None
    for i in range(min(len(raw), 50)):
        cells = [str(c).strip() for c in raw.iloc[i].tolist()]
        if all(n in cells for n in need):
            header = i
            break
    if header is None:
        raise VeiqaError(f"{path}: sheet 'all_by_image' has no header row with columns {', '.join(need)}")
    cols = [str(c).strip() for c in raw.iloc[header].tolist()]
    body = raw.iloc[header + 1 :]
    out = []
    for r, vals in enumerate(body.itertuples(index=False), start=header + 2):
        row = dict(zip(cols, vals))
        if all(pd.isna(row[n]) for n in need):
            continue
        where = f"{path}: sheet 'all_by_image' row {r}"
        if any(pd.isna(row[n]) for n in need):
            raise VeiqaError(f"{where}: empty cell in {', '.join(n for n in need if pd.isna(row[n]))}")
        t = str(row["dst_type"]).strip().lower()
        if t not in SHEET_TYPES:
            raise VeiqaError(f"{where}: unknown dst_type {row['dst_type']!r} (expected one of {sorted(SHEET_TYPES)})")
        try:
            level = int(row["dst_lev"])
            score = finite_score(row["dmos"])
        except (TypeError, ValueError) as e:
            raise VeiqaError(f"{where}: dst_lev/dmos not numeric ({e})") from e
        ref = row["image"]
        ref = str(int(ref)) if isinstance(ref, float) and ref.is_integer() else str(ref).strip()
        out.append((ref, SHEET_TYPES[t], level, score))
    return pd.DataFrame(out, columns=["ref", "folder", "level", "score"])


def _read_label_txt(path: Path) -> pd.DataFrame:
    t = read_whitespace_table(path, ["name", "dmos"], {"name": str, "dmos": finite_score})
    out = []
    for name, score in zip(t["name"], t["dmos"]):
        parts = name.split(".")
        if len(parts) != 4 or parts[1].lower() not in SHEET_TYPES or not parts[2].isdigit():
            raise VeiqaError(f"{path}: image name {name!r} is not <name>.<type>.<level>.png")
        out.append((parts[0], SHEET_TYPES[parts[1].lower()], int(parts[2]), score))
    return pd.DataFrame(out, columns=["ref", "folder", "level", "score"])


def _load(root: Path, score_file=None):
    """Read CSIQ (``csiq.beta.xlsx`` sheet all_by_image, or ``csiq_label.txt``) into the candidate table."""
    path = locate_score_file(root, SCORE_FILES, score_file, "CSIQ")
    t = _read_xlsx(path) if path.suffix.lower() == ".xlsx" else _read_label_txt(path)
    if t.empty:
        raise VeiqaError(f"{path}: score file has no rows")
    idx = FileIndex(root, ["dst_imgs", "src_imgs"])
    rows = []
    for ref, folder, level, score in t.itertuples(index=False):
        stem = f"{ref}.{folder}.{level}"
        rows.append(SCALE.row(stem.lower(), ref.lower(), DISTORTION_MAP[folder], folder, level,
                              idx.resolve(f"dst_imgs/{folder}/{stem}.png"), idx.resolve(f"src_imgs/{ref}.png"), score))
    return SCALE.table(rows, dataset="csiq", score_file=path, note="DMOS 0..1, lower is better")


LOADER = Loader("csiq", "CSIQ", _load, markers=("dst_imgs", "src_imgs"), expected_rows=866,
                layout="dst_imgs/<type>/<name>.<TYPE>.<level>.png, src_imgs/<name>.png, csiq.beta.xlsx or csiq_label.txt")
