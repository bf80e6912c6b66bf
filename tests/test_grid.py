"""Ablation grids (issue 8): a 2x2x2 grid computes each upstream piece once and ends in the ranked table."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from test_workflow import job_counts, snakemake

pytestmark = pytest.mark.slow

GRID = {
    "datasets": {"demo": {"loader": "demo", "source": "builtin", "references": ["chelsea", "coins"]}},
    "distortions": ["gb", "jpeg"],
    "shard_size": 10,
    "measures": ["psnr", "ssim", "ncc"],
    "pri": {"jpeg": {"quality": [1, 10]}},                      # 2 PRI strengths (JPEG)
    "gradcam": {"resolution": ["network", "native"]},           # 2 input resolutions
    "backbones": [{"name": "efficientnet_lite0", "weights": "pretrained"},
                  {"name": "efficientnet_lite0", "weights": "random", "seed": 7}],  # pretrained and control
    "aggregate": {"folds": 2, "bootstrap": 50, "figure_samples": 1},
    "setmetrics": {"enabled": False},
}


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("grid")
    snakemake(wd, "resources/demo/shards/index.json", config=GRID)  # staging and the shard list
    plan = job_counts(snakemake(wd, "-n", config=GRID))
    snakemake(wd, config=GRID)
    return wd, plan


def test_each_upstream_piece_runs_once(grid_run):
    _, plan = grid_run
    # Shards: gb 1, jpeg 1 (10 images each). PRI arms: gb 1, jpeg 2 -> 3 (shard, PRI) pieces.
    assert plan["pri"] == 3                    # a PRI per (shard, strength), shared by every Grad-CAM arm
    assert plan["measures_image"] == 3         # the pixel-PRI control per (shard, strength), shared likewise
    assert plan["gradcam"] == 3 * 4            # 4 Grad-CAM arms (2 resolutions x 2 weights) per PRI piece
    assert plan["measures_vei"] == 3 * 4
    assert plan["collect"] == plan["correlations"] == plan["rank_arms"] == 1
    assert "stage" not in plan and "demo_source" not in plan


def test_ranked_table_holds_every_arm_with_its_controls(grid_run):
    wd, _ = grid_run
    ranked = pd.read_csv(wd / "results/demo/tables/ranked_arms.csv")
    jpeg = ranked[ranked.distortion == "jpeg"]
    # 4 Grad-CAM arms and the pixel-PRI control, each at 2 JPEG strengths; NIQE, BRISQUE, PIQE and the FR ceiling do not
    # depend on the PRI, so they stand once, at the default strength.
    assert len(jpeg) == 14 and sorted(jpeg["rank"]) == list(range(1, 15))
    assert set(jpeg.kind) == {"pretrained", "random-weights control", "pixel-PRI control", "NR method", "fr-ceiling"}
    assert set(jpeg.pri) == {"q1", "q10"}
    assert set(jpeg[jpeg.kind.isin(["NR method", "fr-ceiling"])].pri) == {"q1"}
    assert (jpeg[jpeg.kind == "random-weights control"].arm.str.contains("-random7-")).all()
    # Ranked by SROCC, highest first, arms without one (NaN) last; each SROCC is the mean over the outer folds of
    # SciPy's Spearman correlation on the held-out contents (|.|: the sign is the orientation's), from the
    # predictions the run wrote.
    srocc = jpeg.srocc.to_numpy()
    finite = np.isfinite(srocc)
    assert finite.sum() >= 7  # most arms have one
    if not finite.all():
        assert not finite[np.argmin(finite):].any()  # after the first NaN, only NaNs
    assert (np.diff(srocc[finite]) <= 0).all() and list(jpeg["rank"]) == list(range(1, 15))
    pr = pd.read_parquet(wd / "results/demo/stats/predictions.parquet")
    pr = pr[(pr.protocol == "content_separated") & (pr.distortion == "jpeg")
            & ((pr.measure == "psnr") | (pr.pair_kind == "nr"))]
    for r in jpeg[finite].itertuples():
        folds = pr[pr.arm == r.arm].groupby("fold")
        assert folds.ngroups == GRID["aggregate"]["folds"], r.arm
        want = np.mean([sps.spearmanr(f.value, f.score).statistic for _, f in folds])
        assert abs(r.srocc) == pytest.approx(abs(want), abs=1e-9), r.arm
    # Pooled rows exist only for the default strengths (one PRI per distortion).
    pooled = ranked[ranked.distortion == "all"]
    assert len(pooled) == 9 and (pooled.pri == "default").all()
    for col in ("n_pri_identical", "n_maps_identical", "srocc_lo", "srocc_hi"):
        assert col in ranked
    # The ranking is labelled in-sample; the nested (out-of-fold) choice stands beside it.
    assert (ranked["ranking"] == "in-sample").all()
    assert {"folds_chosen", "nested_srocc", "nested_srocc_lo", "nested_srocc_hi"} <= set(ranked.columns)
    # Each of the 2 outer folds chose exactly one arm on its inner contents (folds_chosen lists fold ids "0;1").
    chosen = [f for v in ranked.loc[ranked.distortion == "jpeg", "folds_chosen"].fillna("") for f in str(v).split(";")
              if f != ""]
    assert sorted(chosen) == [str(k) for k in range(GRID["aggregate"]["folds"])]
    assert (wd / "results/demo/plots/grid_srocc.png").stat().st_size > 5000
    native = pd.read_parquet(next((wd / "results/demo/vei/gb/box3").glob("*-native-*/shard-0.parquet")))
    assert (native.map_h > 7).all()  # native resolution: maps larger than the 224 px network's 7x7
