"""Configuration: schema validation with defaults, presets, and the expansion of grids into arms.

The Snakefile calls :func:`load` on Snakemake's ``config`` before any rule is defined, so a bad config stops the
run before any job starts, with a message naming the key and, where the schema has them, the allowed values.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import re
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import yaml

from . import arms
from .arms import Arm
from .defaults import SCHEMA_PATH
from .io import VeiqaError
from .pri import DISTORTIONS as _DISTORTIONS
from .pri import PRI_METHODS

#: The distortion codes, from their registry :data:`veiqa.pri.DISTORTIONS` (the rules iterate over this).
DISTORTIONS = tuple(_DISTORTIONS)


class ConfigError(VeiqaError):
    """The configuration is invalid; the message names the key and what is allowed."""


def load_schema(path: str | Path | None = None) -> dict:
    """The schema, with the allowed names filled in from the registries, their one home: ``gradcam.method`` from
    :data:`veiqa.gradcam.METHODS`, ``measures`` and ``aggregate.table_measure`` from :data:`veiqa.specs.MEASURES`,
    ``distortions`` and the PRI method of a distortion that has several (``pri.jp2k``'s ``codec``) from
    :data:`veiqa.pri.DISTORTIONS`, a backbone's ``name`` from :data:`veiqa.backbones.REGISTRY`, ``nr_methods``
    from :data:`veiqa.nr.METHODS`, a dataset's ``loader`` from :data:`veiqa.datasets.loaders.LOADERS` and
    ``setmetrics.extractor`` from the FID networks (:data:`veiqa.setmetrics.sets.FID_NETWORKS`) and the
    backbones."""
    from .backbones import REGISTRY as BACKBONES
    from .datasets.loaders import LOADERS
    from .gradcam.methods import METHODS
    from .nr import METHODS as NR_METHODS
    from .setmetrics.sets import FID_NETWORKS
    from .specs import MEASURES

    with open(path or SCHEMA_PATH) as fh:
        schema = yaml.safe_load(fh)
    props = schema.get("properties", {})
    method = props.get("gradcam", {}).get("properties", {}).get("method")
    if method is not None:
        names = list(METHODS)
        method["oneOf"] = [{"enum": names},
                           {"type": "array", "items": {"enum": names}, "minItems": 1, "uniqueItems": True}]
    measures = list(MEASURES)
    if "measures" in props:
        props["measures"]["items"]["enum"] = measures
    table_measure = props.get("aggregate", {}).get("properties", {}).get("table_measure")
    if table_measure is not None:
        table_measure["enum"] = measures
    if "distortions" in props:
        props["distortions"]["items"]["enum"] = list(_DISTORTIONS)
    if "backbones" in props:
        props["backbones"]["items"]["properties"]["name"]["enum"] = list(BACKBONES)
    if "nr_methods" in props:
        props["nr_methods"]["items"]["enum"] = list(NR_METHODS)
    extractor = props.get("setmetrics", {}).get("properties", {}).get("extractor")
    if extractor is not None:
        extractor["enum"] = [*FID_NETWORKS, *BACKBONES]
    dataset = props.get("datasets", {}).get("additionalProperties")
    if dataset is not None:
        dataset["properties"]["loader"]["enum"] = list(LOADERS)
    for code, d in _DISTORTIONS.items():
        setting = props.get("pri", {}).get("properties", {}).get(code)
        if setting is not None and len(d.pri) > 1:
            ref = setting.get("then", {}).get("$ref", "")
            target = schema["definitions"][ref.rsplit("/", 1)[1]] if ref else setting
            target["properties"]["codec"]["enum"] = list(d.pri)
    return schema


def _validator_with_defaults(schema: dict):
    """A Draft 2020-12 validator that fills in ``default`` values while validating (as Snakemake's validate does)."""
    from jsonschema import Draft202012Validator, validators

    base = Draft202012Validator

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from base.VALIDATORS["properties"](validator, properties, instance, schema)

    cls = validators.extend(base, {"properties": set_defaults})
    return cls(schema)


def _key_path(error) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def _allowed(schema: dict) -> list[str]:
    """Collect allowed values / keys named by a (sub)schema, for the error message."""
    out: list[str] = []
    if "enum" in schema:
        out += [repr(v) for v in schema["enum"]]
    for alt in schema.get("oneOf", []) + schema.get("anyOf", []):
        out += _allowed(alt)
        if "items" in alt and isinstance(alt["items"], dict):
            out += [f"a list of {v}" for v in _allowed(alt["items"])[:1]]
    return out


def _describe(error) -> str:
    key = _key_path(error)
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        allowed = sorted(error.schema.get("properties", {}))
        where = f"under '{key}'" if error.absolute_path else "at the top level"
        msg = f"unknown key {', '.join(repr(e) for e in extra)} {where}"
        if allowed:
            msg += f"; allowed keys: {', '.join(allowed)}"
        return msg
    if error.validator in ("oneOf", "anyOf"):
        # Report the most specific cause when there is one.
        best = min(error.context, key=lambda e: len(list(e.schema_path)), default=None) if error.context else None
        allowed = _allowed(error.schema)
        msg = f"'{key}': {error.instance!r} is not valid"
        if allowed:
            msg += f"; allowed: {', '.join(dict.fromkeys(allowed))}"
        elif best is not None:
            msg += f" ({best.message})"
        return msg
    if error.validator == "enum":
        return f"'{key}': {error.instance!r} is not allowed; allowed values: {', '.join(map(repr, error.validator_value))}"
    if error.validator == "type":
        return f"'{key}': {error.instance!r} has the wrong type; expected {error.validator_value}"
    if error.validator == "required":
        named = error.instance.get("name") if isinstance(error.instance, dict) else None
        if named and key.startswith("backbones.") and "'seed'" in error.message:
            return f"'{key}' (backbone {named}): weights: random needs an explicit seed (add seed: <integer>)"
        return f"'{key}': {error.message}"
    return f"'{key}': {error.message}"


#: Keys renamed so that one word has one meaning (old → new); a config with the old key is read, with a warning.
RENAMED_KEYS = {"baseline": "pixel_control", "baselines": "nr_methods"}


def _renamed(config: dict) -> dict:
    """``config`` with the keys of :data:`RENAMED_KEYS` under their new names (a warning for each; both names at once
    are an error)."""
    import warnings

    for old, new in RENAMED_KEYS.items():
        if old in config:
            if new in config:
                raise ConfigError(f"invalid configuration:\n  - '{old}' and '{new}' are both set: '{old}' is the old "
                                  f"name of '{new}'; keep only '{new}'")
            warnings.warn(f"configuration key '{old}' is now called '{new}'; please rename it", FutureWarning,
                          stacklevel=3)
            config[new] = config.pop(old)
    return config


def validate(config: dict, schema: dict | None = None) -> dict:
    """Validate ``config`` in place (filling defaults; old key names :data:`RENAMED_KEYS` read as the new ones);
    raise :class:`ConfigError` listing every problem."""
    _renamed(config)
    schema = schema or load_schema()
    validator = _validator_with_defaults(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [_describe(e) for e in errors]
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(dict.fromkeys(lines)))
    return config


def load_preset(name: str) -> dict:
    text = resources.files("veiqa").joinpath("presets", f"{name}.yaml").read_text()
    return yaml.safe_load(text)


def _deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def check_sources(config: dict, base_dir: str | Path = ".") -> None:
    """Every non-demo dataset must name a ``source`` that exists."""
    problems = []
    for name, ds in config["datasets"].items():
        src = ds.get("source")
        if ds["loader"] == "demo" and src in (None, "builtin"):
            continue
        if not src:
            problems.append(f"'datasets.{name}.source' is missing: name the folder or archive of the {ds['loader']} release")
            continue
        p = Path(src).expanduser()
        if not p.is_absolute():
            p = Path(base_dir) / p
        if not p.exists():
            problems.append(f"'datasets.{name}.source': {src} does not exist (a folder or a .zip/.tar* archive of the "
                            f"{ds['loader']} release is expected)")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            problems.append(f"'datasets.{name}': dataset names may hold only letters, digits, '_', '.', '-'")
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))


