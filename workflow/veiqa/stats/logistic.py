"""The 5-parameter logistic score mapping of VQEG (2003) / Sheikh, Sabir & Bovik (2006) and its fit.

    q(x) = β1 (½ − 1 / (1 + exp(β2 (x − β3)))) + β4·x + β5

Two fitting methods (``method`` of :func:`fit_logistic`, config ``aggregate.logistic``):

``"monotone"`` (default)
    A bounded least-squares fit that is **monotone over the whole real line** in the direction ``s`` of the
    Spearman rank correlation of (x, y) (s = +1 when it is 0 or undefined). VQEG's practice is a monotone mapping;
    an unconstrained multi-start fit instead finds, on small groups, a near-vertical step (β2 at its bound) or a bump
    (a linear term of the sign opposite to the sigmoid), which lowers the in-sample RSS, inflates paper-protocol PLCC
    and predicts badly out of fold. The constraints, on standardised x' = (x − mean x)/sd x, y' = (y − mean y)/sd y:

    * monotone: s·β1' ∈ [0, 20] and s·β4' ∈ [0, 10] with β2' ≥ 0. Then s·q'(x) = s·β1β2/4·sech²(β2(x−β3)/2) + s·β4
      ≥ 0 everywhere (sufficient, slightly stricter than necessary: a small opposite linear term that would keep
      the curve monotone on the data range is excluded as well, since it is what produces the bumps);
    * no step: the sigmoid's rise from 12 % to 88 % of |β1| (|β2'(x' − β3')| ≤ 2, width 4/β2') may not be narrower
      than the typical x'-interval holding 10 % of the points, i.e. β2' ≤ min(60, 4/w) with w the median of the
      m-spacings x'₍ᵢ₊ₘ₎ − x'₍ᵢ₎ of the sorted values, m = max(5, ⌈n/10⌉) (the median of the positive ones when
      ties make it 0). A transition therefore always rests on about m points, never on one gap between two clusters;
    * β3' ∈ [min x' − 1, max x' + 1], β5' ∈ [−20, 20].

    Starting points: β3' at the 25/50/75 % quantiles of x' × β2' ∈ {0.5, 2, 8} (clipped to the slope bound; the first
    ``n_starts`` of a fixed order of these 9, beginning with the median × β2' = 2 and varying β3' then β2';
    β1' = 2s, β4' = β5' = 0), plus a straight-line start (β1' = 0, β4' = s·|r|), plus ``init`` (βs in original
    units, clipped into the bounds) when given. All starts (and, in :func:`fit_logistic_folds`, all folds) are
    solved **together** by a vectorised projected Levenberg–Marquardt (:func:`_box_lm`: Marquardt-scaled damping,
    parameters at a bound whose gradient points outward are held fixed; each step competes as projected onto the
    box and as truncated just short of the first bound it crosses; at most ``max_nfev`` iterations; converged when
    a full step lowers the RSS by less than ``tol`` relative or moves β by less than ``tol`` relative, as SciPy's
    ftol/xtol). The smallest residual sum of squares wins. Deviation from SciPy's bounded trust-region-reflective
    least squares (same bounds and starts, ftol = xtol = gtol = 1e-10), measured on 60 random problems: the same
    optimum within 1e-4 relative RSS on 58, the largest excess 1.9 % (both are local methods; from some starts the
    two fall into different local minima, e.g. the degenerate β2' = 0 line). It is about 10× faster here.

``"nlinfit"``
    What the paper and most MATLAB users did: one unconstrained local Levenberg–Marquardt fit (SciPy
    ``least_squares(method="lm")``, MINPACK, ftol = xtol = 1e-8 as nlinfit's TolFun/TolX) in the original units
    from the customary start β = [max y, min y, mean x, 1, 0] (a reading of "the customary nlinfit start"; scripts
    differ in β4, β5). No monotonicity, no bounds: it reproduces MATLAB-style tables, steps and bumps included.

The fit is done on standardised x and y for conditioning (monotone method) and the βs are transformed back to the
original units, so ``logistic5(x, *betas)`` predicts the score directly:
β1 = sy β1', β2 = β2'/sx, β3 = mx + sx β3', β4 = sy β4'/sx, β5 = my + sy (β5' − β4' mx/sx).
A fit fails (``status="failed"`` with a message, never an exception) when fewer than ``MIN_FIT_POINTS`` finite
points remain, when x or y is constant, or when no start reaches finite parameters.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from ..contracts import FIT_FAILED, FIT_OK

MIN_FIT_POINTS = 6
BETA_NAMES = ("b1", "b2", "b3", "b4", "b5")
LOGISTIC_METHODS = ("monotone", "nlinfit")
_GRID = [(0.5, 2.0), (0.25, 2.0), (0.75, 2.0), (0.5, 0.5), (0.5, 8.0), (0.25, 0.5), (0.75, 0.5), (0.25, 8.0),
         (0.75, 8.0)]


def logistic5(x, b1, b2, b3, b4, b5):
    """q = β1(½ − 1/(1 + exp(β2(x − β3)))) + β4·x + β5 (VQEG 2003; Sheikh et al. 2006), numerically stable."""
    x = np.asarray(x, dtype=float)
    z = b2 * (x - b3)
    # ½ − 1/(1+e^z) = ½·tanh(z/2): overflow-free
    return b1 * 0.5 * np.tanh(0.5 * z) + b4 * x + b5


def _logistic_jac(x, b):
    """∂q/∂β (N × 5) at one parameter vector."""
    return _batch_jac(np.asarray(x, float)[None, :], np.asarray(b, float)[None, :])[0]


def _batch_model(x, b):
    """q for P parameter rows ``b`` (P × 5) on x (P × N)."""
    return b[:, :1] * 0.5 * np.tanh(0.5 * b[:, 1:2] * (x - b[:, 2:3])) + b[:, 3:4] * x + b[:, 4:5]


def _batch_jac(x, b):
    """∂q/∂β for P parameter rows on x (P × N): P × N × 5."""
    b1, b2, b3 = b[:, 0:1], b[:, 1:2], b[:, 2:3]
    d = x - b3
    t = np.tanh(0.5 * b2 * d)
    dt = 0.25 * (1.0 - t * t)  # d/dz of ½tanh(z/2)
    j = np.empty(x.shape + (5,))
    j[..., 0] = 0.5 * t
    j[..., 1] = b1 * dt * d
    j[..., 2] = -b1 * dt * b2
    j[..., 3] = x
    j[..., 4] = 1.0
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
    method: str = "monotone"

    @property
    def ok(self) -> bool:
        return self.status == FIT_OK

    def predict(self, x) -> np.ndarray:
        return logistic5(x, *self.betas)

    def as_dict(self) -> dict:
        d = dict(zip(BETA_NAMES, self.betas))
        d.update(fit_status=self.status, fit_message=self.message, n_fit=self.n, rss=self.rss, n_starts=self.n_starts,
                 fit_method=self.method)
        return d


def _failed(msg: str, n: int, n_starts: int = 0, method: str = "monotone") -> LogisticFit:
    return LogisticFit((np.nan,) * 5, FIT_FAILED, msg, int(n), float("nan"), n_starts, method)


def _box_lm(x, y, w, b0, lo, hi, max_iter: int = 500, tol: float = 1e-6):
    """Projected Levenberg–Marquardt for P independent box-bounded problems at once.

    Problem p minimises ½ Σᵢ wₚᵢ (q(xₚᵢ; βₚ) − yₚᵢ)² over lo_p ≤ βₚ ≤ hi_p (x, y, w: P × N; b0, lo, hi: P × 5).
    Returns (β P × 5, cost P, converged P bool, iterations P).
    """
    P = b0.shape[0]
    b = np.clip(b0, lo, hi)
    sw = np.sqrt(w)
    cost, r = _cost_rows(x, y, sw, b)
    lam = np.full(P, 1e-3)
    active = np.ones(P, bool)
    conv = np.zeros(P, bool)
    iters = np.zeros(P, int)
    eye = np.eye(5)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        iters[idx] += 1
        ba, ra = b[idx], r[idx]
        J = sw[idx][..., None] * _batch_jac(x[idx], ba)
        g = np.einsum("pnk,pn->pk", J, ra)
        A = np.einsum("pnk,pnl->pkl", J, J)
        span = hi[idx] - lo[idx]
        eps = 1e-10 * np.maximum(span, 1.0)
        fixed = ((ba <= lo[idx] + eps) & (g > 0)) | ((ba >= hi[idx] - eps) & (g < 0))
        d = np.diagonal(A, axis1=1, axis2=2)
        damp = lam[idx, None] * (d + 1e-12 * np.maximum(d.max(axis=1, keepdims=True), 1e-300))
        M = A + damp[:, :, None] * eye
        keep = (~fixed).astype(float)
        M = M * keep[:, :, None] * keep[:, None, :] + fixed[:, :, None] * eye
        rhs = -g * keep
        try:
            step = np.linalg.solve(M, rhs[..., None])[..., 0]
        except np.linalg.LinAlgError:  # pragma: no cover - singular despite damping
            step = np.linalg.lstsq(M[0], rhs[0], rcond=None)[0][None, :] if idx.size == 1 else np.zeros_like(rhs)
        # two candidates: the step projected onto the box, and the step truncated just short of the first bound
        # it crosses (keeps its direction; projection alone can drive a parameter onto a bound it should not stay
        # on, e.g. β2 = 0 where the sigmoid vanishes); the cheaper one competes
        lo_i, hi_i = lo[idx], hi[idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(step > 0, (hi_i - ba) / step, np.where(step < 0, (lo_i - ba) / step, np.inf))
        room = np.where(room > 1e-12, room, np.inf)  # already on that bound: projection handles it
        alpha = np.clip(0.995 * room.min(axis=1), 0.0, 1.0)
        cand = np.stack([np.clip(ba + step, lo_i, hi_i), np.clip(ba + alpha[:, None] * step, lo_i, hi_i)])
        c2, r2 = _cost_rows(np.tile(x[idx], (2, 1)), np.tile(y[idx], (2, 1)), np.tile(sw[idx], (2, 1)),
                            cand.reshape(-1, 5))
        c2 = np.where(np.isfinite(c2), c2, np.inf).reshape(2, -1)
        pick = np.argmin(c2, axis=0)
        sel = np.arange(idx.size)
        bn, cn = cand[pick, sel], c2[pick, sel]
        rn = r2.reshape(2, idx.size, -1)[pick, sel]
        better = np.isfinite(cn) & (cn < cost[idx])
        null = ~np.any(step != 0, axis=1)  # every free parameter has a zero step: a stationary point of the box
        rel_dec = (cost[idx] - cn) / np.maximum(cost[idx], 1e-300)
        rel_step = np.linalg.norm(bn - ba, axis=1) / (np.linalg.norm(ba, axis=1) + tol)
        acc = idx[better]
        b[acc], cost[acc], r[acc] = bn[better], cn[better], rn[better]
        lam[acc] = np.maximum(lam[acc] / 5.0, 1e-12)
        rej = idx[~better]
        lam[rej] = lam[rej] * 4.0
        # converged on a small relative change of a full (projected, untruncated) step only: a truncated step is
        # small because a bound is near, not because the optimum is
        done = (better & (pick == 0) & ((rel_dec <= tol) | (rel_step <= tol))) | null
        stuck = ~better & (lam[idx] > 1e12)
        conv[idx[done | stuck]] = True
        active[idx[done | stuck]] = False
    return b, cost, conv, iters


def _cost_rows(x, y, sw, b):
    """½ Σ weighted squared residuals per row, and the weighted residuals."""
    r = sw * (_batch_model(x, b) - y)
    return 0.5 * np.einsum("pn,pn->p", r, r), r


def _spearman_sign(x, y) -> float:
    from .weighted import average_ranks  # scipy.stats.rankdata's average ranks without importing scipy.stats (1 s)

    rx, ry = average_ranks(x), average_ranks(y)
    # the sign of the rank correlation is that of the centred cross product, which is exact here (average ranks
    # are multiples of ½ and their mean is (n + 1)/2, so every product and sum is exact in double precision)
    c = float(np.dot(rx - rx.mean(), ry - ry.mean()))
    return -1.0 if c < 0 else 1.0


def max_slope(xs: np.ndarray) -> float:
    """Upper bound of β2' on standardised values ``xs``: min(60, 4/w), w the median m-spacing (see module doc)."""
    s = np.sort(np.asarray(xs, float))
    n = s.size
    m = min(n - 1, max(MIN_FIT_POINTS - 1, math.ceil(n / 10)))
    spac = s[m:] - s[:-m]
    w = float(np.median(spac)) if spac.size else 0.0
    if not w > 0:
        pos = spac[spac > 0]
        w = float(np.median(pos)) if pos.size else float(s[-1] - s[0])
    return float(min(60.0, 4.0 / w)) if w > 0 else 60.0


