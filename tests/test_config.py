"""The config schema: defaults, and clear errors naming the key and the allowed values."""

import copy

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
    assert cfg["backbones"] == [{"name": "efficientnet_lite0", "weights": "pretrained", "seed": 0}]
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
