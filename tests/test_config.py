"""The config schema: defaults, and clear errors naming the key and the allowed values."""

import copy
import hashlib

import pytest
import yaml

from conftest import REPO
from veiqa import config as vc


@pytest.fixture()
def default_cfg():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_default_config_validates_and_fills_defaults(default_cfg):
    raw = {"datasets": {"demo": {"loader": "demo"}}}
    cfg = vc.load(raw)
    assert cfg["backbones"] == [{"name": "efficientnet_lite0", "weights": "pretrained"}]
    assert cfg["measures"] == ["psnr", "ssim", "ssim_l", "ssim_c", "ssim_s", "ms_ssim", "gmsd", "ncc", "fsim", "nae", "vsi"]
    assert cfg["pri"]["jpeg"]["quality"] == 1 and cfg["pri"]["gb"]["size"] == 3
    # The shipped config.yaml says the same as the schema's defaults for the settings it spells out.
    full = vc.load(default_cfg)
    for key in ("backbones", "measures", "pri", "gradcam", "distortions", "shard_size"):
        assert full[key] == cfg[key], key


def test_unknown_key_names_the_key_and_allowed_keys(default_cfg):
    bad = copy.deepcopy(default_cfg)
    bad["gradcam"]["batchsize"] = 8
    with pytest.raises(vc.ConfigError) as e:
        vc.load(bad)
    msg = str(e.value)
    assert "'batchsize'" in msg and "gradcam" in msg and "batch_size" in msg


def test_unknown_top_level_key(default_cfg):
    bad = dict(default_cfg, measure=["psnr"])
    with pytest.raises(vc.ConfigError, match=r"unknown key 'measure' at the top level; allowed keys: .*measures"):
        vc.load(bad)


def test_wrong_type_names_the_key(default_cfg):
    bad = copy.deepcopy(default_cfg)
    bad["shard_size"] = "big"
    with pytest.raises(vc.ConfigError, match=r"'shard_size': 'big' has the wrong type; expected integer"):
        vc.load(bad)


def test_bad_enum_lists_allowed_values(default_cfg):
    bad = copy.deepcopy(default_cfg)
    bad["measures"] = ["psnr", "lpips"]
    with pytest.raises(vc.ConfigError) as e:
        vc.load(bad)
    msg = str(e.value)
    assert "'measures.1'" in msg and "'lpips'" in msg and "'vsi'" in msg and "'gmsd'" in msg
    bad = copy.deepcopy(default_cfg)
    bad["backbones"] = [{"name": "alexnet"}]
    with pytest.raises(vc.ConfigError, match=r"'backbones.0.name': 'alexnet' is not allowed; allowed values: .*'darknet19'"):
        vc.load(bad)


def test_missing_dataset_path(default_cfg, tmp_path):
    bad = copy.deepcopy(default_cfg)
    bad.setdefault("datasets", {})["tid"] = {"loader": "tid2013", "source": str(tmp_path / "nowhere.zip")}
    with pytest.raises(vc.ConfigError, match=r"'datasets.tid.source': .*nowhere.zip does not exist"):
        vc.load(bad)
    bad["datasets"]["tid"] = {"loader": "tid2013"}
    with pytest.raises(vc.ConfigError, match=r"'datasets.tid.source' is missing"):
        vc.load(bad)


def test_the_demo_runs_only_when_no_dataset_is_named(default_cfg, tmp_path):
    assert "datasets" not in default_cfg  # config.yaml names none, so nothing of it merges into a user's datasets
    assert vc.load(copy.deepcopy(default_cfg))["datasets"] == {"demo": {"loader": "demo", "source": "builtin"}}
    (tmp_path / "live").mkdir()
    mine = {**copy.deepcopy(default_cfg), "datasets": {"live": {"loader": "live", "source": str(tmp_path / "live")}}}
    assert list(vc.load(mine)["datasets"]) == ["live"]


def test_paper_preset_wins_over_the_file(default_cfg):
    cfg = copy.deepcopy(default_cfg)
    cfg["preset"] = "paper"
    cfg["pri"]["jpeg"]["quality"] = 10
    out = vc.load(cfg)
    assert out["pri"]["jpeg"]["quality"] == 1
    assert [b["name"] for b in out["backbones"]] == ["vgg16", "inception_resnet_v2", "darknet19"]
    assert out["aggregate"]["table_measure"] == "psnr"
    # The paper's words (README rows P3, P6, P8, P10): noise variance 0.5 on [0,1]; JP2K through the JPEG encoder.
    assert vc.pri_arms(out, "wn") == {"var0.5": {"variance": 0.5}}
    assert vc.pri_arms(out, "jp2k") == {"jpeg_q1": {"codec": "jpeg", "quality": 1}}
    assert out["gradcam"]["resolution"] == "network" and out["gradcam"]["target"] == "own_top1"
    assert out["gradcam"]["amp"] is False


