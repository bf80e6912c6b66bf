"""The errors a user can act on (each message names the file or setting and what is wrong); :mod:`veiqa.io`
re-exports them, so ``from veiqa.io import VeiqaError`` keeps working."""


class VeiqaError(Exception):
    """An error a user can act on; its message names the file or setting and what is wrong."""


class ImageError(VeiqaError):
    """A file that cannot be read as the image it should be."""
