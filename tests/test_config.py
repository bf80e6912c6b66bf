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
    assert vc.is_control("efficientnet_lite0-random3-native-last-own_top1-minmax")
    assert not vc.is_control("efficientnet_lite0-pretrained-native-last-own_top1-minmax")


def test_jp2k_pri_grid_names_the_codec_and_preset_replaces_it(default_cfg):
    cfg = copy.deepcopy(default_cfg)
    cfg["pri"]["jp2k"] = [{"codec": "jpeg", "quality": [1, 5]}, {"codec": "jp2k", "ratio": [100, 30]}, {"ratio": 12}]
    out = vc.load(cfg)
    assert vc.pri_arms(out, "jp2k") == {
        "jpeg_q1": {"codec": "jpeg", "quality": 1}, "jpeg_q5": {"codec": "jpeg", "quality": 5},
        "jp2k_ratio100": {"codec": "jp2k", "ratio": 100}, "jp2k_ratio30": {"codec": "jp2k", "ratio": 30},
        "jp2k_ratio12": {"codec": "jp2k", "ratio": 12}}  # codec inferred from the key
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
