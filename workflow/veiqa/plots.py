"""Figures: scatter plots of objective value against the human score with the fitted logistic, and the paper's
Figure 2 (distorted image, its PRI and their Grad-CAM heat maps overlaid).

matplotlib with the Agg backend (set on import of this module's figure code, independent of the user's backend);
PNGs are written atomically with ``metadata={"Software": None}`` so no version/timestamp text chunk varies between
runs: the same inputs give byte-identical files with the same library versions.
"""

from __future__ import annotations

import math
import os
import re
from typing import Sequence

import numpy as np
import pandas as pd

from . import arms as A
from .arms import KIND_LABELS
from .contracts import FIT_OK
from .io import VeiqaError, atomic_path
from .stats import BETA_NAMES, logistic5

PNG_METADATA = {"Software": None}


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _write_png(fig, path, dpi: int, compress_level: int = 6, **savefig_kw) -> str:
    """Save ``fig`` as a PNG at ``path`` atomically; ``compress_level``: zlib level (Pillow's default is 6)."""
    path = os.fspath(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata=PNG_METADATA, pil_kwargs={"compress_level": compress_level},
                    **savefig_kw)
    return path


def _save(fig, path, dpi: int, compress_level: int = 6, **savefig_kw) -> str:
    plt = _plt()
    try:
        return _write_png(fig, path, dpi, compress_level, **savefig_kw)
    finally:
        plt.close(fig)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", str(name)).strip("-") or "x"


# ------------------------------------------------------------------------------------------------- scatter plots

class _FigureCache:
    """The scatter figures of one :func:`scatter_plots` run, one per panel layout, reused from plot to plot.

    A new figure per plot (axes, spines, tick objects) was about a third of a plot's CPU time on the demo (350 →
    240 ms). Reusing it gives the same bytes as a new figure: the data artists are replaced, everything else a plot
    changes is set again (panel titles, axis labels, suptitle, data limits), and the subplot parameters are reset to
    the new figure's before the tight layout, so nothing depends on the plots drawn before, in this process or in
    another worker (tests/test_tables_plots.py checks both)."""

    def __init__(self):
        self._figs: dict[tuple, tuple] = {}

    def get(self, nrows: int, ncols: int, n_panels: int, with_title: bool):
        key = (nrows, ncols, n_panels, with_title)
        if key not in self._figs:
            self._figs[key] = _new_scatter_figure(nrows, ncols, n_panels)
        return self._figs[key]


def _new_scatter_figure(nrows: int, ncols: int, n_panels: int):
    """A figure (not registered with pyplot: nothing to close; Agg canvas) with ``nrows × ncols`` axes, those past
    ``n_panels`` hidden; returns (figure, axes array, initial subplot parameters)."""
    _plt()  # the Agg backend, as for the other figures
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.2 * ncols, 2.8 * nrows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.ravel()[n_panels:]:
        ax.set_visible(False)
    for ax in axes.ravel()[:n_panels]:
        ax.tick_params(labelsize=7)
    sp = fig.subplotpars
    params = dict(left=sp.left, right=sp.right, bottom=sp.bottom, top=sp.top, wspace=sp.wspace, hspace=sp.hspace)
    return fig, axes, params


