"""Aggregation statistics: logistic score mapping, PLCC/SROCC/KROCC/RMSE, evaluation protocols, bootstrap CIs.

Everything here is a pure function of pandas DataFrames / numpy arrays (no file I/O except :func:`save_results`).

Score mapping
    The 5-parameter logistic of VQEG (2003) as used by Sheikh, Sabir & Bovik (2006)::

        q(x) = β1 (½ − 1 / (1 + exp(β2 (x − β3)))) + β4·x + β5

    fitted by bounded least squares (:func:`scipy.optimize.least_squares`, method "trf", analytic Jacobian) from
    several starting points; the solution with the smallest residual sum of squares is kept (:func:`fit_logistic`).
    The fit is done on standardised x and y for conditioning and the βs are transformed back to the original units,
    so ``logistic5(x, *betas)`` predicts the score directly. The logistic handles either direction of the score
    (MOS or DMOS) and of the measure (its sign is absorbed by β1/β4), so no orientation is applied before fitting.

Failed fits
    A fit fails when the group has fewer than ``MIN_FIT_POINTS`` usable points, when x or the score is constant,
    or when no start converges to finite parameters. A failed fit is *reported* (``fit_status="failed"`` and a
    ``fit_message``), never dropped. Its PLCC/RMSE are then computed on a linear least-squares mapping of the raw
    values (which has the same |PLCC| as the raw values) and flagged with ``mapping="linear_fallback"``; when even
    that is impossible (constant x) PLCC/RMSE are NaN and ``mapping="none"``.

Direction (orientation)
    ``orientation = (+1 if higher_is_better else −1) × (+1 if measure_higher_is_better else −1)``, where
    ``higher_is_better`` is the score direction from the dataset manifest (False for DMOS-like scores) and
    ``measure_higher_is_better`` the direction of the objective measure (False for e.g. GMSD, NAE). SROCC, KROCC and
    ``plcc_raw`` (Pearson on the raw values, no mapping) are reported *signed* and multiplied by ``orientation``, so
    a positive value always means "the measure agrees with human judgement" and a negative one that it disagrees.
    PLCC after the logistic mapping is Pearson(prediction, score): the mapping already absorbs the direction, it is
    not multiplied by ``orientation``, and it is ≥ 0 for an in-sample least-squares fit (out-of-fold it can be
    negative, meaning the predictions anti-correlate with the scores). RMSE is in the units of the score.

Protocols (both reported, column ``protocol``)
    ``"paper"``: the logistic is fitted on all images of the group and evaluated on the same images (as in the
    paper and in Sheikh et al. 2006).
    ``"content_separated"``: k-fold cross-validation over reference contents (column ``ref_id``): per dataset the
    unique ref_ids are shuffled with a seeded generator and dealt round-robin into k folds (:func:`assign_folds`;
    the same folds are used for every arm, measure, pair kind and distortion of a dataset, so no content is ever in
    both the training and the test part of a fit). The logistic is fitted on the training contents and predicts
    the held-out contents. **Primary** figures (columns ``plcc``, ``srocc``, ``krocc``, ``rmse``) are computed on the
    *pooled* out-of-fold predictions of all N images (note that SROCC/KROCC do not involve the mapping, so their
    pooled values equal the paper protocol's); the mean and standard deviation over folds of the per-fold figures
    are reported as well (``*_fold_mean``, ``*_fold_std``). Pooling was chosen as primary because per-fold
    correlations on small held-out sets are noisy and biased towards zero.

Bootstrap confidence intervals
    Percentile intervals from ``n_boot`` resamples (seeded per group with :func:`veiqa.io.seed_from`, so results do
    not depend on group order). The paper protocol resamples images with replacement; the content-separated
    protocol resamples reference contents with replacement (cluster bootstrap, all images of a drawn content
    enter as many times as it is drawn). The logistic is **not** refitted per resample: PLCC/RMSE intervals use the
    predictions of the group's fit (in-sample for "paper", out-of-fold for "content_separated"), so they reflect
    sampling variability of the evaluation set, not of the fit. Resamples are represented as integer weight
    matrices (B × N) and all statistics are computed vectorised on the weighted (expanded) samples: weighted
    Pearson, Spearman via average ranks of the expanded multiset, Kendall τ-b via ½·wᵀSw with the pairwise
    concordance sign matrix S (N ≤ ``kendall_matrix_max_n``) or :func:`scipy.stats.kendalltau` per resample on the
    expanded sample (larger N). These equal SciPy's pearsonr / spearmanr / kendalltau (τ-b) on the expanded data.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats as sps

from .io import VeiqaError, seed_from, write_parquet

GROUP_KEYS = ("dataset", "distortion", "arm", "pair_kind", "measure")
REQUIRED_COLUMNS = (
    "dataset", "distortion", "arm", "pair_kind", "measure", "image_id", "ref_id",
    "value", "score", "higher_is_better", "measure_higher_is_better",
)
PROTOCOLS = ("paper", "content_separated")
STATS = ("plcc", "srocc", "krocc", "rmse")
MIN_FIT_POINTS = 6
BETA_NAMES = ("b1", "b2", "b3", "b4", "b5")


# ----------------------------------------------------------------------------------------------------------------
# logistic mapping
# ----------------------------------------------------------------------------------------------------------------

def logistic5(x, b1, b2, b3, b4, b5):
    """q = β1(½ − 1/(1 + exp(β2(x − β3)))) + β4·x + β5 (VQEG 2003; Sheikh et al. 2006), numerically stable."""
    x = np.asarray(x, dtype=float)
    z = b2 * (x - b3)
    # ½ − 1/(1+e^z) = ½·tanh(z/2): overflow-free
    return b1 * 0.5 * np.tanh(0.5 * z) + b4 * x + b5


def _logistic_jac(x, b):
    b1, b2, b3, b4, _ = b
    t = np.tanh(0.5 * b2 * (x - b3))
    dt = 0.5 * (1.0 - t * t)  # d tanh(u)/du * 1/2 factor handled below
    j = np.empty((x.size, 5))
    j[:, 0] = 0.5 * t
    j[:, 1] = b1 * 0.5 * dt * (x - b3)
    j[:, 2] = -b1 * 0.5 * dt * b2
    j[:, 3] = x
    j[:, 4] = 1.0
    return j


@dataclasses.dataclass(frozen=True)
class LogisticFit:
    """Result of :func:`fit_logistic`. ``betas`` are in original units (NaN when failed)."""

    betas: tuple[float, float, float, float, float]
    status: str  # "ok" | "failed"
    message: str
    n: int
    rss: float
    n_starts: int

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def predict(self, x) -> np.ndarray:
        return logistic5(x, *self.betas)

    def as_dict(self) -> dict:
        d = dict(zip(BETA_NAMES, self.betas))
        d.update(fit_status=self.status, fit_message=self.message, n_fit=self.n, rss=self.rss, n_starts=self.n_starts)
        return d


def _failed(msg: str, n: int, n_starts: int = 0) -> LogisticFit:
    return LogisticFit((np.nan,) * 5, "failed", msg, int(n), float("nan"), n_starts)


def fit_logistic(x, y, n_starts: int = 5, max_nfev: int = 500, tol: float = 1e-6,
                 init: Sequence[float] | None = None) -> LogisticFit:
    """Fit :func:`logistic5` to (x, y) robustly; return a :class:`LogisticFit` (never raises on bad data).

    Works on standardised values x' = (x − mean x)/sd x, y' = (y − mean y)/sd y with bounds
    β1' ∈ [−20, 20], β2' ∈ [0, 60] (β2 ≥ 0 removes the (β1, β2) → (−β1, −β2) symmetry; direction is carried by
    β1), β3' ∈ [min x' − 1, max x' + 1], β4' ∈ [−10, 10], β5' ∈ [−20, 20]. Starting points: β3' at the 25/50/75 %
    quantiles of x' × β2' ∈ {0.5, 2, 8} (the first ``n_starts`` of a fixed order of these 9, beginning with the median
    × β2' = 2 and varying β3' then β2'; β1' = 2·sign(corr), β4' = β5' = 0), plus the
    straight line β1' = 0 fit, plus ``init`` (βs in original units, e.g. a previous fit's, clipped into the bounds)
    when given. Each start runs trust-region-reflective least squares with ftol = xtol = gtol = ``tol``
    and at most ``max_nfev`` evaluations (a start that hits the cap still competes; its message says so). The
    smallest residual sum of squares wins. The parameters are then mapped back:
    β1 = sy β1', β2 = β2'/sx, β3 = mx + sx β3', β4 = sy β4'/sx, β5 = my + sy (β5' − β4' mx/sx).
    """
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError("x and y must have the same length")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = x.size
    if n < MIN_FIT_POINTS:
        return _failed(f"only {n} finite points (need >= {MIN_FIT_POINTS})", n)
    mx, sx = x.mean(), x.std()
    my, sy = y.mean(), y.std()
    if not (sx > 1e-12 * max(1.0, abs(mx))):
        return _failed("objective values are constant", n)
    if not (sy > 1e-12 * max(1.0, abs(my))):
        return _failed("scores are constant", n)
    xs, ys = (x - mx) / sx, (y - my) / sy
    lo = np.array([-20.0, 0.0, xs.min() - 1.0, -10.0, -20.0])
    hi = np.array([20.0, 60.0, xs.max() + 1.0, 10.0, 20.0])
    r = np.corrcoef(xs, ys)[0, 1]
    sgn = 1.0 if not np.isfinite(r) or r >= 0 else -1.0
    grid = [(0.5, 2.0), (0.25, 2.0), (0.75, 2.0), (0.5, 0.5), (0.5, 8.0), (0.25, 0.5), (0.75, 0.5), (0.25, 8.0),
            (0.75, 8.0)]
    starts = [[2.0 * sgn, b2, float(np.quantile(xs, q)), 0.0, 0.0] for q, b2 in grid]
    starts = starts[: max(1, n_starts)]
    starts.append([0.0, 1.0, 0.0, float(np.clip(r if np.isfinite(r) else 0.0, -1, 1)), 0.0])
    if init is not None and np.all(np.isfinite(init)):
        b1, b2, b3, b4, b5 = (float(v) for v in init)
        if b2 < 0:  # same curve with β2 ≥ 0
            b1, b2 = -b1, -b2
        starts.insert(0, [b1 / sy, b2 * sx, (b3 - mx) / sx, b4 * sx / sy, (b5 - my) / sy + b4 * mx / sy])
    best = None
    msgs = []

    def fun(b):
        return logistic5(xs, *b) - ys

    def jac(b):
        return _logistic_jac(xs, b)

    for s in starts:
        s = np.clip(np.asarray(s, float), lo + 1e-9, hi - 1e-9)
        try:
            res = optimize.least_squares(fun, s, jac=jac, bounds=(lo, hi), method="trf", max_nfev=max_nfev,
                                         ftol=tol, xtol=tol, gtol=tol)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError) as e:  # pragma: no cover - defensive
            msgs.append(str(e))
            continue
        if not np.all(np.isfinite(res.x)) or not np.isfinite(res.cost):
            msgs.append("non-finite solution")
            continue
        if res.status < 0:
            msgs.append(res.message)
            continue
        if best is None or res.cost < best.cost:
            best = res
    if best is None:
        return _failed("no start converged: " + "; ".join(sorted(set(msgs)))[:300], n, len(starts))
    b1p, b2p, b3p, b4p, b5p = best.x
    betas = (sy * b1p, b2p / sx, mx + sx * b3p, sy * b4p / sx, my + sy * (b5p - b4p * mx / sx))
    pred = logistic5(x, *betas)
    rss = float(np.sum((pred - y) ** 2))
    if not np.all(np.isfinite(pred)):  # pragma: no cover - defensive
        return _failed("non-finite predictions", n, len(starts))
    return LogisticFit(tuple(float(b) for b in betas), "ok", best.message, n, rss, len(starts))


def _linear_fallback(x_train, y_train, x_test) -> tuple[np.ndarray, str]:
    """Ordinary least-squares line y ≈ a + b x fitted on train, evaluated on test (for failed logistic fits)."""
    ok = np.isfinite(x_train) & np.isfinite(y_train)
    xt, yt = x_train[ok], y_train[ok]
    if xt.size >= 2 and np.std(xt) > 0:
        b, a = np.polyfit(xt, yt, 1)
        return a + b * np.asarray(x_test, float), "linear_fallback"
    return np.full(np.shape(x_test), np.nan), "none"


# ----------------------------------------------------------------------------------------------------------------
# weighted statistics engine (rows of W are weightings / resamples of the same N points)
# ----------------------------------------------------------------------------------------------------------------

def _wpearson(a: np.ndarray, b: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Weighted Pearson r per row of W (a, b are N-vectors or B×N)."""
    sw = W.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ma = (W * a).sum(axis=1) / sw
        mb = (W * b).sum(axis=1) / sw
        da = a - ma[:, None]
        db = b - mb[:, None]
        cov = (W * da * db).sum(axis=1)
        va = (W * da * da).sum(axis=1)
        vb = (W * db * db).sum(axis=1)
        r = cov / np.sqrt(va * vb)
        # degenerate: (near-)constant sample
        scale_a = np.maximum((W * a * a).sum(axis=1) / sw, 1e-300)
        scale_b = np.maximum((W * b * b).sum(axis=1) / sw, 1e-300)
        bad = (va / sw <= 1e-24 * scale_a) | (vb / sw <= 1e-24 * scale_b) | (sw <= 1)
    r = np.where(bad, np.nan, np.clip(r, -1.0, 1.0))
    return r


