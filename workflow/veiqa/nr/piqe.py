"""PIQE (Venkatanath et al. 2015) — not implemented yet in this commit."""

from __future__ import annotations


def piqe(img):
    from . import NRError

    raise NRError("PIQE is not implemented yet in this version of veiqa.nr")
