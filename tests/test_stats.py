"""Tests of veiqa.stats against independent computations (SciPy correlations, synthetic logistic with known βs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from veiqa import stats as st
from veiqa.io import VeiqaError

TRUE_BETAS = (60.0, 0.35, 28.0, 0.4, 30.0)


def _long_table(n_refs=12, dists=("awgn", "blur"), levels=4, score_hib=True, measure_hib=True, seed=0,
                arms=(("effnet", "vei"), ("image", "image")), noise=1.0):
    """Synthetic long table: the score is a noisy logistic of a latent quality; the value tracks the quality
    (increasing when measure_hib, decreasing otherwise); DMOS-like scores are 100 − MOS."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in dists:
        for r in range(n_refs):
            for lv in range(levels):
                v_up = rng.uniform(15, 45)
                mos = st.logistic5(v_up, *TRUE_BETAS) + rng.normal(0, noise)
                score = mos if score_hib else 100.0 - mos
                for arm, pk in arms:
                    v = v_up + rng.normal(0, 0.5)
                    value = v if measure_hib else -v
                    rows.append(("ds", d, arm, pk, "psnr", f"{d}_{r}_{lv}", f"R{r:02d}", value, score,
                                 score_hib, measure_hib))
    return pd.DataFrame(rows, columns=list(st.REQUIRED_COLUMNS))


# --------------------------------------------------------------------------------------------------- logistic fit

def test_logistic_recovers_known_curve():
    rng = np.random.default_rng(3)
    x = rng.uniform(10, 50, 400)
    truth = st.logistic5(x, *TRUE_BETAS)
    y = truth + rng.normal(0, 1.0, x.size)
    fit = st.fit_logistic(x, y)
    assert fit.ok and fit.n == 400
    # predictions within 1 score unit (noise sd 1, 400 points) of the noise-free curve everywhere on the data range
    grid = np.linspace(10, 50, 200)
    assert np.max(np.abs(fit.predict(grid) - st.logistic5(grid, *TRUE_BETAS))) < 1.0
    # and the fit is at least as good as the truth in least-squares terms
    assert fit.rss <= np.sum((truth - y) ** 2) + 1e-6
    # a decreasing (DMOS-like) version is fitted just as well: the logistic handles either sign
    fit_d = st.fit_logistic(x, 100 - y)
    assert fit_d.ok
    assert np.max(np.abs(fit_d.predict(grid) - (100 - st.logistic5(grid, *TRUE_BETAS)))) < 1.0


def test_logistic5_formula_by_hand():
    # x = β3 → ½ − ½ = 0: q = β4 β3 + β5
    assert st.logistic5(28.0, *TRUE_BETAS) == pytest.approx(0.4 * 28 + 30, abs=1e-12)
    # x = β3 + 1/β2 → ½ − 1/(1+e) = 0.2310585786...
    x = 28.0 + 1 / 0.35
    assert st.logistic5(x, *TRUE_BETAS) == pytest.approx(60 * (0.5 - 1 / (1 + np.e)) + 0.4 * x + 30, abs=1e-9)
    # extreme arguments do not overflow
    assert np.all(np.isfinite(st.logistic5(np.array([-1e6, 1e6]), *TRUE_BETAS)))


def test_failed_fit_reported_not_dropped():
    x = np.full(50, 3.0)
    y = np.linspace(0, 1, 50)
    fit = st.fit_logistic(x, y)
    assert fit.status == "failed" and "constant" in fit.message
    assert np.all(np.isnan(fit.betas))
    small = st.fit_logistic([1, 2, 3], [1, 2, 3])
    assert small.status == "failed" and "3 finite points" in small.message

    # in the table: a group whose values are constant keeps its row, fit_status failed, PLCC NaN, SROCC NaN
    df = _long_table(n_refs=6, dists=("awgn",), arms=(("effnet", "vei"),))
    df["value"] = 1.0
    res = st.correlations(df, n_boot=50, k=3)
    assert len(res.corr) == 4  # awgn + all, 2 protocols
    assert (res.corr["fit_status"] == "failed").all()
    assert (res.corr["mapping"] == "none").all()
    assert res.corr["plcc"].isna().all() and res.corr["srocc"].isna().all()
    assert (res.fits["fit_status"] == "failed").all()
    assert res.fits["fit_message"].str.contains("constant").all()


def test_failed_fit_linear_fallback_matches_raw_plcc():
    # 5 points: too few for the logistic → linear fallback; its PLCC equals |Pearson| of the raw values
    x = np.array([1.0, 2.0, 4.0, 7.0, 8.0])
    y = np.array([2.0, 1.5, 5.0, 6.0, 9.0])
    row, fits, pred = st.evaluate_group(x, y, list("abcde"), protocol="paper", n_boot=0)
    assert row["fit_status"] == "failed" and row["mapping"] == "linear_fallback"
    assert row["plcc"] == pytest.approx(abs(sps.pearsonr(x, y)[0]), abs=1e-12)
    b, a = np.polyfit(x, y, 1)
    assert row["rmse"] == pytest.approx(np.sqrt(np.mean((a + b * x - y) ** 2)), abs=1e-12)


