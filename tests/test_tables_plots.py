"""Tests of veiqa.tables (Tables 3–5, CSV/Markdown) and veiqa.plots (scatter plots, Figure 2)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from veiqa import plots, stats as st, tables
from veiqa.io import VeiqaError

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def _long(seed=0, n_refs=8):
    rng = np.random.default_rng(seed)
    rows = []
    arms = [("effnet_lite0", "vei"), ("effnet_lite1", "vei"), ("image", "image")]
    for d in ("awgn", "blur", "jpeg"):
        for r in range(n_refs):
            for lv in range(3):
                q = rng.uniform(0, 9)
                for arm, pk in arms:
                    for m, mhib in (("psnr", True), ("gmsd", False)):
                        v = 20 + 2 * q + rng.normal(0, 1 + (pk == "image"))
                        rows.append(("tid", d, arm, pk, m, f"{d}{r}{lv}", f"R{r}", v if mhib else -v,
                                     q + rng.normal(0, 0.4), True, mhib))
    return pd.DataFrame(rows, columns=list(st.REQUIRED_COLUMNS))


@pytest.fixture(scope="module")
def result():
    return st.correlations(_long(n_refs=6), n_boot=100, k=3, seed=1, n_starts=3)


def _parse_markdown(md: str) -> tuple[str, pd.DataFrame]:
    lines = md.strip().splitlines()
    caption = lines[0]
    header = [c.strip() for c in lines[2].strip("|").split("|")]
    body = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[4:]]
    return caption, pd.DataFrame(body, columns=header)


def test_table_per_distortion_matches_corr(result, tmp_path):
    corr = result.corr
    t = tables.table_per_distortion(corr, "tid", "effnet_lite0", measure="psnr", protocol="content_separated")
    assert list(t["distortion"]) == ["awgn", "blur", "jpeg", "all"]
    assert list(t.columns[:2]) == ["distortion", "N"]
    for s in tables.DEFAULT_STATS:
        for kind in ("image", "vei"):
            arm = "effnet_lite0" if kind == "vei" else "image"
            for _, row in t.iterrows():
                ref = corr[(corr.dataset == "tid") & (corr.arm == arm) & (corr.pair_kind == kind)
                           & (corr.measure == "psnr") & (corr.protocol == "content_separated")
                           & (corr.distortion == row.distortion)][s].iloc[0]
                assert row[tables.column_name(s, kind)] == ref
    cap = t.attrs["caption"]
    assert "content_separated" in cap and "Table 3." in cap and "'effnet_lite0'" in cap and "'psnr'" in cap

    csv, md = tables.write_table(t, tmp_path / "table3")
    back = pd.read_csv(csv)
    pd.testing.assert_frame_equal(back, t, check_dtype=False)
    caption, parsed = _parse_markdown(Path(md).read_text())
    assert caption == "Table: " + cap
    assert list(parsed.columns) == list(t.columns)
    for i, row in t.iterrows():
        assert parsed.loc[i, "distortion"] == row.distortion
        assert parsed.loc[i, "N"] == str(int(row.N))
        for c in t.columns[2:]:
            assert float(parsed.loc[i, c]) == pytest.approx(row[c], abs=0.0005 + 1e-12), c  # 3 decimals
    # no temporary files left next to the outputs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table3.csv", "table3.md"]


def test_table_per_arm_and_per_measure(result):
    corr = result.corr
    t4 = tables.table_per_arm(corr, "tid", measure="gmsd")
    assert list(t4["arm"]) == ["effnet_lite0", "effnet_lite1"]
    base = corr[(corr.arm == "image") & (corr.measure == "gmsd") & (corr.distortion == "all")
                & (corr.protocol == "paper")].iloc[0]
    assert (t4["SROCC image"] == base.srocc).all()  # pixel-PRI control repeated beside each backbone
    for _, row in t4.iterrows():
        ref = corr[(corr.arm == row.arm) & (corr.measure == "gmsd") & (corr.distortion == "all")
                   & (corr.protocol == "paper")].iloc[0]
        assert row["KROCC VEI"] == ref.krocc and row["RMSE VEI"] == ref.rmse and row.N == ref.n
    # gmsd is lower-is-better: the oriented SROCC is positive
    assert (t4["SROCC VEI"] > 0).all()
    assert "paper" in t4.attrs["caption"] and "Table 4." in t4.attrs["caption"]

    t5 = tables.table_per_measure(corr, "tid", "effnet_lite1", distortion="blur", with_ci=True)
    assert list(t5["measure"]) == ["gmsd", "psnr"]
    ref = corr[(corr.arm == "effnet_lite1") & (corr.measure == "psnr") & (corr.distortion == "blur")
               & (corr.protocol == "paper")].iloc[0]
    row = t5[t5.measure == "psnr"].iloc[0]
    assert row["PLCC VEI"] == ref.plcc
    np.testing.assert_equal([row["PLCC VEI CI low"], row["PLCC VEI CI high"]], [ref.plcc_ci_low, ref.plcc_ci_high])
    # 6 contents: below the limit, so no interval, and the caption says so (it claimed a bootstrap interval before)
    assert "SROCC: no interval (fewer than 8 contents or 10 images)" in t5.attrs["caption"]
    md = tables.to_markdown(t5, decimals=2)
    md_row = next(ln for ln in md.splitlines() if ln.startswith("| psnr |"))
    cells = [c.strip() for c in md_row.strip("|").split("|")]
    assert cells[list(t5.columns).index("PLCC VEI")] == f"{ref.plcc:.2f}"

    with pytest.raises(VeiqaError, match="no VEI rows"):
        tables.table_per_distortion(corr, "tid", "nonexistent_arm")


def test_failed_fit_named_in_caption():
    df = _long(n_refs=3)
    df.loc[(df.distortion == "jpeg") & (df.arm == "effnet_lite0") & (df.measure == "psnr"), "value"] = 5.0
    df = df[df.measure == "psnr"]
    corr = st.correlations(df, n_boot=0, protocols=("paper",), n_starts=2).corr
    t = tables.table_per_distortion(corr, "tid", "effnet_lite0")
    assert "jpeg (VEI: none)" in t.attrs["caption"]
    assert np.isnan(t.loc[t.distortion == "jpeg", "PLCC VEI"].iloc[0])
    assert "| jpeg | 9 | " in tables.to_markdown(t) and "n/a" in tables.to_markdown(t)


# --------------------------------------------------------------------------------------------------------- plots

def _png_text_chunks(data: bytes) -> list[bytes]:
    """Chunk types of a PNG byte string (parsed by hand)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, kinds = 8, []
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kinds.append(data[pos + 4:pos + 8])
        pos += 12 + length
    return kinds