def load(config: dict, base_dir: str | Path = ".", check_paths: bool = True,
         schema_path: str | Path | None = None) -> dict:
    """Validate, fill defaults, apply a preset (its settings win), and check dataset sources."""
    schema = load_schema(schema_path)
    cfg = validate(copy.deepcopy(dict(config)), schema)
    if cfg.get("preset"):
        preset = load_preset(cfg["preset"])
        merged = _deep_merge(cfg, preset)
        for d, v in preset.get("pri", {}).items():  # a preset's PRI setting replaces the user's whole (one codec)
            merged["pri"][d] = copy.deepcopy(v)
        cfg = validate(merged, schema)
    for d in DISTORTIONS:
        pri_arms(cfg, d)  # a bad pri.jp2k codec/strength combination stops here, before any job
    if check_paths:
        check_sources(cfg, base_dir)
    return cfg


def as_list(v: Any) -> list:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _fmt(v: Any) -> str:
    """A value as it appears in a label: ``{:g}`` where that reads back as the same number (``0.05``, ``30``),
    otherwise the shortest exact form (``repr``: ``0.1234567`` stays ``0.1234567``), so distinct values never
    share a label."""
    if isinstance(v, float):
        s = f"{v:g}"
        if float(s) != v:
            s = repr(v)
    else:
        s = str(v)
    return s.replace(":", "").replace("/", "_")


