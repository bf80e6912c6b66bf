"""Chance level of the paper protocol's in-sample PLCC, by permutation of contents.

The paper protocol fits the logistic on the images it evaluates, so its PLCC has no honest interval; instead the
run prints the PLCC a useless measure reaches at the same N and the same contents (``plcc_chance``, the 95th
percentile over ``aggregate.permutations`` permutations) and the one-sided permutation p-value (``plcc_p_perm``).
:func:`_chance_plcc` does it for one group; :func:`veiqa.stats.protocols.correlations` does the same in three steps
(:func:`_perm_draws` per group, the fits of many groups in batches by :func:`_fit_batched`, then
:func:`_chance_from_fits`), which gives the same figures at less solver overhead.
"""

from __future__ import annotations

import numpy as np

from .logistic import fit_logistic_many, linear_fallback
from .weighted import _wpearson


def _chance_plcc(x, y, ref_index, orientation, plcc, n_perm, rng, logistic) -> dict:
    """Chance level of the paper protocol's in-sample PLCC: the PLCC a useless measure reaches at this N and these
    contents. Each of ``n_perm`` permutations gives every content the x-values of another content (drawn without
    replacement within the block, with replacement when it has fewer images), so x stays clustered by content but
    is independent of y; the logistic is refitted (1 start) and the signed PLCC computed as for the data.
    Returns ``plcc_chance`` (its 95th percentile) and ``plcc_p_perm`` (one-sided, (1 + #≥) / (1 + n_perm)).
    :func:`correlations` does the same in three steps (:func:`_perm_draws`, one batch of fits for many groups,
    :func:`_chance_from_fits`)."""
    xs = _perm_draws(x, ref_index, n_perm, rng)
    fits = fit_logistic_many(_perm_problems(xs, y), method=logistic)
    return _chance_from_fits(xs, y, fits, orientation, plcc)


def _perm_draws(x, ref_index, n_perm, rng) -> list[np.ndarray]:
    """The ``n_perm`` permuted copies of x of :func:`_chance_plcc` (drawn from ``rng``)."""
    c = int(ref_index.max()) + 1
    blocks = [np.flatnonzero(ref_index == i) for i in range(c)]
    xs = []
    for _ in range(n_perm):
        perm = rng.permutation(c)
        xp = np.empty_like(x)
        for i, j in enumerate(perm):
            src = x[blocks[j]]
            xp[blocks[i]] = rng.choice(src, size=blocks[i].size, replace=src.size < blocks[i].size)
        xs.append(xp)
    return xs


def _perm_problems(xs, y) -> list[tuple]:
    """The logistic fits of the permuted copies (:func:`veiqa.stats.logistic.fit_logistic_many` problems)."""
    return [(xp, y, [np.ones(xp.size, bool)], 1) for xp in xs]


def _chance_from_fits(xs, y, fits, orientation, plcc) -> dict:
    """``plcc_chance``, ``plcc_p_perm``, ``n_perm`` from the permuted copies and their fits (one list per copy)."""
    # all permutations at once: row b of P is permutation b's prediction, signed by its mapping's direction
    X = np.asarray(xs)
    P = np.array([f.predict(xp) if f.ok else linear_fallback(xp, y, xp)[0] for xp, (f,) in zip(xs, fits)])
    ones = np.ones_like(P)
    d = _wpearson(P, X, ones)  # direction_signs per row: −1 where the mapping falls, +1 where it rises or is flat
    sp = P * np.where(np.isfinite(d) & (d < 0), -1.0, 1.0)[:, None] * orientation
    null = np.where(np.isfinite(P).all(axis=1), _wpearson(sp, y, ones), np.nan)  # as weighted_stats' plcc
    null = null[np.isfinite(null)]
    if not null.size:
        return {"plcc_chance": np.nan, "plcc_p_perm": np.nan, "n_perm": 0}
    p = (1 + np.sum(null >= plcc)) / (1 + null.size) if np.isfinite(plcc) else np.nan
    return {"plcc_chance": float(np.percentile(null, 95)), "plcc_p_perm": float(p), "n_perm": int(null.size)}


#: Largest batch of permutation fits solved at once, in data points × starts (bounds the solver's memory, about
#: 50 bytes a point; the fits are the same whatever the batch).
PERM_BATCH_POINTS = 2_000_000


def _fit_batched(problems, logistic) -> list:
    """:func:`fit_logistic_many` over ``problems`` in batches of at most :data:`PERM_BATCH_POINTS` points."""
    out, batch, size = [], [], 0
    for pr in problems:
        n = 2 * int(np.size(pr[0]))  # one start + the linear start
        if batch and size + n > PERM_BATCH_POINTS:
            out += fit_logistic_many(batch, method=logistic)
            batch, size = [], 0
        batch.append(pr)
        size += n
    if batch:
        out += fit_logistic_many(batch, method=logistic)
    return out