def _tie_groups(v: np.ndarray):
    """Sort order, start index of each group of equal values (in sorted order), group id of each element."""
    order = np.argsort(v, kind="mergesort")
    sv = v[order]
    new = np.empty(v.size, bool)
    new[0] = True
    new[1:] = sv[1:] != sv[:-1]
    starts = np.flatnonzero(new)
    gid_sorted = np.cumsum(new) - 1
    gid = np.empty(v.size, np.int64)
    gid[order] = gid_sorted
    return order, starts, gid


def _wranks(v: np.ndarray, W: np.ndarray):
    """Average ranks (1-based) of each point in the expanded multiset of each row of W, and tie-pair counts.

    Returns (ranks B×N, tied_pairs B) where tied_pairs = Σ_groups Wg(Wg − 1)/2 (pairs tied in v).
    """
    order, starts, gid = _tie_groups(v)
    Wg = np.add.reduceat(W[:, order], starts, axis=1)  # B × G
    cum = np.cumsum(Wg, axis=1)
    rank_g = cum - (Wg - 1.0) / 2.0
    ties = (Wg * (Wg - 1.0) / 2.0).sum(axis=1)
    return rank_g[:, gid], ties


def _sign_chunks(x, y, chunk):
    n = x.size
    for j0 in range(0, n, chunk):
        j1 = min(n, j0 + chunk)
        s = np.sign(x[:, None] - x[None, j0:j1]) * np.sign(y[:, None] - y[None, j0:j1])
        yield j0, j1, s