def _unique(labels: Iterable[tuple[str, Any]], what: str) -> None:
    """Raise :class:`ConfigError` when two settings give the same label (one arm would silently replace the other)."""
    seen: dict[str, Any] = {}
    for label, src in labels:
        if label in seen:
            raise ConfigError(f"invalid configuration:\n  - {what}: {seen[label]!r} and {src!r} give the same arm "
                              f"label {label!r}; remove the duplicate")
        seen[label] = src


# --------------------------------------------------------------------------------------------- arms
def pri_arms(cfg: dict, distortion: str) -> dict[str, dict]:
    """PRI arms of one distortion: label (e.g. ``q1``) → parameters (e.g. ``{"quality": 1}``), from the registries
    :data:`veiqa.pri.DISTORTIONS` and :data:`veiqa.pri.PRI_METHODS` (strength key and label prefix).

    A distortion with several PRI methods (``pri.jp2k``) takes a setting or a list of settings
    ``{codec: jpeg, quality: Q}`` / ``{codec: jp2k, ratio: R}`` (codec inferred from the key when absent); its labels
    name the codec: ``jpeg_q1``, ``jp2k_ratio100``.
    """
    methods = _DISTORTIONS[distortion].pri
    if len(methods) == 1:
        m = PRI_METHODS[methods[0]]
        vals = as_list(cfg["pri"][distortion][m.param])
        labels = [f"{m.label}{_fmt(v)}" for v in vals]
        _unique(zip(labels, vals), f"'pri.{distortion}.{m.param}'")
        return {label: {m.param: v} for label, v in zip(labels, vals)}
    made: list[tuple[str, dict]] = []
    for setting in as_list(cfg["pri"][distortion]):
        codec = setting.get("codec") or next((c for c in methods if PRI_METHODS[c].param in setting), methods[0])
        key = PRI_METHODS[codec].param
        others = [PRI_METHODS[c].param for c in methods if c != codec and PRI_METHODS[c].param in setting]
        if key not in setting or others:
            other = " or ".join(repr(PRI_METHODS[c].param) for c in methods if c != codec)
            raise ConfigError(f"invalid configuration:\n  - 'pri.{distortion}': {setting!r}: codec {codec} takes "
                              f"'{key}' (and not {other})")
        made += [(f"{codec}_{PRI_METHODS[codec].label}{_fmt(v)}", {"codec": codec, key: v})
                 for v in as_list(setting[key])]
    _unique(made, f"'pri.{distortion}'")
    return dict(made)


def _file_stem(w: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "_", Path(w).stem)


def weights_label(b: dict, backbones: list[dict] | None = None) -> str:
    """The weights part of an arm label: ``pretrained``, ``random<seed>`` (the random-weights control), or
    ``file-<stem>`` for a weight file. Where another file of the same backbone in ``backbones`` has the same
    (sanitised) stem, both get the first 8 hex digits of the SHA-256 of the path as written: ``file-<stem>_<hash>``."""
    w = b.get("weights", "pretrained")
    if w == "pretrained":
        return "pretrained"
    if w == "random":
        if b.get("seed") is None:
            raise ConfigError(f"invalid configuration:\n  - backbone {b['name']}: weights: random needs an explicit "
                              f"seed (add seed: <integer>)")
        return f"random{b['seed']}"
    stem = _file_stem(w)
    clash = [o for o in backbones or [] if o.get("name") == b.get("name") and o.get("weights") not in
             ("pretrained", "random", None, w) and _file_stem(o["weights"]) == stem]
    if clash:
        stem += "_" + hashlib.sha256(str(w).encode()).hexdigest()[:8]
    return "file-" + stem


#: The explanation method whose arms carry no method in their label (the paper's; labels of earlier runs hold).
LABEL_FREE_METHOD = "gradcam"


def arm_label(b: dict, resolution: str, layer: str, target: str, normalize: str,
              backbones: list[dict] | None = None, amp: bool = False, method: str = LABEL_FREE_METHOD) -> str:
    """The label of one Grad-CAM arm: ``<backbone>-<weights>-<resolution>[-<method>]-<layer>-<target>-<normalize>``
    (weights: see :func:`weights_label`; backbone names hold no ``-``; the method is named unless it is Grad-CAM,
    e.g. ``efficientnet_lite0-pretrained-network-gradcampp-last-own_top1-minmax``), and ``-amp`` for mixed
    precision."""
    return "-".join([b["name"], weights_label(b, backbones), resolution]
                    + ([method] if method != LABEL_FREE_METHOD else [])
                    + [_fmt(layer), _fmt(target), normalize]
                    + (["amp"] if amp else []))  # mixed precision: named in every table


