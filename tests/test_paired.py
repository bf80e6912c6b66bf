"""Paired comparisons between arms (veiqa.stats.paired, veiqa.comparisons, Table 6's summary column) against
independent references: hand-worked Williams/Steiger values, statsmodels' Holm, scipy's F and Spearman, and
simulations that know the truth (content effects, equal arms under the null)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from veiqa import comparisons as C
from veiqa.stats import paired
from veiqa.stats.logistic import fit_logistic
from veiqa.table6 import add_verdicts


# ------------------------------------------------------------------------------------------ Williams / Steiger

def test_williams_t_steiger_case_a_worked_by_hand():
    """Steiger (1980)'s case A (psych::r.test(103, .4, .5, .1)): r_jk=.4, r_jh=.5, r_kh=.1, n=103, worked by hand:
    |R| = 1 − .16 − .25 − .01 + 2·.4·.5·.1 = 0.62; r̄ = .45; (n−1)/(n−3) = 1.02;
    denominator = 2·1.02·0.62 + .2025·.9³ = 1.2648 + 0.1476225 = 1.4124225; numerator = 102·1.1 = 112.2;
    t = −0.1·sqrt(112.2 / 1.4124225) = −0.89128..., df 100 (psych prints t = −0.89 with 100 df)."""
    t, p, df = paired.williams_t(0.4, 0.5, 0.1, 103)
    assert df == 100
    assert t == pytest.approx(-0.1 * math.sqrt(112.2 / 1.4124225), abs=1e-12)
    assert t == pytest.approx(-0.8913, abs=1e-4)
    assert p == pytest.approx(2 * sps.t.sf(0.89128, 100), abs=1e-4)
    assert 0.37 < p < 0.38


def test_steiger_z_case_a_worked_by_hand():
    """Same case: r̄ = .45, ψ = .1·(1 − .405) − ½·.2025·(1 − .405 − .01) = .0595 − .05923125 = .00026875,
    s̄ = ψ / (1 − .2025)² = .00026875 / .63600625, z = (atanh .4 − atanh .5)·sqrt(100) / sqrt(2 − 2 s̄)."""
    z, p = paired.steiger_z(0.4, 0.5, 0.1, 103)
    sbar = 0.00026875 / 0.63600625
    expect = (0.42364893019360184 - 0.5493061443340549) * 10.0 / math.sqrt(2 - 2 * sbar)
    assert z == pytest.approx(expect, abs=1e-12)
    assert z == pytest.approx(-0.8887, abs=1e-4)
    assert p == pytest.approx(2 * sps.norm.sf(abs(expect)), rel=1e-12)
    # Swapping the arms flips the sign only.
    assert paired.williams_t(0.5, 0.4, 0.1, 103)[0] == pytest.approx(-paired.williams_t(0.4, 0.5, 0.1, 103)[0])


def test_williams_and_steiger_hold_their_level_under_the_null():
    """Trivariate normal, ρ(y,a) = ρ(y,b) = 0.5, ρ(a,b) = 0.3, n = 40: both reject at about 5% (Monte Carlo,
    3000 samples: 5% ± 1.5 points); with ρ(y,a) = 0.8 (n = 80) they reject most of the time."""
    rng = np.random.default_rng(1)

    def rates(r_ya, r_yb, r_ab, n=40, reps=3000):
        S = np.array([[1, r_ya, r_yb], [r_ya, 1, r_ab], [r_yb, r_ab, 1]])
        X = rng.multivariate_normal(np.zeros(3), S, size=(reps, n))
        rw = rs = 0
        for s in X:
            R = np.corrcoef(s.T)
            rw += paired.williams_t(R[0, 1], R[0, 2], R[1, 2], n)[1] < 0.05
            rs += paired.steiger_z(R[0, 1], R[0, 2], R[1, 2], n)[1] < 0.05
        return rw / reps, rs / reps

    w, s = rates(0.5, 0.5, 0.3)
    assert 0.035 < w < 0.065 and 0.035 < s < 0.065
    w, s = rates(0.8, 0.5, 0.3, n=80, reps=300)
    assert w > 0.85 and s > 0.85


# ------------------------------------------------------------------------------------------ Holm, F

def test_holm_matches_statsmodels_and_a_hand_worked_case():
    sm = pytest.importorskip("statsmodels.stats.multitest")
    # by hand: sorted 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → running max 0.06
    assert paired.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    rng = np.random.default_rng(0)
    for m in (1, 2, 7, 30):
        p = np.concatenate([rng.uniform(0, 0.05, m // 2), rng.uniform(size=m - m // 2)])
        p[:: max(1, m // 3)] = p[0]  # ties
        ref = sm.multipletests(p, method="holm")[1]
        assert paired.holm(p) == pytest.approx(ref, abs=1e-15)
    # NaN entries are not in the family
    p = np.array([0.01, np.nan, 0.02])
    out = paired.holm(p)
    assert np.isnan(out[1]) and out[[0, 2]] == pytest.approx(sm.multipletests([0.01, 0.02], method="holm")[1])


def test_f_test_against_scipy_f_and_its_level():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1.0, 30), rng.normal(0, 1.6, 30)
    F, p, d1, d2 = paired.f_test(a, b)
    F_ref = np.var(b, ddof=1) / np.var(a, ddof=1)
    assert (d1, d2) == (29, 29)
    assert F == pytest.approx(F_ref, rel=1e-12)
    assert p == pytest.approx(2 * min(sps.f.cdf(F_ref, 29, 29), sps.f.sf(F_ref, 29, 29)), rel=1e-12)
    # independent equal-variance samples: rejection at about 5% (2000 samples)
    rej = np.mean([paired.f_test(rng.normal(size=25), rng.normal(size=25))[1] < 0.05 for _ in range(2000)])
    assert 0.035 < rej < 0.065


# ------------------------------------------------------------------------------------------ per-arm figures

def test_srocc_rows_equal_scipy_on_the_expanded_sample():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=20).round(1), rng.normal(size=20)
    W = np.vstack([np.ones(20), rng.integers(0, 3, size=(4, 20))]).astype(float)
    got = paired.srocc_rows(x, y, W, orientation=-1.0)
    for b in range(W.shape[0]):
        r = W[b].astype(int)
        assert got[b] == pytest.approx(-sps.spearmanr(np.repeat(x, r), np.repeat(y, r)).statistic, abs=1e-12)


def test_plcc_rows_are_signed_a_priori():
    """Row 0 = Pearson(logistic fit, y) of the whole sample, +|r| for an arm that runs the expected way and −|r|
    for one that runs the other way (same data, measure direction flipped)."""
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1, 40)
    y = 3 * x + rng.normal(0, 0.3, 40)
    fit = fit_logistic(x, y, n_starts=1)
    r = sps.pearsonr(fit.predict(x), y).statistic
    W = np.ones((1, 40))
    assert paired.plcc_rows(x, y, W, orientation=1.0)[0] == pytest.approx(r, abs=1e-9)
    assert paired.plcc_rows(x, y, W, orientation=-1.0)[0] == pytest.approx(-r, abs=1e-9)
    # the fold version: each fold's held-out PLCC, mean over folds, same sign rule
    folds = np.arange(40) % 4
    per = []
    for f in range(4):
        tr, te = folds != f, folds == f
        ff = fit_logistic(x[tr], y[tr], n_starts=1)
        per.append(sps.pearsonr(ff.predict(x[te]), y[te]).statistic)
    assert paired.plcc_fold_rows(x, y, W, folds, orientation=1.0)[0] == pytest.approx(np.mean(per), abs=1e-9)
    assert paired.plcc_fold_rows(x, y, W, folds, orientation=-1.0)[0] == pytest.approx(-np.mean(per), abs=1e-9)


def test_bootstrap_p_and_interval_bookkeeping():
    assert paired.bootstrap_p(np.full(99, 0.3)) == pytest.approx(2 / 100)
    assert paired.bootstrap_p(np.r_[np.full(50, -1.0), np.full(50, 1.0)]) == 1.0
    a = np.r_[0.5, np.full(10, 0.6), np.nan]
    b = np.r_[0.2, np.full(11, 0.1)]
    res = paired.paired_bootstrap(a, b)
    assert res["delta"] == pytest.approx(0.3) and res["n_boot"] == 11 and res["n_boot_valid"] == 10
    assert res["ci_low"] == pytest.approx(0.5) and res["p_value"] == pytest.approx(2 / 11)


# ------------------------------------------------------------------------------------------ simulations

def _content_data(rng, n_contents=25, levels=4, better=False):
    """Scores = content effect + level effect + noise; arms A and B = scores + content bias + image noise, A and B
    exchangeable; with ``better``, A = scores + a little image noise (truly better)."""
    refs = np.repeat(np.arange(n_contents), levels)
    lvl = np.tile(np.arange(levels), n_contents)
    y = rng.normal(0, 1, n_contents)[refs] - 0.5 * lvl + rng.normal(0, 0.5, refs.size)
    def arm(noise):
        return y + rng.normal(0, 1.0, n_contents)[refs] + rng.normal(0, noise, refs.size)
    xa = y + rng.normal(0, 0.3, refs.size) if better else arm(1.0)
    return refs, y, xa, arm(1.0)


def test_paired_content_bootstrap_srocc_null_coverage_and_uniform_p():
    """Equal arms, content effects in x and y, 25 contents × 4 levels: the 95% interval of ΔSROCC contains the true 0
    in about 95% of 200 runs and the p-values are roughly uniform; a truly better arm is detected."""
    rng = np.random.default_rng(5)
    cover, ps = [], []
    for _ in range(200):
        refs, y, xa, xb = _content_data(rng)
        W = paired.image_weights(paired.content_resamples(refs, 400, rng), refs, refs)
        res = paired.paired_bootstrap(paired.srocc_rows(xa, y, W), paired.srocc_rows(xb, y, W))
        cover.append(res["ci_low"] <= 0 <= res["ci_high"])
        ps.append(res["p_value"])
    ps = np.array(ps)
    assert 0.90 <= np.mean(cover) <= 0.99
    assert np.mean(ps < 0.05) <= 0.10 and 0.35 <= np.mean(ps < 0.5) <= 0.65
    assert sps.kstest(ps, "uniform").pvalue > 0.001
    hits = 0
    for _ in range(40):
        refs, y, xa, xb = _content_data(rng, better=True)
        W = paired.image_weights(paired.content_resamples(refs, 400, rng), refs, refs)
        res = paired.paired_bootstrap(paired.srocc_rows(xa, y, W), paired.srocc_rows(xb, y, W))
        hits += res["ci_low"] > 0
    assert hits >= 30


@pytest.mark.slow  # 60 runs × 150 resamples × 2 arms of logistic fits: ~30 s
def test_paired_content_bootstrap_plcc_refit_null_coverage():
    """ΔPLCC with the logistic refitted on every resample (paper protocol), equal arms: the interval contains 0 in
    about 95% of 60 runs (85-100%, the Monte Carlo error of 60 runs) and the p-values are not piled near 0."""
    rng = np.random.default_rng(6)
    cover, ps = [], []
    for _ in range(60):
        refs, y, xa, xb = _content_data(rng, n_contents=15)
        W = paired.image_weights(paired.content_resamples(refs, 150, rng), refs, refs)
        res = paired.paired_bootstrap(paired.plcc_rows(xa, y, W), paired.plcc_rows(xb, y, W))
        assert res["n_boot_valid"] >= 145
        cover.append(res["ci_low"] <= 0 <= res["ci_high"])
        ps.append(res["p_value"])
    assert np.mean(cover) >= 0.85
    assert np.mean(np.array(ps) < 0.05) <= 0.15


# ------------------------------------------------------------------------------------------ the comparison table

def _scores_table(rng, n_contents=12, levels=5):
    """A collected long table: VEI arm (good), pixel-PRI control (weaker), control (null), NR methods (piqe reversed)."""
    rows = []
    refs = np.repeat(np.arange(n_contents), levels)
    for d in ("gb", "wn"):
        y = rng.normal(0, 0.5, n_contents)[refs] + np.tile(np.arange(levels), n_contents) + rng.normal(0, .3, refs.size)
        ids = [f"{d}_{r}_{k}" for r, k in zip(refs, np.tile(np.arange(levels), n_contents))]
        # DMOS-like scores and lower-is-better measures: orientation +1, a good arm rises with the score
        arms = {("vei-pretrained", "vei", "psnr", False): y + rng.normal(0, 0.3, y.size),
                ("image", "image", "psnr", False): y + rng.normal(0, 2.0, y.size),
                ("vei-random0", "vei", "psnr", False): rng.normal(size=y.size),
                ("niqe", "nr", "niqe", False): y + rng.normal(0, 1.0, y.size),
                ("piqe", "nr", "piqe", False): -y + rng.normal(0, 1.5, y.size)}  # runs the wrong way
        for (arm, kind, m, mhib), v in arms.items():
            for i, r, val, s in zip(ids, refs, v, y):
                rows.append({"dataset": "sim", "distortion": d, "arm": arm, "pair_kind": kind, "measure": m,
                             "arm_kind": {"vei-pretrained": "vei", "image": "pixel", "vei-random0": "random_control",
                                          "niqe": "nr", "piqe": "nr"}[arm],
                             "image_id": i, "ref_id": f"c{r}", "value": val, "score": s, "pri": "p0",
                             "higher_is_better": False, "measure_higher_is_better": mhib, "status": "ok"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def sim_comparisons():
    rng = np.random.default_rng(7)
    scores = _scores_table(rng)
    scores = scores.assign(arm=scores["arm"].replace({"vei-random0": "efficientnet_lite0-random0-network-last-"
                                                      "own_top1-minmax"}))
    folds = pd.DataFrame({"dataset": "sim", "ref_id": [f"c{i}" for i in range(12)], "fold": np.arange(12) % 3})
    return scores, C.comparisons(scores, {"gb": "p0", "wn": "p0"}, folds, n_boot=150, seed=1)


def test_comparison_table_pairs_signs_and_holm(sim_comparisons):
    scores, res = sim_comparisons
    assert set(res) == {"paper", "content_separated"}
    t = res["paper"]
    assert list(t.columns) == C.COLUMNS
    for c in ("dataset", "distortion", "arm_a", "arm_b", "statistic", "delta", "ci_low", "ci_high", "p_value",
              "p_holm", "test", "n", "n_contents", "n_boot_valid"):
        assert c in t.columns
    assert set(t["distortion"]) == {"gb", "wn", "all"}
    assert set(t["arm_a"]) == {"vei-pretrained"}
    # B: the pixel-PRI control, the control and the best NR method (niqe runs the expected way, piqe does not)
    assert set(t["role_b"]) == {C.ROLE_PIXEL, C.ROLE_CONTROL, C.ROLE_NR}
    assert set(t.loc[t["role_b"] == C.ROLE_NR, "arm_b"]) == {"niqe"}
    boot = t[(t["statistic"] == "srocc") & (t["test"] == C.T_BOOT)]
    # SROCC equals scipy's, oriented (DMOS-like scores, lower-is-better measure: orientation +1)
    g = scores[(scores["distortion"] == "gb") & (scores["arm"] == "vei-pretrained")]
    r = boot[(boot["distortion"] == "gb") & (boot["role_b"] == C.ROLE_PIXEL)].iloc[0]
    assert r["estimate_a"] == pytest.approx(sps.spearmanr(g["value"], g["score"]).statistic, abs=1e-12)
    assert r["n"] == 60 and r["n_contents"] == 12 and r["n_boot"] == 150
    # the VEI arm is much better than the random-weights and pixel-PRI controls: delta > 0, intervals above 0
    for role in (C.ROLE_PIXEL, C.ROLE_CONTROL):
        sub = boot[boot["role_b"] == role]
        assert (sub["delta"] > 0).all() and (sub["ci_low"] > 0).all()
    # Holm over the rows of one statistic × test
    assert boot["p_holm"].to_numpy() == pytest.approx(paired.holm(boot["p_value"].to_numpy()))
    assert (t["p_holm"] >= t["p_value"] - 1e-15).all()
    # Williams' t only in the paper protocol
    assert (t["test"] == C.T_WILLIAMS).sum() == 9 and (res["content_separated"]["test"] == C.T_WILLIAMS).sum() == 0
    # the SROCC bootstrap does not depend on the protocol (same resamples, no mapping)
    cs = res["content_separated"]
    cs_boot = cs[(cs["statistic"] == "srocc") & (cs["test"] == C.T_BOOT)]
    assert cs_boot["ci_low"].to_numpy() == pytest.approx(boot["ci_low"].to_numpy())
    assert "smallest bootstrap p is 0.0132" in t.attrs["caption"]
    assert "no Holm-adjusted bootstrap p can fall below 0.05" in t.attrs["caption"]  # 9 per family × 0.0132


def test_reversed_control_gets_a_negative_plcc_and_is_flagged():
    rng = np.random.default_rng(8)
    scores = _scores_table(rng)
    scores.loc[scores["arm"] == "image", "value"] *= -1  # the pixel-PRI control now ranks the wrong way
    folds = pd.DataFrame({"dataset": "sim", "ref_id": [f"c{i}" for i in range(12)], "fold": np.arange(12) % 3})
    t = C.comparisons(scores, {"gb": "p0", "wn": "p0"}, folds, protocols=("paper",), n_boot=50)["paper"]
    px = t[t["role_b"] == C.ROLE_PIXEL]
    assert (px["reversed"] == "B").all()
    plcc = px[px["test"] == C.T_BOOT_REFIT]
    assert (plcc["estimate_b"] < 0).all() and (plcc["estimate_a"] > 0).all()


def test_too_few_contents_print_no_interval():
    rng = np.random.default_rng(9)
    scores = _scores_table(rng, n_contents=3)
    folds = pd.DataFrame({"dataset": "sim", "ref_id": ["c0", "c1", "c2"], "fold": [0, 1, 2]})
    t = C.comparisons(scores, {"gb": "p0", "wn": "p0"}, folds, protocols=("paper",), n_boot=100)["paper"]
    boot = t[t["test"].isin([C.T_BOOT, C.T_BOOT_REFIT])]
    assert boot["ci_low"].isna().all() and boot["p_value"].isna().all() and (boot["n_boot_valid"] == 0).all()
    assert boot["note"].str.contains("3 contents").all()
    assert boot["delta"].notna().all()  # the point estimate is still printed
    assert t.loc[t["test"] == C.T_STEIGER, "p_value"].notna().all()


def test_table6_summary_column():
    """better / not distinguishable / worse / no test from Holm-adjusted p and the sign of delta, on VEI rows only."""
    base = {"dataset": "sim", "arm_a": "vei", "arm_b": "image", "role_b": C.ROLE_PIXEL, "statistic": "srocc",
            "test": C.T_BOOT, "n_boot": 1000}
    comp = pd.DataFrame([{**base, "distortion": "gb", "delta": 0.2, "p_value": 0.004, "p_holm": 0.012},
                         {**base, "distortion": "wn", "delta": -0.3, "p_value": 0.002, "p_holm": 0.008},
                         {**base, "distortion": "jpeg", "delta": 0.1, "p_value": 0.03, "p_holm": 0.06},
                         {**base, "distortion": "all", "delta": 0.1, "p_value": np.nan, "p_holm": np.nan},
                         # another test and another comparator do not enter the verdict
                         {**base, "distortion": "gb", "delta": -0.2, "p_value": 1e-9, "p_holm": 1e-8,
                          "test": C.T_STEIGER},
                         {**base, "distortion": "gb", "delta": -0.2, "p_value": 1e-9, "p_holm": 1e-8,
                          "role_b": C.ROLE_NR, "arm_b": "niqe"}])
    t6 = pd.DataFrame({"distortion": ["gb", "gb", "wn", "jpeg", "all"],
                       "arm": ["vei", "image", "vei", "vei", "vei"],
                       "kind": ["pretrained", "pixel-PRI control", "pretrained", "pretrained", "pretrained"]})
    t6.attrs["caption"] = "Table 6."
    out = add_verdicts(t6, comp)
    assert out["vs pixel PRI"].tolist() == ["better", "", "worse", "not distinguishable", "no test"]
    cap = out.attrs["caption"]
    assert cap.startswith("Table 6. ")
    assert "paired content bootstrap of delta SROCC (1000 resamples" in cap and "alpha 0.05" in cap
    assert "Holm-adjusted over the 4 comparisons" in cap  # the NR comparison is in the family too and "'no test'" in cap
    assert add_verdicts(t6, comp, alpha=0.01)["vs pixel PRI"].tolist()[0] == "not distinguishable"


def test_write_csv_and_markdown(sim_comparisons, tmp_path):
    _, res = sim_comparisons
    t = res["content_separated"]
    csv, md = C.write(t, tmp_path / "comparisons")
    back = pd.read_csv(csv)
    assert list(back.columns) == C.COLUMNS and len(back) == len(t)
    assert back["delta"].to_numpy() == pytest.approx(t["delta"].to_numpy(float), nan_ok=True)
    text = open(md).read()
    assert text.startswith("Table: Paired comparisons, sim, protocol 'content_separated'")
    assert "| distortion | A | B | B is |" in text and "delta CI low" not in text
    first = t[t["test"] == C.T_BOOT].iloc[0]
    assert f"{first['delta']:.3f} [{first['ci_low']:.3f}, {first['ci_high']:.3f}]" in text
    assert "n/a, n/a" not in text  # analytic rows: the delta alone


def test_flat_or_failed_fit_falls_back_to_the_line():
    """A monotone fit that ends at its flat stationary point gives no PLCC; the line's signed PLCC is then
    orientation × Pearson(x, y) (here: a constant-start sample where the logistic has nothing to grip)."""
    from veiqa.stats.logistic import LogisticFit

    rng = np.random.default_rng(10)
    x, y = rng.normal(size=30), rng.normal(size=30)
    flat = LogisticFit((0.0, 1.0, 0.0, 0.0, 0.5), "ok", "flat", 30, 1.0, 1, "monotone")
    failed = LogisticFit((np.nan,) * 5, "failed", "no", 30, np.nan, 1, "monotone")
    w = np.ones(30)
    r = sps.pearsonr(x, y).statistic
    for fit in (flat, failed):
        assert paired._plcc_of_fit(fit, x, y, w, x, y, w, -1.0) == pytest.approx(-r, abs=1e-12)
    assert np.isnan(paired._plcc_of_fit(flat, np.ones(30), y, w, x, y, w, 1.0))  # a line without slope