def test_grids_expand_to_arms(default_cfg):
    cfg = copy.deepcopy(default_cfg)
    cfg["pri"]["jpeg"]["quality"] = [1, 10]
    cfg["gradcam"]["resolution"] = ["network", "native"]
    cfg["backbones"].append({"name": "efficientnet_lite0", "weights": "random", "seed": 3})
    out = vc.load(cfg)
    assert list(vc.pri_arms(out, "jpeg")) == ["q1", "q10"]
    arms = vc.cam_arms(out)
    assert len(arms) == 4
    assert "efficientnet_lite0-random3-native-last-own_top1-minmax" in arms
    run = vc.run_arms(out)
    assert run["efficientnet_lite0-random3-native-last-own_top1-minmax"].kind == "random_control"
    assert run["efficientnet_lite0-pretrained-native-last-own_top1-minmax"].kind == "vei"


def test_jp2k_pri_grid_names_the_codec_and_preset_replaces_it(default_cfg):
    cfg = copy.deepcopy(default_cfg)
    cfg["pri"]["jp2k"] = [{"codec": "jpeg", "quality": [1, 5]}, {"codec": "jp2k", "ratio": [100, 30]}, {"ratio": 12}]
    out = vc.load(cfg)
    assert vc.pri_arms(out, "jp2k") == {
        "jpeg_q1": {"codec": "jpeg", "quality": 1}, "jpeg_q5": {"codec": "jpeg", "quality": 5},
        "jp2k_ratio100": {"codec": "jp2k", "ratio": 100}, "jp2k_ratio30": {"codec": "jp2k", "ratio": 30},
        "jp2k_ratio12": {"codec": "jp2k", "ratio": 12}}  # codec inferred from the key
    cfg["pri"]["jp2k"] = [{"codec": "jpeg", "quality": 1}, {"quality": 1}]  # the same re-encode twice
    with pytest.raises(vc.ConfigError, match=r"'pri.jp2k': .* give the same arm label 'jpeg_q1'"):
        vc.load(cfg)
    cfg["pri"]["jp2k"] = {"codec": "jpeg", "ratio": 100}
    with pytest.raises(vc.ConfigError, match=r"'pri.jp2k'.*codec jpeg takes 'quality'"):
        vc.load(cfg)
    cfg["pri"]["jp2k"] = {"codec": "jp2k"}
    with pytest.raises(vc.ConfigError, match=r"'pri.jp2k'.*codec jp2k takes 'ratio'"):
        vc.load(cfg)
    cfg["pri"]["jp2k"] = {"codec": "png", "quality": 1}
    with pytest.raises(vc.ConfigError, match=r"'pri.jp2k.codec': 'png' is not allowed; allowed values: 'jpeg', 'jp2k'"):
        vc.load(cfg)
    cfg["pri"]["jp2k"] = {"codec": "jp2k", "ratio": 100}
    cfg["preset"] = "paper"  # the preset's JPEG re-encode replaces the user's JPEG 2000 setting whole
    assert vc.pri_arms(vc.load(cfg), "jp2k") == {"jpeg_q1": {"codec": "jpeg", "quality": 1}}


def test_amp_is_off_by_default_and_named_in_the_arm_label(default_cfg):
    cfg = vc.load(copy.deepcopy(default_cfg))
    assert cfg["gradcam"]["amp"] is False and vc.load({"datasets": {"d": {"loader": "demo"}}})["gradcam"]["amp"] is False
    assert list(vc.cam_arms(cfg)) == ["efficientnet_lite0-pretrained-network-last-own_top1-minmax"]
    cfg["gradcam"]["amp"] = True
    assert list(vc.cam_arms(cfg)) == ["efficientnet_lite0-pretrained-network-last-own_top1-minmax-amp"]


def test_random_weights_need_a_seed_named_by_backbone(default_cfg):
    bad = copy.deepcopy(default_cfg)
    bad["backbones"].append({"name": "vgg16", "weights": "random"})
    with pytest.raises(vc.ConfigError, match=r"'backbones.1' \(backbone vgg16\): weights: random needs an explicit seed"):
        vc.load(bad)
    bad["backbones"][1]["seed"] = 0  # seed 0 given explicitly is fine
    assert "vgg16-random0-network-last-own_top1-minmax" in vc.cam_arms(vc.load(bad))