def test_scatter_plots_written_deterministically(result, tmp_path):
    df = _long(n_refs=6)
    df = df[df.arm != "effnet_lite1"]
    paths = plots.scatter_plots(df, result.fits, tmp_path / "a", dpi=50)
    # one file per dataset × arm × measure: 2 arms × 2 measures
    assert [Path(p).name for p in paths] == ["tid__effnet_lite0__gmsd.png", "tid__effnet_lite0__psnr.png",
                                             "tid__image__gmsd.png", "tid__image__psnr.png"]
    again = plots.scatter_plots(df, result.fits, tmp_path / "b", dpi=50, workers=2)  # drawn by 2 processes
    for p, q in zip(paths, again):
        a, b = Path(p).read_bytes(), Path(q).read_bytes()
        assert a == b
        kinds = _png_text_chunks(a)
        assert b"tIME" not in kinds and b"tEXt" not in kinds and b"iTXt" not in kinds
        with Image.open(io.BytesIO(a)) as im:
            assert im.format == "PNG"
    # four panels (3 distortions + all): the figure is 4 panels wide at 3.2 in × 2.8 in, 50 dpi
    with Image.open(paths[0]) as im:
        assert im.size == (640, 140)
        # the fitted curve is drawn in tab:red (214, 39, 40) and the points in tab:blue-ish
        px = np.asarray(im.convert("RGB")).reshape(-1, 3).astype(int)
        assert (np.abs(px - [214, 39, 40]).sum(axis=1) < 30).sum() > 50