@dataclasses.dataclass
class _Prepared:
    n: int
    mx: float
    sx: float
    my: float
    sy: float
    xs: np.ndarray
    ys: np.ndarray
    starts: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


def _prepare(x, y, n_starts, init, method) -> _Prepared | LogisticFit:
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = x.size
    if n < MIN_FIT_POINTS:
        return _failed(f"only {n} finite points (need >= {MIN_FIT_POINTS})", n, method=method)
    mx, sx = x.mean(), x.std()
    my, sy = y.mean(), y.std()
    if not (sx > 1e-12 * max(1.0, abs(mx))):
        return _failed("objective values are constant", n, method=method)
    if not (sy > 1e-12 * max(1.0, abs(my))):
        return _failed("scores are constant", n, method=method)
    xs, ys = (x - mx) / sx, (y - my) / sy
    s = _spearman_sign(xs, ys)
    b2max = max_slope(xs)
    lo = np.array([0.0, 0.0, xs.min() - 1.0, 0.0, -20.0])
    hi = np.array([20.0, b2max, xs.max() + 1.0, 10.0, 20.0])
    if s < 0:
        lo[[0, 3]], hi[[0, 3]] = [-20.0, -10.0], [0.0, 0.0]
    r = np.corrcoef(xs, ys)[0, 1]
    grid = _GRID[: max(1, n_starts)]  # only the starts asked for: np.quantile is most of a small fit's preparation
    starts = [[2.0 * s, b2, float(v), 0.0, 0.0] for (_, b2), v in zip(grid, np.quantile(xs, [q for q, _ in grid]))]
    starts.append([0.0, 1.0, 0.0, s * abs(float(r)) if np.isfinite(r) else 0.0, 0.0])
    if init is not None and np.all(np.isfinite(init)):
        b1, b2, b3, b4, b5 = (float(v) for v in init)
        if b2 < 0:  # same curve with β2 ≥ 0
            b1, b2 = -b1, -b2
        starts.insert(0, [b1 / sy, b2 * sx, (b3 - mx) / sx, b4 * sx / sy, (b5 - my) / sy + b4 * mx / sy])
    st = np.clip(np.asarray(starts, float), lo, hi)
    return _Prepared(n, mx, sx, my, sy, xs, ys, st, lo, hi)