# ----------------------------------------------------------------------------------------- correlation engine

def test_point_statistics_match_scipy():
    rng = np.random.default_rng(5)
    x = np.round(rng.normal(size=80), 1)  # ties on purpose
    y = np.round(x + rng.normal(size=80), 1)
    pred = 0.5 * x + 0.1
    o = st.weighted_stats(x, y, pred, np.ones((1, 80)))
    assert o["plcc"][0] == pytest.approx(sps.pearsonr(pred, y)[0], abs=1e-12)
    assert o["plcc_raw"][0] == pytest.approx(sps.pearsonr(x, y)[0], abs=1e-12)
    assert o["srocc"][0] == pytest.approx(sps.spearmanr(x, y)[0], abs=1e-12)
    assert o["krocc"][0] == pytest.approx(sps.kendalltau(x, y)[0], abs=1e-12)  # τ-b
    assert o["rmse"][0] == pytest.approx(np.sqrt(np.mean((pred - y) ** 2)), abs=1e-12)


@pytest.mark.parametrize("matrix_max_n", [10_000, 10])  # sign-matrix path and per-resample SciPy path
def test_weighted_statistics_equal_scipy_on_expanded_samples(matrix_max_n):
    rng = np.random.default_rng(7)
    n = 60
    x = np.round(rng.normal(size=n), 1)
    y = np.round(-x + rng.normal(size=n), 1)
    pred = rng.normal(size=n)
    W = st.bootstrap_weights(n, 5, rng)
    o = st.weighted_stats(x, y, pred, W, orientation=-1.0, kendall_matrix_max_n=matrix_max_n)
    for b in range(5):
        rep = W[b].astype(int)
        xe, ye, pe = np.repeat(x, rep), np.repeat(y, rep), np.repeat(pred, rep)
        assert o["plcc"][b] == pytest.approx(sps.pearsonr(pe, ye)[0], abs=1e-10)
        assert o["srocc"][b] == pytest.approx(-sps.spearmanr(xe, ye)[0], abs=1e-10)
        assert o["krocc"][b] == pytest.approx(-sps.kendalltau(xe, ye)[0], abs=1e-10)
        assert o["rmse"][b] == pytest.approx(np.sqrt(np.mean((pe - ye) ** 2)), abs=1e-10)


def test_correlations_paper_protocol_match_scipy_per_group():
    df = _long_table()
    res = st.correlations(df, n_boot=0, protocols=("paper",))
    assert set(res.corr["distortion"]) == {"awgn", "blur", "all"}
    for _, row in res.corr.iterrows():
        g = df[(df.arm == row.arm) & (df.pair_kind == row.pair_kind)]
        if row.distortion != "all":
            g = g[g.distortion == row.distortion]
        assert row.n == len(g)
        assert row.srocc == pytest.approx(sps.spearmanr(g.value, g.score)[0], abs=1e-12)
        assert row.krocc == pytest.approx(sps.kendalltau(g.value, g.score)[0], abs=1e-12)
        # PLCC after mapping: Pearson between the reported fit's predictions and the score
        f = res.fits[(res.fits.arm == row.arm) & (res.fits.distortion == row.distortion)
                     & (res.fits.pair_kind == row.pair_kind)].iloc[0]
        pred = st.logistic5(g.value.to_numpy(), *f[list(st.BETA_NAMES)].to_numpy(float))
        assert row.plcc == pytest.approx(sps.pearsonr(pred, g.score)[0], abs=1e-10)
        assert row.rmse == pytest.approx(np.sqrt(np.mean((pred - g.score.to_numpy()) ** 2)), abs=1e-10)
        assert f.n_fit == row.n
        # the mapping improves on a straight line (nonlinear truth)
        assert row.plcc >= abs(row.plcc_raw) - 1e-9


def test_nan_values_dropped_and_counted():
    df = _long_table(dists=("awgn",), arms=(("effnet", "vei"),))
    df.loc[[0, 5, 9], "value"] = np.nan
    res = st.correlations(df, n_boot=0, protocols=("paper",))
    row = res.corr[res.corr.distortion == "awgn"].iloc[0]
    assert row.n_nan == 3 and row.n == len(df) - 3
    good = df.dropna(subset=["value"])
    assert row.srocc == pytest.approx(sps.spearmanr(good.value, good.score)[0], abs=1e-12)


# ---------------------------------------------------------------------------------------------------- direction

