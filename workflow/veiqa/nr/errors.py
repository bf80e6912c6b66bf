"""The NR methods' errors (their own module, so that the methods import them without importing the package)."""

from __future__ import annotations

from ..io import VeiqaError


class NRError(VeiqaError):
    """A no-reference method cannot score this input."""


class ImageTooSmallError(NRError):
    """The image is smaller than the method's blocks."""


class UnknownMethodError(NRError):
    """A method name not in :data:`veiqa.nr.METHODS`."""
