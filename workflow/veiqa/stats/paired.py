"""Paired comparisons of two arms scored on the same images: one pure function per test.

Every function here takes the per-image values of two arms *on the same images* (same order) and the shared human
scores. Signs follow the a-priori direction of each arm (``orientation = score direction × measure direction``, see
:mod:`veiqa.stats.protocols`), so every Δ is ``A − B`` of a figure where larger means "agrees better with the human
scores": Δ > 0 means arm A agrees better.

Paired content bootstrap (:func:`content_resamples`, :func:`srocc_rows`, :func:`plcc_rows`, :func:`plcc_fold_rows`,
:func:`paired_bootstrap`)
    Contents (reference scenes) are drawn with replacement, once per dataset × distortion; row b of the resulting
    weight matrix says how many times each image enters resample b. Both arms are evaluated on the *same* rows, so
    the bootstrap distribution is that of the difference, not of two independent figures. Row 0 of every weight
    matrix here is all ones (the point estimate); rows 1..B are the resamples. SROCC does not depend on a mapping.
    PLCC does, so the logistic is **refitted on every resample** for each arm: in-sample (``plcc_rows``, the paper
    protocol) or k-fold over the resample's contents with the dataset's fold of each content (``plcc_fold_rows``,
    the content-separated protocol: the mean over folds of the per-fold PLCC on the held-out contents, a figure
    that the level offsets of separately fitted fold mappings cannot bias, unlike PLCC on pooled out-of-fold
    predictions). PLCC is signed a priori: ``+|r|`` when the fitted mapping runs in the arm's expected direction,
    ``−|r|`` when it runs the other way (:func:`signed_plcc`); a fit that fails or ends flat falls back to the
    least-squares line (:func:`_plcc_of_fit`). A resample where a figure is undefined (a constant sample, a line
    without slope) is left out of both arms' distributions and counted (``n_boot_valid``).
:func:`williams_t`, :func:`steiger_z`
    Tests of two dependent correlations sharing one variable (the human scores): Williams' (1959) t as given by
    Steiger (1980, eq. 7), t(n − 3); Steiger's (1980, eq. 14–15) z on Fisher-z values with the pooled r̄. Both assume
    independent, bivariate-normal observations; images of one content are not independent, so their p-values are
    optimistic when contents matter (the paired content bootstrap is the primary test).
:func:`f_test`
    Ratio of the residual variances of the two arms after their logistic mappings (Sheikh et al. 2006; VQEG FR-TV
    Phase II): F = var(res_B) / var(res_A), two-sided, df (N − 1, N − 1). Its textbook form assumes two independent
    Gaussian samples; the residuals of two arms on the same images are correlated, so it is customary, not exact.
:func:`holm`
    Holm's (1979) step-down adjustment of a family of p-values (NaN entries are left out of the family).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .logistic import fit_logistic_many
from .weighted import _wpearson, _wranks

# ------------------------------------------------------------------------------------------------ resampling


def content_resamples(contents: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(1 + n_boot) × C content counts: row 0 all ones, rows 1.. a multinomial draw of C contents out of C.

    ``contents``: the content labels (any hashable values; their sorted unique set is C). Use
    :func:`image_weights` to turn the counts into per-image weights for a given image set."""
    c = np.unique(np.asarray(contents).astype(str)).size
    counts = rng.multinomial(c, np.full(c, 1.0 / c), size=int(n_boot)) if n_boot > 0 else np.zeros((0, c))
    return np.vstack([np.ones((1, c)), counts]).astype(float)


def image_weights(counts: np.ndarray, all_contents: np.ndarray, image_contents: np.ndarray) -> np.ndarray:
    """Per-image weights (rows of ``counts``) for images whose contents are ``image_contents``; ``all_contents`` are
    the labels ``counts`` was drawn over (columns in sorted order, as :func:`content_resamples`)."""
    labels = np.unique(np.asarray(all_contents).astype(str))
    idx = np.searchsorted(labels, np.asarray(image_contents).astype(str))
    if np.any(idx >= labels.size) or np.any(labels[np.minimum(idx, labels.size - 1)] !=
                                             np.asarray(image_contents).astype(str)):
        raise ValueError("image_contents holds a content that is not among all_contents")
    return counts[:, idx]


# ------------------------------------------------------------------------------------------------ per-arm rows