def test_scatter_figure_reuse_gives_fresh_figure_bytes(result, tmp_path):
    """scatter_plots reuses one figure per panel layout: each file must be the bytes of a figure drawn afresh,
    also across a change of layout (here a plot with one distortion fewer, between two full ones) and of labels."""
    df = _long(n_refs=6)
    df = df[(df.arm != "effnet_lite1") & ~((df.arm == "effnet_lite0") & (df.measure == "psnr")
                                           & (df.distortion == "jpeg"))]
    paths = plots.scatter_plots(df, result.fits, tmp_path / "reused", dpi=50)
    assert len(paths) == 4
    fsel = result.fits[(result.fits.protocol == "paper") & (result.fits.fold == -1)]
    for p in paths:
        _, arm, meas = Path(p).stem.split("__")
        pts = df[(df.arm == arm) & (df.measure == meas)]
        pk = pts.pair_kind.iloc[0]
        fresh = plots.plot_scatter(
            pts, fsel[(fsel.arm == arm) & (fsel.measure == meas) & (fsel.pair_kind == pk)],
            tmp_path / "fresh" / Path(p).name, title=f"tid / {arm} ({pk}) / {meas} — paper fit", dpi=50,
            score_label="MOS" if bool(pts.higher_is_better.iloc[0]) else "DMOS (lower is better)", value_label=meas)
        assert Path(fresh).read_bytes() == Path(p).read_bytes(), p
    with Image.open(paths[1]) as im:  # effnet_lite0 / psnr: 2 distortions + all, 3 panels wide
        assert im.size == (480, 140)


def test_overlay_heatmap_blend():
    from matplotlib import colormaps

    img = np.full((8, 12, 3), 100, np.uint8)
    cam = np.zeros((2, 3), np.float32)
    cam[:, 2] = 1.0
    assert np.array_equal(plots.overlay_heatmap(img, cam, alpha=0.0), img)
    full = plots.overlay_heatmap(img, cam, alpha=1.0, cmap="viridis")
    lo = np.rint(np.array(colormaps["viridis"](0.0)[:3]) * 255).astype(np.uint8)
    hi = np.rint(np.array(colormaps["viridis"](1.0)[:3]) * 255).astype(np.uint8)
    assert np.array_equal(full[0, 0], lo)  # left edge: cam 0
    assert np.array_equal(full[0, -1], hi)  # right edge: cam 1
    half = plots.overlay_heatmap(img, np.full((2, 3), 0.5, np.float32), alpha=0.5, cmap="gray")
    # gray(0.5) = 127.5: 0.5·100 + 0.5·127.5 = 113.75 → 114
    assert (half == 114).all()
    up = plots.upsample(np.array([[0.0, 1.0]], np.float32), (1, 4))
    assert up[0, 0] < up[0, 1] < up[0, 2] < up[0, 3]  # bilinear ramp


def test_figure2(tmp_path):
    rng = np.random.default_rng(0)
    ref = DATA / "tid2013_samples" / "i01_01_5.bmp"
    if ref.is_file():
        from veiqa.io import read_image

        dist = read_image(ref)[:96, :128]
    else:
        dist = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    pri = np.clip(dist.astype(int) + rng.integers(-20, 20, dist.shape), 0, 255).astype(np.uint8)
    cam_a = rng.random((7, 7)).astype(np.float32)
    cam_b = rng.random((7, 7)).astype(np.float32)
    samples = [("i01_01_5", dist, pri, cam_a, cam_b), ("other", pri, dist, cam_b, cam_a)]
    p1 = plots.figure2(samples, tmp_path / "fig2.png")
    p2 = plots.figure2(samples, tmp_path / "fig2b.png")
    a = Path(p1).read_bytes()
    assert a == Path(p2).read_bytes()
    assert b"tIME" not in _png_text_chunks(a)
    with Image.open(p1) as im:
        assert im.size == (960, 480)  # 4 panels × 2.4 in × 100 dpi, 2 rows
    with pytest.raises(VeiqaError, match="differ in shape"):
        plots.figure2([("x", dist, pri[:10], cam_a, cam_b)], tmp_path / "bad.png")