def _unstandardise(p: _Prepared, bp) -> tuple[float, ...]:
    b1p, b2p, b3p, b4p, b5p = bp
    return (p.sy * b1p, b2p / p.sx, p.mx + p.sx * b3p, p.sy * b4p / p.sx, p.my + p.sy * (b5p - b4p * p.mx / p.sx))


def fit_logistic_folds(x, y, train_masks: Sequence[np.ndarray], n_starts: int | Sequence[int] = 5,
                       max_nfev: int = 500, tol: float = 1e-6, method: str = "monotone") -> list[LogisticFit]:
    """One :func:`fit_logistic` per boolean training mask over (x, y), all solved in one vectorised batch.

    ``n_starts`` is one number for every mask or one per mask. Each fit equals ``fit_logistic(x[m], y[m], ...)``.
    """
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if method not in LOGISTIC_METHODS:
        raise ValueError(f"unknown logistic method {method!r} (expected one of {LOGISTIC_METHODS})")
    if method == "nlinfit":
        return [_fit_nlinfit(x[m], y[m], max_nfev) for m in train_masks]
    ns = [n_starts] * len(train_masks) if np.isscalar(n_starts) else list(n_starts)
    preps = [_prepare(x[m], y[m], s, None, method) for m, s in zip(train_masks, ns)]
    return _solve_prepared(preps, max_nfev, tol)


