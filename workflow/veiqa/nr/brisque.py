"""BRISQUE (Mittal, Moorthy & Bovik 2012) — not implemented yet in this commit."""

from __future__ import annotations


def brisque(img):
    from . import NRError

    raise NRError("BRISQUE is not implemented yet in this version of veiqa.nr")
