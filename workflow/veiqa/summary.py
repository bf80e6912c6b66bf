"""The front page of the HTML report (``snakemake --report``): what was run and each dataset's Table 6.

:func:`front_page` writes reStructuredText that ``workflow/report/workflow.rst`` includes: the settings of the run
(preset, datasets with the images staged and rejected, distortions, Grad-CAM arms, measures, controls, protocol,
folds, resamples) and, per dataset, Table 6 as the run wrote it (``table6_<protocol>.csv``: PLCC and SROCC with their
intervals and the paired-test verdict ``vs pixel PRI``) under the caption the run wrote with it. Every number comes
from the run's own files or configuration; nothing is computed here.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Mapping, Sequence

import pandas as pd

from .io import VeiqaError, atomic_path

#: Table 6 columns shown on the front page, with their headings (intervals folded into the value's cell).
COLUMNS = (("distortion", "distortion"), ("method", "method"), ("N", "N"), ("PLCC", "PLCC [95% CI]"),
           ("SROCC", "SROCC [95% CI]"), ("vs pixel PRI", "vs pixel PRI"))


@dataclass
class DatasetRun:
    """One dataset of the run: its name, loader, staged and rejected image counts, and its Table 6 with caption."""

    name: str
    loader: str
    n_images: int
    n_rejected: int
    table6: pd.DataFrame
    caption: str = ""


def _num(v, decimals: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{float(v):.{decimals}f}"


def _cell(row: pd.Series, col: str) -> str:
    if col in ("PLCC", "SROCC"):
        return f"{_num(row[col])} [{_num(row[f'{col} CI low'])}, {_num(row[f'{col} CI high'])}]"
    if col == "N":
        return "n/a" if pd.isna(row[col]) else str(int(row[col]))
    v = row[col]
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def _rst_text(s: str) -> str:
    """Text safe inside a reStructuredText paragraph or cell (no markup characters acting as markup)."""
    return str(s).replace("\\", "\\\\").replace("*", "\\*").replace("`", "\\`").replace("|", "\\|").replace("_", "\\_")


def list_table(df: pd.DataFrame, title: str) -> str:
    """``df`` (Table 6 rows) as an RST list-table with the :data:`COLUMNS` of the front page."""
    missing = [c for c, _ in COLUMNS if c not in df.columns]
    if missing:
        raise VeiqaError(f"Table 6 lacks columns {missing} (has {list(df.columns)})")
    lines = [f".. list-table:: {_rst_text(title)}", "   :header-rows: 1", ""]
    lines.append("   * - " + "\n     - ".join(h for _, h in COLUMNS))
    for _, row in df.iterrows():
        cells = [_rst_text(_cell(row, c)) for c, _ in COLUMNS]
        lines.append("   * - " + "\n     - ".join(c if c else "\u2014" for c in cells))
    return "\n".join(lines) + "\n"


def _heading(text: str, char: str) -> str:
    text = _rst_text(text)
    return f"{text}\n{char * len(text)}\n"


def front_page(runs: Sequence[DatasetRun], settings: Mapping, protocol: str) -> str:
    """The front page's reStructuredText. ``settings``: preset, distortions, arms (labels), measures, table_measure,
    pixel_control (the pixel-PRI arm on or off), nr_methods, fr_ceiling, random_arms (how many arms have
    random weights), folds, bootstrap."""
    s = settings
    controls = ["pixel-PRI control (the measures on the raw image and its PRI, no CNN)"] if s.get("pixel_control") \
        else []
    controls += [f"NR methods {', '.join(s['nr_methods'])}"] if s.get("nr_methods") else []
    controls += ["FR ceiling (each measure against the pristine reference)"] if s.get("fr_ceiling") else []
    controls += [f"random-weights control arms: {s['random_arms']}"] if s.get("random_arms") else []
    arms = list(s.get("arms", []))
    lines = [_heading("What was run", "-"), ""]
    items = [f"Preset: {s.get('preset') or 'none (the configuration as given)'}"]
    for r in runs:
        items.append(f"Dataset {r.name} (loader {r.loader}): {r.n_images} images staged, {r.n_rejected} rejected")
    items += [f"Distortions: {', '.join(s.get('distortions', []))}",
              f"Grad-CAM arms ({len(arms)}): {', '.join(arms)}",
              f"Similarity measures ({len(s.get('measures', []))}): {', '.join(s.get('measures', []))}; the tables "
              f"and Table 6 use {s.get('table_measure')}",
              f"Controls: {'; '.join(controls) if controls else 'none'}",
              f"Statistics: protocol {protocol} ({s.get('folds')} folds over reference contents), "
              f"{s.get('bootstrap')} bootstrap resamples for the intervals"]
    lines += [f"- {_rst_text(i)}" for i in items] + [""]
    for r in runs:
        lines += [_heading(f"Table 6, {r.name} ({protocol})", "-"), ""]
        if r.caption:
            lines += [_rst_text(r.caption), ""]
        lines += [list_table(r.table6, f"Table 6, {r.name}: PLCC and SROCC per distortion, {protocol} protocol"), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def read_caption(md_path: str | os.PathLike) -> str:
    """The caption line (``Table: …``) the run wrote above a Markdown table (:func:`veiqa.tables.to_markdown`)."""
    with open(md_path, encoding="utf-8") as f:
        first = f.readline().rstrip("\n")
    return first[len("Table: "):] if first.startswith("Table: ") else ""


def write_front_page(path: str | os.PathLike, runs: Sequence[DatasetRun], settings: Mapping, protocol: str) -> str:
    """Write :func:`front_page` to ``path`` atomically; returns the path."""
    path = os.fspath(path)
    with atomic_path(path, suffix=".rst") as tmp:
        tmp.write_text(front_page(runs, settings, protocol), encoding="utf-8")
    return path
