"""Streaming mean and covariance of feature vectors (float64, Chan et al. pairwise merge)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..io import VeiqaError
from ._tensors import _to_numpy64


class RunningStats:
    """Mean and covariance of a stream of feature vectors, accumulated in float64.

    Each batch is reduced to (count, mean, centred scatter matrix ``M2 = sum (x - mean)(x - mean)^T``) and merged
    into the running totals with the pairwise update of Chan, Golub & LeVeque (1979):
    ``M2 = M2_a + M2_b + delta delta^T * n_a n_b / n``.  This never forms raw sums of ``x x^T`` (no catastrophic
    cancellation when the mean is large against the spread).  ``cov`` uses ``n - 1`` like ``np.cov``.
    """

    def __init__(self, dim: int | None = None):
        self.n = 0
        self.dim = dim
        self._mean: np.ndarray | None = None
        self._m2: np.ndarray | None = None

    def update(self, batch) -> "RunningStats":
        """Add an ``N x D`` batch of features (numpy array or torch tensor); returns self."""
        x = _to_numpy64(batch)
        if x.ndim != 2:
            raise VeiqaError(f"RunningStats.update: features must be N x D, got shape {x.shape}")
        if x.shape[0] == 0:
            return self
        if not np.all(np.isfinite(x)):
            raise VeiqaError("RunningStats.update: features contain NaN or infinite values")
        nb = x.shape[0]
        mb = x.mean(axis=0)
        xc = x - mb
        m2b = xc.T @ xc
        return self._merge(nb, mb, m2b)

    def merge(self, other: "RunningStats") -> "RunningStats":
        """Merge another accumulator into this one (same result as feeding its batches here); returns self."""
        if other.n == 0:
            return self
        return self._merge(other.n, other._mean, other._m2)

    def _merge(self, nb: int, mb: np.ndarray, m2b: np.ndarray) -> "RunningStats":
        if self.dim is None:
            self.dim = mb.shape[0]
        if mb.shape[0] != self.dim:
            raise VeiqaError(f"RunningStats: feature dimension {mb.shape[0]} != {self.dim} of earlier batches")
        if self.n == 0:
            self.n, self._mean, self._m2 = nb, mb.copy(), m2b.copy()
            return self
        n = self.n + nb
        delta = mb - self._mean
        self._mean = self._mean + delta * (nb / n)
        self._m2 = self._m2 + m2b + np.outer(delta, delta) * (self.n * nb / n)
        self.n = n
        return self

    @property
    def mean(self) -> np.ndarray:
        if self.n == 0:
            raise VeiqaError("RunningStats: no features were added")
        return self._mean

    @property
    def cov(self) -> np.ndarray:
        """Unbiased sample covariance (divisor n - 1), symmetric by construction."""
        if self.n < 2:
            raise VeiqaError(f"RunningStats: a covariance needs at least 2 feature vectors, got {self.n}")
        c = self._m2 / (self.n - 1)
        return (c + c.T) / 2

    def to_dict(self) -> dict[str, Any]:
        """Arrays that reconstruct the accumulator (e.g. for ``np.savez``)."""
        return {"n": np.int64(self.n), "mean": self.mean, "m2": self._m2}

    @classmethod
    def from_dict(cls, d) -> "RunningStats":
        s = cls(dim=np.asarray(d["mean"]).shape[0])
        s._merge(int(d["n"]), np.asarray(d["mean"], np.float64), np.asarray(d["m2"], np.float64))
        return s
