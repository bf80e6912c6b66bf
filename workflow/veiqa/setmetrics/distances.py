"""Set-level distances and scores on features: FID (four routes), KID and the Inception Score."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..io import VeiqaError
from ._tensors import _to_numpy64
from .running import RunningStats


@dataclass
class FIDResult:
    fid: float
    extractor: str
    n1: int
    n2: int
    sqrtm_imag_max: float  # largest |imaginary part| of the matrix square root (or of sqrt(eigenvalues))
    sqrtm_rel_err: float  # ||X X - S1 S2||_F / ||S1 S2||_F of the square root (method="sqrtm" only, else nan)
    imag_flag: bool  # True when sqrtm_imag_max exceeded imag_tol (only possible with on_imag="flag")
    method: str
    eps_offset: float = 0.0  # eps added to the covariance diagonals when the plain sqrtm was not finite

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FID_METHODS = ("eigh", "sqrtm", "eigvals")


def frechet_distance(
    mu1, sigma1, mu2, sigma2, *, method: str = "eigh", eps: float = 1e-6, imag_tol: float = 1e-3,
    on_imag: str = "raise",
) -> dict[str, Any]:
    """Fréchet distance ``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))`` between N(mu1, S1) and N(mu2, S2).

    Three routes to ``Tr (S1 S2)^(1/2)`` (they agree to ~1e-10 relative on well-conditioned inputs; tested):

    * ``"eigh"`` (default; symmetric eigen route, several times faster than sqrtm at d = 2048):
      ``R = S1^(1/2)`` by ``eigh`` and ``Tr (S1 S2)^(1/2) = sum sqrt(eigvalsh(R S2 R))``; ``S1 S2`` is similar to
      the PSD ``R S2 R``.  Negative eigenvalues (rounding, or a non-PSD input) are clipped to 0 and the principal
      square root of the most negative one is reported as ``sqrtm_imag_max`` (the imaginary part sqrtm would give).
    * ``"sqrtm"``: as pytorch-fid, ``covmean = scipy.linalg.sqrtm(S1 @ S2)``, retried with ``eps * I`` added to both
      covariances when not finite; ``sqrtm_imag_max`` = max |Im covmean|, ``sqrtm_rel_err`` =
      ``||covmean^2 - S1 S2||_F / ||S1 S2||_F`` (SciPy's former ``disp=False`` error estimate, un-squared).
    * ``"eigvals"``: ``sum sqrt(lambda_i(S1 @ S2))`` with complex principal roots of the general eigenvalues.

    Above ``imag_tol`` a :class:`VeiqaError` is raised (``on_imag="raise"``) or ``imag_flag`` set (``"flag"``).
    Returns a dict with the keys of :class:`FIDResult` except extractor/n1/n2.
    """
    import scipy.linalg

    if method not in FID_METHODS:
        raise VeiqaError(f"frechet_distance: method must be one of {FID_METHODS}, got {method!r}")
    if on_imag not in ("raise", "flag"):
        raise VeiqaError(f"frechet_distance: on_imag must be 'raise' or 'flag', got {on_imag!r}")
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.shape[0],) * 2:
        raise VeiqaError(
            f"frechet_distance: shape mismatch mu1 {mu1.shape}, mu2 {mu2.shape}, sigma1 {s1.shape}, sigma2 {s2.shape}"
        )
    offset_used = 0.0
    rel_err = float("nan")
    if method == "eigh":
        w1, v1 = scipy.linalg.eigh(s1)
        r1 = (v1 * np.sqrt(np.clip(w1, 0, None))) @ v1.T
        m = r1 @ s2 @ r1
        w = scipy.linalg.eigvalsh((m + m.T) / 2)
        neg = max(0.0, -float(w1.min()), -float(w.min()))
        imag_max = math.sqrt(neg)
        tr_covmean = float(np.sqrt(np.clip(w, 0, None)).sum())
    elif method == "sqrtm":
        prod = s1 @ s2
        covmean = scipy.linalg.sqrtm(prod)
        if not np.all(np.isfinite(covmean)):
            offset_used = eps
            off = np.eye(s1.shape[0]) * eps
            prod = (s1 + off) @ (s2 + off)
            covmean = scipy.linalg.sqrtm(prod)
        covmean = np.asarray(covmean)
        imag_max = float(np.max(np.abs(covmean.imag))) if np.iscomplexobj(covmean) else 0.0
        denom = np.linalg.norm(prod)
        rel_err = float(np.linalg.norm(covmean @ covmean - prod) / denom) if denom > 0 else 0.0
        tr_covmean = float(np.trace(covmean).real)
    else:
        ev = scipy.linalg.eigvals(s1 @ s2)
        roots = np.sqrt(ev.astype(np.complex128))
        imag_max = float(np.max(np.abs(roots.imag))) if roots.size else 0.0
        tr_covmean = float(roots.real.sum())
    return _fid_dict(mu1, s1, mu2, s2, tr_covmean, imag_max, rel_err, method, offset_used, imag_tol, on_imag)


def _fid_dict(mu1, s1, mu2, s2, tr_covmean, imag_max, rel_err, method, offset_used, imag_tol, on_imag):
    flag = bool(imag_max > imag_tol)
    if flag and on_imag == "raise":
        raise VeiqaError(
            f"frechet_distance: the matrix square root has imaginary parts up to {imag_max:.3g} (> imag_tol="
            f"{imag_tol:g}); a covariance is not positive semi-definite or is badly conditioned. Check the "
            f"features, or pass on_imag='flag' to report the value anyway."
        )
    diff = mu1 - mu2
    fid = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
    return {
        "fid": fid, "sqrtm_imag_max": float(imag_max), "sqrtm_rel_err": rel_err, "imag_flag": flag, "method": method,
        "eps_offset": offset_used,
    }


def fid_from_stats(stats1: RunningStats, stats2: RunningStats, extractor: str = "features", **kw) -> FIDResult:
    """FID between two :class:`RunningStats`; ``kw`` go to :func:`frechet_distance`."""
    r = frechet_distance(stats1.mean, stats1.cov, stats2.mean, stats2.cov, **kw)
    return FIDResult(extractor=str(extractor), n1=stats1.n, n2=stats2.n, **r)


def fid_from_features(f1, f2, extractor: str = "features", method: str = "auto", **kw) -> FIDResult:
    """FID between two in-memory ``N x D`` feature arrays.

    ``method="svd"`` uses the features themselves: with centred ``X1``, ``X2``,
    ``Tr (S1 S2)^(1/2) = ||X1 X2^T||_* / sqrt((n1 - 1)(n2 - 1))`` (nuclear norm = sum of singular values of an
    n1 x n2 matrix; the nonzero eigenvalues of ``S1 S2`` are the squared singular values), exact and free of
    imaginary parts (``sqrtm_imag_max`` = 0).  Much faster than any d x d route when n << d (small sets, 2048-d
    features).  ``"auto"``: ``"svd"`` when ``min(n1, n2) < d``, else ``"eigh"``.  Other methods: see
    :func:`frechet_distance` (``kw`` go there).
    """
    x, y = _to_numpy64(f1), _to_numpy64(f2)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise VeiqaError(f"fid_from_features: features must be N x D with equal D, got {x.shape} and {y.shape}")
    if min(x.shape[0], y.shape[0]) < 2:
        raise VeiqaError(f"fid_from_features: a covariance needs at least 2 feature vectors per set, got "
                         f"{x.shape[0]} and {y.shape[0]}")
    s1, s2 = RunningStats().update(x), RunningStats().update(y)
    if method == "auto":
        method = "svd" if min(x.shape[0], y.shape[0]) < x.shape[1] else "eigh"
    if method != "svd":
        return fid_from_stats(s1, s2, extractor=extractor, method=method, **kw)
    import scipy.linalg

    imag_tol, on_imag = kw.pop("imag_tol", 1e-3), kw.pop("on_imag", "raise")
    kw.pop("eps", None)
    if kw:
        raise VeiqaError(f"fid_from_features: unexpected arguments {sorted(kw)}")
    a = (x - s1.mean) @ (y - s2.mean).T / math.sqrt((s1.n - 1) * (s2.n - 1))
    tr_covmean = float(scipy.linalg.svd(a, compute_uv=False).sum())
    r = _fid_dict(s1.mean, s1.cov, s2.mean, s2.cov, tr_covmean, 0.0, float("nan"), "svd", 0.0, imag_tol, on_imag)
    return FIDResult(extractor=str(extractor), n1=s1.n, n2=s2.n, **r)


# ----------------------------------------------------------------------------------------------------------------
# KID
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class KIDResult:
    kid_mean: float
    kid_std: float
    extractor: str
    n1: int
    n2: int
    subset_size: int  # the subset size actually used (min of the request, n1 and n2)
    n_subsets: int  # subsets drawn (1 when every subset would be the whole of both sets)
    seed: int
    std_status: str = "ok"  # why kid_std is no measure of spread, when it is not ("ok" when it is)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0) -> np.ndarray:
    """``k(x, y) = (x.y / d + coef0)^degree`` for all row pairs (d = feature dimension), in float64."""
    d = x.shape[1]
    return (x @ y.T / d + coef0) ** degree


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0) -> float:
    """Unbiased MMD^2 estimate between samples x (m x d) and y (n x d) with :func:`polynomial_kernel`:
    ``sum_{i!=j} k(x_i,x_j)/(m(m-1)) + sum_{i!=j} k(y_i,y_j)/(n(n-1)) - 2 sum_{i,j} k(x_i,y_j)/(m n)``."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    m, n = x.shape[0], y.shape[0]
    if m < 2 or n < 2:
        raise VeiqaError(f"mmd2_unbiased: each sample needs at least 2 vectors, got {m} and {n}")
    kxx = polynomial_kernel(x, x, degree, coef0)
    kyy = polynomial_kernel(y, y, degree, coef0)
    kxy = polynomial_kernel(x, y, degree, coef0)
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean()
    )