def test_direction_dmos_and_lower_better_measure():
    """Orientation = sign(score direction) × sign(measure direction); better agreement is positive."""
    base = st.correlations(_long_table(), n_boot=0, protocols=("paper",)).corr
    dmos = st.correlations(_long_table(score_hib=False), n_boot=0, protocols=("paper",)).corr
    lowb = st.correlations(_long_table(measure_hib=False), n_boot=0, protocols=("paper",)).corr
    both = st.correlations(_long_table(score_hib=False, measure_hib=False), n_boot=0, protocols=("paper",)).corr
    assert (base.srocc > 0.8).all()
    for other, orient in ((dmos, -1), (lowb, -1), (both, 1)):
        assert (other.orientation == orient).all()
        # same data up to a flip of direction → identical oriented statistics, all positive
        for s in ("srocc", "krocc", "plcc_raw", "plcc", "rmse"):
            np.testing.assert_allclose(other[s].to_numpy(), base[s].to_numpy(), atol=1e-6, err_msg=s)
    # the raw (unoriented) SciPy correlation of the DMOS table is negative: the reported value is −1 × it
    raw = _long_table(score_hib=False)
    g = raw[(raw.distortion == "awgn") & (raw.arm == "effnet")]
    r = dmos[(dmos.distortion == "awgn") & (dmos.arm == "effnet")].iloc[0]
    assert sps.spearmanr(g.value, g.score)[0] < 0
    assert r.srocc == pytest.approx(-sps.spearmanr(g.value, g.score)[0], abs=1e-12)


def test_direction_must_be_constant_per_dataset():
    df = _long_table()
    df.loc[0, "higher_is_better"] = False
    with pytest.raises(VeiqaError, match="higher_is_better"):
        st.correlations(df, n_boot=0)


def test_missing_column_named():
    df = _long_table().drop(columns=["ref_id"])
    with pytest.raises(VeiqaError, match="ref_id"):
        st.correlations(df, n_boot=0)


# ----------------------------------------------------------------------------------------- content separation

def test_kfold_never_shares_ref_between_train_and_test():
    df = _long_table(n_refs=13)
    res = st.correlations(df, n_boot=0, k=4, protocols=("content_separated",))
    folds = res.folds
    assert folds.groupby("dataset")["ref_id"].apply(lambda s: s.is_unique).all()
    assert sorted(folds.fold.unique()) == [0, 1, 2, 3]
    sizes = folds.fold.value_counts()
    assert sizes.max() - sizes.min() <= 1
    pr = res.predictions
    # every image's fold is its content's fold; within a group, each ref_id sits in exactly one fold
    assert (pr.groupby(["arm", "distortion", "ref_id"])["fold"].nunique() == 1).all()
    merged = pr.merge(folds, on=["dataset", "ref_id"], suffixes=("", "_assigned"))
    assert (merged.fold == merged.fold_assigned).all()
    # train set of fold f = images of other folds: its refs never meet the test refs
    for f in range(4):
        test_refs = set(pr.loc[pr.fold == f, "ref_id"])
        train_refs = set(pr.loc[pr.fold != f, "ref_id"])
        assert test_refs and train_refs and not (test_refs & train_refs)
    # one fit per fold per group, each on the training rows only
    fits = res.fits[(res.fits.arm == "effnet") & (res.fits.distortion == "awgn")]
    assert sorted(fits.fold) == [0, 1, 2, 3]
    n_group = len(df[(df.arm == "effnet") & (df.distortion == "awgn")])
    for _, f in fits.iterrows():
        n_test = int((pr[(pr.arm == "effnet") & (pr.distortion == "awgn")].fold == f.fold).sum())
        assert f.n_fit == n_group - n_test


def test_content_separated_out_of_fold_predictions():
    """The out-of-fold prediction of fold f equals a logistic fitted independently on the other folds' rows."""
    df = _long_table(n_refs=10, dists=("awgn",), arms=(("effnet", "vei"),))
    res = st.correlations(df, n_boot=0, k=5, protocols=("content_separated",))
    pr = res.predictions[res.predictions.distortion == "awgn"]
    row = res.corr[res.corr.distortion == "awgn"].iloc[0]
    for f in range(5):
        tr, te = pr[pr.fold != f], pr[pr.fold == f]
        fit = st.fit_logistic(tr.value, tr.score, n_starts=9)  # independent, more starts, no warm start
        # same optimum up to solver tolerance (score units, scores span ~0..100)
        np.testing.assert_allclose(te.prediction, fit.predict(te.value), atol=0.05)
    # primary = mean over folds of the per-fold figures (PLCC signed; these fits all go the a-priori way)
    per_fold = [sps.pearsonr(pr[pr.fold == f].prediction, pr[pr.fold == f].score)[0] for f in range(5)]
    assert row.plcc == pytest.approx(np.mean(per_fold), abs=1e-12)
    per_fold_s = [sps.spearmanr(pr[pr.fold == f].value, pr[pr.fold == f].score)[0] for f in range(5)]
    assert row.srocc == pytest.approx(row.orientation * np.mean(per_fold_s), abs=1e-12)
    # held-out PLCC cannot beat the in-sample one by much
    paper = st.correlations(df, n_boot=0, protocols=("paper",)).corr
    assert row.plcc <= paper[paper.distortion == "awgn"].plcc.iloc[0] + 1e-3