def test_weight_files_with_one_stem_get_distinct_labels(default_cfg):
    cfg = copy.deepcopy(default_cfg)
    cfg["backbones"] = [{"name": "vgg16", "weights": "runs/a/model.pth"}, {"name": "vgg16", "weights": "runs/b/model.pth"},
                        {"name": "resnet50", "weights": "runs/c/model.pth"}]
    arms = vc.cam_arms(vc.load(cfg))
    h = {w: hashlib.sha256(w.encode()).hexdigest()[:8] for w in ("runs/a/model.pth", "runs/b/model.pth")}
    assert list(arms) == [f"vgg16-file-model_{h['runs/a/model.pth']}-network-last-own_top1-minmax",
                          f"vgg16-file-model_{h['runs/b/model.pth']}-network-last-own_top1-minmax",
                          "resnet50-file-model-network-last-own_top1-minmax"]  # no clash within resnet50
    assert [a["weights"] for a in arms.values()] == ["runs/a/model.pth", "runs/b/model.pth", "runs/c/model.pth"]
    cfg["backbones"].append({"name": "vgg16", "weights": "runs/a/model.pth"})  # the same file twice
    with pytest.raises(vc.ConfigError, match="give the same arm label"):
        vc.cam_arms(vc.load(cfg))


def test_pri_labels_are_exact_and_unique(default_cfg):
    cfg = copy.deepcopy(default_cfg)
    cfg["pri"]["wn"]["variance"] = [0.05, 0.1234567, 0.1234568, 1e-05]  # {:g} gives 0.123457 for both middle values
    assert list(vc.pri_arms(vc.load(cfg), "wn")) == ["var0.05", "var0.1234567", "var0.1234568", "var1e-05"]
    with pytest.raises(vc.ConfigError, match=r"'pri.jpeg.quality': 1 and 1.0 give the same arm label 'q1'"):
        vc.pri_arms({"pri": {"jpeg": {"quality": [1, 10, 1.0]}}}, "jpeg")  # the schema rejects repeats; 1.0 == 1


def test_control_flag_comes_from_the_weights_setting(default_cfg):
    cfg = copy.deepcopy(default_cfg)
    cfg["backbones"] = [{"name": "resnet50", "weights": "ckpt/random_init.pth"},
                        {"name": "resnet50", "weights": "random", "seed": 2}]
    cfg["nr_methods"] = ["niqe"]
    loaded = vc.load(cfg)
    arms = vc.cam_arms(loaded)
    assert [vc.is_control(e) for e in arms.values()] == [False, True]
    # every arm of the run is one record: kind, backbone and weights from the settings, never from the label
    run = vc.run_arms(loaded)
    assert {a: (r.kind, r.backbone, r.weights) for a, r in run.items()} == {
        "resnet50-file-random_init-network-last-own_top1-minmax": ("vei", "resnet50", "file-random_init"),
        "resnet50-random2-network-last-own_top1-minmax": ("random_control", "resnet50", "random2"),
        "image": ("pixel", "none", ""), "niqe": ("nr", "none", ""), "fr-ceiling": ("fr_ceiling", "none", "")}
    assert run["image"].kind_label == "pixel-PRI control" and vc.main_arm(loaded) == next(iter(arms))


def test_distortion_enums_are_the_registry():
    """The codes `distortions` allows and jp2k's PRI codecs are read from veiqa.pri.DISTORTIONS; the schema's `pri`
    block (the PRI strengths' defaults) has one entry per registered distortion, keyed by its method's strength."""
    from veiqa.pri import DISTORTIONS, PRI_METHODS

    schema = vc.load_schema()
    assert schema["properties"]["distortions"]["items"]["enum"] == list(DISTORTIONS) == list(vc.DISTORTIONS)
    assert schema["definitions"]["jp2k_setting"]["properties"]["codec"]["enum"] == list(DISTORTIONS["jp2k"].pri)
    raw = yaml.safe_load(vc.SCHEMA_PATH.read_text())
    assert "enum" not in raw["properties"]["distortions"]["items"]
    pri = schema["properties"]["pri"]["properties"]
    assert list(pri) == list(DISTORTIONS)
    for code, d in DISTORTIONS.items():
        keys = {PRI_METHODS[m].param for m in d.pri}
        props = pri[code].get("properties") or schema["definitions"]["jp2k_setting"]["properties"]
        assert keys <= set(props), code
    cfg = vc.load({"datasets": {"d": {"loader": "demo"}}, "distortions": ["gb"]}, check_paths=False)
    assert cfg["distortions"] == ["gb"]
    with pytest.raises(vc.ConfigError, match=r"'distortions.0': 'blur' is not allowed; allowed values: 'gb', 'wn'"):
        vc.load({"datasets": {"d": {"loader": "demo"}}, "distortions": ["blur"]}, check_paths=False)
    # labels from the registry's prefixes, one per default strength
    assert {d: list(vc.pri_arms(cfg, d)) for d in DISTORTIONS} == {"gb": ["box3"], "wn": ["var0.5"],
                                                                   "jpeg": ["q1"], "jp2k": ["jpeg_q1"]}