def kid_from_features(
    f1, f2, extractor: str = "features", subset_size: int = 1000, n_subsets: int = 100, seed: int = 0,
    degree: int = 3, coef0: float = 1.0,
) -> KIDResult:
    """Kernel Inception Distance (Binkowski et al. 2018) as torch-fidelity computes it: for each of ``n_subsets``
    draws, ``subset_size`` rows of each set are chosen without replacement (``numpy.random.default_rng(seed)``) and the
    unbiased MMD^2 of :func:`mmd2_unbiased` is computed; the result is the mean and std (ddof=0) over subsets.
    ``subset_size`` is lowered to ``min(n1, n2)`` when a set is smaller (the value used is in the result).

    When a set is not larger than the subset size the subsets stop varying, and ``kid_std`` stops measuring anything:
    with ``n1 == n2 <= subset_size`` every subset is the whole of both sets, so the MMD^2 of the two whole sets is
    computed once (``n_subsets`` = 1, ``kid_std`` = 0); with only the smaller set exhausted, the std shows the larger
    set's subsampling alone; with one subset it is 0 by construction.  ``std_status`` then says so (else "ok")."""
    x, y = _to_numpy64(f1), _to_numpy64(f2)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise VeiqaError(f"kid_from_features: features must be N x D with equal D, got {x.shape} and {y.shape}")
    n1, n2 = x.shape[0], y.shape[0]
    m = int(min(subset_size, n1, n2))
    if m < 2:
        raise VeiqaError(f"kid_from_features: need at least 2 features per set, got {n1} and {n2}")
    if m == n1 == n2:
        vals = np.array([mmd2_unbiased(x, y, degree, coef0)])
        std_status = (f"no spread: every subset is the whole of both sets ({n1} features each, not more than "
                      f"subset_size {subset_size})")
    else:
        rng = np.random.default_rng(seed)
        vals = np.empty(n_subsets)
        for i in range(n_subsets):
            xs = x[rng.choice(n1, m, replace=False)]
            ys = y[rng.choice(n2, m, replace=False)]
            vals[i] = mmd2_unbiased(xs, ys, degree, coef0)
        if m == min(n1, n2):
            std_status = (f"no spread: every subset holds the whole smaller set ({m} of {n1} and {n2} features), so "
                          "the std shows the larger set's subsampling only")
        else:
            std_status = "no spread: one subset" if n_subsets == 1 else "ok"
    return KIDResult(
        kid_mean=float(vals.mean()), kid_std=float(vals.std()), extractor=str(extractor), n1=n1, n2=n2, subset_size=m,
        n_subsets=len(vals), seed=int(seed), std_status=std_status,
    )


