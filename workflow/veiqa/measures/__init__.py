"""Full-reference similarity measures for image pairs and for pairs of heat maps (VEIs), batched torch.

Every measure is a pure function of two N×C×H×W float tensors (CPU or GPU) returning Tensor[N], called as
``fn(x, y, data_range)``.  The registry :data:`veiqa.specs.MEASURES` (re-exported here) is the one home of each
measure's facts: its name, function, direction, minimum size, colour handling, description and reference
implementation; :func:`compute` dispatches through it, and docs/configuration.md lists it (generated from it).

:func:`compute` evaluates several measures at once (SSIM and its terms in one pass) and gives each pair a
status per measure: ``"ok"``, ``"identical"`` (x == y; PSNR is then its finite :func:`psnr_ceiling`, not
+inf), ``"zero_map"`` (either map all zeros), ``"constant_map"`` (either map constant, not zero),
``"too_small"`` (smaller side below the measure's minimum; value NaN).  Values are NaN only where the measure
is undefined (NCC with an all-zero reference, PCC with a constant/zero map, NAE with an all-zero reference and
a non-zero other, MS-SSIM/SSIM too small).  The reference convention each measure follows, and its measured
agreement with the authors' MATLAB code, is in docs/measures.md.

Modes of :func:`compute`:

* ``"image"``: inputs in [0, 255] (``data_range=255`` by default), RGB or grey, each measure with its reference
  implementation's conventions (see each function): SSIM, its terms, MS-SSIM and GMSD on MATLAB's rounded
  8-bit ``rgb2gray`` (``grey="rgb2gray"``, the default in image mode; ``grey="luma"`` for unrounded
  0.299R + 0.587G + 0.114B), FSIMc and VSI on RGB, PSNR/NCC/PCC/NAE on all channels.
* ``"map"``: non-negative single-channel heat maps.  With ``data_range=1.0`` (maps min-max normalised by
  :func:`prepare_maps`, the default there) the maps are used as they are; with ``data_range=None`` (maps that
  are not normalised) each pair is divided by its own range max(max x, max y) (1 when both are all zeros), so
  every measure sees the pair in [0, 1].  Negative values are rejected.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F

from ._common import (
    GREY_MODES,
    STATUS_CONSTANT,
    STATUS_IDENTICAL,
    STATUS_OK,
    STATUS_TOO_SMALL,
    STATUS_ZERO,
    grey as to_grey,
    luminance,
    pair_status,
    wang_downsample,
)
from ..contracts import MEASURE_STATUSES
from ..specs import MEASURES, MeasureSpec
from ._fsim import fsim
from ._gradient import gmsd
from ._simple import nae, ncc, pcc, psnr, psnr_ceiling
from ._ssim import (
    SSIMLoss,
    SSIMResult,
    ms_ssim,
    ms_ssim_min_size,
    ms_ssim_wtd,
    ssim,
    ssim_family,
    ssim_maps,
    wang_factor,
)
from ._vsi import vsi

__all__ = [
    "MEASURES",
    "MeasureSpec",
    "SSIMLoss",
    "SSIMResult",
    "STATUSES",
    "compute",
    "fsim",
    "gmsd",
    "measure_table",
    "ms_ssim",
    "ms_ssim_wtd",
    "nae",
    "ncc",
    "pcc",
    "prepare_maps",
    "psnr",
    "psnr_ceiling",
    "ssim",
    "ssim_family",
    "ssim_maps",
    "vsi",
    "wang_downsample",
    "wang_factor",
]

STATUSES = MEASURE_STATUSES  # the statuses compute gives (veiqa.contracts)


def _unit_pairs(x: torch.Tensor, y: torch.Tensor, mode: str, data_range):
    """Return (x, y, data_range) ready for the measure functions."""
    if mode == "image":
        return x, y, 255.0 if data_range is None else data_range
    if mode != "map":
        raise ValueError(f"mode must be 'image' or 'map', got {mode!r}")
    if (x < 0).any() or (y < 0).any():
        raise ValueError("map mode expects non-negative heat maps (got negative values)")
    if data_range is not None:
        return x, y, data_range
    dr = torch.maximum(x.flatten(1).amax(1), y.flatten(1).amax(1))
    dr = torch.where(dr > 0, dr, torch.ones_like(dr)).reshape(-1, 1, 1, 1)
    return x / dr, y / dr, 1.0


def _block_samples(device) -> int:
    """Samples (C·H·W·pairs) per block of :func:`compute`: bounded temporaries (a few MB each on CPU, where larger
    blocks only add page faults and cache misses; more on CUDA)."""
    return 2**25 if torch.device(device).type == "cuda" else 2**21


def _slice(dr, i: int, step: int):
    """data_range of pairs i … i+step−1 (a float passes through, a Tensor[N] is sliced)."""
    return dr[i : i + step] if isinstance(dr, torch.Tensor) and dr.numel() > 1 else dr


def _values(xu, yu, dr, names, grey, options) -> dict[str, torch.Tensor]:
    """Every measure in ``names`` on one block of pairs, through the registry: one grey conversion for the measures
    computed on grey (``MeasureSpec.grey``), one call per joint function (the SSIM family's shared pyramid)."""
    specs = [MEASURES[n] for n in names]
    values: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        if any(s.grey for s in specs):  # one grey conversion for the SSIM family and GMSD, in float64
            # whatever the input's precision: SSIM's c and s terms divide local (co)variances that are near zero in
            # flat regions (a JPEG's 8×8 blocks), where float32 moments kept too few digits: up to 5e-4 relative on
            # the demo's JPEG/PRI pairs (tests/test_measures.py). The grey image is one channel: cheap.
            xg, yg = to_grey(xu.double(), grey, dr), to_grey(yu.double(), grey, dr)
        for spec in specs:
            if spec.name in values:
                continue
            x, y = (xg, yg) if spec.grey else (xu, yu)
            fn = spec.function()
            if spec.joint:
                group = [s.name for s in specs if s.joint and s.fn == spec.fn]
                values.update(fn(x, y, dr, group, **options.get(spec.name, {})))
            else:
                values[spec.name] = fn(x, y, dr, **options.get(spec.name, {}))
    return values


def compute(
    x: torch.Tensor,
    y: torch.Tensor,
    names: Iterable[str] | None = None,
    mode: str = "image",
    data_range=None,
    fsim_chromatic: bool | None = None,
    grey: str | None = None,
    options: Mapping[str, Mapping[str, object]] | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, list[str]]]:
    """Compute several measures on N pairs at once.

    Returns ``(values, statuses)``: ``values[name]`` is a Tensor[N] (NaN where undefined),
    ``statuses[name]`` a list of N status strings (see the module docstring).  ``names`` defaults to every
    measure in :data:`MEASURES`.  SSIM and its three terms share one pass.  ``data_range``: see the modes in
    the module docstring (default 255 for images, per-pair max for maps).  ``fsim_chromatic`` picks FSIMc
    (default: when C == 3).  ``grey``: how SSIM (and its terms), MS-SSIM and GMSD reduce RGB to grey (see
    :func:`veiqa.measures._common.grey`); default ``"rgb2gray"`` in image mode (MATLAB's rounded 8-bit
    rgb2gray, as those measures' reference codes are run), ``"luma"`` in map mode (maps are grey anyway).
    These grey-based measures are computed in float64 whatever the input's dtype (their values are float64).
    ``options``: keyword arguments per measure, passed to its function (``{"fsim": {"chromatic": False}}``;
    ``fsim_chromatic`` is short for that).  Each measure is computed by its registry entry
    (:data:`veiqa.specs.MEASURES`, :class:`veiqa.specs.MeasureSpec`).
    """
    names = list(MEASURES) if names is None else list(names)
    unknown = [n for n in names if n not in MEASURES]
    if unknown:
        raise ValueError(f"unknown measure(s) {unknown}; known: {list(MEASURES)}")
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"expected two N×C×H×W tensors of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if not x.is_floating_point():
        x = x.double()
    if not y.is_floating_point():
        y = y.double()
    base = pair_status(x, y)
    xu, yu, dr = _unit_pairs(x, y, mode, data_range)
    grey = grey or ("rgb2gray" if mode == "image" else "luma")
    if grey not in GREY_MODES:
        raise ValueError(f"grey must be one of {GREY_MODES}, got {grey!r}")
    options = {k: dict(v) for k, v in (options or {}).items()}
    if fsim_chromatic is not None:
        options.setdefault("fsim", {})["chromatic"] = fsim_chromatic
    n = x.shape[0]
    side = min(x.shape[-2:])
    nan = torch.full((n,), float("nan"), dtype=x.dtype, device=x.device)
    values: dict[str, torch.Tensor] = {}
    statuses: dict[str, list[str]] = {}
    runnable = []
    for name in names:
        if side < MEASURES[name].min_size:
            values[name] = nan.clone()
            statuses[name] = [STATUS_TOO_SMALL] * n
        else:
            statuses[name] = list(base)
            runnable.append(name)
    step = max(1, _block_samples(x.device) // max(1, x[0].numel()))
    blocks = [
        _values(xu[i : i + step], yu[i : i + step], _slice(dr, i, step), runnable, grey, options)
        for i in range(0, n, step)
    ]
    for name in runnable:
        values[name] = torch.cat([blk[name] for blk in blocks]) if blocks else nan[:0]
    return {k: values[k] for k in names}, statuses


def prepare_maps(
    a: torch.Tensor,
    b: torch.Tensor,
    size: int | tuple[int, int] | None = 224,
    normalize: str = "minmax",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bring two batches of raw layer-resolution maps (N×1×h×w, or N×h×w) to a common comparison form.

    ``size``: bilinear upsampling (``align_corners=False``, as ``torch.nn.functional.interpolate`` and
    pytorch-grad-cam's resize) to ``size``×``size`` (or an (H, W) pair); ``None`` keeps the layer size.
    ``normalize="minmax"`` maps each map to [0, 1] by (m − min)/(max − min); a constant map (max = min)
    becomes all zeros, as pytorch-grad-cam's ``scale_cam_image`` does (so its status is ``"zero_map"``).
    ``normalize="none"`` keeps the values (then use ``compute(..., mode="map", data_range=None)``, which
    scales each pair by its own maximum).  Negative values (bilinear overshoot cannot create them from
    non-negative maps) are clipped to 0.
    """
    if normalize not in ("minmax", "none"):
        raise ValueError(f"normalize must be 'minmax' or 'none', got {normalize!r}")
    out = []
    for m in (a, b):
        if m.ndim == 3:
            m = m.unsqueeze(1)
        if m.ndim != 4 or m.shape[1] != 1:
            raise ValueError(f"expected maps of shape N×1×h×w, got {tuple(m.shape)}")
        m = m.float() if not m.is_floating_point() else m
        if size is not None:
            hw = (size, size) if isinstance(size, int) else tuple(size)
            if tuple(m.shape[-2:]) != hw:
                m = F.interpolate(m, size=hw, mode="bilinear", align_corners=False)
        m = m.clamp_min(0)
        if normalize == "minmax":
            flat = m.flatten(1)
            lo = flat.amin(1).reshape(-1, 1, 1, 1)
            span = (flat.amax(1).reshape(-1, 1, 1, 1) - lo)
            m = torch.where(span > 0, (m - lo) / torch.where(span > 0, span, torch.ones_like(span)), torch.zeros_like(m))
        out.append(m)
    if out[0].shape != out[1].shape:
        raise ValueError(f"maps differ in shape after preparation: {tuple(out[0].shape)} vs {tuple(out[1].shape)}")
    return out[0], out[1]


def measure_table(
    ids: Sequence[str],
    x: torch.Tensor,
    y: torch.Tensor,
    names: Iterable[str] | None = None,
    mode: str = "map",
    extra_cols: Mapping[str, object] | None = None,
    data_range=None,
    dtype: torch.dtype | None = None,
):
    """Long-format pandas DataFrame of :func:`compute`: columns image_id, measure, value (float64), status (str),
    then ``extra_cols`` (each a scalar or a sequence of len(ids), repeated per measure).  Rows are ordered
    by image then measure.

    ``dtype``: precision of the computation; default float32 in image mode, the input's dtype in map mode. The
    SSIM family and GMSD are computed in float64 whatever ``dtype`` (see :func:`compute`); FSIM and VSI in float32
    agree with float64 to ≤ 4e-6 relative on the demo's image/PRI pairs, at about half the time and memory, and
    PSNR, NCC, PCC and NAE exactly. Values are returned as float64 either way."""
    import numpy as np
    import pandas as pd

    ids = list(ids)
    if len(ids) != x.shape[0]:
        raise ValueError(f"{len(ids)} ids for {x.shape[0]} pairs")
    if dtype is None and mode == "image":
        dtype = torch.float32
    if dtype is not None:
        x, y = x.to(dtype), y.to(dtype)
    values, statuses = compute(x, y, names, mode=mode, data_range=data_range)
    names = list(values)
    k = len(names)
    vals = np.stack([values[m].detach().double().cpu().numpy() for m in names], axis=1) if names else np.zeros((len(ids), 0))
    df = pd.DataFrame(
        {
            "image_id": np.repeat(np.asarray(ids, dtype=object), k),
            "measure": np.tile(np.asarray(names, dtype=object), len(ids)),
            "value": vals.reshape(-1).astype("float64"),
            "status": [statuses[m][i] for i in range(len(ids)) for m in names],
        }
    )
    for col, v in (extra_cols or {}).items():
        if isinstance(v, (str, bytes)) or not hasattr(v, "__len__"):
            df[col] = v
        else:
            if len(v) != len(ids):
                raise ValueError(f"extra column {col!r} has {len(v)} values for {len(ids)} ids")
            df[col] = np.repeat(np.asarray(list(v), dtype=object), k)
    return df
