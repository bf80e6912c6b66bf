"""Publishing the per-level set metrics: the Parquet results with their weight provenance, the table and the plot.

Names follow the extractor: with the standard FID Inception-v3 (pool3 features, 1008-class logits of pytorch-fid's
``pt_inception-2015-12-05`` weights) the columns are the standard ``FID``, ``KID`` and ``IS``; with any other
network they name it, ``fid[efficientnet_lite0]``, ``kid[...]``, ``is[...]``: those values are not the published
measures and compare only with values of the same extractor.  FID rows whose smaller set has fewer images than
``fid_min_n`` (the feature dimension by default) are flagged in the table (``small_n``) and drawn hollow in the plot.
Statuses other than "ok" go into a ``notes`` column, or into the caption when every row shares them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..contracts import SET_METRICS
from ..io import write_parquet

#: (result column, standard name, stem of the extractor-named column)
_METRICS = (("fid", "FID", "fid"), ("kid_mean", "KID", "kid"), ("kid_std", "KID std", "kid_std"),
            ("is_mean", "IS", "is"), ("is_ref_mean", "IS refs", "is_refs"))
#: status columns reported in the table's notes, with the label they go under
_NOTES = (("fid_status", "FID"), ("kid_status", "KID"), ("kid_std_status", "KID std"), ("is_status", "IS"),
          ("lpips_status", "LPIPS"))


def column_names(df: pd.DataFrame) -> dict[str, str]:
    """Result column -> table column: the plain name (FID, KID, IS) for the standard FID network, else the name
    carrying the extractor's (FID, KID) or the classifier's (IS) label, e.g. ``fid[efficientnet_lite0]``."""
    ex = (df["extractor_label"].iloc[0], bool(df["extractor_standard"].iloc[0])) if len(df) else ("", True)
    has_clf = df["classifier"].notna() if "classifier" in df else pd.Series(False, index=df.index)
    clf = ((df.loc[has_clf, "classifier_label"].iloc[0], bool(df.loc[has_clf, "classifier_standard"].iloc[0]))
           if has_clf.any() else ex)
    out = {}
    for col, std, stem in _METRICS:
        label, standard = clf if col.startswith("is_") else ex
        out[col] = std if standard else f"{stem}[{label}]"
    return out


def _notes(df: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Per-row notes (statuses other than "ok"), and the notes every row shares (moved to the caption)."""
    def row_notes(r):
        return [f"{label}: {r[st]}" for st, label in _NOTES
                if st in df and r[st] != "ok" and not (st == "kid_std_status" and r["kid_status"] != "ok")]

    per_row = [row_notes(r) for _, r in df.iterrows()]
    common = [n for n in (per_row[0] if per_row else []) if all(n in p for p in per_row)]
    return ["; ".join(n for n in p if n not in common) for p in per_row], common


def _naming(df: pd.DataFrame, names: dict[str, str]) -> str:
    """What the FID/KID and IS columns were computed with, and whether those are the published measures."""
    if not len(df):
        return ""
    ex_name = df["extractor"].iloc[0]
    if bool(df["extractor_standard"].iloc[0]):
        text = f"FID and KID use the standard FID network's pool3 features ({ex_name})."
    else:
        text = (f"{names['fid']} and {names['kid_mean']} are FID and KID computed with {ex_name} instead of "
                "InceptionV3 pool3: not the published measures, comparable only with values of the same extractor.")
    clf = df["classifier"].dropna()
    if not len(clf):
        return text
    std = bool(df.loc[clf.index[0], "classifier_standard"])
    if std:
        return text + f" IS uses the standard network's 1008-class logits ({clf.iloc[0]})."
    return text + (f" {names['is_mean']} is the Inception Score from the logits of {clf.iloc[0]} instead of "
                   "InceptionV3's: not the published measure.")


