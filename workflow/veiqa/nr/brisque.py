"""BRISQUE (Mittal, Moorthy & Bovik 2012, "No-reference image quality assessment in the spatial domain", IEEE TIP 21(12)),
as the authors released it: ``brisquescore.m`` of the BRISQUE software release (github.com/utlive/BRISQUE, ``MATLAB/``)
with its own model, not MATLAB's built-in ``brisque()`` (MathWorks' model, which gives other values).

1. grey: MATLAB ``rgb2gray`` of the uint8 image, then double (0..255);
2. features (``brisque_feature.m``), per scale (full, then MATLAB ``imresize(.., 0.5)``): MSCN with the 7×7
   σ = 7/6 Gaussian, ``filter2(.., 'same')`` (zero boundary), C = 1; the GGD fit of the MSCN (α, σ²) and, for the four
   neighbour products over the whole image (``circshift`` by (0,1), (1,0), (1,1), (−1,1), wrapping round), the AGGD fit
   (α, η, σl², σr²) with ``η = (σr−σl)·Γ(2/α)/Γ(1/α)·sqrt(Γ(1/α)/Γ(3/α))`` — 18 per scale, 36 in all;
3. ``brisquescore.m`` writes them to ``test_ind`` with ``fprintf('%d:%f ')`` (six decimals: a feature of 1.5e-5 keeps
   two significant digits), runs ``svm-scale -r allrange`` (:class:`ScaleRanges`: libsvm's ``svm-scale.c``, which
   prints the scaled values with ``%g``, six significant digits) and ``svm-predict -b 1 test_ind_scaled allmodel``
   (:class:`SVRModel`: ``Σ coef_i·exp(−γ‖x−sv_i‖²) − ρ``). ``-b 1`` does not change an ε-SVR's value: libsvm's
   ``svm-predict.c`` takes the probability branch only for C-SVC/ν-SVC (and one-class); for regression it prints the
   Laplace σ of the model's ``probA`` to stdout and writes ``svm_predict(model, x)``, and ``svm_predict_probability``
   itself returns ``svm_predict`` for an SVR. veiqa mirrors both printf roundings and returns the SVR value unrounded
   (the release's 2009 ``svm-predict`` printed it with ``%g``; libsvm ≥ 3.23 prints ``%.17g``).

The model files are the release's ``allmodel`` and ``allrange``, shipped in ``veiqa/nr/data/`` as ``brisque_allmodel``
and ``brisque_allrange`` (``PROVENANCE.md``, ``BRISQUE_NOTICE.txt``) and parsed here (no libsvm at run time). The
release's readme says the model was "trained on the entire LIVE database", so **BRISQUE figures on LIVE are
in-sample**. Lower is better (predicted DMOS, roughly 0..100).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import gamma as _gamma

from .features import aggd_fit, ggd_fit, imresize_half, matlab_gray, mscn
from .models import ModelFileError, data_file

N_FEATURES = 36
MODEL_FILE = "brisque_allmodel"        # the release's MATLAB/allmodel
RANGE_FILE = "brisque_allrange"        # the release's MATLAB/allrange
# brisque_feature.m: circshift(structdis, shifts(k, :)) over the whole image
SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))
MIN_SIDE = 14          # two scales of the 7×7 window: the half-size image must still hold it


def printf_round(values: np.ndarray, fmt: str) -> np.ndarray:
    """``values`` as C's printf ``fmt`` writes them and ``strtod`` reads them back (``'%f'``, ``'%g'``)."""
    values = np.asarray(values, dtype=np.float64)
    return np.array([float(fmt % v) for v in values.ravel()]).reshape(values.shape)