def _wkendall(x, y, W, matrix_max_n: int = 2000, chunk: int = 1024) -> np.ndarray:
    """Kendall τ-b per row of W on the expanded multiset (duplicates count as tied in x and y)."""
    n = x.size
    B = W.shape[0]
    M = W.sum(axis=1)
    n0 = M * (M - 1.0) / 2.0
    _, tx = _wranks(x, W)
    _, ty = _wranks(y, W)
    if n <= matrix_max_n:
        s_total = np.zeros(B)
        for j0, j1, s in _sign_chunks(x, y, chunk):
            s_total += ((W @ s) * W[:, j0:j1]).sum(axis=1)
        cd = 0.5 * s_total
        with np.errstate(invalid="ignore", divide="ignore"):
            tau = cd / np.sqrt((n0 - tx) * (n0 - ty))
        return np.where(((n0 - tx) > 0) & ((n0 - ty) > 0), np.clip(tau, -1.0, 1.0), np.nan)
    out = np.empty(B)
    Wi = np.rint(W).astype(np.int64)
    for b in range(B):
        rep = Wi[b]
        xe, ye = np.repeat(x, rep), np.repeat(y, rep)
        if xe.size < 2 or np.all(xe == xe[0]) or np.all(ye == ye[0]):
            out[b] = np.nan
        else:
            out[b] = sps.kendalltau(xe, ye).statistic
    return out