def test_compact_ci_folds_intervals_into_cells():
    import pandas as pd

    from veiqa.tables import compact_ci

    df = pd.DataFrame({"distortion": ["gb"], "PLCC VEI": [0.72149], "PLCC VEI CI low": [0.5816], "PLCC VEI CI high": [0.855]})
    df.attrs["caption"] = "c"
    out = compact_ci(df)
    assert list(out.columns) == ["distortion", "PLCC VEI"] and out.loc[0, "PLCC VEI"] == "0.721 [0.582, 0.855]"
    assert out.attrs["caption"] == "c"


def test_tables_count_identical_and_dropped_pairs():
    df = _long(n_refs=4)
    df["status"] = "ok"
    vei_psnr = (df.arm == "effnet_lite0") & (df.measure == "psnr") & (df.distortion == "blur")
    idx = df.index[vei_psnr]
    df.loc[idx[:2], ["value", "status"]] = [np.nan, "error"]
    df.loc[idx[2:5], "status"] = "identical"
    corr = st.correlations(df, n_boot=0, protocols=("paper",), n_starts=2).corr
    t3 = tables.table_per_distortion(corr, "tid", "effnet_lite0")
    blur = t3[t3.distortion == "blur"].iloc[0]
    assert blur["N identical"] == 3 and blur["N dropped"] == 0 and blur.N == 12 - 2
    t5 = tables.table_per_measure(corr, "tid", "effnet_lite0", distortion="blur")
    gm = t5[t5.measure == "gmsd"].iloc[0]
    assert gm.N == 10 and gm["N dropped"] == 2  # same N as psnr: its two error rows are dropped for gmsd too
    assert "gmsd: dropped 2 (effnet_lite0 psnr:error=2)" in t5.attrs["caption"]
    assert t5.attrs["caption"].endswith("Logistic fit: monotone.")


# ------------------------------------------------------------------------- ranked arms: Markdown page, grid figure

DEFAULT_PRI = {"gb": "box3", "wn": "var0.5", "jpeg": "q1", "jp2k": "jpeg_q1"}


@pytest.fixture(scope="module")
def ranked_grid():
    """A ranked table of a real grid's arms (4 Grad-CAM arms of 60-character labels, the pixel-PRI control, NIQE),
    four distortions plus a second JPEG strength, with nested selection over both candidate sets."""
    import veiqa.config as vc
    from veiqa import controls, ranking
    from veiqa.ranking_md import arm_settings

    cfg = vc.load({"backbones": [{"name": "efficientnet_lite0", "weights": "pretrained"},
                                 {"name": "efficientnet_lite0", "weights": "random", "seed": 7}],
                   "gradcam": {"resolution": ["network", "native"]}}, check_paths=False)
    arms = vc.cam_arms(cfg)
    rng = np.random.default_rng(3)
    rows = []
    for d in DEFAULT_PRI:
        for r in range(9):
            for lv in range(3):
                q = rng.uniform(0, 9)
                for pri in [DEFAULT_PRI[d]] + (["q10"] if d == "jpeg" else []):
                    for i, arm in enumerate([*arms, "image"]):
                        pk = "image" if arm == "image" else "vei"
                        rows.append(("ds", d, arm, pk, "psnr", f"{d}{r}{lv}", f"R{r}", 20 + q + rng.normal(0, 1 + i),
                                     q, True, True, "ok", pri, False))
                rows.append(("ds", d, "niqe", controls.NR_KIND, "niqe", f"{d}{r}{lv}", f"R{r}", -q + rng.normal(),
                             q, True, False, "ok", DEFAULT_PRI[d], False))
    scores = pd.DataFrame(rows, columns=[*st.REQUIRED_COLUMNS, "status", "pri", "pri_identical"])
    run = vc.run_arms({**cfg, "nr_methods": ["niqe"]})  # what collect adds to the table: each arm's kind
    scores["arm_kind"] = scores["arm"].map({a: r.kind for a, r in run.items()})
    res = ranking.correlations_all_arms(scores, DEFAULT_PRI, n_boot=30, k=3, seed=0, n_starts=2,
                                        protocols=("content_separated",))
    deg = ranking.degenerate_counts(scores, DEFAULT_PRI)
    nested, vei = (st.nested_selection(res.predictions, res.corr, measure="psnr", n_boot=30, seed=0,
                                       candidates=ranking.candidate_arms(res.corr, c), candidate_set=c)
                   for c in ranking.CANDIDATE_SETS)
    ranked = ranking.ranked_table(res.corr, deg, "psnr", default_pri=DEFAULT_PRI, nested=nested)
    summary = ranking.nested_summary(ranked, vei[1], "psnr")
    return ranked, summary, {label: arm_settings(c) for label, c in arms.items()}


