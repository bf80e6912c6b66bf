"""Batched Grad-CAM (Selvaraju et al., 2017) of distorted images and their pseudo-reference images (PRIs).

For a class c with pre-softmax logit y^c and the target layer's activation A (K channels, h×w):

    α_k = mean_{i,j} ∂y^c / ∂A^k_{ij},      map = ReLU(Σ_k α_k A^k)      (at the layer's resolution h×w)

which is what ``pytorch_grad_cam.GradCAM`` computes before it upsamples (checked in tests/test_gradcam.py).

The distorted images and their PRIs go through the network in one batch (``cat([dist, pri])``). Parameters are frozen,
so the forward hook on the target layer turns its output into a leaf that requires grad and ``torch.autograd.grad``
of Σ_b y_b^{c_b} (the selected logits summed over the batch; samples are independent in eval mode, so this gives
every sample its own gradient) stops there: nothing below the target layer is differentiated.

Target class (``target``):
  * ``own_top1`` (default; the paper's "gradient of the predicted class y^c" read per image): each image its own top-1;
  * ``shared_top1``: the distorted image's top-1 class, for both the image and its PRI;
  * ``topk:K``: the maps for each of the distorted image's top-K classes, averaged (raw maps, before normalisation).

Several layers (``layers``: a list of module names): each layer's ReLU'd map is resized bilinearly to the first
layer's size and the maps are averaged. ``normalize``: ``"minmax"`` (per map, (m - min) / (max - min); a constant
map becomes all zeros) or ``"none"``.

Explanation method (``method``, :mod:`veiqa.gradcam.methods`): Grad-CAM by default; Grad-CAM++, XGrad-CAM, LayerCAM
and HiResCAM from the same activations and gradients, Eigen-CAM from the activations alone (no backward pass). The
ReLU, the layer average and the normalisation above apply to every method.

The pass runs in float32 with TF32 off (:mod:`veiqa.gradcam.precision`); ``amp=True`` opts into bf16 autocast.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F

from ..backbones import Backbone
from ..defaults import default
from ..io import VeiqaError
from .methods import DEFAULT_METHOD, method
from .precision import autocast, grad_cam_precision

#: The Grad-CAM engine's settings and their defaults: the schema's (its ``gradcam`` keys and the first of its default
#: ``backbones``), their one home, read through :mod:`veiqa.defaults` (the core never imports veiqa.config).
DEFAULT_CONFIG: dict[str, Any] = {
    "name": default("backbones")[0]["name"],
    "weights": default("backbones")[0].get("weights", "pretrained"),
    "seed": None,
    **{key: default("gradcam", key) for key in ("resolution", "layer", "target", "normalize", "method", "batch_size",
                                                 "num_workers", "amp", "device")},
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
    method(out["method"])
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


def minmax(maps: torch.Tensor) -> torch.Tensor:
    """Per-map (m - min) / (max - min) over the last two dims; constant maps become all zeros."""
    flat = maps.flatten(-2)
    lo = flat.min(-1, keepdim=True).values
    rng = flat.max(-1, keepdim=True).values - lo
    out = torch.where(rng > 0, (flat - lo) / torch.where(rng > 0, rng, torch.ones_like(rng)), torch.zeros_like(flat))
    return out.view_as(maps)


def gradcam(backbone: Backbone, batch_dist: torch.Tensor, batch_pri: torch.Tensor, target: str = "own_top1",
            normalize: str = "minmax", layers: str | Sequence[str] | None = "last", amp: bool = False,
            cam: str = DEFAULT_METHOD) -> dict[str, torch.Tensor]:
    """Grad-CAM maps of ``batch_dist`` and ``batch_pri`` (N×3×H×W, already normalised for the backbone).

    Runs in float32 with TF32 off (deterministic algorithms on CUDA), the previous global settings restored after;
    ``amp=True``: the forward pass under bf16 autocast. ``cam``: the explanation method, a name of
    :data:`veiqa.gradcam.methods.METHODS` (default Grad-CAM; Eigen-CAM skips the backward pass).
    Returns float32 CPU tensors: ``cam_dist``, ``cam_pri``
    (N×h×w at the (first) layer's resolution), and per pair
    ``target_class`` (the class explained for the distorted image; for topk the first, i.e. its top-1),
    ``target_class_pri`` (the class explained for the PRI: equal to ``target_class`` except with own_top1),
    ``target_prob_dist`` / ``target_prob_pri`` (softmax probability of those classes for each image, float64),
    ``pred_class_dist`` / ``pred_class_pri`` (each image's top-1), ``logits_dist`` / ``logits_pri``.
    """
    mode, k = parse_target(target)
    meth = method(cam)
    if normalize not in ("minmax", "none"):
        raise VeiqaError(f"normalize: {normalize!r} is not 'minmax' or 'none'")
    if batch_dist.shape != batch_pri.shape:
        raise VeiqaError(f"distorted batch {tuple(batch_dist.shape)} and PRI batch {tuple(batch_pri.shape)} differ")
    names = resolve_layers(backbone, layers)
    dev = backbone.device
    n = batch_dist.shape[0]
    x = torch.cat([batch_dist, batch_pri]).to(dev, non_blocking=True).float().contiguous(memory_format=torch.channels_last)
    with grad_cam_precision(dev):
        return _explain(backbone, x, n, names, mode, k, normalize, amp, meth)


def _explain(backbone: Backbone, x: torch.Tensor, n: int, names: list[str], mode: str, k: int, normalize: str,
             amp: bool, meth) -> dict[str, torch.Tensor]:
    dev = backbone.device
    cap = _Capture(backbone, names)
    try:
        with torch.enable_grad(), autocast(dev, amp):
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
    # A method without gradients (Eigen-CAM) explains no class: one map, whatever the target.
    for j, cls in enumerate(classes if meth.needs_grad else classes[:1]):
        if meth.needs_grad:
            score = logits.gather(1, cls[:, None]).sum()
            grads = torch.autograd.grad(score, acts, retain_graph=j < len(classes) - 1)
        else:
            grads = [None] * len(acts)
        layer_maps = []
        for a, g in zip(acts, grads):
            cam = F.relu(meth.fn(a.detach().float(), None if g is None else g.float()))
            if layer_maps and cam.shape[-2:] != layer_maps[0].shape[-2:]:
                cam = F.interpolate(cam[:, None], size=layer_maps[0].shape[-2:], mode="bilinear",
                                    align_corners=False)[:, 0]
            layer_maps.append(cam)
        m = layer_maps[0] if len(layer_maps) == 1 else torch.stack(layer_maps).mean(0)
        total = m if total is None else total + m
    maps = total / (len(classes) if meth.needs_grad else 1)
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


