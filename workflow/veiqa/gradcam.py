"""Batched Grad-CAM (Selvaraju et al., 2017) of distorted images and their pseudo-reference images (PRIs).

For a class c with pre-softmax logit y^c and the target layer's activation A (K channels, h×w):

    α_k = mean_{i,j} ∂y^c / ∂A^k_{ij},      map = ReLU(Σ_k α_k A^k)      (at the layer's resolution h×w)

which is what ``pytorch_grad_cam.GradCAM`` computes before it upsamples (checked in tests/test_gradcam.py).

The distorted images and their PRIs go through the network in one batch (``cat([dist, pri])``). Parameters are frozen,
so the forward hook on the target layer turns its output into a leaf that requires grad and ``torch.autograd.grad``
of Σ_b y_b^{c_b} (the selected logits summed over the batch; samples are independent in eval mode, so this gives
every sample its own gradient) stops there: nothing below the target layer is differentiated.

Target class (``target``):
  * ``shared_top1`` (default): the distorted image's top-1 class, for both the image and its PRI;
  * ``own_top1``: each image its own top-1;
  * ``topk:K``: the maps for each of the distorted image's top-K classes, averaged (raw maps, before normalisation).

Several layers (``layers``: a list of module names): each layer's ReLU'd map is resized bilinearly to the first
layer's size and the maps are averaged. ``normalize``: ``"minmax"`` (per map, (m - min) / (max - min); a constant
map becomes all zeros) or ``"none"``.

:func:`run_shard` is the GPU-node runtime: it decodes images in a background DataLoader, runs :func:`gradcam` in
batches (halving the batch on CUDA out-of-memory), and writes one Parquet shard (format in :data:`SHARD_COLUMNS`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .backbones import Backbone, load_backbone, resolve_device
from .io import VeiqaError, read_image, write_parquet

log = logging.getLogger(__name__)

DEFAULT_CONFIG: dict[str, Any] = {
    "name": "efficientnet_lite0",
    "weights": "pretrained",
    "seed": None,
    "resolution": "network",
    "layer": "last",
    "target": "shared_top1",
    "normalize": "minmax",
    "batch_size": 16,
    "num_workers": 2,
    "amp": True,
    "device": "auto",
}

#: The shard's columns and their logical types, in order (strings are written as Arrow (large_)string,
#: float64 as double, list<float32> as list<float>).
SHARD_COLUMNS: dict[str, str] = {
    "image_id": "str", "backbone": "str", "weights": "str", "weights_sha256": "str",
    "target_class": "int64", "target_prob_dist": "float64", "target_prob_pri": "float64",
    "pred_class_dist": "int64", "pred_class_pri": "int64", "map_h": "int32", "map_w": "int32",
    "cam_dist": "list<float32>", "cam_pri": "list<float32>", "zero_dist": "bool", "zero_pri": "bool",
    "error": "str",
}


# ------------------------------------------------------------------------------------------------ config parsing


def parse_target(target: str) -> tuple[str, int]:
    """``"shared_top1"`` → ("shared", 1), ``"own_top1"`` → ("own", 1), ``"topk:K"`` → ("topk", K)."""
    if target == "shared_top1":
        return "shared", 1
    if target == "own_top1":
        return "own", 1
    if isinstance(target, str) and target.startswith("topk:"):
        try:
            k = int(target[5:])
        except ValueError:
            k = 0
        if k >= 1:
            return "topk", k
    raise VeiqaError(f"target: {target!r} is not one of shared_top1, own_top1, topk:K (K >= 1)")


def resolve_layers(backbone: Backbone, layer: str | Sequence[str] | None) -> list[str]:
    """``"last"``/None → [the registry's target layer]; a name or list of names → those (each must exist)."""
    if layer in (None, "last"):
        names = [backbone.target_layer]
    elif isinstance(layer, str):
        names = [layer]
    else:
        names = [backbone.target_layer if n == "last" else str(n) for n in layer]
    if not names:
        raise VeiqaError("layer: empty list of layer names")
    for n in names:
        backbone.module(n)
    return names


def normalize_config(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    """The config with defaults filled in and every value checked (VeiqaError naming the bad setting)."""
    out = dict(DEFAULT_CONFIG)
    unknown = set(cfg or {}) - set(DEFAULT_CONFIG)
    if unknown:
        raise VeiqaError(f"gradcam config: unknown settings {sorted(unknown)}; known: {sorted(DEFAULT_CONFIG)}")
    out.update(cfg or {})
    if out["resolution"] not in ("network", "native"):
        raise VeiqaError(f"resolution: {out['resolution']!r} is not 'network' or 'native'")
    if out["normalize"] not in ("minmax", "none"):
        raise VeiqaError(f"normalize: {out['normalize']!r} is not 'minmax' or 'none'")
    parse_target(out["target"])
    for key in ("batch_size", "num_workers"):
        if not isinstance(out[key], int) or out[key] < (1 if key == "batch_size" else 0):
            raise VeiqaError(f"{key}: {out[key]!r} must be an integer >= {1 if key == 'batch_size' else 0}")
    if out["device"] not in ("auto", "cpu", "cuda") and not str(out["device"]).startswith("cuda:"):
        raise VeiqaError(f"device: {out['device']!r} is not auto, cpu or cuda")
    if isinstance(out["layer"], (list, tuple)):
        out["layer"] = [str(x) for x in out["layer"]]
    out["weights"] = str(out["weights"])
    return out


# ------------------------------------------------------------------------------------------------ Grad-CAM core


class _Capture:
    """Forward hooks that keep each named layer's output as a tensor requiring grad.

    The first hooked layer reached sees an output that does not require grad (frozen parameters, plain input): it is
    detached into a leaf with ``requires_grad=True``; later layers already require grad through it. The hook returns
    a clone, so in-place ops downstream (e.g. ``ReLU(inplace=True)``) never modify the captured tensor.
    """

    def __init__(self, backbone: Backbone, names: Sequence[str]):
        self.acts: dict[str, torch.Tensor] = {}
        self.handles = [backbone.module(n).register_forward_hook(self._hook(n)) for n in names]

    def _hook(self, name: str):
        def hook(module, inputs, output):
            if not isinstance(output, torch.Tensor) or output.dim() != 4:
                raise VeiqaError(f"layer {name}: output is not a 4-D (N, C, H, W) tensor; choose a conv layer")
            a = output if output.requires_grad else output.detach().requires_grad_(True)
            self.acts[name] = a
            return a.clone()

        return hook

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def _autocast(device: torch.device, amp: bool):
    if amp and device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


def minmax(maps: torch.Tensor) -> torch.Tensor:
    """Per-map (m - min) / (max - min) over the last two dims; constant maps become all zeros."""
    flat = maps.flatten(-2)
    lo = flat.min(-1, keepdim=True).values
    rng = flat.max(-1, keepdim=True).values - lo
    out = torch.where(rng > 0, (flat - lo) / torch.where(rng > 0, rng, torch.ones_like(rng)), torch.zeros_like(flat))
    return out.view_as(maps)


def gradcam(backbone: Backbone, batch_dist: torch.Tensor, batch_pri: torch.Tensor, target: str = "shared_top1",
            normalize: str = "minmax", layers: str | Sequence[str] | None = "last", amp: bool = False
            ) -> dict[str, torch.Tensor]:
    """Grad-CAM maps of ``batch_dist`` and ``batch_pri`` (N×3×H×W, already normalised for the backbone).

    Returns float32 CPU tensors: ``cam_dist``, ``cam_pri`` (N×h×w at the (first) layer's resolution), and per pair
    ``target_class`` (the class explained for the distorted image; for topk the first, i.e. its top-1),
    ``target_class_pri`` (the class explained for the PRI: equal to ``target_class`` except with own_top1),
    ``target_prob_dist`` / ``target_prob_pri`` (softmax probability of those classes for each image, float64),
    ``pred_class_dist`` / ``pred_class_pri`` (each image's top-1), ``logits_dist`` / ``logits_pri``.
    """
    mode, k = parse_target(target)
    if normalize not in ("minmax", "none"):
        raise VeiqaError(f"normalize: {normalize!r} is not 'minmax' or 'none'")
    if batch_dist.shape != batch_pri.shape:
        raise VeiqaError(f"distorted batch {tuple(batch_dist.shape)} and PRI batch {tuple(batch_pri.shape)} differ")
    names = resolve_layers(backbone, layers)
    dev = backbone.device
    n = batch_dist.shape[0]
    x = torch.cat([batch_dist, batch_pri]).to(dev, non_blocking=True).float().contiguous(memory_format=torch.channels_last)
    cap = _Capture(backbone, names)
    try:
        with torch.enable_grad(), _autocast(dev, amp):
            logits = backbone.model(x)
    finally:
        cap.close()
    missing = [nm for nm in names if nm not in cap.acts]
    if missing:
        raise VeiqaError(f"layer {missing}: not reached by the forward pass of {backbone.name}")
    logits = logits.float()
    probs = logits.detach().softmax(1)
    pred = probs.argmax(1)
    if mode == "shared":
        classes = [torch.cat([pred[:n], pred[:n]])]
    elif mode == "own":
        classes = [pred]
    else:
        top = logits[:n].detach().topk(min(k, logits.shape[1]), dim=1).indices  # (n, K), top-1 first
        classes = [torch.cat([top[:, j], top[:, j]]) for j in range(top.shape[1])]

    acts = [cap.acts[nm] for nm in names]
    total = None
    for j, cls in enumerate(classes):
        score = logits.gather(1, cls[:, None]).sum()
        grads = torch.autograd.grad(score, acts, retain_graph=j < len(classes) - 1)
        layer_maps = []
        for a, g in zip(acts, grads):
            alpha = g.float().mean(dim=(2, 3), keepdim=True)
            cam = F.relu((alpha * a.detach().float()).sum(1))
            if layer_maps and cam.shape[-2:] != layer_maps[0].shape[-2:]:
                cam = F.interpolate(cam[:, None], size=layer_maps[0].shape[-2:], mode="bilinear",
                                    align_corners=False)[:, 0]
            layer_maps.append(cam)
        m = layer_maps[0] if len(layer_maps) == 1 else torch.stack(layer_maps).mean(0)
        total = m if total is None else total + m
    maps = total / len(classes)
    if normalize == "minmax":
        maps = minmax(maps)
    c0 = classes[0]
    p_cls = probs.gather(1, c0[:, None])[:, 0].double()
    maps = maps.detach().cpu()
    return {
        "cam_dist": maps[:n].contiguous(), "cam_pri": maps[n:].contiguous(),
        "target_class": c0[:n].cpu(), "target_class_pri": c0[n:].cpu(),
        "target_prob_dist": p_cls[:n].cpu(), "target_prob_pri": p_cls[n:].cpu(),
        "pred_class_dist": pred[:n].cpu(), "pred_class_pri": pred[n:].cpu(),
        "logits_dist": logits[:n].detach().cpu(), "logits_pri": logits[n:].detach().cpu(),
    }


# ------------------------------------------------------------------------------------------------ preprocessing


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


class _PairDataset(torch.utils.data.Dataset):
    """Decodes (distorted, PRI) pairs; a pair that fails to load yields its error message instead of tensors."""

    def __init__(self, items: list[tuple[int, str, str]], mean, std, size):
        self.items, self.mean, self.std, self.size = items, tuple(mean), tuple(std), size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, j: int):
        i, dpath, ppath = self.items[j]
        try:
            d = read_image(dpath)
            p = read_image(ppath)
            if self.size is None and d.shape != p.shape:
                raise VeiqaError(f"{ppath}: PRI size {p.shape[:2]} differs from the image's {d.shape[:2]}")
            return i, to_input(d, self.mean, self.std, self.size), to_input(p, self.mean, self.std, self.size), ""
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


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, torch.cuda.OutOfMemoryError) or (
        isinstance(e, RuntimeError) and "out of memory" in str(e).lower())