def layer_list(layer: str) -> str | list[str]:
    """The engine's ``layer`` (:func:`veiqa.gradcam.resolve_layers`) of a ``gradcam.layer`` setting: ``"last"`` as
    is, otherwise the module names it joins with ``+`` as a list (``"blocks.4+bn2"`` → ``["blocks.4", "bn2"]``).
    The one reading of that syntax: :func:`cam_arms` and ``veiqa score --layer`` both use it."""
    return layer if layer == "last" else layer.split("+")


def cam_arms(cfg: dict) -> dict[str, dict]:
    """Grad-CAM arms: the cross product of backbones and the Grad-CAM grid settings; label → engine config.

    Labels: see :func:`arm_label`. Two settings with the same label are a :class:`ConfigError`. The engine config
    (:data:`veiqa.gradcam.DEFAULT_CONFIG`'s keys) holds ``method`` only for a method other than Grad-CAM.
    """
    g = cfg["gradcam"]
    arms: dict[str, dict] = {}
    made = []
    for i, b in enumerate(cfg["backbones"]):
        for res, meth, layer, target, norm in itertools.product(
                as_list(g["resolution"]), as_list(g.get("method", LABEL_FREE_METHOD)), as_list(g["layer"]),
                as_list(g["target"]), as_list(g["normalize"])):
            label = arm_label(b, res, layer, target, norm, cfg["backbones"], amp=g["amp"], method=meth)
            made.append((label, f"backbones[{i}] {b['name']} {b.get('weights', 'pretrained')} {res} {meth} "
                                f"{layer} {target} {norm}"))
            arms[label] = {
                "name": b["name"], "weights": b.get("weights", "pretrained"), "seed": b.get("seed"),
                "resolution": res, "layer": layer_list(layer),
                "target": target, "normalize": norm, "batch_size": g["batch_size"],
                "num_workers": g["num_workers"], "amp": g["amp"], "device": g["device"],
                # named only when not Grad-CAM: a Grad-CAM arm's params (and so its jobs) stay those of earlier runs
                **({"method": meth} if meth != LABEL_FREE_METHOD else {}),
            }
    _unique(made, "'backbones' × 'gradcam'")
    return arms


def is_control(arm: dict) -> bool:
    """True for a random-weights control arm: an engine config (a value of :func:`cam_arms`) whose weights are
    ``random`` (a weight file is ``file-<stem>`` whatever its name, so ``random_init.pth`` is not a control). Tables
    carry the kind in their column ``arm_kind`` (:mod:`veiqa.arms`)."""
    return arm.get("weights") == "random"


def run_arms(cfg: dict) -> dict[str, Arm]:
    """Every arm of a run, label → :class:`veiqa.arms.Arm`: the Grad-CAM arms (:func:`cam_arms`; kind ``vei``, or
    ``random_control`` for random weights), the pixel-PRI control (``pixel_control``), the NR methods (``nr_methods``) and
    the FR ceiling (``fr_ceiling``). The one source of each arm's kind and backbone in the tables."""
    out: dict[str, Arm] = {}
    for label, e in cam_arms(cfg).items():
        b = {"name": e["name"], "weights": e["weights"], "seed": e["seed"]}
        settings = tuple((k, str(e.get(k, LABEL_FREE_METHOD if k == "method" else ""))) for k in
                         ("resolution", "method", "layer", "target", "normalize", "amp"))
        out[label] = Arm(label, arms.RANDOM_CONTROL if is_control(e) else arms.VEI, backbone=e["name"],
                         weights=weights_label(b, cfg["backbones"]), settings=settings)
    if cfg.get("pixel_control"):
        out[arms.PIXEL_LABEL] = arms.PIXEL_ARM
    for m in cfg.get("nr_methods") or []:
        out[m] = arms.nr_arm(m)
    if cfg.get("fr_ceiling"):
        out[arms.FR_LABEL] = arms.FR_ARM
    return out


def main_arm(cfg: dict) -> str:
    """The arm the per-distortion, per-backbone and per-measure tables show: the first Grad-CAM arm that is not a
    random-weights control (the first arm when all are)."""
    cams = cam_arms(cfg)
    return next((a for a, e in cams.items() if not is_control(e)), next(iter(cams)))


def datasets(cfg: dict) -> Iterable[str]:
    return list(cfg["datasets"])
