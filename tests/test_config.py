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
    bad["datasets"]["tid"] = {"loader": "tid2013", "source": str(tmp_path / "nowhere.zip")}
    with pytest.raises(vc.ConfigError, match=r"'datasets.tid.source': .*nowhere.zip does not exist"):
        vc.load(bad)
    bad["datasets"]["tid"] = {"loader": "tid2013"}
    with pytest.raises(vc.ConfigError, match=r"'datasets.tid.source' is missing"):
        vc.load(bad)


def test_paper_preset_wins_over_the_file(default_cfg):
    cfg = copy.deepcopy(default_cfg)
    cfg["preset"] = "paper"
    cfg["pri"]["jpeg"]["quality"] = 10
    out = vc.load(cfg)
    assert out["pri"]["jpeg"]["quality"] == 1
    assert [b["name"] for b in out["backbones"]] == ["vgg16", "inception_resnet_v2", "darknet19"]
    assert out["aggregate"]["table_measure"] == "psnr"


def test_grids_expand_to_arms(default_cfg):
    cfg = copy.deepcopy(default_cfg)
    cfg["pri"]["jpeg"]["quality"] = [1, 10]
    cfg["gradcam"]["resolution"] = ["network", "native"]
    cfg["backbones"].append({"name": "efficientnet_lite0", "weights": "random", "seed": 3})
    out = vc.load(cfg)
    assert list(vc.pri_arms(out, "jpeg")) == ["q1", "q10"]
    arms = vc.cam_arms(out)
    assert len(arms) == 4
    assert "efficientnet_lite0-random3-native-last-shared_top1-minmax" in arms
    assert vc.is_control("efficientnet_lite0-random3-native-last-shared_top1-minmax")
    assert not vc.is_control("efficientnet_lite0-pretrained-native-last-shared_top1-minmax")


def test_random_weights_need_a_seed_named_by_backbone(default_cfg):
    bad = copy.deepcopy(default_cfg)
    bad["backbones"].append({"name": "vgg16", "weights": "random"})
    with pytest.raises(vc.ConfigError, match=r"'backbones.1' \(backbone vgg16\): weights: random needs an explicit seed"):
        vc.load(bad)
    bad["backbones"][1]["seed"] = 0  # seed 0 given explicitly is fine
    assert "vgg16-random0-native-last-shared_top1-minmax" in vc.cam_arms(vc.load(bad))


def test_weight_files_with_one_stem_get_distinct_labels(default_cfg):
    cfg = copy.deepcopy(default_cfg)
    cfg["backbones"] = [{"name": "vgg16", "weights": "runs/a/model.pth"}, {"name": "vgg16", "weights": "runs/b/model.pth"},
                        {"name": "resnet50", "weights": "runs/c/model.pth"}]
    arms = vc.cam_arms(vc.load(cfg))
    h = {w: hashlib.sha256(w.encode()).hexdigest()[:8] for w in ("runs/a/model.pth", "runs/b/model.pth")}
    assert list(arms) == [f"vgg16-file-model_{h['runs/a/model.pth']}-native-last-shared_top1-minmax",
                          f"vgg16-file-model_{h['runs/b/model.pth']}-native-last-shared_top1-minmax",
                          "resnet50-file-model-native-last-shared_top1-minmax"]  # no clash within resnet50
    assert [a["weights"] for a in arms.values()] == ["runs/a/model.pth", "runs/b/model.pth", "runs/c/model.pth"]
    cfg["backbones"].append({"name": "vgg16", "weights": "runs/a/model.pth"})  # the same file twice
    with pytest.raises(vc.ConfigError, match="give the same arm label"):
        vc.cam_arms(vc.load(cfg))


def test_pri_labels_are_exact_and_unique(default_cfg):
    cfg = copy.deepcopy(default_cfg)
    cfg["pri"]["wn"]["sigma"] = [0.05, 0.1234567, 0.1234568, 1e-05]  # {:g} gives 0.123457 for both middle values
    assert list(vc.pri_arms(vc.load(cfg), "wn")) == ["sigma0.05", "sigma0.1234567", "sigma0.1234568", "sigma1e-05"]
    with pytest.raises(vc.ConfigError, match=r"'pri.jpeg.quality': 1 and 1.0 give the same arm label 'q1'"):
        vc.pri_arms({"pri": {"jpeg": {"quality": [1, 10, 1.0]}}}, "jpeg")  # the schema rejects repeats; 1.0 == 1


def test_control_flag_comes_from_the_weights_setting(default_cfg):
    from veiqa.ranking import arm_kind

    cfg = copy.deepcopy(default_cfg)
    cfg["backbones"] = [{"name": "resnet50", "weights": "ckpt/random_init.pth"},
                        {"name": "resnet50", "weights": "random", "seed": 2}]
    arms = vc.cam_arms(vc.load(cfg))
    assert [vc.is_control(e) for e in arms.values()] == [False, True]
    assert [vc.is_control(a) for a in arms] == [False, True]
    assert [arm_kind(a + "@q10", "vei") for a in arms] == ["pretrained", "random-weights control"]
    assert arm_kind("image@q10", "image") == "no-CNN baseline"