def _md_tables(md: str) -> list[tuple[str, str, pd.DataFrame]]:
    """(section heading, caption, table) of every pipe table of a Markdown page."""
    out, section, caption, lines = [], "", "", md.splitlines()
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("## "):
            section = ln[3:]
        elif ln.startswith("Table: "):
            caption = ln[7:]
        elif ln.startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append([c.strip() for c in lines[i].strip().strip("|").split(" | ")])
                i += 1
            out.append((section, caption, pd.DataFrame(block[2:], columns=block[0])))
            continue
        i += 1
    return out


def test_ranked_markdown_has_a_legend_and_one_ranking_and_nested_table_per_distortion(ranked_grid, tmp_path):
    from veiqa import ranking_md

    ranked, summary, arms = ranked_grid
    assert ranked["arm"].str.len().max() >= 60  # the labels the ids stand for
    csv, md_path = ranking_md.write_ranked(ranked, tmp_path / "ranked_arms", summary, arms)
    md = Path(md_path).read_text()
    # The CSV keeps every column and the full labels (what code reads).
    back = pd.read_csv(csv)
    assert list(back.columns) == list(ranked.columns) and list(back["arm"]) == list(ranked["arm"])
    tabs = _md_tables(md)
    legend = [t for s, _, t in tabs if s == "Arms"]
    assert len(legend) == 1
    legend = legend[0]
    assert legend["id"].is_unique and sorted(legend["label"]) == sorted(set(ranked["arm"]))
    label_of = dict(zip(legend["id"], legend["label"]))
    by_label = legend.set_index("label")
    control = next(a for a in arms if "-random7-" in a)
    assert by_label.loc[control, "weights"] == "random, seed 7" and by_label.loc[control, "kind"] == "random"
    assert by_label.loc[control + "@q10", "PRI"] == "q10" and by_label.loc[control, "PRI"] == "default"
    assert by_label.loc["niqe", "PRI"] == "none" and by_label.loc["image", "backbone"] == ""
    assert by_label.loc[control, "resolution"] == arms[control]["resolution"]
    ranking_tabs = [(s, t) for s, c, t in tabs if c.startswith("Ranking")]
    nested_tabs = [(s, t) for s, c, t in tabs if c.startswith("Nested selection")]
    dists = list(dict.fromkeys(ranked["distortion"]))
    assert len(ranking_tabs) == len(nested_tabs) == len(dists) == 5
    for (section, t), d in zip(ranking_tabs, dists):
        sub = ranked[ranked["distortion"] == d]
        assert section.endswith(d if d != "all" else "all distortions pooled")
        # every id used is in the legend, and stands for the arm of that rank
        assert [label_of[i] for i in t["arm"]] == list(sub["arm"])
        assert list(t["rank"].astype(int)) == list(sub["rank"])
        assert [float(v.split(" [")[0]) for v in t["SROCC [95% CI]"]] == pytest.approx(list(sub["srocc"]), abs=5e-4)
        assert not any(c.startswith("nested") for c in t.columns)  # nested figures are not repeated per row
    for (section, t), d in zip(nested_tabs, dists):
        assert set(t["in-sample best"]) <= set(label_of)
        chosen = [c.split("=")[1] for v in t["chosen per fold"] for c in v.split(", ")]
        assert chosen and set(chosen) <= set(label_of)
        assert sorted(t["candidates"]) == ["all", "vei"]
        s = summary[(summary["distortion"] == d) & (summary["nested_set"] == "all")].iloc[0]
        cell = t.loc[t["candidates"] == "all", "nested SROCC [95% CI]"].iloc[0]
        assert cell == f"{s.nested_srocc:.3f} [{s.nested_srocc_lo:.3f}, {s.nested_srocc_hi:.3f}]"
        same = [f"{v.nested_srocc:.3f} [{v.nested_srocc_lo:.3f}, {v.nested_srocc_hi:.3f}]" == cell
                for v in summary.itertuples()]
        assert md.count(cell) == sum(same) <= 2  # once per distortion and candidate set, not on every row
    rows = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert max(map(len, rows)) <= 200
    assert max(len(ln) for ln in rows if ln.count("|") <= 15 and "efficientnet" not in ln) <= 140


