"""The configuration schema's defaults, for code that must not import :mod:`veiqa.config` (the core: a Grad-CAM pass,
a measure). The schema (``veiqa/schemas/config.schema.yaml``, package data) is the one home of every default; this
module reads the file and nothing else of veiqa, so the core can take its defaults from there without depending on
the configuration layer."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "config.schema.yaml"


@lru_cache(maxsize=1)
def _schema() -> dict:
    import yaml

    with open(SCHEMA_PATH) as fh:
        return yaml.safe_load(fh)


def default(*keys: str) -> Any:
    """The schema's default of the key at ``keys`` (nested properties), e.g. ``default("gradcam", "batch_size")``;
    a ``KeyError`` naming the path when the schema has no such key or it has no default."""
    node = _schema()
    try:
        for key in keys:
            node = node["properties"][key]
        return copy.deepcopy(node["default"])
    except KeyError:
        raise KeyError(f"the schema has no default for {'.'.join(keys)}") from None
