"""BRISQUE (Mittal, Moorthy & Bovik 2012, "No-reference image quality assessment in the spatial domain", IEEE TIP 21(12)).

Features follow the authors' MATLAB release (``brisquescore.m``/``brisque_feature.m``):

1. grey: MATLAB ``rgb2gray`` of the uint8 image, then double (0..255);
2. per scale (full, then MATLAB ``imresize(.., 0.5)``): MSCN with the 7×7 σ = 7/6 Gaussian, ``filter2(.., 'same')``
   (zero boundary), C = 1; the GGD fit of the MSCN (α, σ²) and, for the four neighbour products over the whole image
   (``circshift`` by (0,1), (1,0), (1,1), (−1,1), wrapping round), the AGGD fit (α, η, σl², σr²) with
   ``η = (σr−σl)·Γ(2/α)/Γ(1/α)·sqrt(Γ(1/α)/Γ(3/α))`` — 18 per scale, 36 in all;
3. ``svm-scale`` to [−1, 1] with the model's ranges and the ε-SVR with RBF kernel evaluated directly:
   ``Σ coef_i exp(−γ‖x−sv_i‖²) − ρ`` (what ``svm-predict -b 1`` prints for a regression model).

The model is the default one of the PyPI package ``brisque`` (Apache-2.0): ``brisque/models/svm.txt`` (libsvm format)
and ``normalize.pickle`` (the ranges), read from the installed distribution without importing the package (its import
needs OpenCV and libsvm). It is a LIVE-trained model (the issue's reading; the package itself does not name its
training set), so **BRISQUE figures on LIVE are in-sample**. Lower is better (predicted DMOS, roughly 0..100).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import gamma as _gamma

from .features import aggd_fit, ggd_fit, imresize_half, matlab_gray, mscn
from .models import ModelFileError, model_file

# brisque_feature.m: circshift(structdis, shifts(k, :)) over the whole image
SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))
MIN_SIDE = 14          # two scales of the 7×7 window: the half-size image must still hold it


@dataclass(frozen=True)
class SVRModel:
    sv: np.ndarray          # (n_sv, n_features) support vectors (scaled space)
    coef: np.ndarray        # (n_sv,) dual coefficients
    gamma: float
    rho: float
    lower: np.ndarray       # svm-scale ranges: feature minima
    upper: np.ndarray       # ... and maxima

    def scale(self, x: np.ndarray) -> np.ndarray:
        return -1.0 + 2.0 * (x - self.lower) / (self.upper - self.lower)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Prediction for scaled feature rows (n, n_features)."""
        x = np.atleast_2d(x)
        d2 = (x * x).sum(1)[:, None] + (self.sv * self.sv).sum(1)[None, :] - 2.0 * x @ self.sv.T
        return np.exp(-self.gamma * np.maximum(d2, 0.0)) @ self.coef - self.rho


def read_libsvm_model(path, n_features: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(sv, coef, gamma, rho) of a libsvm epsilon-SVR/RBF model file; raises ModelFileError naming the file."""
    header, sv_lines = {}, []
    with open(path) as fh:
        for line in fh:
            if line.strip() == "SV":
                sv_lines = fh.read().splitlines()
                break
            key, _, value = line.strip().partition(" ")
            header[key] = value
    if header.get("svm_type") != "epsilon_svr" or header.get("kernel_type") != "rbf" or not sv_lines:
        raise ModelFileError(f"{path}: not a libsvm epsilon_svr model with an rbf kernel "
                             f"(svm_type {header.get('svm_type')}, kernel_type {header.get('kernel_type')})")
    sv = np.zeros((len(sv_lines), n_features))
    coef = np.empty(len(sv_lines))
    for i, line in enumerate(sv_lines):
        parts = line.split()
        coef[i] = float(parts[0])
        for item in parts[1:]:
            k, v = item.split(":")
            if not 1 <= int(k) <= n_features:
                raise ModelFileError(f"{path}: support vector {i + 1} has feature index {k} outside 1..{n_features}")
            sv[i, int(k) - 1] = float(v)
    if int(header.get("total_sv", len(sv))) != len(sv):
        raise ModelFileError(f"{path}: header says {header['total_sv']} support vectors, file has {len(sv)}")
    return sv, coef, float(header["gamma"]), float(header["rho"])


@lru_cache(maxsize=1)
def model() -> SVRModel:
    svm_path = model_file("brisque", "brisque/models/svm.txt")
    norm_path = model_file("brisque", "brisque/models/normalize.pickle")
    sv, coef, g, rho = read_libsvm_model(svm_path, 36)
    try:
        with open(norm_path, "rb") as fh:
            ranges = pickle.load(fh)         # a dict of two float lists, from the installed package
        lower, upper = np.asarray(ranges["min_"], float), np.asarray(ranges["max_"], float)
    except Exception as e:  # noqa: BLE001
        raise ModelFileError(f"{norm_path}: cannot read the BRISQUE feature ranges ({e})") from e
    if lower.shape != (36,) or upper.shape != (36,) or np.any(upper <= lower):
        raise ModelFileError(f"{norm_path}: expected 36 feature ranges with max > min")
    return SVRModel(sv, coef, g, rho, lower, upper)


def _scale_features(im: np.ndarray) -> list[float]:
    structdis, _ = mscn(im, boundary="zero")
    alpha, sigma = ggd_fit(structdis)
    feat = [alpha, sigma * sigma]
    for shift in SHIFTS:
        pair = structdis * np.roll(structdis, shift, axis=(0, 1))
        a, lstd, rstd = (float(v) for v in aggd_fit(pair.ravel()))
        const = np.sqrt(_gamma(1 / a)) / np.sqrt(_gamma(3 / a))
        feat += [a, (rstd - lstd) * (_gamma(2 / a) / _gamma(1 / a)) * const, lstd * lstd, rstd * rstd]
    return feat


def features(img: np.ndarray) -> np.ndarray:
    """The 36 BRISQUE features of an image (``brisque_feature.m``)."""
    from . import ImageTooSmallError

    im = matlab_gray(img)
    if min(im.shape) < MIN_SIDE:
        raise ImageTooSmallError(f"BRISQUE needs an image of at least {MIN_SIDE}×{MIN_SIDE} pixels; got "
                                 f"{im.shape[1]}×{im.shape[0]} (W×H)")
    out = _scale_features(im)
    out += _scale_features(imresize_half(im))
    return np.asarray(out)


def brisque(img: np.ndarray) -> float:
    """BRISQUE score of one image (lower = better)."""
    feat = features(img)
    if not np.all(np.isfinite(feat)):
        from . import NRError

        raise NRError("BRISQUE: the features are not finite (a flat image has no MSCN statistics)")
    m = model()
    return float(m.predict(m.scale(feat))[0])
