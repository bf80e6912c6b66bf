"""Darknet-19 (Redmon & Farhadi, YOLO9000) in PyTorch, and a reader/writer for Darknet's binary ``.weights`` format.

The architecture follows Darknet's ``cfg/darknet19.cfg`` (the 224-px ImageNet classifier):

====  =========================================  ==========
 #    layer                                      output
====  =========================================  ==========
 0    conv 3x3/1  32, BN, leaky                  224x224
      maxpool 2/2                                112x112
 1    conv 3x3/1  64, BN, leaky
      maxpool 2/2                                56x56
 2-4  conv 3x3 128, 1x1 64, 3x3 128 (BN, leaky)
      maxpool 2/2                                28x28
 5-7  conv 3x3 256, 1x1 128, 3x3 256
      maxpool 2/2                                14x14
 8-12 conv 3x3 512, 1x1 256, 3x3 512, 1x1 256, 3x3 512
      maxpool 2/2                                7x7
13-17 conv 3x3 1024, 1x1 512, 3x3 1024, 1x1 512, 3x3 1024
 18   conv 1x1 1000, linear, no BN (with bias)   7x7
      global average pool, softmax               1000
====  =========================================  ==========

Leaky ReLU slope 0.1 (Darknet's ``leaky``); ``pad=1`` in the cfg means padding ``size // 2``. Convolutions with
``batch_normalize=1`` have no bias of their own; Darknet stores the BN shift ("biases") instead. Darknet normalises
with ``(x - mean) / (sqrt(var) + 1e-6)``; here ``nn.BatchNorm2d(eps=1e-6)`` computes ``(x - mean) / sqrt(var + 1e-6)``,
which differs by far less than float32 resolution for any trained variance (var >> 1e-6).

``forward`` returns the pre-softmax logits (the global average of layer 18), as torchvision/timm classifiers do.
Inputs are RGB in [0, 1] without mean/std normalisation (Darknet's convention).

Weights file format (``src/parser.c``, ``load_weights_upto``): header ``major, minor, revision`` as int32, then
``seen`` as int64 when ``major*10 + minor >= 2`` (else int32); then, for each convolutional layer in order, with
batch normalisation: ``biases[n], scales[n], rolling_mean[n], rolling_variance[n], weights[n*c*k*k]``; without:
``biases[n], weights[n*c*k*k]``; all little-endian float32, weights in (out, in, kh, kw) order.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .io import VeiqaError, atomic_path

# (filters, size) for every conv layer with BN+leaky; "M" is a 2x2/2 maxpool.
DARKNET19_CFG: list = [
    (32, 3), "M",
    (64, 3), "M",
    (128, 3), (64, 1), (128, 3), "M",
    (256, 3), (128, 1), (256, 3), "M",
    (512, 3), (256, 1), (512, 3), (256, 1), (512, 3), "M",
    (1024, 3), (512, 1), (1024, 3), (512, 1), (1024, 3),
]  # fmt: skip


class ConvBNLeaky(nn.Module):
    """Darknet ``[convolutional]`` with ``batch_normalize=1, activation=leaky``."""

    def __init__(self, c_in: int, c_out: int, k: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, stride=1, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=1e-6)
        self.act = nn.LeakyReLU(0.1, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Darknet19(nn.Module):
    """Darknet-19 ImageNet classifier; ``features`` ends with the last 1024-channel conv (the Grad-CAM layer)."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for item in DARKNET19_CFG:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                f, k = item
                layers.append(ConvBNLeaky(c, f, k))
                c = f
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Conv2d(c, num_classes, 1, bias=True)  # linear activation, no BN
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.classifier(self.features(x))).flatten(1)

    def conv_layers(self) -> list[tuple[nn.Conv2d, nn.BatchNorm2d | None]]:
        """The conv layers in Darknet file order, each with its BatchNorm (None for the linear classifier)."""
        out: list[tuple[nn.Conv2d, nn.BatchNorm2d | None]] = [
            (m.conv, m.bn) for m in self.features if isinstance(m, ConvBNLeaky)
        ]
        out.append((self.classifier, None))
        return out


def _header_seen_is_64bit(major: int, minor: int) -> bool:
    return major * 10 + minor >= 2


def load_darknet_weights(model: Darknet19, path: str | os.PathLike) -> dict:
    """Read a Darknet ``.weights`` file into ``model`` in place; returns the header.

    Raises :class:`VeiqaError` naming the file when it is too short or has bytes left over (a different
    architecture), so a mismatched file never loads silently.
    """
    path = Path(path)
    if not path.is_file():
        raise VeiqaError(f"{path}: Darknet weights file not found")
    raw = path.read_bytes()
    if len(raw) < 16:
        raise VeiqaError(f"{path}: too short for a Darknet .weights header ({len(raw)} bytes)")
    major, minor, revision = (int(v) for v in np.frombuffer(raw, "<i4", 3, 0))
    if _header_seen_is_64bit(major, minor):
        seen = int(np.frombuffer(raw, "<i8", 1, 12)[0])
        off = 20
    else:
        seen = int(np.frombuffer(raw, "<i4", 1, 12)[0])
        off = 16
    body = raw[off:]
    if len(body) % 4:
        raise VeiqaError(f"{path}: body of {len(body)} bytes is not a whole number of float32 values")
    vals = np.frombuffer(body, "<f4")
    pos = 0

    def take(n: int, what: str) -> torch.Tensor:
        nonlocal pos
        if pos + n > vals.size:
            raise VeiqaError(
                f"{path}: ends after {vals.size} float32 values while reading {what} "
                f"(needs {pos + n}); not a darknet19 weights file"
            )
        t = torch.from_numpy(vals[pos : pos + n].copy())
        pos += n
        return t

    with torch.no_grad():
        for i, (conv, bn) in enumerate(model.conv_layers()):
            n = conv.out_channels
            if bn is not None:
                bn.bias.copy_(take(n, f"layer {i} biases"))
                bn.weight.copy_(take(n, f"layer {i} scales"))
                bn.running_mean.copy_(take(n, f"layer {i} rolling_mean"))
                bn.running_var.copy_(take(n, f"layer {i} rolling_variance"))
            else:
                conv.bias.copy_(take(n, f"layer {i} biases"))
            conv.weight.copy_(take(conv.weight.numel(), f"layer {i} weights").view_as(conv.weight))
    if pos != vals.size:
        raise VeiqaError(
            f"{path}: {vals.size - pos} float32 values left over after the last darknet19 layer; "
            "the file is for another architecture"
        )
    return {"major": major, "minor": minor, "revision": revision, "seen": seen}


def save_darknet_weights(model: Darknet19, path: str | os.PathLike, major: int = 0, minor: int = 2,
                         revision: int = 0, seen: int = 0) -> None:
    """Write ``model`` in Darknet's ``.weights`` format (the inverse of :func:`load_darknet_weights`), atomically."""
    chunks = [np.array([major, minor, revision], "<i4").tobytes()]
    chunks.append(np.array([seen], "<i8" if _header_seen_is_64bit(major, minor) else "<i4").tobytes())
    with torch.no_grad():
        for conv, bn in model.conv_layers():
            parts = [bn.bias, bn.weight, bn.running_mean, bn.running_var] if bn is not None else [conv.bias]
            parts.append(conv.weight)
            for p in parts:
                chunks.append(p.detach().cpu().float().numpy().astype("<f4").ravel().tobytes())
    with atomic_path(path, suffix=".weights") as tmp:
        tmp.write_bytes(b"".join(chunks))
