"""The numeric precision of a Grad-CAM pass: float32 by default, mixed precision only when asked.

Two heat maps are compared pixel by pixel, so rounding noise in the captured activations and gradients becomes
part of the score. By default the pass runs in float32 with TF32 off for convolutions (cuDNN) and matmuls (cuBLAS)
— on Ampere and later GPUs TF32 keeps a 10-bit mantissa, the precision of float16 — and, on CUDA, with
deterministic algorithms (``torch.use_deterministic_algorithms(True, warn_only=True)``, cuDNN benchmark off,
``cudnn.deterministic``). :func:`grad_cam_precision` sets these for the pass and restores every previous global
setting afterwards, so a caller's own choices survive.

``amp=True`` is an explicit opt-in: bfloat16 autocast on CPU and CUDA (float16 on a CUDA device without bfloat16),
reported by :func:`describe`, written to each VEI shard's provenance and named in the arm label (``-amp``).
"""

from __future__ import annotations

import contextlib
import os

import torch

#: cuBLAS needs a fixed workspace for deterministic matmuls; set only when the user has not (read at cuBLAS init).
CUBLAS_WORKSPACE = ":4096:8"


def amp_dtype(device: torch.device) -> torch.dtype:
    """The autocast dtype of ``amp=True`` on ``device``: bfloat16, or float16 on a CUDA device without bfloat16."""
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def describe(device: torch.device, amp: bool) -> str:
    """One line for logs and provenance, e.g. ``float32 (TF32 off, deterministic)``."""
    if amp:
        return f"{str(amp_dtype(device)).removeprefix('torch.')} autocast (amp: true, mixed precision)"
    return "float32 (TF32 off" + (", deterministic algorithms)" if device.type == "cuda" else ")")


def _saved() -> dict:
    return {
        "cudnn_tf32": torch.backends.cudnn.allow_tf32,
        "matmul_tf32": torch.backends.cuda.matmul.allow_tf32,
        "matmul_precision": torch.get_float32_matmul_precision(),
        "benchmark": torch.backends.cudnn.benchmark,
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
    }


def _restore(s: dict) -> None:
    torch.backends.cudnn.allow_tf32 = s["cudnn_tf32"]
    torch.backends.cuda.matmul.allow_tf32 = s["matmul_tf32"]
    torch.set_float32_matmul_precision(s["matmul_precision"])
    torch.backends.cudnn.benchmark = s["benchmark"]
    torch.backends.cudnn.deterministic = s["cudnn_deterministic"]
    torch.use_deterministic_algorithms(s["deterministic"], warn_only=s["warn_only"])


@contextlib.contextmanager
def grad_cam_precision(device: torch.device):
    """Float32 with TF32 off (and deterministic algorithms on CUDA) for the pass; every setting restored after."""
    saved = _saved()
    try:
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
        torch.backends.cudnn.benchmark = False
        if device.type == "cuda":
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
            torch.backends.cudnn.deterministic = True
            torch.use_deterministic_algorithms(True, warn_only=True)
        yield
    finally:
        _restore(saved)


def autocast(device: torch.device, amp: bool):
    """The forward pass's autocast context: none by default, :func:`amp_dtype` autocast with ``amp``."""
    return torch.autocast(device.type, dtype=amp_dtype(device)) if amp else contextlib.nullcontext()