# ----------------------------------------------------------------------------------------------------- bootstrap

def test_bootstrap_ci_contains_estimate_narrows_with_n_and_is_deterministic():
    small = _long_table(n_refs=8, dists=("awgn",), arms=(("effnet", "vei"),), noise=8.0, seed=1)
    large = _long_table(n_refs=64, dists=("awgn",), arms=(("effnet", "vei"),), noise=8.0, seed=1)
    rs = st.correlations(small, n_boot=400, seed=11).corr
    rl = st.correlations(large, n_boot=400, seed=11).corr
    for r in (rs, rl):
        for s in st.STATS:
            has = r[f"{s}_ci_low"].notna()  # paper PLCC/RMSE: no interval (in-sample fit), a chance level instead
            if s in st.FIT_STATS:
                assert r.loc[r.protocol == "paper", f"{s}_ci_low"].isna().all()
            rr = r[has]
            assert (rr[f"{s}_ci_low"] <= rr[s] + 1e-12).all(), s
            assert (rr[s] <= rr[f"{s}_ci_high"] + 1e-12).all(), s
    for s in ("plcc", "srocc", "krocc"):
        w_small = (rs[f"{s}_ci_high"] - rs[f"{s}_ci_low"]).to_numpy()
        w_large = (rl[f"{s}_ci_high"] - rl[f"{s}_ci_low"]).to_numpy()
        both = np.isfinite(w_small) & np.isfinite(w_large)
        assert both.sum() >= 2 and (w_large[both] < w_small[both]).all(), s  # 8× more images: roughly √8 narrower
    again = st.correlations(small, n_boot=400, seed=11).corr
    pd.testing.assert_frame_equal(rs, again)
    # groups dealt to 3 worker processes: every table the same as the serial loop's
    two = _long_table(n_refs=8, dists=("awgn", "blur"), noise=8.0, seed=1)
    serial, par = st.correlations(two, n_boot=100, seed=11), st.correlations(two, n_boot=100, seed=11, workers=3)
    for name in ("corr", "fits", "predictions"):
        pd.testing.assert_frame_equal(getattr(serial, name), getattr(par, name))
    other = st.correlations(small, n_boot=400, seed=12).corr
    assert not np.allclose(other["srocc_ci_low"], rs["srocc_ci_low"])
    # every cluster resample of 8 contents gave a finite statistic
    cs = rs[rs.protocol == "content_separated"]
    assert (cs.n_boot_valid == 400).all()


def test_cluster_bootstrap_weights_resample_whole_contents():
    rng = np.random.default_rng(0)
    clusters = np.repeat(np.arange(6), 4)  # 6 contents × 4 images
    W = st.bootstrap_weights(clusters.size, 200, rng, clusters)
    # all images of a content share one weight; each resample draws 6 contents
    assert (W.reshape(200, 6, 4).std(axis=2) == 0).all()
    np.testing.assert_array_equal(W.reshape(200, 6, 4)[:, :, 0].sum(axis=1), 6)
    Wi = st.bootstrap_weights(24, 200, rng)
    np.testing.assert_array_equal(Wi.sum(axis=1), 24)


def test_bootstrap_percentile_matches_explicit_resampling():
    """The vectorised SROCC bootstrap equals SciPy on explicitly resampled index arrays with the same draws."""
    rng = np.random.default_rng(4)
    n = 40
    x = rng.normal(size=n)
    y = x + rng.normal(size=n)
    W = st.bootstrap_weights(n, 300, np.random.default_rng(99))
    o = st.weighted_stats(x, y, x, W)
    ref = np.array([sps.spearmanr(np.repeat(x, w.astype(int)), np.repeat(y, w.astype(int)))[0] for w in W])
    np.testing.assert_allclose(o["srocc"], ref, atol=1e-10)


def test_save_results_roundtrip(tmp_path):
    from veiqa.io import read_provenance

    res = st.correlations(_long_table(n_refs=6, dists=("awgn",), arms=(("effnet", "vei"),)), n_boot=20, k=3)
    paths = st.save_results(res, tmp_path, meta={"rule": "correlations"})
    for name, path in paths.items():
        back = pd.read_parquet(path)
        pd.testing.assert_frame_equal(back, getattr(res, name), check_dtype=False)
        assert read_provenance(path)["rule"] == "correlations"
    fits = pd.read_parquet(paths["fits"])
    assert {"b1", "b2", "b3", "b4", "b5", "fit_status", "fit_message", "n_fit"} <= set(fits.columns)


