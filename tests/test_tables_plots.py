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
    assert (t4["SROCC image"] == base.srocc).all()  # baseline repeated beside each backbone
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