def fit_logistic_many(problems: Sequence[tuple], max_nfev: int = 500, tol: float = 1e-6,
                      method: str = "monotone") -> list[list[LogisticFit]]:
    """:func:`fit_logistic_folds` for many ``(x, y, train_masks, n_starts)`` problems: ``out[i]`` equals
    ``fit_logistic_folds(*problems[i], max_nfev=max_nfev, tol=tol, method=method)`` value for value.

    The monotone fits of every problem whose rows pad to the same length (the largest training set of the problem)
    are solved in one vectorised batch: the solver treats each row on its own and each row keeps the padding it has
    when its problem is solved alone, so only the per-iteration overhead is shared (the demo's 180 groups, each a paper
    fit and 5 fold fits: 5.1 CPU-s one problem at a time, 2.3 CPU-s batched)."""
    if method not in LOGISTIC_METHODS:
        raise ValueError(f"unknown logistic method {method!r} (expected one of {LOGISTIC_METHODS})")
    if method == "nlinfit":
        return [fit_logistic_folds(x, y, m, s, max_nfev=max_nfev, tol=tol, method=method) for x, y, m, s in problems]
    preps_of, buckets = [], {}
    for i, (x, y, masks, n_starts) in enumerate(problems):
        x = np.asarray(x, dtype=float).ravel()
        y = np.asarray(y, dtype=float).ravel()
        ns = [n_starts] * len(masks) if np.isscalar(n_starts) else list(n_starts)
        preps = [_prepare(x[m], y[m], s, None, method) for m, s in zip(masks, ns)]
        preps_of.append(preps)
        sizes = [p.n for p in preps if isinstance(p, _Prepared)]
        buckets.setdefault(max(sizes) if sizes else 0, []).append(i)
    out: list[list[LogisticFit]] = [[] for _ in problems]
    for members in buckets.values():
        flat = [p for i in members for p in preps_of[i]]
        solved = _solve_prepared(flat, max_nfev, tol)
        at = 0
        for i in members:
            out[i] = solved[at:at + len(preps_of[i])]
            at += len(preps_of[i])
    return out