def test_gradcam_engine_defaults_are_the_schemas():
    """The Grad-CAM engine's defaults (veiqa.gradcam.DEFAULT_CONFIG, used when a caller leaves a setting out) are
    read from the schema: a job given no setting runs the workflow's default arm (batch 32, 1 worker, as the schema
    says; the engine once said 16 and 2)."""
    from veiqa.defaults import default
    from veiqa.gradcam import DEFAULT_CONFIG, normalize_config

    cfg = vc.load({"datasets": {"d": {"loader": "demo"}}}, check_paths=False)
    (arm,) = vc.cam_arms(cfg).values()
    assert normalize_config({}) == normalize_config(arm) == DEFAULT_CONFIG
    schema = yaml.safe_load(vc.SCHEMA_PATH.read_text())["properties"]
    assert (DEFAULT_CONFIG["batch_size"], DEFAULT_CONFIG["num_workers"]) == (
        schema["gradcam"]["properties"]["batch_size"]["default"], schema["gradcam"]["properties"]["num_workers"]["default"])
    assert default("compare", "size") == schema["compare"]["properties"]["size"]["default"]
    with pytest.raises(KeyError, match="gradcam.batchsize"):
        default("gradcam", "batchsize")


def test_renamed_keys_are_read_with_a_warning_and_not_twice():
    """'baseline' / 'baselines' meant the pixel-PRI control and the NR methods: now pixel_control / nr_methods."""
    old = {"datasets": {"demo": {"loader": "demo"}}, "baseline": False, "baselines": ["niqe"]}
    with pytest.warns(FutureWarning, match="'baselines' is now called 'nr_methods'"):
        cfg = vc.load(old, check_paths=False)
    assert cfg["pixel_control"] is False and cfg["nr_methods"] == ["niqe"]
    assert "baseline" not in cfg and "baselines" not in cfg
    assert list(vc.run_arms(cfg))[-2:] == ["niqe", "fr-ceiling"]  # no pixel-PRI arm: the old key was honoured
    with pytest.raises(vc.ConfigError, match="'baseline' and 'pixel_control' are both set"):
        vc.load({"datasets": {"demo": {"loader": "demo"}}, "baseline": True, "pixel_control": True}, check_paths=False)


def test_name_enums_are_the_registries(default_cfg):
    """Backbone names, NR methods, dataset loaders and the set-metrics extractor are allowed by their registries,
    not by lists written into the schema file (a backbone added to veiqa.backbones is a valid name at once)."""
    from veiqa import backbones, nr
    from veiqa.datasets.loaders import LOADERS
    from veiqa.setmetrics.sets import FID_NETWORKS

    schema = vc.load_schema()
    props = schema["properties"]
    assert props["backbones"]["items"]["properties"]["name"]["enum"] == list(backbones.REGISTRY)
    assert props["nr_methods"]["items"]["enum"] == list(nr.METHODS)
    assert props["datasets"]["additionalProperties"]["properties"]["loader"]["enum"] == list(LOADERS)
    assert props["setmetrics"]["properties"]["extractor"]["enum"] == [*FID_NETWORKS, *backbones.REGISTRY]
    raw = yaml.safe_load(vc.SCHEMA_PATH.read_text())["properties"]
    assert "enum" not in raw["backbones"]["items"]["properties"]["name"]
    assert "enum" not in raw["setmetrics"]["properties"]["extractor"]
    bad = copy.deepcopy(default_cfg)
    bad["datasets"] = {"x": {"loader": "livee", "source": "/nowhere"}}
    with pytest.raises(vc.ConfigError, match=r"'livee' is not allowed; allowed values: .*'kadid10k'"):
        vc.load(bad)
