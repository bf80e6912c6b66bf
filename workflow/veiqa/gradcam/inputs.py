"""Grad-CAM inputs: image → normalised tensor, the (distorted, PRI) pair dataset, and batches of equal-size pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..io import VeiqaError, read_image


def to_input(img: np.ndarray, mean: Sequence[float], std: Sequence[float], size: tuple[int, int] | None
             ) -> torch.Tensor:
    """uint8 H×W×3 RGB → normalised float32 3×H×W tensor; resized to ``size`` (H, W) when given.

    Resizing is bilinear with antialiasing (``torch.nn.functional.interpolate(..., antialias=True)``), to the exact
    size with no crop, so the whole image is explained.
    """
    x = torch.from_numpy(np.require(img, np.uint8, ['C', 'W'])).permute(2, 0, 1).float().div_(255.0)
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x[None], size=tuple(size), mode="bilinear", align_corners=False, antialias=True)[0]
        x = x.clamp_(0.0, 1.0)
    m = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return (x - m) / s


def pair_inputs(img: np.ndarray, pri: np.ndarray, mean: Sequence[float], std: Sequence[float],
                size: tuple[int, int] | None, pri_name: str = "PRI") -> tuple[torch.Tensor, torch.Tensor]:
    """The network inputs of one (distorted image, PRI) pair (uint8 H×W×3 each, as :func:`veiqa.io.read_image`
    decodes them): :func:`to_input` of both. At native resolution (``size`` None) the two must have one size
    (VeiqaError naming ``pri_name`` otherwise). The Grad-CAM job's data loader and ``veiqa score`` both make their
    inputs here."""
    if size is None and img.shape != pri.shape:
        raise VeiqaError(f"{pri_name}: PRI size {pri.shape[:2]} differs from the image's {img.shape[:2]}")
    return to_input(img, mean, std, size), to_input(pri, mean, std, size)


class _PairDataset(torch.utils.data.Dataset):
    """Decodes (distorted, PRI) pairs; a pair that fails to load yields its error message instead of tensors."""

    def __init__(self, items: list[tuple[int, str, str]], mean, std, size):
        self.items, self.mean, self.std, self.size = items, tuple(mean), tuple(std), size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, j: int):
        i, dpath, ppath = self.items[j]
        try:
            return (i, *pair_inputs(read_image(dpath), read_image(ppath), self.mean, self.std, self.size, ppath), "")
        except VeiqaError as e:
            return i, None, None, str(e)


def _collate(items):
    ok = [it for it in items if not it[3]]
    return {
        "idx": [it[0] for it in ok],
        "dist": torch.stack([it[1] for it in ok]) if ok else None,
        "pri": torch.stack([it[2] for it in ok]) if ok else None,
        "errors": [(it[0], it[3]) for it in items if it[3]],
    }


def _resolve(p: Any, root: Path | None) -> str:
    p = Path(str(p))
    return str(p if p.is_absolute() or root is None else root / p)


def _header_size(path: str) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size[1], im.size[0]
    except Exception:
        return None


def _batches(items: list[tuple[int, str, str]], batch_size: int, native: bool) -> list[list[int]]:
    """Positions into ``items`` grouped in batches; with native resolution, only images of equal size together
    (sizes from file headers; unreadable files go in batches of their own kind and fail at decoding)."""
    if not native:
        return [list(range(s, min(s + batch_size, len(items)))) for s in range(0, len(items), batch_size)]
    groups: dict[Any, list[int]] = {}
    for j, (_, d, _p) in enumerate(items):
        groups.setdefault(_header_size(d), []).append(j)
    out = []
    for members in groups.values():  # insertion order: deterministic
        out += [members[s : s + batch_size] for s in range(0, len(members), batch_size)]
    return out