def weighted_stats(x, y, pred, W, orientation: float = 1.0, kendall: bool = True,
                   kendall_matrix_max_n: int = 2000) -> dict[str, np.ndarray]:
    """PLCC(pred, y), SROCC(x, y), KROCC(x, y), RMSE(pred − y), plcc_raw(x, y) for each row of weights ``W``.

    Row b of ``W`` (B × N, non-negative integers) says how many times each point enters sample b (a bootstrap
    resample, a fold indicator, or all ones for the plain statistic). SROCC/KROCC/plcc_raw are multiplied by
    ``orientation``. Equal to scipy.stats.pearsonr / spearmanr / kendalltau (τ-b) on ``np.repeat``-expanded data.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    pred = np.asarray(pred, float)
    W = np.atleast_2d(np.asarray(W, float))
    out: dict[str, np.ndarray] = {}
    pred_ok = np.all(np.isfinite(pred))
    if pred_ok:
        out["plcc"] = _wpearson(pred, y, W)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["rmse"] = np.sqrt((W * (pred - y) ** 2).sum(axis=1) / W.sum(axis=1))
    else:
        out["plcc"] = np.full(W.shape[0], np.nan)
        out["rmse"] = np.full(W.shape[0], np.nan)
    out["plcc_raw"] = orientation * _wpearson(x, y, W)
    rx, _ = _wranks(x, W)
    ry, _ = _wranks(y, W)
    out["srocc"] = orientation * _wpearson(rx, ry, W)
    if kendall:
        out["krocc"] = orientation * _wkendall(x, y, W, matrix_max_n=kendall_matrix_max_n)
    else:
        out["krocc"] = np.full(W.shape[0], np.nan)
    return out


def _blocked_stats(x, y, pred, W, orientation, kendall_matrix_max_n, block=250):
    parts = [weighted_stats(x, y, pred, W[i:i + block], orientation, kendall_matrix_max_n=kendall_matrix_max_n)
             for i in range(0, W.shape[0], block)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


# ----------------------------------------------------------------------------------------------------------------
# folds and bootstrap weights
# ----------------------------------------------------------------------------------------------------------------

def assign_folds(df: pd.DataFrame, k: int = 5, seed: int = 0) -> pd.DataFrame:
    """Fold of each reference content per dataset: columns dataset, ref_id, fold (0..k_eff−1), k.

    Per dataset the sorted unique ref_ids are permuted with ``default_rng(seed_from(seed, "folds", dataset))`` and
    dealt round-robin into ``k_eff = min(k, number of contents)`` folds (sizes differ by at most one).
    """
    if k < 2:
        raise VeiqaError(f"k-fold content separation needs k >= 2 (got k={k})")
    rows = []
    for ds, sub in df.groupby("dataset", sort=True):
        refs = np.array(sorted(pd.unique(sub["ref_id"].astype(str))), dtype=object)
        rng = np.random.default_rng(seed_from(seed, "folds", ds))
        perm = refs[rng.permutation(refs.size)]
        k_eff = min(k, refs.size)
        for i, r in enumerate(perm):
            rows.append((ds, r, i % k_eff if k_eff else -1, k_eff))
    return pd.DataFrame(rows, columns=["dataset", "ref_id", "fold", "k"])


def bootstrap_weights(n: int, n_boot: int, rng: np.random.Generator, clusters: np.ndarray | None = None) -> np.ndarray:
    """B × n integer weights: image bootstrap (multinomial over points) or cluster bootstrap over ``clusters``.

    For the cluster bootstrap, ``clusters`` gives each point's cluster index 0..C−1; C clusters are drawn with
    replacement and every point of a cluster gets the number of times its cluster was drawn.
    """
    if clusters is None:
        return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)
    c = int(clusters.max()) + 1
    counts = rng.multinomial(c, np.full(c, 1.0 / c), size=n_boot).astype(float)
    return counts[:, clusters]


# ----------------------------------------------------------------------------------------------------------------
# per-group evaluation
# ----------------------------------------------------------------------------------------------------------------

def _percentile_ci(samples: np.ndarray, level: float) -> tuple[float, float]:
    s = samples[np.isfinite(samples)]
    if s.size == 0:
        return float("nan"), float("nan")
    a = (1.0 - level) / 2.0
    lo, hi = np.percentile(s, [100 * a, 100 * (1 - a)])
    return float(lo), float(hi)


def evaluate_group(x, y, ref_ids, *, orientation: float = 1.0, protocol: str = "paper",
                   folds: np.ndarray | None = None, n_boot: int = 1000, ci_level: float = 0.95,
                   rng: np.random.Generator | None = None, n_starts: int = 5, fold_n_starts: int = 3,
                   full_fit: LogisticFit | None = None,
                   kendall_matrix_max_n: int = 2000) -> tuple[dict, list[dict], np.ndarray]:
    """Evaluate one group (finite x, y only) under one protocol.

    Returns (row dict of statistics, list of fit dicts (fold −1 = fit on all points), predictions array).
    ``folds`` (content_separated only) gives each point's fold number. See the module docstring for the rules.
    The paper fit uses ``n_starts`` starting points; content-separated fold fits use ``fold_n_starts`` (each fold
    fit sees only its training rows; there is no warm start from a fit that saw the held-out contents). ``full_fit``,
    when given, is used as the paper protocol's fit instead of fitting again (it must be the fit of these x, y).
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    n = x.size
    rng = rng if rng is not None else np.random.default_rng(0)
    ref_codes, ref_index = np.unique(np.asarray(ref_ids).astype(str), return_inverse=True)
    row: dict = {"n": n, "n_refs": int(ref_codes.size)}
    fits: list[dict] = []
    if protocol == "paper":
        fit = full_fit if full_fit is not None else fit_logistic(x, y, n_starts=n_starts)
        fits.append({"fold": -1, **fit.as_dict()})
        if fit.ok:
            pred, mapping = fit.predict(x), "logistic"
        else:
            pred, mapping = _linear_fallback(x, y, x)
        row.update(fit_status=fit.status, fit_message=fit.message, mapping=mapping, n_fits_failed=int(not fit.ok),
                   k_folds=np.nan)
        clusters = None
    elif protocol == "content_separated":
        if folds is None:
            raise ValueError("content_separated needs folds")
        folds = np.asarray(folds)
        pred = np.full(n, np.nan)
        mappings, failed_msgs = set(), []
        ufolds = np.unique(folds)
        for f in ufolds:
            test = folds == f
            train = ~test
            # no warm start from the all-contents fit: its optimum saw the held-out contents
            fit = fit_logistic(x[train], y[train], n_starts=fold_n_starts)
            fits.append({"fold": int(f), **fit.as_dict()})
            if fit.ok:
                pred[test] = fit.predict(x[test])
                mappings.add("logistic")
            else:
                pred[test], m = _linear_fallback(x[train], y[train], x[test])
                mappings.add(m)
                failed_msgs.append(f"fold {int(f)}: {fit.message}")
        n_failed = len(failed_msgs)
        mapping = "none" if "none" in mappings else ("linear_fallback" if "linear_fallback" in mappings else "logistic")
        row.update(fit_status="ok" if n_failed == 0 else "failed", fit_message="; ".join(failed_msgs)[:500],
                   mapping=mapping, n_fits_failed=n_failed, k_folds=int(ufolds.size))
        # per-fold figures (fold indicator weights)
        if ufolds.size >= 2:
            Wf = (folds[None, :] == ufolds[:, None]).astype(float)
            fs = weighted_stats(x, y, pred, Wf, orientation, kendall_matrix_max_n=kendall_matrix_max_n)
            for s in STATS:
                v = fs[s]
                fin = v[np.isfinite(v)]
                row[f"{s}_fold_mean"] = float(fin.mean()) if fin.size else np.nan
                row[f"{s}_fold_std"] = float(fin.std(ddof=1)) if fin.size > 1 else np.nan
        clusters = ref_index
    else:
        raise VeiqaError(f"unknown protocol {protocol!r} (expected one of {PROTOCOLS})")

    point = weighted_stats(x, y, pred, np.ones((1, n)), orientation, kendall_matrix_max_n=kendall_matrix_max_n)
    for k, v in point.items():
        row[k] = float(v[0])
    row["n_boot"] = int(n_boot)
    row["ci_level"] = float(ci_level)
    if n_boot > 0 and n >= 2:
        Wb = bootstrap_weights(n, n_boot, rng, clusters)
        bs = _blocked_stats(x, y, pred, Wb, orientation, kendall_matrix_max_n)
        row["n_boot_valid"] = int(np.sum(np.isfinite(bs["srocc"])))
        for s in STATS:
            row[f"{s}_ci_low"], row[f"{s}_ci_high"] = _percentile_ci(bs[s], ci_level)
    else:
        row["n_boot_valid"] = 0
        for s in STATS:
            row[f"{s}_ci_low"] = row[f"{s}_ci_high"] = np.nan
    return row, fits, pred


