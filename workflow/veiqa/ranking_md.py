"""The ranked table of all arms (:func:`veiqa.ranking.ranked_table`) as a page a researcher reads.

``ranked_arms.csv`` keeps one row per dataset × distortion × arm with every column and the full arm labels (what
code reads). ``ranked_arms.md`` is for reading: arms get short ids (``A1``, ``A2``, … numbered by kind, then label,
then PRI strength; stable within a file), a legend maps each id to its full label and its settings, and each
distortion gets one ranking table and one nested-selection summary (the nested figures appear once per distortion,
not on every row). Intervals are shown inside their value's cell; every number is one the ranked table holds.
"""

from __future__ import annotations

import os
import re
from typing import Mapping

import pandas as pd

from . import arms as A
from .arms import KIND_LABELS
from .tables import _fmt, to_markdown, write_csv_md

POOL = "all"
#: Order of kinds in the legend, with the short name the ranking tables show.
KIND_SHORT = {KIND_LABELS[k]: s for k, s in ((A.VEI, "VEI"), (A.RANDOM_CONTROL, "random"), (A.PIXEL, "pixel"),
                                             (A.NR, "NR"), (A.FR_CEILING, "FR"))}
#: The kinds (as tables print them) that compare no PRI.
_NO_PRI = (KIND_LABELS[A.NR], KIND_LABELS[A.FR_CEILING])
#: Settings of a Grad-CAM arm shown in the legend (keys of :func:`arm_settings`).
SETTINGS = ("backbone", "weights", "resolution", "method", "layer", "target", "normalize")


def arm_settings(engine: Mapping) -> dict[str, str]:
    """The legend's settings of one Grad-CAM arm from its engine config (a value of :func:`veiqa.config.cam_arms`)."""
    weights = str(engine.get("weights", "pretrained"))
    if weights == "random":
        weights = f"random, seed {engine.get('seed')}"
    layer = engine.get("layer", "last")
    return {"backbone": str(engine["name"]), "weights": weights, "resolution": str(engine.get("resolution", "")),
            "method": str(engine.get("method", "gradcam")),
            "layer": layer if isinstance(layer, str) else "+".join(map(str, layer)),
            "target": str(engine.get("target", "")), "normalize": str(engine.get("normalize", ""))}


def arm_ids(ranked: pd.DataFrame) -> dict[str, str]:
    """Arm label → short id (``A1``, ``A2``, …), numbered by kind (:data:`KIND_SHORT` order), label, PRI strength."""
    order = {k: i for i, k in enumerate(KIND_SHORT)}
    arms = ranked[["arm", "kind", "pri"]].drop_duplicates("arm").copy()
    arms["_k"] = arms["kind"].map(order).fillna(len(order))
    arms = arms.sort_values(["_k", "arm", "pri"], kind="stable")
    return {a: f"A{i}" for i, a in enumerate(arms["arm"], start=1)}


def _with_ci(v, lo, hi) -> str:
    return f"{_fmt(v, 3)} [{_fmt(lo, 3)}, {_fmt(hi, 3)}]"


def legend(ranked: pd.DataFrame, ids: Mapping[str, str], arms: Mapping[str, Mapping] | None = None) -> pd.DataFrame:
    """One row per id: its kind (short name), PRI strength (one, or ``default``: each distortion's own), the settings
    (for the arms named in ``arms``: label → :func:`arm_settings`; an arm at another PRI strength is that label with
    ``@<pri>``) and the full label."""
    settings = {}
    for label, s in (arms or {}).items():
        settings[label] = s
        for p in set(ranked["pri"].astype(str)):
            settings[f"{label}@{p}"] = s
    kinds = ranked.drop_duplicates("arm").set_index("arm")["kind"]
    pris = ranked.groupby("arm")["pri"].agg(lambda p: sorted(set(map(str, p))))
    rows = []
    for label, i in sorted(ids.items(), key=lambda kv: int(kv[1][1:])):
        s = settings.get(label, {})
        kind, pri = kinds[label], pris[label]
        if kind in _NO_PRI:
            pri_text = "none"
        elif len(pri) == 1 and pri != ["default"]:
            pri_text = pri[0]
        else:  # a default-strength arm: each distortion's own default (pooled rows say "default")
            pri_text = "default"
        rows.append({"id": i, "kind": KIND_SHORT.get(kind, kind), "PRI": pri_text,
                     **{k: s.get(k, "") for k in SETTINGS}, "label": label})
    return pd.DataFrame(rows)


def ranking_rows(sub: pd.DataFrame, ids: Mapping[str, str]) -> pd.DataFrame:
    """The ranking table of one dataset × distortion (rows in rank order)."""
    out = pd.DataFrame({
        "rank": sub["rank"].astype(int).to_numpy(),
        "arm": [ids[a] for a in sub["arm"]],
        "kind": [KIND_SHORT.get(k, k) for k in sub["kind"]],
        "PRI": ["none" if k in _NO_PRI else p for k, p in zip(sub["kind"], sub["pri"])],
        "SROCC [95% CI]": [_with_ci(*v) for v in zip(sub["srocc"], sub["srocc_lo"], sub["srocc_hi"])],
        "PLCC [95% CI]": [_with_ci(*v) for v in zip(sub["plcc"], sub["plcc_lo"], sub["plcc_hi"])],
        "N": sub["n"].to_numpy(),
        "dropped": sub["n_dropped"].to_numpy(),
        "PRI = input": sub["n_pri_identical"].to_numpy(),
        "maps equal": sub["n_maps_identical"].to_numpy(),
        "zero map": sub["n_zero_map"].to_numpy(),
        "fit": sub["fit_status"].to_numpy(),
    })
    if "folds_chosen" in sub:
        out["folds chosen"] = sub["folds_chosen"].fillna("").astype(str).str.replace(";", ", ").to_numpy()
    for c in ("N", "dropped", "PRI = input", "maps equal", "zero map"):
        out[c] = [_count(v) for v in out[c]]
    return out