def _solve_prepared(preps, max_nfev, tol) -> list[LogisticFit]:
    todo = [i for i, p in enumerate(preps) if isinstance(p, _Prepared)]
    out: list = list(preps)
    if not todo:
        return out
    nmax = max(preps[i].n for i in todo)
    rows_x, rows_y, rows_w, b0, lo, hi, owner = [], [], [], [], [], [], []
    for i in todo:
        p = preps[i]
        pad = nmax - p.n
        xr = np.pad(p.xs, (0, pad))
        yr = np.pad(p.ys, (0, pad))
        wr = np.pad(np.ones(p.n), (0, pad))
        for s in p.starts:
            rows_x.append(xr), rows_y.append(yr), rows_w.append(wr)
            b0.append(s), lo.append(p.lo), hi.append(p.hi), owner.append(i)
    b, cost, conv, iters = _box_lm(np.array(rows_x), np.array(rows_y), np.array(rows_w), np.array(b0),
                                   np.array(lo), np.array(hi), max_iter=max_nfev, tol=tol)
    owner = np.array(owner)
    for i in todo:
        p = preps[i]
        rows = np.flatnonzero(owner == i)
        fin = rows[np.isfinite(cost[rows]) & np.all(np.isfinite(b[rows]), axis=1)]
        if fin.size == 0:
            out[i] = _failed("no start reached finite parameters", p.n, len(rows))
            continue
        best = fin[np.argmin(cost[fin])]
        betas = _unstandardise(p, b[best])
        msg = ("converged" if conv[best] else f"iteration cap {max_nfev} reached") + \
            f" after {int(iters[best])} iterations"
        rss = float(2.0 * cost[best] * p.sy ** 2)
        out[i] = LogisticFit(tuple(float(v) for v in betas), FIT_OK, msg, p.n, rss, len(rows), "monotone")
    return out