# ------------------------------------------------------------------------------------ monotone logistic (issue 12)

OLD_LO, OLD_HI = np.array([-20.0, 0.0, -1e9, -10.0, -20.0]), np.array([20.0, 60.0, 1e9, 10.0, 20.0])


def _unconstrained_trf(x, y):
    """The former fit, as a reference: bounded only by β2' ∈ [0, 60], multi-start SciPy trf on standardised data."""
    from scipy import optimize

    xs, ys = (x - x.mean()) / x.std(), (y - y.mean()) / y.std()
    lo, hi = OLD_LO.copy(), OLD_HI.copy()
    lo[2], hi[2] = xs.min() - 1, xs.max() + 1
    best = None
    for q in (0.25, 0.5, 0.75):
        for b2 in (0.5, 2.0, 8.0, 30.0):
            s = np.clip([2.0, b2, np.quantile(xs, q), 0.0, 0.0], lo + 1e-9, hi - 1e-9)
            r = optimize.least_squares(lambda b: st.logistic5(xs, *b) - ys, s, bounds=(lo, hi), method="trf")
            best = r if best is None or r.cost < best.cost else best
    return best.x


def test_monotone_fit_recovers_a_monotone_curve():
    rng = np.random.default_rng(21)
    for sign in (1, -1):
        x = rng.uniform(10, 50, 150)
        truth = st.logistic5(x, *TRUE_BETAS)
        y = sign * truth + rng.normal(0, 2.0, x.size)
        fit = st.fit_logistic(x, y)
        assert fit.ok and fit.method == "monotone"
        mono, direction = st.is_monotone(fit.betas, 10, 50)
        assert mono and direction == sign
        grid = np.linspace(12, 48, 100)
        assert np.max(np.abs(fit.predict(grid) - sign * st.logistic5(grid, *TRUE_BETAS))) < 3.0
        # the derivative by hand, β1β2/4·sech²(β2(x−β3)/2) + β4, has one sign everywhere
        b1, b2, b3, b4, _ = fit.betas
        deriv = b1 * b2 / 4 / np.cosh(b2 * (np.linspace(-100, 200, 3001) - b3) / 2) ** 2 + b4
        assert np.all(sign * deriv >= -1e-12)


def test_step_data_gets_a_smooth_transition():
    """Scores that jump at one x: the unconstrained fit puts a vertical step there; the monotone fit's 12–88 % rise
    is at least the median 10 %-of-points spacing of x (worked independently here)."""
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, 60)
    y = 10 + 10 * (x > 0.5) + rng.normal(0, 0.5, x.size)
    xs = (x - x.mean()) / x.std()
    old = _unconstrained_trf(x, y)
    assert old[1] > 50  # the former fit: β2' at its bound of 60, a step
    fit = st.fit_logistic(x, y)
    b2_std = fit.betas[1] * x.std()
    s = np.sort(xs)
    m = max(5, int(np.ceil(60 / 10)))
    w = np.median(s[m:] - s[:-m])
    assert 4.0 / b2_std >= w * (1 - 1e-9)
    assert b2_std == pytest.approx(st.max_slope(xs), rel=1e-12) or b2_std < st.max_slope(xs)
    assert st.is_monotone(fit.betas, x.min(), x.max())[0]
    # smooth: no two neighbouring grid points of the data range differ by more than a tenth of the score range
    grid = np.linspace(x.min(), x.max(), 400)
    assert np.max(np.abs(np.diff(fit.predict(grid)))) < 0.1 * np.ptp(y)


def test_bump_data_gets_a_monotone_fit():
    """A sigmoid with an opposite linear trend (the demo's ``gb`` bump): the monotone fit never bends back."""
    rng = np.random.default_rng(8)
    x = rng.uniform(0, 10, 80)
    y = 5 * np.tanh(2 * (x - 3)) - 0.8 * x + rng.normal(0, 0.3, x.size)
    old = _unconstrained_trf(x, y)
    xs = (x - x.mean()) / x.std()
    q_old = st.logistic5(np.linspace(xs.min(), xs.max(), 500), *old)
    assert not st.is_monotone(old, xs.min(), xs.max())[0] or np.ptp(q_old) == 0  # the former fit bumps
    fit = st.fit_logistic(x, y)
    assert st.is_monotone(fit.betas, x.min(), x.max())[0]