def _count(v) -> str:
    return "n/a" if pd.isna(v) else str(int(v))


def _replace_labels(text: str, ids: Mapping[str, str]) -> str:
    """``fold=label`` lists (nested selection's ``chosen``) with each label written as its id."""
    if not ids or not isinstance(text, str):
        return text
    pattern = re.compile("|".join(re.escape(a) for a in sorted(ids, key=len, reverse=True)) + r"(?=,|$)")
    return pattern.sub(lambda m: ids[m.group(0)], text)


def nested_rows(summary: pd.DataFrame, ids: Mapping[str, str]) -> pd.DataFrame:
    """The nested-selection summary of one dataset × distortion (one row per candidate set)."""
    return pd.DataFrame({
        "candidates": summary["nested_set"].to_numpy(),
        "in-sample best": [ids.get(a, a) for a in summary["in_sample_best"]],
        "in-sample SROCC": summary["in_sample_max_srocc"].to_numpy(),
        "nested SROCC [95% CI]": [_with_ci(*v) for v in zip(summary["nested_srocc"], summary["nested_srocc_lo"],
                                                            summary["nested_srocc_hi"])],
        "nested PLCC [95% CI]": [_with_ci(*v) for v in zip(summary["nested_plcc"], summary["nested_plcc_lo"],
                                                          summary["nested_plcc_hi"])],
        "N": [_count(v) for v in summary["nested_n"]],
        "chosen per fold": [_replace_labels(c, ids) for c in summary["nested_chosen"]],
    })


def _drop_notes(sub: pd.DataFrame, ids: Mapping[str, str]) -> str:
    if "drop_reasons" not in sub:
        return ""
    notes = [f"{ids[a]}: {r}" for a, r, n in zip(sub["arm"], sub["drop_reasons"], sub["n_dropped"])
             if isinstance(r, str) and r and n]
    return ("Dropped pairs (measure:status=count): " + "; ".join(notes) + ".\n\n") if notes else ""


RANKING_NOTE = ("Columns: rank (in-sample, by signed SROCC), arm (id, see the legend), kind (VEI: pretrained "
                "weights; random: random-weights control; pixel: the pixel-PRI control, the measure between image "
                "and PRI; NR: no-reference method; FR: full-reference ceiling), PRI strength, SROCC and PLCC with "
                "95% bootstrap intervals, N images, dropped pairs, pairs whose PRI equals the input (PRI = input), "
                "pairs with equal heat maps (maps equal), all-zero maps (zero map), the logistic fit's status, "
                "and the outer folds whose inner contents chose the arm (folds chosen).")


def to_markdown_page(ranked: pd.DataFrame, summary: pd.DataFrame | None = None,
                     arms: Mapping[str, Mapping] | None = None) -> str:
    """The Markdown page of a ranked table: caption, legend, then per dataset × distortion its ranking table and its
    nested summary (``summary``: :func:`veiqa.ranking.nested_summary`; none when None or empty). ``arms``: label →
    :func:`arm_settings` of the Grad-CAM arms (the legend's settings columns)."""
    ids = arm_ids(ranked)
    caption = ranked.attrs.get("caption", "")
    lines = ["# Arms ranked by SROCC", ""]
    if caption:
        lines += [caption, ""]
    lines += [RANKING_NOTE, "", "## Arms", "",
              to_markdown(legend(ranked, ids, arms), "Arm ids: the full label of each arm, its kind, its PRI strength "
                          "(default: each distortion's default strength; none: the arm uses no PRI) and its "
                          "Grad-CAM settings.")]
    summary = summary if summary is not None and len(summary) else None
    for (ds, dist), sub in ranked.groupby(["dataset", "distortion"], sort=False):
        title = "all distortions pooled" if dist == POOL else f"distortion {dist}"
        lines += [f"## {ds}: {title}", "", to_markdown(ranking_rows(sub, ids), f"Ranking, {ds}, {title}.")]
        notes = _drop_notes(sub, ids)
        if notes:
            lines.append(notes.rstrip("\n") + "\n")
        if summary is not None:
            s = summary[(summary["dataset"] == ds) & (summary["distortion"] == dist)]
            if len(s):
                lines.append(to_markdown(nested_rows(s, ids), f"Nested selection, {ds}, {title}: the arm chosen "
                                         "out of fold, beside the in-sample best of the same candidates."))
    if summary is not None and summary.attrs.get("caption"):
        lines += ["## Nested selection", "", summary.attrs["caption"], ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def write_ranked(ranked: pd.DataFrame, path_stem: str | os.PathLike, summary: pd.DataFrame | None = None,
                 arms: Mapping[str, Mapping] | None = None) -> tuple[str, str]:
    """Write ``<stem>.csv`` (every column, full labels, full precision) and ``<stem>.md`` (:func:`to_markdown_page`),
    each atomically. Returns the two paths."""
    return write_csv_md(ranked, path_stem, to_markdown_page(ranked, summary, arms))
