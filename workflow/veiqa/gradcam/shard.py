"""The Grad-CAM job runtime: one shard of (image, PRI) pairs → one Parquet file of heat maps.

:func:`run_shard` chains pieces that each do one thing and are tested alone: :func:`open_backbone` (load once, log
the weights and the precision), :func:`pair_items` + :func:`make_loader` (decode in background DataLoader workers),
:func:`explain_batch` (one batch's Grad-CAM through :func:`explain_with_retry`: in chunks, halving the chunk on CUDA
out-of-memory), :func:`result_rows` and
:func:`assemble_rows` (one row per pair, in the order of ``pairs``), :func:`shard_frame` (the typed table of
:data:`SHARD_COLUMNS`) and :func:`shard_meta` (the provenance written with it).

:func:`explain_images` is the same pipeline for pairs already decoded in memory (``veiqa score``'s one image and its
PRI): the same :func:`~veiqa.gradcam.inputs.pair_inputs`, :func:`explain_batch` and rows, so the command and the
workflow cannot explain an image differently.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch

from ..backbones import Backbone, load_backbone, resolve_device
from ..contracts import VEI
from ..io import VeiqaError, write_parquet
from .core import gradcam, normalize_config, resolve_layers
from .inputs import _batches, _collate, _PairDataset, _resolve, pair_inputs
from .precision import describe

log = logging.getLogger(__name__)

#: The shard's columns and their logical types, in order (strings are written as Arrow (large_)string,
#: float64 as double, list<float32> as list<float>).
SHARD_COLUMNS: dict[str, str] = {
    "image_id": "str", "backbone": "str", "weights": "str", "weights_sha256": "str",
    "target_class": "int64", "target_prob_dist": "float64", "target_prob_pri": "float64",
    "pred_class_dist": "int64", "pred_class_pri": "int64", "map_h": "int32", "map_w": "int32",
    "cam_dist": "list<float32>", "cam_pri": "list<float32>", "zero_dist": "bool", "zero_pri": "bool",
    "error": "str",
}
_DTYPES = {"image_id": str, "backbone": str, "weights": str, "weights_sha256": str, "error": str,
           "target_class": "int64", "target_prob_dist": "float64", "target_prob_pri": "float64",
           "pred_class_dist": "int64", "pred_class_pri": "int64", "map_h": "int32", "map_w": "int32",
           "zero_dist": bool, "zero_pri": bool}


def open_backbone(cfg: Mapping[str, Any], device: str | None, backbone: Backbone | None = None,
                  logger: logging.Logger | None = None) -> Backbone:
    """The backbone of ``cfg`` on ``device`` (``backbone`` as given when passed); logs the weights and precision."""
    lg = logger or log
    if backbone is None:
        dev = resolve_device(device if device not in (None, "auto") else cfg["device"])
        backbone = load_backbone(cfg["name"], weights=cfg["weights"], seed=cfg["seed"], device=dev)
    lg.info("weights: %s %s, file %s, SHA-256 %s", backbone.name, backbone.weights,
            backbone.weights_file or "(none: random init)", backbone.weights_sha256)
    lg.info("precision: %s on %s", describe(backbone.device, cfg["amp"]), backbone.device)
    if cfg["amp"]:
        lg.warning("amp: true: Grad-CAM in mixed precision; the two maps carry its rounding noise (arm label -amp)")
    return backbone


def pair_items(pairs, root: str | os.PathLike | None) -> list[tuple[int, str, str]]:
    """(position, image path, PRI path) per row of ``pairs``; VeiqaError when a column is missing."""
    for col in ("image_id", "path", "pri_path"):
        if col not in pairs.columns:
            raise VeiqaError(f"pairs table: missing column {col!r} (needs image_id, path, pri_path)")
    root_p = Path(root) if root is not None else None
    return [(i, _resolve(r.path, root_p), _resolve(r.pri_path, root_p)) for i, r in
            enumerate(pairs[["path", "pri_path"]].itertuples(index=False))]


def make_loader(items: list[tuple[int, str, str]], backbone: Backbone, cfg: Mapping[str, Any]):
    """A DataLoader of decoded pair batches (equal sizes together at native resolution; pinned memory on CUDA)."""
    native = cfg["resolution"] == "native"
    ds = _PairDataset(items, *backbone.normalize, None if native else backbone.input_size)
    return torch.utils.data.DataLoader(
        ds, batch_sampler=_batches(items, cfg["batch_size"], native), collate_fn=_collate,
        num_workers=cfg["num_workers"], pin_memory=backbone.device.type == "cuda", persistent_workers=False,
    )


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, torch.cuda.OutOfMemoryError) or (
        isinstance(e, RuntimeError) and "out of memory" in str(e).lower())


def explain_with_retry(run: Callable[[slice], dict], n: int, chunk: int, device: torch.device,
                       what: str = "", logger: logging.Logger | None = None) -> tuple[list[dict], int]:
    """``run(slice)`` over positions ``0..n`` in chunks of ``chunk``; on out-of-memory the chunk is halved and
    retried (and stays halved: the returned chunk is for the next batch). Returns the per-pair rows, the chunk."""
    rows: list[dict] = []
    start = 0
    while start < n:
        m = min(chunk, n - start)
        try:
            out = run(slice(start, start + m))
        except Exception as e:
            if not _is_oom(e):
                raise
            if m == 1:
                raise VeiqaError(f"out of memory on {device} with a batch of one pair ({what}); use a smaller "
                                 "resolution or a bigger GPU") from e
            chunk = max(1, m // 2)
            (logger or log).warning("out of memory on %s with %d pairs; retrying with batch size %d", device, m, chunk)
            if device.type == "cuda":
                torch.cuda.empty_cache()
            continue
        rows += result_rows(out)
        start += m
    return rows, chunk


def result_rows(out: Mapping[str, torch.Tensor]) -> list[dict]:
    """One result dict per pair of a :func:`veiqa.gradcam.gradcam` output (maps flattened to float32)."""
    h, w = int(out["cam_dist"].shape[1]), int(out["cam_dist"].shape[2])
    return [{
        "target_class": int(out["target_class"][r]),
        "target_prob_dist": float(out["target_prob_dist"][r]), "target_prob_pri": float(out["target_prob_pri"][r]),
        "pred_class_dist": int(out["pred_class_dist"][r]), "pred_class_pri": int(out["pred_class_pri"][r]),
        "cam_dist": out["cam_dist"][r].numpy().astype(np.float32).ravel(),
        "cam_pri": out["cam_pri"][r].numpy().astype(np.float32).ravel(),
        "map_h": h, "map_w": w, "error": "",
    } for r in range(len(out["cam_dist"]))]


def assemble_rows(ids: list[str], results: Mapping[int, dict], backbone: Backbone) -> list[dict]:
    """The shard's rows in the order of ``ids``; a position without a result is ``not processed``."""
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
    return rows