def test_batched_solver_matches_scipy_trf():
    """The vectorised projected Levenberg–Marquardt reaches SciPy's trust-region-reflective optimum from the same
    starts and bounds (RSS within 1e-4 relative on most problems; both are local methods, so on a rare problem a
    different start wins: the largest excess seen over 60 random problems was 1.9 %, 58 of 60 within 1e-4)."""
    from scipy import optimize

    from veiqa.stats import logistic as lg

    rng = np.random.default_rng(1)
    excess = []
    for _ in range(25):
        n = int(rng.integers(20, 200))
        x = rng.uniform(0, 1, n) ** rng.uniform(0.5, 3)
        b = (rng.uniform(-3, 3), rng.uniform(0.5, 30), rng.uniform(0.2, 0.8), rng.uniform(-1, 1), 0)
        y = st.logistic5(x, *b) + rng.normal(0, rng.uniform(0.05, 1), n)
        fit = st.fit_logistic(x, y, n_starts=9)
        p = lg._prepare(x, y, 9, None, "monotone")
        best = min(optimize.least_squares(lambda q: st.logistic5(p.xs, *q) - p.ys,
                                          np.clip(s0, p.lo + 1e-9, p.hi - 1e-9), bounds=(p.lo, p.hi),
                                          method="trf", ftol=1e-10, xtol=1e-10, gtol=1e-10).cost for s0 in p.starts)
        excess.append(fit.rss / (2 * best * p.sy ** 2) - 1)
    excess = np.array(excess)
    assert np.median(excess) < 1e-4 and excess.max() < 0.02


def test_nlinfit_option_is_the_local_unconstrained_fit():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, 60)
    betas = (4.0, 6.0, 0.5, 1.0, 2.0)
    y = st.logistic5(x, *betas)
    fit = st.fit_logistic(x, y, method="nlinfit")
    assert fit.ok and fit.method == "nlinfit" and fit.n_starts == 1
    assert fit.rss < 1e-12  # noise-free data: the local fit from [max y, min y, mean x, 1, 0] finds the truth
    np.testing.assert_allclose(fit.predict(x), y, atol=1e-6)
    res = st.correlations(_long_table(n_refs=6, dists=("awgn",), arms=(("effnet", "vei"),)), n_boot=0, k=3,
                          logistic="nlinfit")
    assert (res.corr.logistic == "nlinfit").all() and (res.fits.fit_method == "nlinfit").all()
    with pytest.raises(VeiqaError, match="logistic"):
        st.correlations(_long_table(), logistic="steps")


def _demo_scores():
    from pathlib import Path

    df = pd.read_csv(Path(__file__).parent / "data" / "demo_scores.csv.gz")
    return df.assign(dataset="demo", higher_is_better=True)


def test_every_demo_fit_is_monotone_on_a_dense_grid():
    """A saved demo scores table (results/demo/collected.parquet of a demo run: one Grad-CAM arm and the
    pixel-PRI control, 11 measures, 200 images): every paper and fold fit is monotone over the data range."""
    df = _demo_scores()
    res = st.correlations(df, n_boot=0)
    ok = res.fits[res.fits.fit_status == "ok"]
    assert len(ok) == len(res.fits) > 500
    ranges = res.predictions.groupby(list(st.GROUP_KEYS))["value"].agg(["min", "max"])
    for r in ok.itertuples(index=False):
        lo, hi = ranges.loc[tuple(getattr(r, k) for k in st.GROUP_KEYS)]
        assert st.is_monotone([getattr(r, b) for b in st.BETA_NAMES], lo, hi)[0], r
    # PLCC is signed by the a-priori direction: it has the sign of the oriented SROCC wherever that is clear
    p = res.corr[(res.corr.protocol == "paper") & (res.corr.srocc.abs() > 0.2)]
    assert (np.sign(p.plcc) == np.sign(p.srocc)).all()
    assert res.corr.n_refs.max() == 9 and "motorcycle" in set(res.folds.ref_id)


# ------------------------------------------------------------------------------------------------- same N (§3)

def test_every_measure_of_an_arm_correlates_over_the_same_images():
    df = _long_table(n_refs=8, dists=("awgn",), arms=(("effnet", "vei"),))
    other = df.assign(measure="ssim", value=df["value"] * 0.01)
    df = pd.concat([df, other], ignore_index=True)
    df["status"] = "ok"
    bad = df.index[(df.measure == "psnr")][:3]
    df.loc[bad, ["value", "status"]] = [np.nan, "identical"]
    missing = df.index[(df.measure == "ssim")][10]
    gone = df.loc[missing, "image_id"]
    df = df.drop(index=missing)
    res = st.correlations(df, n_boot=0, protocols=("paper",))
    c = res.corr[res.corr.distortion == "awgn"].set_index("measure")
    n_img = df.image_id.nunique()
    assert c.loc["psnr", "n"] == c.loc["ssim", "n"] == n_img - 4
    assert c.loc["psnr", "n_nan"] == 3 and c.loc["psnr", "n_dropped"] == 1  # its own NaNs, and the missing ssim one
    assert c.loc["ssim", "n_nan"] == 0 and c.loc["ssim", "n_dropped"] == 3
    # a NaN "identical" (a NaN convention, not a value undefined by design) and a missing row are failures
    assert c.loc["ssim", "drop_reasons"] == "effnet psnr:identical=3; effnet ssim:missing=1"
    # the statistic is SciPy's on the common images
    keep = set(df.image_id) - set(df.loc[bad, "image_id"]) - {gone}
    g = df[(df.measure == "ssim") & df.image_id.isin(keep)]
    assert c.loc["ssim", "srocc"] == pytest.approx(sps.spearmanr(g.value, g.score)[0], abs=1e-12)