def srocc_rows(x, y, W, orientation: float = 1.0) -> np.ndarray:
    """Oriented SROCC(x, y) for each row of weights ``W`` (equal to scipy's spearmanr on the expanded sample)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    W = np.atleast_2d(np.asarray(W, float))
    rx, _ = _wranks(x, W)
    ry, _ = _wranks(y, W)
    return orientation * _wpearson(rx, ry, W)


def signed_plcc(pred, y, x_train, pred_train, orientation: float, w=None, w_train=None) -> float:
    """Pearson(pred, y) signed a priori: multiplied by the sign of the fitted mapping's direction (the sign of
    Pearson(pred_train, x_train) over its training points) times ``orientation``; NaN when undefined."""
    r = _wpearson(np.asarray(pred, float), np.asarray(y, float), np.atleast_2d(np.ones(len(y)) if w is None else w))[0]
    d = _wpearson(np.asarray(pred_train, float), np.asarray(x_train, float),
                  np.atleast_2d(np.ones(len(x_train)) if w_train is None else w_train))[0]
    if not (np.isfinite(r) and np.isfinite(d)) or d == 0:
        return float("nan")
    return float(np.sign(d) * orientation * r)


def _plcc_of_fit(fit, x_tr, y_tr, w_tr, x_te, y_te, w_te, orientation: float) -> float:
    """Signed PLCC of a fit on the evaluation rows; a failed fit, or one that ends flat on its training rows (the
    monotone fit's stationary point b1 = b4 = 0, where a logistic cannot be told from a constant), falls back to the
    least-squares line of the training rows, as the correlation step does for failed fits: its signed PLCC is
    ``orientation × Pearson(x, y)`` of the evaluation rows when the line has a slope, NaN when it has none."""
    if fit.ok:
        p_tr = fit.predict(x_tr)
        v = signed_plcc(fit.predict(x_te), y_te, x_tr, p_tr, orientation, w_te, w_tr)
        if np.isfinite(v):
            return v
    slope = _wpearson(x_tr, y_tr, np.atleast_2d(w_tr))[0]
    if not np.isfinite(slope) or slope == 0:
        return float("nan")
    return float(orientation * _wpearson(x_te, y_te, np.atleast_2d(w_te))[0])


def _fits(problems, logistic: str, n_starts: int):
    """One logistic fit per (x, y) problem, batched (:func:`veiqa.stats.logistic.fit_logistic_many`)."""
    return [f[0] for f in fit_logistic_many([(x, y, [np.ones(x.size, bool)], n_starts) for x, y in problems],
                                            method=logistic)]


def plcc_rows(x, y, W, orientation: float = 1.0, logistic: str = "monotone", n_starts: int = 1) -> np.ndarray:
    """Signed in-sample PLCC after a logistic fitted to each row's expanded sample (paper protocol), per row of W."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    W = np.atleast_2d(np.asarray(W, float))
    reps = np.rint(W).astype(int)
    fits = _fits([(np.repeat(x, r), np.repeat(y, r)) for r in reps], logistic, n_starts)
    return np.array([_plcc_of_fit(fit, x, y, W[b], x, y, W[b], orientation) for b, fit in enumerate(fits)])


def plcc_fold_rows(x, y, W, folds, orientation: float = 1.0, logistic: str = "monotone",
                   n_starts: int = 1) -> np.ndarray:
    """Content-separated PLCC per row of W: for each fold f, a logistic fitted on the row's expanded sample of the
    other folds predicts fold f; the signed PLCC on fold f's rows; the mean over folds where it is defined."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    W = np.atleast_2d(np.asarray(W, float))
    folds = np.asarray(folds)
    ufolds = np.unique(folds)
    reps = np.rint(W).astype(int)
    problems, where = [], []
    for b, r in enumerate(reps):
        for f in ufolds:
            tr = (folds != f) & (r > 0)
            te = (folds == f) & (r > 0)
            if te.sum() < 2 or tr.sum() < 2:
                continue
            problems.append((np.repeat(x[tr], r[tr]), np.repeat(y[tr], r[tr])))
            where.append((b, f, tr, te))
    per = np.full((W.shape[0], ufolds.size), np.nan)
    col = {f: i for i, f in enumerate(ufolds)}
    for fit, (b, f, tr, te) in zip(_fits(problems, logistic, n_starts), where):
        per[b, col[f]] = _plcc_of_fit(fit, x[tr], y[tr], W[b, tr], x[te], y[te], W[b, te], orientation)
    with np.errstate(invalid="ignore"):
        n_ok = np.isfinite(per).sum(axis=1)
        mean = np.nansum(per, axis=1) / np.where(n_ok > 0, n_ok, 1)
    return np.where(n_ok > 0, mean, np.nan)


# ------------------------------------------------------------------------------------------------ the bootstrap


def bootstrap_p(deltas: np.ndarray) -> float:
    """Two-sided bootstrap p-value of H0: Δ = 0 from resampled differences (NaN entries ignored):
    ``min(1, 2 · min(#(Δ* ≤ 0) + 1, #(Δ* ≥ 0) + 1) / (B + 1))``; the smallest value is 2 / (B + 1)."""
    d = np.asarray(deltas, float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan")
    lo = (np.sum(d <= 0) + 1) / (d.size + 1)
    hi = (np.sum(d >= 0) + 1) / (d.size + 1)
    return float(min(1.0, 2.0 * min(lo, hi)))


def paired_bootstrap(rows_a: np.ndarray, rows_b: np.ndarray, ci_level: float = 0.95) -> dict:
    """Paired bootstrap of Δ = A − B from per-row figures of both arms (row 0: the point estimates; rows 1..: the
    same resamples for both). Returns estimate_a, estimate_b, delta, ci_low, ci_high (percentile), p_value
    (:func:`bootstrap_p`), n_boot (resamples asked) and n_boot_valid (resamples where both figures are defined)."""
    a, b = np.asarray(rows_a, float), np.asarray(rows_b, float)
    d = a[1:] - b[1:]
    ok = np.isfinite(d)
    out = {"estimate_a": float(a[0]), "estimate_b": float(b[0]), "delta": float(a[0] - b[0]),
           "n_boot": int(d.size), "n_boot_valid": int(ok.sum()), "ci_low": float("nan"), "ci_high": float("nan"),
           "p_value": float("nan")}
    if ok.any() and np.isfinite(out["delta"]):
        q = (1.0 - ci_level) / 2.0
        out["ci_low"], out["ci_high"] = (float(v) for v in np.percentile(d[ok], [100 * q, 100 * (1 - q)]))
        out["p_value"] = bootstrap_p(d[ok])
    return out


# ------------------------------------------------------------------------------------------------ analytic tests


def williams_t(r_ya: float, r_yb: float, r_ab: float, n: int) -> tuple[float, float, int]:
    """Williams' (1959) t for H0: ρ(y, a) = ρ(y, b), as in Steiger (1980, eq. 7): (t, two-sided p, df = n − 3).

    t = (r_ya − r_yb) · sqrt( (n−1)(1+r_ab) / (2 (n−1)/(n−3) |R| + r̄² (1−r_ab)³) ), |R| the determinant of the
    3 × 3 correlation matrix, r̄ = (r_ya + r_yb)/2."""
    from scipy import stats as sps

    if n <= 3 or not all(np.isfinite(v) for v in (r_ya, r_yb, r_ab)):
        return float("nan"), float("nan"), int(n) - 3
    det = 1.0 - r_ya ** 2 - r_yb ** 2 - r_ab ** 2 + 2.0 * r_ya * r_yb * r_ab
    rbar = (r_ya + r_yb) / 2.0
    den = 2.0 * (n - 1) / (n - 3) * det + rbar ** 2 * (1.0 - r_ab) ** 3
    if not den > 0:
        return float("nan"), float("nan"), int(n) - 3
    t = (r_ya - r_yb) * math.sqrt((n - 1) * (1.0 + r_ab) / den)
    return float(t), float(2.0 * sps.t.sf(abs(t), n - 3)), int(n) - 3


def steiger_z(r_ya: float, r_yb: float, r_ab: float, n: int) -> tuple[float, float]:
    """Steiger's (1980, eqs. 14–15) z for H0: ρ(y, a) = ρ(y, b) with the pooled r̄: (z, two-sided p).

    z = (atanh r_ya − atanh r_yb) · sqrt(n − 3) / sqrt(2 − 2 s̄), s̄ = ψ / (1 − r̄²)²,
    ψ = r_ab (1 − 2 r̄²) − ½ r̄² (1 − 2 r̄² − r_ab²)."""
    from scipy import stats as sps

    vals = (r_ya, r_yb, r_ab)
    if n <= 3 or not all(np.isfinite(v) for v in vals) or max(abs(r_ya), abs(r_yb)) >= 1.0:
        return float("nan"), float("nan")
    rbar = (r_ya + r_yb) / 2.0
    psi = r_ab * (1.0 - 2.0 * rbar ** 2) - 0.5 * rbar ** 2 * (1.0 - 2.0 * rbar ** 2 - r_ab ** 2)
    sbar = psi / (1.0 - rbar ** 2) ** 2
    if not 2.0 - 2.0 * sbar > 0:
        return float("nan"), float("nan")
    z = (math.atanh(r_ya) - math.atanh(r_yb)) * math.sqrt(n - 3) / math.sqrt(2.0 - 2.0 * sbar)
    return float(z), float(2.0 * sps.norm.sf(abs(z)))


def f_test(res_a, res_b) -> tuple[float, float, int, int]:
    """F-test on residual variances: F = var(res_b) / var(res_a) (ddof 1; F > 1: arm A's residuals are smaller),
    two-sided p = 2 · min(P(F' ≤ F), P(F' ≥ F)) under F(n_b − 1, n_a − 1). Returns (F, p, df_b, df_a)."""
    from scipy import stats as sps

    a = np.asarray(res_a, float)
    b = np.asarray(res_b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size < 2 or b.size < 2:
        return float("nan"), float("nan"), b.size - 1, a.size - 1
    va, vb = float(np.var(a, ddof=1)), float(np.var(b, ddof=1))
    if not va > 0:
        return float("nan"), float("nan"), b.size - 1, a.size - 1
    F = vb / va
    d1, d2 = b.size - 1, a.size - 1
    p = 2.0 * min(sps.f.cdf(F, d1, d2), sps.f.sf(F, d1, d2))
    return float(F), float(min(1.0, p)), int(d1), int(d2)


def holm(p: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (same order as ``p``); NaN entries stay NaN and are not counted in m."""
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="mergesort")]
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adj, 1.0)
    return out
