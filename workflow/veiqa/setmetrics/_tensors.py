"""Tensor/array conversions shared by the set-level metrics."""

from __future__ import annotations

import numpy as np

from ..io import VeiqaError


def _to_numpy64(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _image_to_tensor(img):
    """uint8 H x W x 3 (or H x W) array -> float 3 x H x W in [0, 1]; a 3 x H x W tensor is passed through."""
    import torch

    if isinstance(img, torch.Tensor):
        t = img.detach()
        if t.dtype == torch.uint8:
            t = t.to(torch.float32) / 255.0
        return t.to(torch.float32)
    a = np.asarray(img)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] != 3:
        raise VeiqaError(f"expected an H x W x 3 image, got shape {a.shape}")
    t = torch.from_numpy(np.array(a, copy=True)).permute(2, 0, 1)
    return t.to(torch.float32) / 255.0 if a.dtype == np.uint8 else t.to(torch.float32)


def _batch_tensor(x):
    import torch

    if isinstance(x, torch.Tensor):
        t = x if x.dtype != torch.uint8 else x.to(torch.float32) / 255.0
        return (t[None] if t.ndim == 3 else t).to(torch.float32)
    return _image_to_tensor(x)[None]