def shard_frame(rows: list[dict]):
    """The rows as a DataFrame with the columns and types of :data:`SHARD_COLUMNS`."""
    import pandas as pd

    df = pd.DataFrame(rows, columns=list(SHARD_COLUMNS))
    if df.empty:
        df["cam_dist"] = df["cam_dist"].astype(object)
        df["cam_pri"] = df["cam_pri"].astype(object)
    return df.astype(_DTYPES)


def shard_meta(backbone: Backbone, layers: list[str], cfg: Mapping[str, Any]) -> dict:
    """Provenance of a VEI shard: backbone, weight file and hash, device, layers, config, precision."""
    return {
        "stage": "gradcam", "backbone": backbone.name, "weights": backbone.weights,
        "weights_sha256": backbone.weights_sha256, "weights_file": backbone.weights_file,
        "device": str(backbone.device), "layers": layers, "config": dict(cfg), "amp": bool(cfg["amp"]),
        "precision": describe(backbone.device, cfg["amp"]),
    }


def explain_batch(backbone: Backbone, dist: torch.Tensor | None, pri: torch.Tensor | None, cfg: Mapping[str, Any],
                  layers: list[str], chunk: int | None = None, logger: logging.Logger | None = None
                  ) -> tuple[list[dict], int]:
    """Grad-CAM of one batch of pairs, the Grad-CAM job's step: ``dist`` and ``pri`` are N×3×H×W network inputs
    (:func:`veiqa.gradcam.inputs.pair_inputs`, stacked; None for an empty batch), ``cfg`` a normalised engine config
    (:func:`veiqa.gradcam.normalize_config`: method, target, normalisation, precision), ``layers`` its resolved
    layers. Runs in chunks of ``chunk`` pairs (default ``cfg["batch_size"]``), halved on out-of-memory
    (:func:`explain_with_retry`). Returns one result row per pair (:func:`result_rows`) and the chunk for the next
    batch. :func:`run_shard` (the workflow) and :func:`explain_images` (``veiqa score``) both explain through here."""
    def run(sl: slice) -> dict:
        return gradcam(backbone, dist[sl], pri[sl], target=cfg["target"], normalize=cfg["normalize"], layers=layers,
                       amp=cfg["amp"], cam=cfg["method"])

    n = 0 if dist is None else len(dist)
    return explain_with_retry(run, n, cfg["batch_size"] if chunk is None else chunk, backbone.device,
                              f"{backbone.name}, resolution {cfg['resolution']}", logger)


