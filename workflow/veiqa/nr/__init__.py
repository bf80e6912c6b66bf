"""Standard no-reference IQA methods: NIQE, BRISQUE, PIQE, after their reference MATLAB code.

API (what the workflow's nr_methods rule and ``veiqa nr`` call)::

    from veiqa import nr
    nr.METHODS                         # ("niqe", "brisque", "piqe")
    nr.score(img, "niqe") -> float     # img: H×W×3 RGB or H×W grey, uint8, as veiqa.io.read_image returns
    nr.score_many(img, nr.METHODS) -> {"niqe": ..., "brisque": ..., "piqe": ...}

``LOWER_IS_BETTER = True``: for all three methods a *lower* score means *better* quality (NIQE: distance to the
pristine model; BRISQUE: the SVR's predicted DMOS, roughly 0..100; PIQE: 0..100). A correlation with MOS is therefore
expected to be negative (with DMOS positive); ranking code should compare |ρ| or flip the sign.

Errors are :class:`veiqa.io.VeiqaError` subclasses: :class:`ImageTooSmallError` (the image has fewer pixels than a
method's blocks need), :class:`ModelFileError` (a shipped model file is missing), :class:`UnknownMethodError`.

Provenance: NIQE and BRISQUE are the authors' release codes with their release models (vendored in ``nr/data/``, see
``PROVENANCE.md`` there), not MATLAB's built-in ``niqe()``/``brisque()`` (MathWorks' own models, which give other
values). BRISQUE's model was trained on the whole of LIVE (the release's readme), so BRISQUE on LIVE is *in-sample*.
PIQE is opinion- and training-free.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ..io import VeiqaError
from .errors import ImageTooSmallError, NRError, UnknownMethodError
from .models import ModelFileError

METHODS = ("niqe", "brisque", "piqe")   # the one home of the names (schema enum and Table 6 checked against it)
LABELS = {"niqe": "NIQE", "brisque": "BRISQUE", "piqe": "PIQE"}   # display names (Table 6)
LOWER_IS_BETTER = True

__all__ = ["METHODS", "LABELS", "LOWER_IS_BETTER", "score", "score_many", "NRError", "ImageTooSmallError",
           "ModelFileError", "UnknownMethodError"]


def _check_image(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[..., :3]
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise NRError(f"expected an H×W grey or H×W×3 RGB image, got an array of shape {img.shape}")
    if img.dtype != np.uint8:
        # the releases work on 0..255; a float image (0..1 or 0..255?) is ambiguous, so it is refused
        raise NRError(f"expected a uint8 (0..255) image as veiqa.io.read_image returns, got dtype {img.dtype}")
    return img


def _impl(method: str):
    if method == "niqe":
        from .niqe import niqe
        return niqe
    if method == "brisque":
        from .brisque import brisque
        return brisque
    if method == "piqe":
        from .piqe import piqe
        return piqe
    raise UnknownMethodError(f"unknown NR-IQA method {method!r}; known: {', '.join(METHODS)}")


def score(img: np.ndarray, method: str) -> float:
    """The ``method`` score of one image (lower = better quality)."""
    fn = _impl(method)
    return fn(_check_image(img))


def score_many(img: np.ndarray, methods: Iterable[str] = METHODS) -> dict[str, float]:
    """Scores of one image by several methods, ``{method: score}`` in the order given."""
    methods = list(methods)
    fns = [_impl(m) for m in methods]          # unknown names fail before any work
    img = _check_image(img)
    return {m: fn(img) for m, fn in zip(methods, fns)}
