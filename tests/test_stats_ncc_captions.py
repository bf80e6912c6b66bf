"""Issue 23 §2-§3: NCC's direction (|1 - NK|, lower = more similar), captions that name each figure's interval
(only what the run computed), and one home for the small-sample limits (each fails on 906a9d3)."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from veiqa import arms, pairs, tables
from veiqa import stats as st
from veiqa.collect import collect
from veiqa.io import write_parquet
from veiqa.specs import MEASURES

ROOT = Path(__file__).resolve().parents[1]


def _nk_both_ways(n_refs=10, levels=5, seed=0):
    """NK of a VEI pair whose deviation from 1 grows with quality (PRI paradigm: a better image changes more when
    re-degraded, so its pair is less similar), with a random sign: above 1 for about half of the images, below 1
    for the others."""
    rng = np.random.default_rng(seed)
    n = n_refs * levels
    q = rng.uniform(0, 9, n)                       # latent quality, MOS = q + noise
    dev = 0.02 + 0.03 * q + rng.normal(0, 0.01, n)  # better image -> its PRI differs more -> larger |1 - NK|
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    ids = [f"i{i:03d}" for i in range(n)]
    man = pd.DataFrame({"image_id": ids, "ref_id": [f"r{i // levels}" for i in range(n)], "level": 1,
                        "score": q + rng.normal(0, 0.3, n), "score_kind": "MOS", "higher_is_better": True})
    return ids, man, 1.0 + sign * dev


def test_ncc_spec_is_a_deviation_lower_is_more_similar():
    s = MEASURES["ncc"]
    assert s.ideal == 1.0 and s.stat_higher_is_better is False
    np.testing.assert_allclose(s.stat_value([0.9, 1.0, 1.2, np.nan]), [0.1, 0.0, 0.2, np.nan])
    assert MEASURES["psnr"].stat_higher_is_better is True and MEASURES["psnr"].stat_value([3.0])[0] == 3.0
    assert "|1 - value|" in s.stat_note and "lower = more similar" in s.stat_note


def _collected_nk(tmp_path, pair_kind, arm, backbone):
    """The NK values of :func:`_nk_both_ways` as one measure shard of ``pair_kind``, through ``collect``, with the
    direction its producer writes (veiqa.pairs: against the PRI, or the pristine reference for the FR ceiling)."""
    ids, man, nk = _nk_both_ways()
    hib = MEASURES["ncc"].quality_higher_is_better("pristine" if pair_kind == "fr" else "pri")
    t = pd.DataFrame({"image_id": ids, "measure": "ncc", "value": nk, "status": "ok", "pair_kind": pair_kind,
                      "arm": arm, "pri_identical": False,
                      "measure_higher_is_better": hib})[pairs.COLUMNS]
    write_parquet(t, tmp_path / f"{pair_kind}.parquet")
    kind = {"vei": arms.VEI, "fr": arms.FR_CEILING}[pair_kind]
    return (collect({str(tmp_path / f"{pair_kind}.parquet"): ("gb", "box3")}, man, "toy",
                    {arm: arms.Arm(arm, kind, backbone).columns()}), man, nk)


def test_ncc_deviating_both_ways_ranks_in_its_direction(tmp_path):
    long, man, nk = _collected_nk(tmp_path, "vei", "effnet", "effnet")
    np.testing.assert_allclose(long.sort_values("image_id")["value"], np.abs(nk - 1.0))
    assert long["measure_higher_is_better"].all()  # a larger deviation = a more dissimilar pair = better (PRI)
    corr = st.correlations(long, n_boot=0, n_perm=0, protocols=("paper",)).corr
    r = corr[corr.distortion == "gb"].iloc[0]
    dev = np.abs(nk - 1.0)
    y = man["score"].to_numpy()
    # the figure is SciPy's SROCC of the deviation, positive (agrees with the scores) ...
    assert r.srocc == pytest.approx(sps.spearmanr(dev, y)[0], abs=1e-12) and r.srocc > 0.8
    # ... whereas the raw NK, deviating both ways, hides it under either fixed direction
    assert abs(sps.spearmanr(nk, y)[0]) < 0.35
    # and a table of NCC says what its figures are
    both = pd.concat([long, long.assign(arm="image", pair_kind="image")], ignore_index=True)
    t5 = tables.table_per_measure(st.correlations(both, n_boot=0, n_perm=0, protocols=("paper",)).corr, "toy",
                                  "effnet")
    assert "ncc: statistics on |1 - value|" in t5.attrs["caption"]


def test_fr_ceiling_ncc_keeps_the_deviation_direction(tmp_path):
    long, man, nk = _collected_nk(tmp_path, "fr", "fr-ceiling", "none")
    assert set(long["measure"]) == {"ncc"} and not long["measure_higher_is_better"].any()
    np.testing.assert_allclose(long.sort_values("image_id")["value"], np.abs(nk - 1.0))


# ------------------------------------------------------------------------------------------------------ captions

def _table(n_refs=10, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for d in ("awgn", "blur"):
        for r in range(n_refs):
            for lv in range(4):
                q = rng.uniform(0, 9)
                for arm, pk in (("effnet", "vei"), ("image", "image")):
                    rows.append(("tid", d, arm, pk, "psnr", f"{d}{r}{lv}", f"R{r}", 20 + 2 * q + rng.normal(0, 2),
                                 q + rng.normal(0, 0.5), True, True))
    return pd.DataFrame(rows, columns=list(st.REQUIRED_COLUMNS))


@pytest.fixture(scope="module")
def corr():
    return st.correlations(_table(), n_boot=60, n_perm=20, k=3, seed=2).corr


def test_paper_caption_names_each_figures_interval(corr):
    t = tables.table_per_distortion(corr, "tid", "effnet", protocol="paper", with_ci=True)
    cap = t.attrs["caption"]
    assert "CI: 95% percentile bootstrap." not in cap  # the old blanket claim
    assert "Intervals: SROCC, KROCC with 95% percentile intervals of a content bootstrap (a cluster bootstrap" in cap
    assert "60 resamples" in cap
    assert "PLCC: no interval (it depends on the in-sample fit" in cap and "RMSE: no interval" in cap
    assert "PLCC chance level in column(s) 'PLCC image chance' / 'PLCC VEI chance'" in cap
    assert t["PLCC VEI CI low"].isna().all() and t["SROCC VEI CI low"].notna().all()
    row = corr[(corr.protocol == "paper") & (corr.arm == "effnet") & (corr.distortion == "blur")].iloc[0]
    assert t.loc[t.distortion == "blur", "PLCC VEI chance"].iloc[0] == row.plcc_chance
    n_perm = int(row.n_perm)
    assert f"({n_perm} valid permutations" in cap or "valid permutations" in cap


def test_content_separated_caption_and_no_bootstrap(corr):
    t = tables.table_per_measure(corr, "tid", "effnet", protocol="content_separated", with_ci=True)
    cap = t.attrs["caption"]
    assert ("Intervals: PLCC, SROCC, KROCC, RMSE with 95% percentile intervals of a content bootstrap (contents "
            "resampled with replacement within each fold") in cap
    assert "no interval" not in cap and "chance" not in cap and "PLCC VEI chance" not in t.columns
    off = st.correlations(_table(), n_boot=0, n_perm=0, k=3, seed=2, protocols=("content_separated",)).corr
    t0 = tables.table_per_measure(off, "tid", "effnet", protocol="content_separated", with_ci=True)
    assert "Intervals:" not in t0.attrs["caption"] and "SROCC: no interval (bootstrap off)" in t0.attrs["caption"]


def test_small_n_caption_says_why():
    small = st.correlations(_table(n_refs=3), n_boot=50, n_perm=0, k=3, protocols=("paper",)).corr
    t = tables.table_per_distortion(small, "tid", "effnet", protocol="paper", with_ci=True)
    assert t["SROCC VEI CI low"].isna().all()
    assert "SROCC: no interval (fewer than 8 contents or 10 images)" in t.attrs["caption"]
    assert "Intervals:" not in t.attrs["caption"]


# ----------------------------------------------------------------------------------------- small-sample limits

def test_small_sample_limits_have_one_home():
    from veiqa import comparisons
    from veiqa.stats import protocols

    src = (ROOT / "workflow/veiqa/comparisons.py").read_text()
    assert not re.search(r"^MIN_\w+\s*=", src, re.M)  # no limits of its own
    assert comparisons.MIN_CI_CONTENTS is protocols.MIN_CI_CONTENTS
    assert comparisons.MIN_CI_IMAGES is protocols.MIN_CI_IMAGES
    for page in ("docs/statistics.md", "docs/comparisons.md"):
        text = (ROOT / page).read_text()
        assert f"`MIN_CI_CONTENTS` ({protocols.MIN_CI_CONTENTS})" in text.replace(
            "`veiqa.stats.protocols.MIN_CI_CONTENTS`", "`MIN_CI_CONTENTS`"), page
        assert f"`MIN_CI_IMAGES` ({protocols.MIN_CI_IMAGES})" in text, page


def test_comparisons_use_the_same_content_limit():
    """6 contents: enough for the old comparisons limit (5), not for the tables' (8): no interval in either."""
    from veiqa import comparisons

    rng = np.random.default_rng(0)
    rows = []
    for r in range(6):
        for lv in range(4):
            q = rng.uniform(0, 9)
            for arm, pk, kind in (("effnet", "vei", "vei"), ("image", "image", "pixel")):
                rows.append(("tid", "gb", "q1", arm, kind, pk, "psnr", f"gb{r}{lv}", f"R{r}",
                             20 + 2 * q + rng.normal(0, 1), "ok", q + rng.normal(0, 0.5), True, False))
    df = pd.DataFrame(rows, columns=["dataset", "distortion", "pri", "arm", "arm_kind", "pair_kind", "measure",
                                     "image_id", "ref_id", "value", "status", "score", "higher_is_better",
                                     "measure_higher_is_better"])
    folds = st.assign_folds(df, k=3)
    c = comparisons.comparisons(df, {"gb": "q1"}, folds, n_boot=50, protocols=("paper",))["paper"]
    boot = c[c.test == comparisons.T_BOOT]
    assert boot["ci_low"].isna().all() and boot["note"].str.contains("6 contents").all()
    corr = st.correlations(df, n_boot=50, n_perm=0, protocols=("paper",)).corr
    assert corr["srocc_ci_low"].isna().all()