def test_grid_figure_is_legible_with_every_label_inside(ranked_grid, tmp_path):
    ranked = ranked_grid[0]
    path = plots.plot_grid(ranked, tmp_path / "grid.png")
    w, h = Image.open(path).size
    n_panels = ranked["distortion"].nunique()
    assert n_panels == 5 and 600 <= w <= 1400 and 500 <= h <= 1800  # 3 panels a row at 100 dpi, not one strip
    fig = plots.grid_figure(ranked)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    fb = fig.bbox
    inside = lambda b: b.x0 >= fb.x0 - 1 and b.y0 >= fb.y0 - 1 and b.x1 <= fb.x1 + 1 and b.y1 <= fb.y1 + 1  # noqa: E731
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == n_panels
    texts = []
    for ax in axes:
        lo, hi = sorted(ax.get_xlim())
        texts += [ax.xaxis.label, ax.yaxis.label, ax.title, *ax.get_yticklabels(),
                  *(t for t in ax.get_xticklabels() if lo <= t.get_position()[0] <= hi)]  # the ticks drawn
    texts = [t for t in texts if t.get_visible() and t.get_text()]
    assert sum(bool(ax.get_xlabel()) for ax in axes) == 3  # the lowest panel of each of the 3 columns
    for t in texts:
        assert inside(t.get_window_extent(r)), t.get_text()
    assert len(fig.legends) == 2  # the colour key and the arm key
    for leg in fig.legends:
        lb = leg.get_window_extent(r)
        assert inside(lb)
        for ax in axes:
            assert not lb.overlaps(ax.get_tightbbox(r)), "a legend covers a panel"


def test_front_page_copies_table6_and_renders_without_rst_errors():
    """The report's front page (veiqa.summary): every Table 6 row with its figures as the CSV holds them, valid
    reStructuredText (docutils reports no problem), the settings of the run."""
    from docutils.core import publish_parts

    from veiqa.summary import DatasetRun, front_page

    t6 = pd.DataFrame({"dataset": "tid", "distortion": ["gb", "gb", "all"],
                       "method": ["VEI lite0-pretrained-network-last-own_top1-minmax", "NIQE", "NIQE"],
                       "kind": ["pretrained", "NR method", "NR method"], "N": [50, 48, 200],
                       "PLCC": [0.71234, 0.5, np.nan], "PLCC CI low": [0.6, 0.4, np.nan], "PLCC CI high": [0.8, 0.6, 1],
                       "SROCC": [-0.25, 0.45, 0.5], "SROCC CI low": [-0.4, 0.3, 0.4], "SROCC CI high": [-0.1, 0.6, 0.6],
                       "vs pixel PRI": ["worse", np.nan, np.nan]})
    settings = {"preset": "paper", "distortions": ["gb"], "arms": ["lite0-pretrained-network-last-own_top1-minmax"],
                "random_arms": 0, "measures": ["psnr", "ssim"], "table_measure": "psnr", "pixel_control": True,
                "nr_methods": ["niqe"], "fr_ceiling": False, "folds": 5, "bootstrap": 1000}
    rst = front_page([DatasetRun("tid", "tid2013", 3000, 2, t6, "Table 6. tid: *as written* by the run.")], settings,
                     "content_separated")
    parts = publish_parts(rst, writer="html", settings_overrides={"report_level": 1, "halt_level": 5})
    body = parts["body"]
    assert "System Message" not in body and "problematic" not in body
    assert "Preset: paper" in body and "tid2013): 3000 images staged, 2 rejected" in body
    assert "Similarity measures (2): psnr, ssim; the tables and Table 6 use psnr" in body and "FR ceiling" not in body
    assert "as written" in body and "<em>" not in body  # the caption is text, not markup
    assert body.count("<tr") == 1 + len(t6)
    assert "0.712 [0.600, 0.800]" in body and "-0.250 [-0.400, -0.100]" in body and "worse" in body
    assert "n/a [n/a, 1.000]" in body  # a NaN is written as such, never as a number