@dataclass(frozen=True)
class ScaleRanges:
    """An ``svm-scale`` restore file (``-r``): x-scaling limits and each feature's minimum and maximum."""

    lower: float
    upper: float
    fmin: np.ndarray        # (n_features,) feature minima; a feature the file does not list has min = max = 0
    fmax: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Scaled features, as ``svm-scale.c``'s ``output()`` computes them before printing: a value equal to the
        minimum (maximum) becomes ``lower`` (``upper``), others ``lower + (upper−lower)·(v−min)/(max−min)`` — no
        clipping, so a value outside the training range maps outside [lower, upper]; a feature with min = max is not
        written, i.e. 0 to svm-predict."""
        x = np.asarray(x, dtype=np.float64)
        single = self.fmin == self.fmax
        with np.errstate(divide="ignore", invalid="ignore"):
            out = self.lower + (self.upper - self.lower) * (x - self.fmin) / (self.fmax - self.fmin)
        out = np.where(x == self.fmax, self.upper, out)
        out = np.where(x == self.fmin, self.lower, out)
        return np.where(single, 0.0, out)


@dataclass(frozen=True)
class SVRModel:
    """A libsvm ε-SVR with RBF kernel."""

    sv: np.ndarray          # (n_sv, n_features) support vectors (scaled space)
    coef: np.ndarray        # (n_sv,) dual coefficients
    gamma: float
    rho: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``svm_predict`` for scaled feature rows (n, n_features): Σ coef_i·exp(−γ Σ_k (x_k − sv_ik)²) − ρ, the squared
        distance summed from the differences as libsvm's ``k_function`` does (no ‖x‖²+‖sv‖²−2x·sv cancellation)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        d2 = ((x[:, None, :] - self.sv[None, :, :]) ** 2).sum(-1)
        return np.exp(-self.gamma * d2) @ self.coef - self.rho


def _lines(path) -> list[str]:
    try:
        with open(path) as fh:                   # universal newlines: the release's files have CRLF line ends
            return fh.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{path}: cannot read ({e})") from e


def read_scale_ranges(path, n_features: int = N_FEATURES) -> ScaleRanges:
    """Parse an ``svm-scale -s`` file (``[y / y_lower y_upper / y_min y_max] x / lower upper / index min max ...``);
    raises :class:`ModelFileError` naming the file."""
    lines = [ln.strip() for ln in _lines(path)]
    if lines and lines[0] == "y":              # target scaling: svm-scale applies it to the label only
        lines = lines[3:]
    if len(lines) < 2 or lines[0] != "x":
        raise ModelFileError(f"{path}: not an svm-scale range file (expected a line 'x', then 'lower upper')")
    fmin, fmax = np.zeros(n_features), np.zeros(n_features)
    try:
        lower, upper = (float(v) for v in lines[1].split())
        for ln in filter(None, lines[2:]):
            idx, lo, hi = ln.split()
            i = int(idx)
            if not 1 <= i <= n_features:
                raise ModelFileError(f"{path}: feature index {i} outside 1..{n_features}")
            fmin[i - 1], fmax[i - 1] = float(lo), float(hi)
    except ValueError as e:
        raise ModelFileError(f"{path}: malformed svm-scale range line ({e})") from e
    if not upper > lower:
        raise ModelFileError(f"{path}: scaling limits must have upper > lower, got {lower} {upper}")
    return ScaleRanges(lower, upper, fmin, fmax)


def read_libsvm_model(path, n_features: int = N_FEATURES) -> SVRModel:
    """Parse a libsvm epsilon-SVR/RBF model file; raises :class:`ModelFileError` naming the file."""
    lines = _lines(path)
    header = {}
    for k, line in enumerate(lines):
        if line.strip() == "SV":
            sv_lines = [ln for ln in lines[k + 1:] if ln.strip()]
            break
        key, _, value = line.strip().partition(" ")
        header[key] = value
    else:
        sv_lines = []
    if header.get("svm_type") != "epsilon_svr" or header.get("kernel_type") != "rbf" or not sv_lines:
        raise ModelFileError(f"{path}: not a libsvm epsilon_svr model with an rbf kernel "
                             f"(svm_type {header.get('svm_type')}, kernel_type {header.get('kernel_type')})")
    sv = np.zeros((len(sv_lines), n_features))
    coef = np.empty(len(sv_lines))
    try:
        for i, line in enumerate(sv_lines):
            parts = line.split()
            coef[i] = float(parts[0])
            for item in parts[1:]:
                k, v = item.split(":")
                if not 1 <= int(k) <= n_features:
                    raise ModelFileError(f"{path}: support vector {i + 1} has feature index {k} outside "
                                         f"1..{n_features}")
                sv[i, int(k) - 1] = float(v)
        n_sv, g, rho = int(header.get("total_sv", len(sv))), float(header["gamma"]), float(header["rho"])
    except (ValueError, KeyError) as e:
        raise ModelFileError(f"{path}: malformed libsvm model ({e!r})") from e
    if n_sv != len(sv):
        raise ModelFileError(f"{path}: header says {n_sv} support vectors, file has {len(sv)}")
    return SVRModel(sv, coef, g, rho)


@lru_cache(maxsize=1)
def model() -> tuple[ScaleRanges, SVRModel]:
    """The release's scaling (``allrange``) and SVR (``allmodel``)."""
    return read_scale_ranges(data_file(RANGE_FILE)), read_libsvm_model(data_file(MODEL_FILE))


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
    from .errors import ImageTooSmallError

    im = matlab_gray(img)
    if min(im.shape) < MIN_SIDE:
        raise ImageTooSmallError(f"BRISQUE needs an image of at least {MIN_SIDE}×{MIN_SIDE} pixels; got "
                                 f"{im.shape[1]}×{im.shape[0]} (W×H)")
    out = _scale_features(im)
    out += _scale_features(imresize_half(im))
    return np.asarray(out)


def score_features(feat: np.ndarray) -> np.ndarray:
    """``brisquescore.m`` from the features on: rows of 36 features → written ``%f`` → ``svm-scale -r allrange``
    (printed ``%g``) → ``svm-predict`` with ``allmodel``. Returns one score per row."""
    ranges, svr = model()
    feat = np.atleast_2d(np.asarray(feat, dtype=np.float64))
    scaled = printf_round(ranges.apply(printf_round(feat, "%f")), "%g")
    return svr.predict(scaled)


def brisque(img: np.ndarray) -> float:
    """BRISQUE score of one image (lower = better)."""
    feat = features(img)
    if not np.all(np.isfinite(feat)):
        from .errors import NRError

        raise NRError("BRISQUE: the features are not finite (a flat image has no MSCN statistics)")
    return float(score_features(feat)[0])