# ----------------------------------------------------------------------------------------------------------------
# whole table
# ----------------------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class CorrelationResult:
    """Outputs of :func:`correlations`.

    corr: one row per group × protocol (statistics, CIs, fit status);
    fits: one row per logistic fit (group × protocol × fold; fold −1 = all points) with b1..b5, fit_status,
    fit_message, n_fit, rss; folds: dataset, ref_id, fold, k; predictions: per image and protocol the mapped
    prediction (in-sample for "paper", out-of-fold for "content_separated") and its fold.
    """

    corr: pd.DataFrame
    fits: pd.DataFrame
    folds: pd.DataFrame
    predictions: pd.DataFrame


def _validate(df: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise VeiqaError(f"correlation input table lacks column(s) {missing}; it has {list(df.columns)}")
    df = df.copy()
    for c in ("dataset", "distortion", "arm", "pair_kind", "measure", "image_id", "ref_id"):
        df[c] = df[c].astype(str)
    for c in ("value", "score"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    for c in ("higher_is_better", "measure_higher_is_better"):
        if df[c].isna().any():
            raise VeiqaError(f"column {c!r} has missing values; it must be a boolean for every row")
        df[c] = df[c].astype(bool)
    for key, col in (("dataset", "higher_is_better"), ("measure", "measure_higher_is_better")):
        nun = df.groupby(key)[col].nunique()
        bad = list(nun.index[nun > 1])
        if bad:
            raise VeiqaError(f"column {col!r} is not constant within {key} {bad}: check the manifest/measure table")
    dup = df.duplicated(list(GROUP_KEYS) + ["image_id"])
    if dup.any():
        first = df.loc[dup, list(GROUP_KEYS) + ["image_id"]].iloc[0].to_dict()
        raise VeiqaError(f"duplicate rows for the same group and image_id (e.g. {first})")
    return df


def correlations(df: pd.DataFrame, *, protocols: Sequence[str] = PROTOCOLS, k: int = 5, n_boot: int = 1000,
                 ci_level: float = 0.95, seed: int = 0, pool_label: str = "all", n_starts: int = 5,
                 fold_n_starts: int = 3, kendall_matrix_max_n: int = 2000) -> CorrelationResult:
    """Correlations per dataset × distortion × arm × pair_kind × measure (plus ``distortion=pool_label`` pooling
    all distortions of a dataset) under each protocol.

    Input: the long table (columns ``REQUIRED_COLUMNS``). Rows whose value or score is NaN are dropped from their
    group and counted in ``n_nan``. Output columns of ``corr``: the group keys, protocol, n, n_nan, n_refs,
    orientation, higher_is_better, measure_higher_is_better, fit_status, fit_message, mapping, n_fits_failed,
    k_folds, plcc, srocc, krocc, rmse, plcc_raw, {stat}_ci_low/_ci_high, n_boot, n_boot_valid, ci_level and for
    content_separated {stat}_fold_mean/_fold_std. Deterministic for a given ``seed`` (each group's generator is
    seeded from seed, the protocol and the group's keys). See the module docstring for mapping, direction and
    protocol rules.

    ``k``: folds of the content-separated protocol (fewer when a dataset has fewer contents); ``n_boot``: bootstrap
    resamples (0 disables CIs); ``ci_level``: coverage of the percentile intervals; ``n_starts`` /
    ``fold_n_starts``: logistic starting points (see :func:`fit_logistic`) for the paper fit / each fold fit;
    ``kendall_matrix_max_n``: largest group size for which bootstrap KROCC uses the N × N sign matrix (above it,
    SciPy per resample; same values, different speed).
    """
    for p in protocols:
        if p not in PROTOCOLS:
            raise VeiqaError(f"unknown protocol {p!r} (expected one of {PROTOCOLS})")
    df = _validate(df)
    if pool_label in set(df["distortion"]):
        raise VeiqaError(f"a distortion is named {pool_label!r}, which is the pooled label; pass another pool_label")
    folds_df = assign_folds(df, k=k, seed=seed)
    fold_map = {(d, r): f for d, r, f in folds_df[["dataset", "ref_id", "fold"]].itertuples(index=False)}
    pooled = df.assign(distortion=pool_label)
    full = pd.concat([df, pooled], ignore_index=True)
    corr_rows, fit_rows, pred_parts = [], [], []
    for keys, g in full.groupby(list(GROUP_KEYS), sort=True):
        key = dict(zip(GROUP_KEYS, keys))
        finite = np.isfinite(g["value"].to_numpy()) & np.isfinite(g["score"].to_numpy())
        gg = g[finite]
        hib = bool(g["higher_is_better"].iloc[0])
        mhib = bool(g["measure_higher_is_better"].iloc[0])
        orientation = (1.0 if hib else -1.0) * (1.0 if mhib else -1.0)
        x = gg["value"].to_numpy()
        y = gg["score"].to_numpy()
        refs = gg["ref_id"].to_numpy()
        full_fit = fit_logistic(x, y, n_starts=n_starts) if x.size and "paper" in protocols else None
        for protocol in protocols:
            rng = np.random.default_rng(seed_from(seed, "bootstrap", protocol, *keys))
            folds = None
            if protocol == "content_separated":
                folds = np.array([fold_map[(key["dataset"], r)] for r in refs], dtype=int)
            base = {**key, "protocol": protocol}
            if x.size == 0:
                row = {"n": 0, "n_refs": 0, "fit_status": "failed", "fit_message": "no finite rows",
                       "mapping": "none", "n_fits_failed": 1, "n_boot": n_boot, "n_boot_valid": 0,
                       "ci_level": ci_level}
                fits, pred = [], np.array([])
            else:
                row, fits, pred = evaluate_group(x, y, refs, orientation=orientation, protocol=protocol,
                                                 folds=folds, n_boot=n_boot, ci_level=ci_level, rng=rng,
                                                 n_starts=n_starts, fold_n_starts=fold_n_starts,
                                                 full_fit=full_fit, kendall_matrix_max_n=kendall_matrix_max_n)
            corr_rows.append({**base, **row, "n_nan": int((~finite).sum()), "orientation": orientation,
                              "higher_is_better": hib, "measure_higher_is_better": mhib})
            for f in fits:
                fit_rows.append({**base, **f})
            pred_parts.append(pd.DataFrame({**{c: gg[c].to_numpy() for c in GROUP_KEYS}, "protocol": protocol,
                                            "image_id": gg["image_id"].to_numpy(), "ref_id": refs,
                                            "fold": folds if folds is not None else -1,
                                            "value": x, "score": y, "prediction": pred}))
    lead = list(GROUP_KEYS) + ["protocol", "n", "n_nan", "n_refs", "orientation", "higher_is_better",
                               "measure_higher_is_better", "fit_status", "fit_message", "mapping", "n_fits_failed",
                               "k_folds", *STATS, "plcc_raw"]
    ci_cols = [f"{s}_ci_{e}" for s in STATS for e in ("low", "high")] + ["n_boot", "n_boot_valid", "ci_level"]
    fold_cols = [f"{s}_fold_{e}" for s in STATS for e in ("mean", "std")]
    corr = pd.DataFrame(corr_rows)
    for c in lead + ci_cols + fold_cols:
        if c not in corr.columns:
            corr[c] = np.nan
    corr = corr[lead + ci_cols + fold_cols].reset_index(drop=True)
    fits = pd.DataFrame(fit_rows, columns=list(GROUP_KEYS) + ["protocol", "fold", *BETA_NAMES, "fit_status",
                                                              "fit_message", "n_fit", "rss", "n_starts"])
    preds = pd.concat(pred_parts, ignore_index=True) if pred_parts else pd.DataFrame()
    return CorrelationResult(corr=corr, fits=fits, folds=folds_df, predictions=preds)


def save_results(result: CorrelationResult, outdir: str | os.PathLike, meta: Mapping | None = None) -> dict[str, str]:
    """Write corr.parquet, fits.parquet, folds.parquet, predictions.parquet into ``outdir`` (atomic, provenance)."""
    out = {}
    for name in ("corr", "fits", "folds", "predictions"):
        path = os.path.join(os.fspath(outdir), f"{name}.parquet")
        write_parquet(getattr(result, name), path, meta)
        out[name] = path
    return out