def test_identical_pairs_are_counted():
    df = _long_table(n_refs=6, dists=("awgn",), arms=(("effnet", "vei"),))
    df["status"] = "ok"
    df.loc[df.index[:4], "status"] = "identical"  # finite (e.g. PSNR at its ceiling): kept and counted
    c = st.correlations(df, n_boot=0, protocols=("paper",)).corr
    row = c[c.distortion == "awgn"].iloc[0]
    assert row.n_identical == 4 and row.n_dropped == 0 and row.n == len(df)


# -------------------------------------------------------------------------------------- nested selection (§2)

def _arms_table(n_arms=6, n_refs=20, levels=5, best=None, noise=1.0, seed=0):
    """Arms whose values are the latent quality plus noise; arm ``best`` has a quarter of the others' noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n_refs):
        for lv in range(levels):
            q = rng.uniform(0, 10)
            for a in range(n_arms):
                sd = noise * (0.25 if a == best else 1.0)
                rows.append(("ds", "awgn", f"arm{a}", "vei", "psnr", f"{r}_{lv}", f"R{r:02d}", q + rng.normal(0, sd),
                             q, True, True))
    return pd.DataFrame(rows, columns=list(st.REQUIRED_COLUMNS))


def test_nested_selection_picks_the_best_arm():
    df = _arms_table(best=3, noise=3.0)
    res = st.correlations(df, n_boot=0, k=5, protocols=("content_separated",))
    per_fold, summary = st.nested_selection(res.predictions, res.corr, n_boot=200)
    pf = per_fold[per_fold.distortion == "awgn"]
    assert len(pf) == 5 and (pf.arm == "arm3").sum() >= 4
    s = summary[summary.distortion == "awgn"].iloc[0]
    assert s.most_chosen == "arm3" and s.n == 100 and s.n_refs == 20
    assert s.srocc_nested_lo <= s.srocc_nested <= s.srocc_nested_hi
    # mean over outer folds of the chosen arm's held-out figures, by SciPy
    pr = res.predictions
    parts = [pr[(pr.arm == r.arm) & (pr.fold == r.fold) & (pr.distortion == "awgn")] for r in pf.itertuples()]
    assert s.plcc_nested == pytest.approx(np.mean([sps.pearsonr(d.prediction, d.score)[0] for d in parts]), abs=1e-12)
    assert s.srocc_nested == pytest.approx(np.mean([sps.spearmanr(d.value, d.score)[0] for d in parts]), abs=1e-12)


def test_nested_estimate_is_below_the_in_sample_maximum_for_a_null_grid():
    """All arms equal in truth: the best pooled SROCC of the grid is biased upward; the nested estimate is not."""
    gaps = []
    for seed in range(4):
        df = _arms_table(n_arms=12, n_refs=15, levels=4, noise=6.0, seed=seed)
        res = st.correlations(df, n_boot=0, k=5, protocols=("content_separated",))
        _, summary = st.nested_selection(res.predictions, res.corr, n_boot=0)
        c = res.corr[(res.corr.distortion == "awgn")]
        gaps.append(c.srocc.max() - summary[summary.distortion == "awgn"].srocc_nested.iloc[0])
    assert all(g > 0 for g in gaps)


def test_ranked_table_gains_nested_columns():
    from veiqa import ranking

    df = _arms_table(best=1, noise=3.0)
    df["status"], df["pri"], df["pri_identical"], df["arm_kind"] = "ok", "q1", False, "vei"
    # as ranking.correlations_all_arms gives it: the default PRI's rows, pri_setting "default"
    res = st.correlations(df.drop(columns=["pri", "pri_identical"]).assign(pri_setting="default"), n_boot=50, k=5)
    deg = ranking.degenerate_counts(df, {"awgn": "q1"})
    nested = st.nested_selection(res.predictions, res.corr, measure="psnr", n_boot=50)
    ranked = ranking.ranked_table(res.corr, deg, "psnr", default_pri={"awgn": "q1"}, nested=nested)
    aw = ranked[ranked.distortion == "awgn"]
    assert (aw.ranking == "in-sample").all() and list(aw["rank"]) == list(range(1, 7))
    assert aw[aw.arm == "arm1"].folds_chosen.iloc[0] != "" and aw.nested_srocc.nunique() == 1
    assert "winner's curse" in ranked.attrs["caption"]
    summ = ranking.nested_summary(ranked)
    assert set(summ.columns) >= {"in_sample_max_srocc", "nested_srocc", "nested_chosen"}


def test_check_monotone_script_flags_a_bump(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "check_monotone", Path(__file__).resolve().parents[1] / "scripts" / "check_monotone.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    df = _long_table(n_refs=6, dists=("awgn",), arms=(("effnet", "vei"),))
    res = st.correlations(df, n_boot=0, k=3)
    res.fits.to_parquet(tmp_path / "fits.parquet")
    df.to_parquet(tmp_path / "collected.parquet")
    assert mod.main([str(tmp_path / "fits.parquet"), str(tmp_path / "collected.parquet")]) == 0
    bumped = res.fits.copy()
    # a sigmoid rising by 40 with a linear term falling by 2 per unit over x in ~15..45: not monotone
    bumped.loc[0, list(st.BETA_NAMES)] = [40.0, 1.0, 30.0, -2.0, 0.0]
    bumped.to_parquet(tmp_path / "bad.parquet")
    assert mod.main([str(tmp_path / "bad.parquet"), str(tmp_path / "collected.parquet")]) == 1
    assert "1 not monotone" in capsys.readouterr().out


def test_nested_summary_compares_the_same_candidates():
    """The in-sample maximum beside the nested estimate ranges over the arms the nested choice ranges over: an FR
    ceiling or NR method ranked above them (scored by measures of their own) is not the grid's in-sample best."""
    from veiqa import ranking

    base = {c: np.nan for c in ranking.NESTED_COLS}
    rows = [
        {"dataset": "d", "distortion": "gb", "rank": 1, "arm": "fr-ceiling", "kind": "fr-ceiling", "srocc": 0.95},
        {"dataset": "d", "distortion": "gb", "rank": 2, "arm": "niqe", "kind": "NR method", "srocc": 0.90},
        {"dataset": "d", "distortion": "gb", "rank": 3, "arm": "vgg", "kind": "pretrained", "srocc": 0.60},
        {"dataset": "d", "distortion": "gb", "rank": 4, "arm": "image", "kind": "pixel-PRI control", "srocc": 0.40},
    ]
    ranked = pd.DataFrame([{**base, **r, "nested_srocc": 0.5} for r in rows])
    summ = ranking.nested_summary(ranked)
    assert summ.loc[0, "in_sample_best"] == "vgg" and summ.loc[0, "in_sample_max_srocc"] == 0.60
    assert summ.loc[0, "nested_srocc"] == 0.5