def fit_logistic(x, y, n_starts: int = 5, max_nfev: int = 500, tol: float = 1e-6,
                 init: Sequence[float] | None = None, method: str = "monotone") -> LogisticFit:
    """Fit :func:`logistic5` to (x, y); return a :class:`LogisticFit` (never raises on bad data).

    ``method``: ``"monotone"`` (bounded, monotone, slope-limited, multi-start) or ``"nlinfit"`` (one local
    unconstrained fit from the customary MATLAB start); see the module docstring for both, their bounds and starts.
    ``n_starts``/``init`` apply to the monotone method; ``max_nfev`` caps iterations of either.
    """
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError("x and y must have the same length")
    if method not in LOGISTIC_METHODS:
        raise ValueError(f"unknown logistic method {method!r} (expected one of {LOGISTIC_METHODS})")
    if method == "nlinfit":
        return _fit_nlinfit(x, y, max_nfev)
    return _solve_prepared([_prepare(x, y, n_starts, init, method)], max_nfev, tol)[0]


def _fit_nlinfit(x, y, max_nfev: int) -> LogisticFit:
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = x.size
    if n < MIN_FIT_POINTS:
        return _failed(f"only {n} finite points (need >= {MIN_FIT_POINTS})", n, 1, "nlinfit")
    if np.ptp(x) == 0:
        return _failed("objective values are constant", n, 1, "nlinfit")
    if np.ptp(y) == 0:
        return _failed("scores are constant", n, 1, "nlinfit")
    b0 = np.array([y.max(), y.min(), x.mean(), 1.0, 0.0])
    try:
        from scipy import optimize  # here, not at import: 1 s of every job that imports veiqa.stats

        res = optimize.least_squares(lambda b: logistic5(x, *b) - y, b0, jac=lambda b: _logistic_jac(x, b),
                                     method="lm", ftol=1e-8, xtol=1e-8, max_nfev=max_nfev)
    except (ValueError, np.linalg.LinAlgError, FloatingPointError) as e:  # pragma: no cover - defensive
        return _failed(f"nlinfit-style fit failed: {e}", n, 1, "nlinfit")
    pred = logistic5(x, *res.x)
    if res.status < 0 or not np.all(np.isfinite(res.x)) or not np.all(np.isfinite(pred)):
        return _failed(f"nlinfit-style fit failed: {res.message}", n, 1, "nlinfit")
    return LogisticFit(tuple(float(v) for v in res.x), FIT_OK, str(res.message), n, float(np.sum((pred - y) ** 2)), 1,
                       "nlinfit")


def linear_fallback(x_train, y_train, x_test) -> tuple[np.ndarray, str]:
    """Ordinary least-squares line y ≈ a + b x fitted on train, evaluated on test (for failed logistic fits)."""
    ok = np.isfinite(x_train) & np.isfinite(y_train)
    xt, yt = x_train[ok], y_train[ok]
    if xt.size >= 2 and np.std(xt) > 0:
        b, a = np.polyfit(xt, yt, 1)
        return a + b * np.asarray(x_test, float), "linear_fallback"
    return np.full(np.shape(x_test), np.nan), "none"


def is_monotone(betas, lo: float, hi: float, n_grid: int = 2001) -> tuple[bool, int]:
    """Whether logistic5(·, betas) is monotone on a dense grid of [lo, hi]; also its direction (+1/−1/0 flat).

    Checked numerically on ``n_grid`` points: successive differences must not change sign beyond a relative
    tolerance of 1e-9 of the curve's range (flat stretches are allowed).
    """
    g = np.linspace(lo, hi, n_grid)
    q = logistic5(g, *betas)
    d = np.diff(q)
    span = float(np.ptp(q))
    if not np.all(np.isfinite(q)):
        return False, 0
    if span == 0:
        return True, 0
    eps = 1e-9 * span
    up, down = bool(np.all(d >= -eps)), bool(np.all(d <= eps))
    return up or down, (1 if up else -1) if (up or down) else 0
