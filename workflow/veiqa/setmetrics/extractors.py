"""Feature extractors (named wrappers of networks) and running them over image sets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


from ..io import VeiqaError
from ._tensors import _image_to_tensor, _to_numpy64


@dataclass
class Extractor:
    """A named feature extractor for image sets.

    ``forward`` takes a preprocessed ``N x 3 x H x W`` float tensor and returns ``N x D`` features, or a pair
    ``(features, logits)`` where logits (``N x K``, or None) serve the Inception Score.  Before ``forward``, each
    image (float in [0, 1]) is resized to ``input_size`` (``(H, W)``; None = unchanged) with bilinear interpolation
    (``antialias`` as set) and then normalised: ``normalize`` is None, a ``(mean, std)`` pair, or a callable on the
    batch.

    ``label`` is the short name a table's columns carry (``fid[label]``; default the full ``name``); ``standard``
    says the network is the published FID network with its published weights (TensorFlow's inception-2015-12-05
    graph or pytorch-fid's port of it), whose measures the tables name plainly (FID, KID, IS).
    """

    name: str
    forward: Callable[[Any], Any]
    input_size: tuple[int, int] | None = None
    normalize: Any = None
    antialias: bool = True
    device: str = "cpu"
    batch_size: int = 16
    has_logits: bool = False
    module: Any = field(default=None, repr=False)
    weight_files: dict[str, str] = field(default_factory=dict)  # path of each weight file used -> its full SHA-256
    label: str = ""
    standard: bool = False

    def __post_init__(self):
        if not self.label:
            self.label = self.name

    def preprocess(self, img):
        """uint8 H x W x 3 array, or float 3 x H x W tensor in [0, 1] -> float 3 x H' x W' tensor on device."""
        import torch
        import torch.nn.functional as F

        t = _image_to_tensor(img).to(self.device)
        if self.input_size is not None and tuple(t.shape[-2:]) != tuple(self.input_size):
            t = F.interpolate(t[None], size=tuple(self.input_size), mode="bilinear", align_corners=False,
                              antialias=self.antialias)[0]
        return t.to(torch.float32)

    def _normalize(self, x):
        import torch

        if self.normalize is None:
            return x
        if callable(self.normalize):
            return self.normalize(x)
        mean, std = self.normalize
        mean = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        std = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        return (x - mean) / std

    def run(self, batch):
        """Preprocessed batch -> (features float64 N x D, probabilities float64 N x K or None)."""
        import torch

        with torch.inference_mode():
            out = self.forward(self._normalize(batch))
        logits = None
        if isinstance(out, (tuple, list)):
            out, logits = out[0], (out[1] if len(out) > 1 else None)
        feats = _to_numpy64(out)
        if feats.ndim != 2:
            feats = feats.reshape(feats.shape[0], -1)
        probs = None
        if logits is not None:
            probs = torch.softmax(torch.as_tensor(logits).to(torch.float64), dim=1).cpu().numpy()
        return feats, probs

    def __call__(self, x):
        """Features of a batch of [0, 1] images (N x 3 x H x W tensor, or list of images): N x D float64."""
        imgs = [self.preprocess(im) for im in (x if isinstance(x, (list, tuple)) else list(x))]
        import torch

        return self.run(torch.stack(imgs))[0]


def timm_pooled_features(model) -> Callable:
    """A forward function for :class:`Extractor` from a timm model: ``forward_features`` then the model's own global
    pool (``forward_head(..., pre_logits=True)``) as features, and the classifier output as logits.  Returns
    ``(features N x num_features, logits N x num_classes or None)``."""
    if not hasattr(model, "forward_features") or not hasattr(model, "forward_head"):
        raise VeiqaError(
            f"timm_pooled_features: {type(model).__name__} is not a timm model (no forward_features/forward_head); "
            "pass a callable returning N x D features instead"
        )
    model.eval()
    has_classifier = getattr(model, "num_classes", 0) > 0

    def forward(x):
        f = model.forward_features(x)
        pooled = model.forward_head(f, pre_logits=True)
        logits = model.forward_head(f) if has_classifier else None
        return pooled, logits

    return forward


def hooked_pooled_features(model, layer: str) -> Callable:
    """A forward function for :class:`Extractor` from any network: one ``model(x)`` pass whose output are the logits,
    with a forward hook on the sub-module ``layer`` (e.g. a registry backbone's target layer, the last convolutional
    feature map) whose output, averaged over its spatial dimensions, are the features.  Returns
    ``(features N x C, logits N x K)``."""
    mods = dict(model.named_modules())
    if layer not in mods:
        raise VeiqaError(f"hooked_pooled_features: {type(model).__name__} has no layer named {layer!r}")
    model.eval()
    target = mods[layer]

    def forward(x):
        store = {}
        h = target.register_forward_hook(lambda m, i, o: store.__setitem__("out", o))
        try:
            logits = model(x)
        finally:
            h.remove()
        f = store["out"]
        return (f.mean(dim=tuple(range(2, f.ndim))) if f.ndim > 2 else f), logits

    return forward


def _hw(size) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, int):
        return (size, size)
    size = tuple(int(s) for s in size)
    return size[-2:] if len(size) >= 2 else (size[0], size[0])


def backbone_extractor(name: str, weights="pretrained", seed: int | None = None, device: str = "cpu",
                       batch_size: int = 16) -> Extractor:
    """An :class:`Extractor` from veiqa's backbone registry: ``veiqa.backbones.load_backbone(name, weights=...,
    seed=..., device=...)`` gives ``.model`` (timm or torchvision), ``.input_size`` (H, W) and ``.normalize``
    ((mean, std) on [0, 1] RGB); features are :func:`timm_pooled_features` for timm models, else
    :func:`hooked_pooled_features` on the backbone's ``target_layer``; logits for the IS.  The whole image is
    resized to ``input_size`` (bilinear, antialiased; no crop).  The extractor's name is the backbone's label plus
    the first 12 hex digits of its weight file's SHA-256, e.g. ``efficientnet_lite0[pretrained]@1a2b3c4d5e6f:pooled``;
    the full digest is in ``weight_files``.
    """
    from ..backbones import load_backbone  # lazily: importing veiqa.setmetrics does not import torch

    bb = load_backbone(name, weights=weights, seed=seed, device=device)
    model = bb.model.eval()
    if hasattr(model, "forward_features") and hasattr(model, "forward_head"):
        forward, how = timm_pooled_features(model), "pooled"
    else:  # torchvision/darknet: spatial mean of the registry's target layer (the last conv feature map)
        forward, how = hooked_pooled_features(model, bb.target_layer), f"{bb.target_layer}.mean"
    full = bb.label
    if bb.weights_file is not None:
        full = f"{full}@{bb.weights_sha256[:12]}"
    return Extractor(
        name=f"{full}:{how}", label=name if bb.weights == "pretrained" else f"{name} {bb.weights}",
        forward=forward, input_size=_hw(bb.input_size), normalize=bb.normalize,
        device=str(bb.device), batch_size=batch_size,
        has_logits=how != "pooled" or model.num_classes > 0, module=model,
        weight_files={bb.weights_file: bb.weights_sha256} if bb.weights_file else {},
    )
