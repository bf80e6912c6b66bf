"""Locating the model files of the NR-IQA methods vendored in ``veiqa/nr/data/`` (never downloaded at run time)."""

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