def _explain_all(batches, n: int, backbone: Backbone, cfg: Mapping[str, Any], layers: list[str],
                 lg: logging.Logger) -> dict[int, dict]:
    """Position → result row (or ``{"error": ...}``) for every pair of ``batches`` (dicts of ``_collate``'s form),
    each explained by :func:`explain_batch`; progress (pairs done of ``n``, pairs/s) to ``lg`` after each batch."""
    results: dict[int, dict[str, Any]] = {}
    chunk, done, t0 = cfg["batch_size"], 0, time.perf_counter()
    for batch in batches:
        for i, msg in batch["errors"]:
            results[i] = {"error": msg or "unknown error"}
        idx = batch["idx"]
        rows, chunk = explain_batch(backbone, batch["dist"], batch["pri"], cfg, layers, chunk, lg)
        results.update(zip(idx, rows))
        done += len(idx) + len(batch["errors"])
        lg.info("%d/%d pairs, %.2f pairs/s", done, n, done / max(time.perf_counter() - t0, 1e-9))
    return results


def explain_images(backbone: Backbone, ids: list[str], images: list[np.ndarray], pris: list[np.ndarray],
                   cfg: Mapping[str, Any] | None, log: logging.Logger | None = None):
    """Grad-CAM maps of decoded (image, PRI) pairs (uint8 H×W×3 arrays, as :func:`veiqa.io.read_image` gives) →
    the shard's frame (:data:`SHARD_COLUMNS`, one row per id, in order), as :func:`run_shard` makes it from files:
    the same inputs (:func:`pair_inputs`), the same batch step (:func:`explain_batch`) and the same rows
    (:func:`assemble_rows`, :func:`shard_frame`). Consecutive pairs of one input size form a batch of at most
    ``cfg["batch_size"]``; a pair whose sizes disagree at native resolution gets a row with ``error`` set. Nothing
    is written; the backbone is used as given (``cfg``'s name, weights and device are not read)."""
    lg = log or logging.getLogger(__name__)
    cfg = normalize_config(cfg)
    layers = resolve_layers(backbone, cfg["layer"])
    size = None if cfg["resolution"] == "native" else backbone.input_size
    made: list[tuple] = []
    for i, (image_id, img, pri) in enumerate(zip(ids, images, pris, strict=True)):
        try:
            made.append((i, *pair_inputs(img, pri, *backbone.normalize, size, str(image_id)), ""))
        except VeiqaError as e:
            made.append((i, None, None, str(e)))
    groups: list[list[tuple]] = []
    for it in made:
        last = groups[-1] if groups else []
        shapes = {tuple(x[1].shape) for x in last + [it] if not x[3]}
        if last and len(last) < cfg["batch_size"] and len(shapes) <= 1:
            last.append(it)
        else:
            groups.append([it])
    results = _explain_all((_collate(g) for g in groups), len(made), backbone, cfg, layers, lg)
    return shard_frame(assemble_rows([str(v) for v in ids], results, backbone))


def run_shard(pairs, cfg: Mapping[str, Any] | None, out_path: str | os.PathLike, device: str = "auto",
              root: str | os.PathLike | None = None, backbone: Backbone | None = None,
              log: logging.Logger | None = None):
    """Grad-CAM maps for every (image, PRI) pair in ``pairs`` → one Parquet shard at ``out_path``; returns the frame.

    ``pairs``: DataFrame with columns ``image_id``, ``path``, ``pri_path`` (absolute, or relative to ``root``).
    ``cfg``: see :data:`veiqa.gradcam.DEFAULT_CONFIG`. ``device`` ("auto" | "cpu" | "cuda") overrides
    ``cfg["device"]`` unless "auto". The model is loaded once (or ``backbone`` is used as given). Images are decoded
    by a DataLoader with ``num_workers`` background processes (pinned memory on CUDA). On CUDA out-of-memory the
    batch is halved and retried. A pair whose files cannot be read gets a row with ``error`` set and empty maps.
    Rows keep the order of ``pairs``. On CPU the output is deterministic (same inputs and config → byte-identical
    Parquet). ``log`` (default this module's logger) gets the weights and precision first, then each batch's
    progress with pairs/s.
    """
    lg = log or logging.getLogger(__name__)
    cfg = normalize_config(cfg)
    items = pair_items(pairs, root)
    backbone = open_backbone(cfg, device, backbone, lg)
    layers = resolve_layers(backbone, cfg["layer"])
    results = _explain_all(make_loader(items, backbone, cfg), len(items), backbone, cfg, layers, lg)
    df = shard_frame(assemble_rows([str(v) for v in pairs["image_id"].tolist()], results, backbone))
    write_parquet(df, out_path, shard_meta(backbone, layers, cfg), contract=VEI)
    return df