def test_fits_of_many_groups_batched_equal_each_group_fitted_alone():
    # correlations() solves every group's fits together (fit_logistic_many); each must be exactly the fit of its
    # group alone (fit_logistic_folds): groups of different sizes, a constant group, and a group with NaNs.
    from veiqa.stats.logistic import fit_logistic_folds, fit_logistic_many

    rng = np.random.default_rng(5)
    problems = []
    for n in (50, 50, 37, 200, 50):
        x = rng.uniform(0, 10, n)
        y = 5 / (1 + np.exp(-(x - 5))) + rng.normal(0, 0.4, n)
        folds = rng.integers(0, 5, n)
        masks = [np.ones(n, bool)] + [folds != f for f in range(5)]
        problems.append((x, y, masks, [5] + [3] * 5))
    x, y, masks, starts = problems[2]
    problems[2] = (np.full_like(x, 3.0), y, masks, starts)  # constant values: every fit fails, with its message
    x, y, masks, starts = problems[4]
    problems[4] = (np.where(np.arange(x.size) % 7 == 0, np.nan, x), y, masks, starts)
    many = fit_logistic_many(problems)
    assert [len(f) for f in many] == [6] * 5
    for prob, got in zip(problems, many):
        alone = fit_logistic_folds(*prob)
        assert [repr(f.as_dict()) for f in got] == [repr(f.as_dict()) for f in alone]  # repr: NaN == NaN, floats exact
    assert not any(f.ok for f in many[2]) and all(f.ok for f in many[0])


def test_average_ranks_are_scipys_rankdata():
    from veiqa.stats.weighted import average_ranks

    rng = np.random.default_rng(2)
    for v in (rng.normal(size=40), rng.integers(0, 5, 40).astype(float), np.array([3.0]), np.array([2.0, 2.0, 1.0])):
        assert np.array_equal(average_ranks(v), sps.rankdata(v))


def test_aggregation_jobs_import_neither_scipy_stats_nor_optimize():
    # correlations, tables, Table 6, ranking and scatter plots start without scipy.stats / scipy.optimize (1 s of
    # import each); they are loaded only where used (the nlinfit option, Kendall's tau above the matrix size).
    import subprocess
    import sys

    code = ("import sys; import veiqa.stats, veiqa.ranking, veiqa.plots, veiqa.tables, veiqa.table6; "
            "sys.exit(3 if {'scipy.stats', 'scipy.optimize'} & set(sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