def set_metrics_table(df: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The published table (columns named by :func:`column_names`, ``small_n``, ``notes``) and its caption."""
    names = column_names(df)
    t = df[["distortion", "level", "n_images", "n_refs"]].copy()
    t.insert(2, "grouping", ["level" if pd.notna(lv) else "whole distortion (no discrete levels)"
                             for lv in df["level"]])
    t[names["fid"]] = df["fid"]
    t["small_n"] = df["fid_small_n"]
    t["fid_sqrtm_imag_max"] = df["fid_sqrtm_imag_max"]
    for col in ("kid_mean", "kid_std"):
        t[names[col]] = df[col]
    t["kid_subset_size"] = df["kid_subset_size"]
    for col in ("is_mean", "is_ref_mean"):
        t[names[col]] = df[col]
    t["lpips_mean"] = df["lpips_mean"]
    t["notes"], common = _notes(df)
    naming = _naming(df, names)
    min_n = sorted(set(df["fid_min_n"].astype(int))) if len(df) else []
    small = (f"small_n: the smaller set has fewer than {', '.join(map(str, min_n))} images (the feature dimension), "
             "too few to estimate a covariance of full rank, and the FID is dominated by its small-sample bias; "
             f"{int(df['fid_small_n'].sum())} of {len(df)} rows.")
    caption = (f"Set-level metrics per distortion and level against the pristine references. {naming} {small}"
               + (" All rows: " + "; ".join(common).rstrip(".") + "." if common else ""))
    return t, caption


def plot_levels(df: pd.DataFrame, path: str | os.PathLike, dpi: int = 100) -> str:
    """Set-level metrics against distortion level: one panel per metric (FID, KID, IS, LPIPS, named as in the
    table), a line per distortion; FID points flagged ``fid_small_n`` are hollow. Metrics that are all NaN (e.g.
    LPIPS without its weights) are drawn as an empty panel that says why."""
    from ..plots import _plt, _save

    plt = _plt()
    names = column_names(df)
    panels = [("fid", names["fid"], "fid_status"), ("kid_mean", names["kid_mean"], "kid_status"),
              ("is_mean", names["is_mean"], "is_status"), ("lpips_mean", "LPIPS", "lpips_status")]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.0 * len(panels), 2.9), squeeze=False)
    for ax, (col, label, status) in zip(axes[0], panels):
        if col not in df or df[col].isna().all():
            why = df[status].iloc[0] if status in df and len(df) else "n/a"
            ax.text(0.5, 0.5, f"{label}: not computed\n{str(why)[:60]}", ha="center", va="center", fontsize=7,
                    wrap=True, transform=ax.transAxes)
            ax.set_axis_off()
            continue
        for d, g in df.sort_values("level").groupby("distortion", sort=True):
            # a database without discrete levels (LIVE: level <NA>) has one group per distortion, drawn at x = 0
            x = pd.to_numeric(g["level"], errors="coerce").astype(float).fillna(0.0)
            has = g["level"].notna()
            lab = d if has.all() else f"{d} (one group, no levels)" if not has.any() else f"{d} (no level: x=0)"
            line, = ax.plot(x, g[col].astype(float), marker="o", ms=3, label=lab)
            if col == "fid" and g["fid_small_n"].any():
                sm = g["fid_small_n"].astype(bool).to_numpy()
                ax.plot(x[sm], g[col].astype(float)[sm], ls="none", marker="o", ms=5, mfc="white",
                        mec=line.get_color())
        ax.set_xlabel("distortion level", fontsize=8)
        ax.set_title(label, fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    ext = df["extractor"].iloc[0] if "extractor" in df and len(df) else ""
    title = f"Set-level metrics against the pristine references ({ext})"
    if len(df) and df["fid_small_n"].any():
        title += f"\nhollow: fewer than {int(df['fid_min_n'].min())} images, FID dominated by small-sample bias"
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path, dpi)


def write_set_metrics(df: pd.DataFrame, path: str | os.PathLike, meta: dict | None = None) -> None:
    """The results as Parquet, with every weight file used (role, path, full SHA-256; from
    ``df.attrs["weight_files"]``) in the provenance metadata under ``weight_files``."""
    write_parquet(df, path, meta={**(meta or {}), "weight_files": list(df.attrs.get("weight_files", []))},
                  contract=SET_METRICS)


def publish(df: pd.DataFrame, table: str | os.PathLike, csv: str | os.PathLike, plot: str | os.PathLike,
            meta: dict | None = None) -> None:
    """Write the Parquet results, the CSV + Markdown table (same stem as ``csv``) and the plot."""
    from ..tables import write_table

    write_set_metrics(df, table, meta)
    t, caption = set_metrics_table(df)
    write_table(t, Path(csv).with_suffix(""), caption=caption)
    plot_levels(df, plot)