def plot_scatter(points: pd.DataFrame, fits: pd.DataFrame, path: str | os.PathLike, title: str | None = None,
                 pool_label: str = "all", ncols: int = 4, dpi: int = 100, score_label: str = "score",
                 value_label: str = "objective value", *, _figures: _FigureCache | None = None) -> str:
    """One PNG with a panel per distortion (plus a ``pool_label`` panel with all points, last): the objective
    values (x) against the scores (y) and the fitted 5-parameter logistic of that distortion.

    ``points``: columns distortion, value, score (one dataset × arm × pair_kind × measure; NaNs are skipped).
    ``fits``: rows of :attr:`veiqa.stats.CorrelationResult.fits` for the same selection and one fit per distortion
    (normally protocol "paper", fold −1) with columns distortion, b1..b5, fit_status. The curve is drawn over the
    panel's data range only (no extrapolation). A failed fit is drawn as points only, with "fit failed" in the
    panel title. ``_figures``: figures to reuse (internal, :func:`scatter_plots`); a new figure otherwise.
    """
    value = points["value"].to_numpy(float)
    score = points["score"].to_numpy(float)
    keep = np.isfinite(value) & np.isfinite(score)
    value, score = value[keep], score[keep]
    dist_of = points["distortion"].astype(str).to_numpy()[keep]
    dists = sorted(set(dist_of))
    panels = [(d, dist_of == d) for d in dists]
    if pool_label in set(fits["distortion"]) and len(dists) > 1:
        panels.append((pool_label, slice(None)))
    if not panels:
        raise VeiqaError(f"{path}: no finite points to plot")
    fit_dist = fits["distortion"].astype(str).to_numpy()
    ncols = max(1, min(ncols, len(panels)))
    nrows = math.ceil(len(panels) / ncols)
    if _figures is None:
        _figures = _FigureCache()
    fig, axes, params = _figures.get(nrows, ncols, len(panels), bool(title))
    fig.subplots_adjust(**params)  # the layout below starts from the new figure's parameters
    for ax, (d, sel) in zip(axes.ravel(), panels):
        for artist in list(ax.collections) + list(ax.lines):  # the previous plot's data (reused figure)
            artist.remove()
        ax.relim()
        x = value[sel]
        y = score[sel]
        ax.scatter(x, y, s=6, alpha=0.6, color="tab:blue", linewidths=0)
        rows = np.flatnonzero(fit_dist == d)
        status = ""
        if rows.size:
            f = fits.iloc[rows[0]]
            if f["fit_status"] == FIT_OK and x.size:
                grid = np.linspace(x.min(), x.max(), 200)
                ax.plot(grid, logistic5(grid, *[float(f[b]) for b in BETA_NAMES]), color="tab:red", lw=1.5)
            else:
                status = ", fit failed"
        else:
            status = ", no fit"
        ax.set_title(f"{d} (n={x.size}{status})", fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel(value_label, fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel(score_label, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)  # replaces the previous plot's text
    fig.tight_layout()
    # tight_layout leaves a stand-in layout engine behind, for which savefig would lay out (draw without rendering)
    # the whole figure once more before drawing it: about 60 of the remaining 240 ms, for the same pixels
    fig.set_layout_engine(None)
    return _write_png(fig, path, dpi)


def scatter_plots(long_df: pd.DataFrame, fits: pd.DataFrame, outdir: str | os.PathLike, protocol: str = "paper",
                  pool_label: str = "all", dpi: int = 100, workers: int = 1) -> list[str]:
    """Write one scatter PNG per dataset × arm × measure into ``outdir`` (see :func:`plot_scatter`).

    File name ``<dataset>__<arm>__<measure>.png`` (``__<pair_kind>`` appended when an arm has several pair
    kinds). Curves are the all-points fits (fold −1) of ``protocol``. ``workers``: plots drawn by that many
    forked processes (:func:`veiqa.parallel.map_ordered`; the files are the same). Returns the paths written,
    sorted.
    """
    from .parallel import map_ordered

    fsel = fits[(fits["protocol"] == protocol) & (fits["fold"] == -1)]
    kinds_per_arm = long_df.groupby(["dataset", "arm"])["pair_kind"].nunique()
    jobs = []
    for (ds, arm, pk, meas), pts in long_df.groupby(["dataset", "arm", "pair_kind", "measure"], sort=True):
        name = f"{_safe(ds)}__{_safe(arm)}__{_safe(meas)}"
        if kinds_per_arm.loc[(ds, arm)] > 1:
            name += f"__{_safe(pk)}"
        f = fsel[(fsel["dataset"] == ds) & (fsel["arm"] == arm) & (fsel["pair_kind"] == pk)
                 & (fsel["measure"] == meas)]
        score_label = "MOS" if bool(pts["higher_is_better"].iloc[0]) else "DMOS (lower is better)"
        jobs.append((pts, f, os.path.join(os.fspath(outdir), name + ".png"),
                     dict(title=f"{ds} / {arm} ({pk}) / {meas} — {protocol} fit", pool_label=pool_label, dpi=dpi,
                          score_label=score_label, value_label=str(meas))))
    figures = _FigureCache()  # per process: forked workers each fill their own copy
    return sorted(map_ordered(lambda j: plot_scatter(j[0], j[1], j[2], **j[3], _figures=figures), jobs, workers))


# ------------------------------------------------------------------------------------------ SROCC across a grid

#: Colour of each kind of arm (:data:`veiqa.arms.KIND_LABELS`, as tables print it) in the grid figure.
KIND_COLOURS = {KIND_LABELS[k]: c for k, c in ((A.VEI, "tab:blue"), (A.RANDOM_CONTROL, "tab:orange"),
                                               (A.PIXEL, "tab:gray"), (A.NR, "tab:green"),
                                               (A.FR_CEILING, "tab:purple"))}


def grid_figure(ranked: pd.DataFrame, ncols: int = 3):
    """The figure of :func:`plot_grid` (not registered with pyplot; Agg canvas), laid out by matplotlib's
    constrained layout: panels in rows of ``ncols``, the colour key above them and the arm key (id → full label)
    below, both outside the axes and inside the figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import MaxNLocator

    from .ranking_md import arm_ids

    _plt()
    ids = arm_ids(ranked)
    dists = list(dict.fromkeys(ranked["distortion"]))
    ncols = max(1, min(ncols, len(dists)))
    nrows = math.ceil(len(dists) / ncols)
    n_arms = int(ranked.groupby("distortion").size().max())
    key_cols = 1 if len(ids) <= 6 else 2
    key_lines = math.ceil(len(ids) / key_cols)
    fig = Figure(figsize=(3.4 * ncols, nrows * (1.0 + 0.22 * n_arms) + 0.6 + 0.16 * key_lines), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
    lo = float(np.nanmin(np.r_[ranked["srocc_lo"].to_numpy(float), ranked["srocc"].to_numpy(float), 0.0]))
    hi = float(np.nanmax(np.r_[ranked["srocc_hi"].to_numpy(float), ranked["srocc"].to_numpy(float), 0.0]))
    for ax in axes.ravel()[len(dists):]:
        ax.set_visible(False)
    for i, (ax, d) in enumerate(zip(axes.ravel(), dists)):
        sub = ranked[ranked["distortion"] == d].iloc[::-1]
        y = np.arange(len(sub)) + (n_arms - len(sub))  # rank 1 at the top of every panel
        srocc = sub["srocc"].to_numpy(float)
        err = np.vstack([srocc - sub["srocc_lo"].to_numpy(float), sub["srocc_hi"].to_numpy(float) - srocc]).clip(min=0)
        ax.barh(y, np.nan_to_num(srocc), xerr=np.nan_to_num(err), height=0.7, error_kw={"lw": 0.8},
                color=[KIND_COLOURS.get(k, "k") for k in sub["kind"]])
        for yy, v in zip(y, srocc):
            if not np.isfinite(v):
                ax.text(0, yy, " n/a", va="center", fontsize=7)
        ax.set_yticks(y)
        ax.set_yticklabels([ids[a] for a in sub["arm"]], fontsize=8)
        ax.set_ylim(-0.6, n_arms - 0.4)
        ax.axvline(0, color="k", lw=0.6)
        ax.set_xlim(min(lo, -0.05) - 0.05, max(hi, 0.05) + 0.05)
        ax.set_title("all distortions pooled" if d == "all" else d, fontsize=10)
        ax.tick_params(axis="x", labelsize=8, labelbottom=True)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        if i + ncols >= len(dists):  # the lowest panel of its column
            ax.set_xlabel("SROCC, 95% CI (content-separated, in-sample)", fontsize=8)
    kinds = [k for k in KIND_COLOURS if k in set(ranked["kind"])]
    fig.legend([Rectangle((0, 0), 1, 1, color=KIND_COLOURS[k]) for k in kinds], kinds, loc="outside upper center",
               ncols=min(len(kinds), 5), fontsize=8, frameon=False)
    key = sorted(ids.items(), key=lambda kv: int(kv[1][1:]))
    blank = [Rectangle((0, 0), 0, 0, visible=False)] * len(key)
    fig.legend(blank, [f"{i}  {a}" for a, i in key], loc="outside lower center", ncols=key_cols, fontsize=7,
               frameon=False, handlelength=0, handletextpad=0, columnspacing=2.0,
               title="arms (ids as in ranked_arms.md)", title_fontsize=8)
    return fig


def plot_grid(ranked: pd.DataFrame, path: str | os.PathLike, dpi: int = 100, ncols: int = 3) -> str:
    """SROCC (with its interval) of every arm of a ranked table (:func:`veiqa.ranking.ranked_table`), one panel
    per distortion, coloured by kind of arm, arms named by the ids of ``ranked_arms.md`` with their key below."""
    return _write_png(grid_figure(ranked, ncols), path, dpi)


# ---------------------------------------------------------------------------------------------------- Figure 2

def upsample(cam: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a float heat map to ``shape`` = (H, W) (PIL "F" mode, as Grad-CAM maps are upsampled)."""
    from PIL import Image

    cam = np.asarray(cam, dtype=np.float32)
    if cam.ndim != 2:
        raise VeiqaError(f"heat map must be 2-D, got shape {cam.shape}")
    h, w = shape
    if cam.shape == (h, w):
        return cam.copy()
    return np.asarray(Image.fromarray(cam, mode="F").resize((w, h), Image.BILINEAR), dtype=np.float32)


def overlay_heatmap(img: np.ndarray, cam: np.ndarray, alpha: float = 0.5, cmap: str = "jet",
                    value_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """Blend a heat map onto an RGB uint8 image: ``(1 − alpha)·img + alpha·255·cmap((cam − lo)/(hi − lo))``.

    ``cam`` (h × w float) is upsampled bilinearly to the image size and clipped to ``value_range`` before the
    colormap (a matplotlib colormap name) is applied. Returns H × W × 3 uint8 (rounded).
    """
    from matplotlib import colormaps

    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise VeiqaError(f"image must be H×W×3 uint8, got shape {img.shape} dtype {img.dtype}")
    lo, hi = value_range
    cam_up = upsample(cam, img.shape[:2]).astype(np.float64)
    norm = np.clip((cam_up - lo) / (hi - lo) if hi > lo else np.zeros_like(cam_up), 0.0, 1.0)
    heat = colormaps[cmap](norm)[..., :3] * 255.0
    out = (1.0 - alpha) * img.astype(np.float64) + alpha * heat
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _pair_range(cam_a: np.ndarray, cam_b: np.ndarray) -> tuple[float, float]:
    lo = float(min(np.nanmin(cam_a), np.nanmin(cam_b)))
    hi = float(max(np.nanmax(cam_a), np.nanmax(cam_b)))
    if lo >= 0.0 and hi <= 1.0:
        return 0.0, 1.0
    return lo, hi


def figure2(samples: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
            path: str | os.PathLike, alpha: float = 0.5, cmap: str = "jet", dpi: int = 100,
            panel_inches: float = 2.4) -> str:
    """The paper's Figure 2: one row per sample with the distorted image, its PRI, and the two Grad-CAM heat maps
    (upsampled bilinearly and overlaid on their image with :func:`overlay_heatmap`).

    ``samples``: list of (image_id, dist_img H×W×3 uint8, pri_img H×W×3 uint8, cam_dist h×w float, cam_pri h×w
    float). The two heat maps of a row share one colour scale, so their difference is visible: [0, 1] when both
    lie in it (Grad-CAM output), else the joint min–max of the pair.
    """
    plt = _plt()
    samples = list(samples)
    if not samples:
        raise VeiqaError(f"{path}: figure 2 needs at least one sample")
    fig, axes = plt.subplots(len(samples), 4, figsize=(4 * panel_inches, panel_inches * len(samples)),
                             squeeze=False)
    titles = ("distorted", "PRI", "VEI (distorted)", "VEI (PRI)")
    for i, (image_id, dist, pri, cam_d, cam_p) in enumerate(samples):
        dist = np.asarray(dist)
        pri = np.asarray(pri)
        if dist.shape != pri.shape:
            raise VeiqaError(f"sample {image_id!r}: distorted {dist.shape} and PRI {pri.shape} differ in shape")
        rng = _pair_range(np.asarray(cam_d, float), np.asarray(cam_p, float))
        panels = (dist, pri, overlay_heatmap(dist, cam_d, alpha, cmap, rng), overlay_heatmap(pri, cam_p, alpha, cmap,
                                                                                            rng))
        for j, (ax, im) in enumerate(zip(axes[i], panels)):
            ax.imshow(im, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(titles[j] if i == 0 else "", fontsize=9)
        axes[i, 0].set_ylabel(str(image_id), fontsize=8)
    fig.tight_layout()
    fig.set_layout_engine(None)  # no second layout pass in savefig (it resampled every image once more)
    # zlib level 1 as in veiqa.io.save_png: these photographs encode in a third of the time (about 0.1 s instead of
    # 0.3 s for four rows) for a file about 10 % larger, with the same pixels
    return _save(fig, path, dpi, compress_level=1)