# ----------------------------------------------------------------------------------------------------------------
# Inception Score
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class ISResult:
    is_mean: float
    is_std: float
    classifier: str
    n: int
    splits: int  # splits actually used (min of the request and n)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def inception_score(probs, splits: int = 10, classifier: str = "probabilities") -> ISResult:
    """Inception Score of class probabilities ``probs`` (N x K, rows summing to 1).

    As the original OpenAI code / torch-fidelity (without shuffling): the rows are cut into ``splits`` contiguous
    parts ``[i N // splits, (i + 1) N // splits)``; per part ``exp(mean_x KL(p(y|x) || p(y)))`` with ``p(y)`` the
    part's mean prediction (``0 log 0 = 0``); mean and population std (ddof=0) over the parts.
    """
    from scipy.special import rel_entr

    p = _to_numpy64(probs)
    if p.ndim != 2:
        raise VeiqaError(f"inception_score: probabilities must be N x K, got shape {p.shape}")
    if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise VeiqaError("inception_score: rows must be probabilities (>= 0, summing to 1); pass softmax outputs")
    n = p.shape[0]
    k = int(max(1, min(splits, n)))
    scores = []
    for i in range(k):
        part = p[i * n // k:(i + 1) * n // k]
        py = part.mean(axis=0, keepdims=True)
        kl = rel_entr(part, py).sum(axis=1)
        scores.append(math.exp(float(kl.mean())))
    scores = np.asarray(scores)
    return ISResult(is_mean=float(scores.mean()), is_std=float(scores.std()), classifier=str(classifier), n=n,
                    splits=k)
