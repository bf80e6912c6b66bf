"""Weighted-statistics engine: Pearson, Spearman, Kendall τ-b, RMSE for many weightings of the same N points.

A weighting is a row of a B × N matrix of non-negative integers saying how many times each point enters a sample:
a bootstrap resample (:func:`bootstrap_weights`), a fold indicator, or all ones for the plain statistic. All
statistics are computed vectorised over the rows and equal SciPy's pearsonr / spearmanr / kendalltau (τ-b) on the
``np.repeat``-expanded samples (Spearman via average ranks of the expanded multiset; Kendall via ½·wᵀSw with the
pairwise concordance sign matrix S when N ≤ ``matrix_max_n``, else :func:`scipy.stats.kendalltau` per row).
"""

from __future__ import annotations

import numpy as np


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


def average_ranks(v) -> np.ndarray:
    """Average ranks (1-based; ties share their mean rank) of a 1-D array: ``scipy.stats.rankdata(v)``."""
    v = np.asarray(v, dtype=float).ravel()
    return _wranks(v, np.ones((1, v.size)))[0][0]


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
    from scipy import stats as sps  # here only: importing scipy.stats costs every job that imports veiqa.stats 1 s

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
                   kendall_matrix_max_n: int = 2000, sign=None) -> dict[str, np.ndarray]:
    """PLCC(pred·sign, y), SROCC(x, y), KROCC(x, y), RMSE(pred − y), plcc_raw(x, y) for each row of weights ``W``.

    ``sign`` (per point, ±1; default +1) signs the predictions for PLCC only (:func:`direction_signs` × the a-priori
    orientation: an arm going the wrong way gets a negative PLCC); RMSE is always that of the predictions
    themselves, in score units.

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
        out["plcc"] = _wpearson(pred if sign is None else pred * np.asarray(sign, float), y, W)
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


def blocked_stats(x, y, pred, W, orientation, kendall_matrix_max_n, block=250, sign=None):
    parts = [weighted_stats(x, y, pred, W[i:i + block], orientation, kendall_matrix_max_n=kendall_matrix_max_n,
                            sign=sign) for i in range(0, W.shape[0], block)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


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


def stratified_content_counts(ref_index: np.ndarray, folds: np.ndarray, n_boot: int,
                              rng: np.random.Generator) -> np.ndarray:
    """B × C content counts of a cluster bootstrap stratified by fold: each fold's contents are drawn with
    replacement, as many as it has, so every resample keeps the design (k folds of their sizes).

    ``ref_index``: each point's content index 0..C−1; ``folds``: each point's fold (constant within a content)."""
    c = int(ref_index.max()) + 1
    fold_of = np.empty(c, dtype=np.asarray(folds).dtype)
    fold_of[ref_index] = folds
    counts = np.zeros((n_boot, c))
    for f in np.unique(fold_of):
        members = np.flatnonzero(fold_of == f)
        m = members.size
        counts[:, members] = rng.multinomial(m, np.full(m, 1.0 / m), size=n_boot)
    return counts


def direction_signs(x, pred, folds=None) -> np.ndarray:
    """Per point, the direction (+1/−1) of the mapping that predicted it: the sign of Pearson(pred, x) over the
    points of its fold (all points when ``folds`` is None); +1 where the mapping is flat. Multiplying the
    predictions by these signs and by the a-priori orientation makes PLCC signed as SROCC is."""
    x = np.asarray(x, float)
    pred = np.asarray(pred, float)
    folds = np.zeros(x.size, int) if folds is None else np.asarray(folds)
    out = np.ones(x.size)
    for f in np.unique(folds):
        m = folds == f
        r = _wpearson(pred[m], x[m], np.ones((1, int(m.sum()))))[0] if m.sum() >= 2 else np.nan
        out[m] = -1.0 if np.isfinite(r) and r < 0 else 1.0
    return out


#: Below this fraction of valid resamples no interval is printed (e.g. 19 tied values + 1: a third of the
#: resamples lack the odd value, and the valid ones would give an interval that excludes the point estimate).
MIN_VALID_FRACTION = 0.9


def percentile_ci(samples: np.ndarray, level: float, asked: int | None = None) -> tuple[float, float]:
    """Percentile interval of the finite ``samples``; NaN when fewer than ``MIN_VALID_FRACTION`` × ``asked``
    (default: all samples) are finite, since the valid resamples are then a biased subset."""
    samples = np.asarray(samples, float)
    asked = samples.size if asked is None else asked
    s = samples[np.isfinite(samples)]
    if s.size == 0 or s.size < MIN_VALID_FRACTION * asked:
        return float("nan"), float("nan")
    a = (1.0 - level) / 2.0
    lo, hi = np.percentile(s, [100 * a, 100 * (1 - a)])
    return float(lo), float(hi)