def run_shard(pairs, cfg: Mapping[str, Any] | None, out_path: str | os.PathLike, device: str = "auto",
              root: str | os.PathLike | None = None, backbone: Backbone | None = None):
    """Grad-CAM maps for every (image, PRI) pair in ``pairs`` → one Parquet shard at ``out_path``; returns the frame.

    ``pairs``: DataFrame with columns ``image_id``, ``path``, ``pri_path`` (absolute, or relative to ``root``).
    ``cfg``: see :data:`DEFAULT_CONFIG`. ``device`` ("auto" | "cpu" | "cuda") overrides ``cfg["device"]`` unless
    "auto". The model is loaded once (or ``backbone`` is used as given). Images are decoded by a DataLoader with
    ``num_workers`` background processes (pinned memory on CUDA). On CUDA out-of-memory the batch is halved and
    retried. A pair whose files cannot be read gets a row with ``error`` set and empty maps. Rows keep the order of
    ``pairs``. On CPU the output is deterministic (same inputs and config → byte-identical Parquet).
    """
    import pandas as pd

    cfg = normalize_config(cfg)
    for col in ("image_id", "path", "pri_path"):
        if col not in pairs.columns:
            raise VeiqaError(f"pairs table: missing column {col!r} (needs image_id, path, pri_path)")
    dev = resolve_device(device if device not in (None, "auto") else cfg["device"])
    if backbone is None:
        backbone = load_backbone(cfg["name"], weights=cfg["weights"], seed=cfg["seed"], device=dev)
    else:
        dev = backbone.device
    layers = resolve_layers(backbone, cfg["layer"])
    root_p = Path(root) if root is not None else None
    items = [(i, _resolve(r.path, root_p), _resolve(r.pri_path, root_p)) for i, r in
             enumerate(pairs[["path", "pri_path"]].itertuples(index=False))]
    native = cfg["resolution"] == "native"
    size = None if native else backbone.input_size
    ds = _PairDataset(items, *backbone.normalize, size)
    sampler = _batches(items, cfg["batch_size"], native)
    loader = torch.utils.data.DataLoader(
        ds, batch_sampler=sampler, collate_fn=_collate, num_workers=cfg["num_workers"],
        pin_memory=dev.type == "cuda", persistent_workers=False,
    )
    ids = [str(v) for v in pairs["image_id"].tolist()]
    results: dict[int, dict[str, Any]] = {}
    chunk = cfg["batch_size"]
    for batch in loader:
        for i, msg in batch["errors"]:
            results[i] = {"error": msg or "unknown error"}
        idx = batch["idx"]
        start = 0
        while start < len(idx):
            m = min(chunk, len(idx) - start)
            sl = slice(start, start + m)
            oom = False
            try:
                out = gradcam(backbone, batch["dist"][sl], batch["pri"][sl], target=cfg["target"],
                              normalize=cfg["normalize"], layers=layers, amp=cfg["amp"])
            except Exception as e:
                if not _is_oom(e):
                    raise
                oom = True
            if oom:
                if m == 1:
                    raise VeiqaError(f"out of memory on {dev} with a batch of one pair ({backbone.name}, "
                                     f"resolution {cfg['resolution']}); use a smaller resolution or a bigger GPU")
                chunk = max(1, m // 2)
                log.warning("out of memory on %s with %d pairs; retrying with batch size %d", dev, m, chunk)
                if dev.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            for r in range(m):
                results[idx[start + r]] = {
                    "target_class": int(out["target_class"][r]),
                    "target_prob_dist": float(out["target_prob_dist"][r]),
                    "target_prob_pri": float(out["target_prob_pri"][r]),
                    "pred_class_dist": int(out["pred_class_dist"][r]),
                    "pred_class_pri": int(out["pred_class_pri"][r]),
                    "cam_dist": out["cam_dist"][r].numpy().astype(np.float32).ravel(),
                    "cam_pri": out["cam_pri"][r].numpy().astype(np.float32).ravel(),
                    "map_h": int(out["cam_dist"].shape[1]), "map_w": int(out["cam_dist"].shape[2]),
                    "error": "",
                }
            start += m

    empty = np.zeros(0, np.float32)
    rows = []
    for i, image_id in enumerate(ids):
        r = results.get(i, {"error": "not processed"})
        ok = not r["error"]
        rows.append({
            "image_id": image_id, "backbone": backbone.name, "weights": backbone.weights,
            "weights_sha256": backbone.weights_sha256,
            "target_class": r.get("target_class", -1),
            "target_prob_dist": r.get("target_prob_dist", float("nan")),
            "target_prob_pri": r.get("target_prob_pri", float("nan")),
            "pred_class_dist": r.get("pred_class_dist", -1), "pred_class_pri": r.get("pred_class_pri", -1),
            "map_h": r.get("map_h", 0), "map_w": r.get("map_w", 0),
            "cam_dist": r.get("cam_dist", empty), "cam_pri": r.get("cam_pri", empty),
            "zero_dist": bool(ok and not np.any(r["cam_dist"])), "zero_pri": bool(ok and not np.any(r["cam_pri"])),
            "error": r["error"],
        })
    df = pd.DataFrame(rows, columns=list(SHARD_COLUMNS))
    if df.empty:
        df["cam_dist"] = df["cam_dist"].astype(object)
        df["cam_pri"] = df["cam_pri"].astype(object)
    df = df.astype({"image_id": str, "backbone": str, "weights": str, "weights_sha256": str, "error": str,
                    "target_class": "int64", "target_prob_dist": "float64", "target_prob_pri": "float64",
                    "pred_class_dist": "int64", "pred_class_pri": "int64", "map_h": "int32", "map_w": "int32",
                    "zero_dist": bool, "zero_pri": bool})
    meta = {
        "stage": "gradcam", "backbone": backbone.name, "weights": backbone.weights,
        "weights_sha256": backbone.weights_sha256, "weights_file": backbone.weights_file,
        "device": str(dev), "layers": layers, "config": cfg,
        "amp": bool(cfg["amp"] and dev.type == "cuda"),
    }
    write_parquet(df, out_path, meta)
    return df
