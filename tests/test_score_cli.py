"""`veiqa score`: single images scored from the command line, one model load, bad files reported."""

import io
import json
import math

import numpy as np
import pytest

import torch
import torch.nn.functional as F
from torch import nn
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from veiqa import cli
from veiqa.backbones import load_backbone
from veiqa.io import read_image
from veiqa.pri import make_pri


def _box3_edge(img: np.ndarray) -> np.ndarray:
    """3x3 mean filter with replicated edges, written out in numpy: the nine shifted copies of the edge-padded
    image averaged, rounded half to even (np.rint) to uint8."""
    p = np.pad(img.astype(np.float64), ((1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = img.shape[:2]
    acc = sum(p[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3))
    return np.clip(np.rint(acc / 9.0), 0, 255).astype(np.uint8)


def _gradcam_by_hand(model, layer: nn.Module, x: torch.Tensor) -> np.ndarray:
    """Grad-CAM (Selvaraju et al.) with a forward hook on ``layer``: the gradient of the image's own top-1 logit,
    averaged over space, weights the channels of the activation; ReLU; min-max to [0, 1]. Returns (class, h x w)."""
    acts = []
    handle = layer.register_forward_hook(lambda m, i, o: acts.append(o))
    try:
        with torch.enable_grad():
            logits = model(x.clone().requires_grad_(True))  # the weights are frozen: the graph starts at the input
            cls = int(logits[0].argmax())
            (grad,) = torch.autograd.grad(logits[0, cls], acts[0])
    finally:
        handle.remove()
    a, g = acts[0][0].detach().double(), grad[0].double()
    cam = torch.relu((g.mean(dim=(1, 2))[:, None, None] * a).sum(0)).numpy()
    return cls, (cam - cam.min()) / (cam.max() - cam.min())


def test_score_json_matches_an_independent_recomputation(tid_pair, tmp_path, capsys):
    _, dist = tid_pair
    bogus = tmp_path / "notes.png"
    bogus.write_text("not an image")
    betas = [2.0, 0.5, 20.0, 0.01, 3.0]
    rc = cli.main(["score", str(dist), str(bogus), "--distortion", "gb", "--format", "json",
                   "--measure", "psnr", "--measure", "ssim", "--heatmap", str(tmp_path / "hm"),
                   "--mapping", ",".join(map(str, betas))])
    out, err = capsys.readouterr()
    assert rc == 1 and "notes.png" in err and "not an image" in err
    res = json.loads(out)
    assert res["pri"] == {"size": 3} and res["resolution"] == "network" and len(res["results"]) == 1
    r = res["results"][0]
    # Independent path, none of the CLI's functions: the image by Pillow, the PRI by a numpy box filter, the network's
    # input by torch's antialiased bilinear resize to 224 and its normalisation, Grad-CAM by a hook written here,
    # bilinear upsampling to 224, min-max, and scikit-image's PSNR. Only the network (its weights) is shared.
    img = np.asarray(Image.open(dist).convert("RGB"))
    pri = _box3_edge(img)
    bb = load_backbone("efficientnet_lite0")
    mean, std = (torch.tensor(v, dtype=torch.float32).view(1, 3, 1, 1) for v in bb.normalize)

    def net_input(a):
        t = torch.from_numpy(a.copy()).permute(2, 0, 1)[None].float() / 255.0
        t = F.interpolate(t, size=(224, 224), mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
        return (t - mean) / std

    layer = dict(bb.model.named_modules())["bn2"]  # EfficientNet-Lite's last feature layer
    maps, classes = [], []
    for a in (img, pri):
        cls, m = _gradcam_by_hand(bb.model, layer, net_input(a))
        u = F.interpolate(torch.from_numpy(m)[None, None], size=(224, 224), mode="bilinear",
                          align_corners=False)[0, 0].numpy()
        maps.append((u - u.min()) / (u.max() - u.min()))
        classes.append(cls)
    expect = peak_signal_noise_ratio(maps[0], maps[1], data_range=1.0)
    assert r["measures"]["psnr"]["value"] == pytest.approx(expect, abs=1e-4)  # measured: 5e-7 apart
    assert r["class"] == classes[0]
    b1, b2, b3, b4, b5 = betas
    x = r["measures"]["psnr"]["value"]
    mapped = b1 * (0.5 - 1 / (1 + math.exp(b2 * (x - b3)))) + b4 * x + b5
    assert r["measures"]["psnr"]["mapped"] == pytest.approx(mapped, rel=1e-9)
    assert (tmp_path / "hm" / f"{dist.stem}_heatmap.png").stat().st_size > 10_000


def test_score_table_and_unknown_measure(tid_pair, capsys):
    _, dist = tid_pair
    assert cli.main(["score", str(dist), "--distortion", "wn", "--measure", "lpips"]) == 2
    assert "unknown measure" in capsys.readouterr().err
    assert cli.main(["score", str(dist), "--distortion", "jpeg", "--resolution", "network"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("# backbone efficientnet_lite0[pretrained]") and "{'quality': 1}" in lines[0]
    assert lines[1] == "# arm efficientnet_lite0-pretrained-network-last-own_top1-minmax"  # the default arm's label
    assert lines[2].split("\t") == ["image", "class", "p", "pri_identical", "psnr", "psnr_status"]
    assert np.isfinite(float(lines[3].split("\t")[4])) and lines[3].split("\t")[5] == "ok"



def _json(capsys):
    out, err = capsys.readouterr()
    return json.loads(out), err  # stdout is exactly one JSON document: progress never lands there


def test_nan_values_carry_their_reason_and_progress_goes_to_stderr(tmp_path, capsys):
    rng = np.random.default_rng(0)
    tiny, flat = tmp_path / "tiny.png", tmp_path / "flat.png"
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tiny)
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(flat)  # a 3×3 box blur leaves it unchanged
    rc = cli.main(["score", str(tiny), str(flat), "--distortion", "gb", "--format", "json", "--resolution", "native",
                   "--measure", "psnr", "--measure", "ssim"])
    res, err = _json(capsys)
    assert rc == 0
    small, same = res["results"]
    # 8×8 px at native resolution: efficientnet_lite0's stride is 32, so the heat map has one cell.
    assert small["map_size"] == [1, 1]
    assert {m: (e["value"], e["status"]) for m, e in small["measures"].items()} == {
        "psnr": (None, "too_small_for_network"), "ssim": (None, "too_small_for_network")}
    assert same["pri_identical"] is True
    assert same["measures"]["ssim"] == {"value": 1.0, "status": "identical"}
    assert "veiqa score: 2/2 images (100%)" in err
    # The table shows each measure's status next to its value.
    assert cli.main(["score", str(flat), "--distortion", "gb", "--measure", "psnr", "--quiet",
                     "--resolution", "native"]) == 0
    out, err = capsys.readouterr()
    head, row = out.strip().splitlines()[2:]
    cells = dict(zip(head.split("\t"), row.split("\t")))
    assert cells["psnr_status"] == "identical" and cells["pri_identical"] == "yes" and err == ""


def test_identical_pri_gives_a_finite_psnr(tmp_path, capsys):
    """Status ``identical`` and a finite PSNR (the documented ceiling) for an image whose PRI equals it."""
    flat = tmp_path / "flat.png"
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(flat)
    assert cli.main(["score", str(flat), "--distortion", "gb", "--format", "json", "--quiet",
                     "--resolution", "native"]) == 0
    psnr = _json(capsys)[0]["results"][0]["measures"]["psnr"]
    assert psnr["status"] == "identical"
    assert psnr["value"] is not None and math.isfinite(psnr["value"])


def _fits(tmp_path):
    import pandas as pd

    lab = "efficientnet_lite0-pretrained-network-last-own_top1-minmax"  # the default target class
    rnd = "efficientnet_lite0-random5-network-last-own_top1-minmax"
    rows = []
    for ds, arm, betas, status in (("tid", lab, (2.0, 0.5, 20.0, 0.01, 3.0), "ok"),
                                   ("tid", lab + "@q10", (9.0, 9.0, 9.0, 9.0, 9.0), "ok"),
                                   ("tid", rnd, (1.0, 0.1, 10.0, 0.0, 1.0), "ok"),
                                   ("live", lab, (4.0, 0.5, 20.0, 0.01, 1.0), "failed")):
        rows.append({"dataset": ds, "distortion": "jpeg", "arm": arm, "pair_kind": "vei", "measure": "psnr",
                     "protocol": "paper", "fold": -1, **dict(zip(["b1", "b2", "b3", "b4", "b5"], betas)),
                     "fit_status": status, "fit_message": "only 3 finite points" if status != "ok" else ""})
        rows.append({**rows[-1], "protocol": "content_separated", "fold": 0, "b1": 99.0})
    path = tmp_path / "fits.parquet"
    pd.DataFrame(rows).to_parquet(path)
    return path, lab, rnd


def test_mapping_selects_exactly_one_fit(tid_pair, tmp_path, capsys):
    _, dist = tid_pair
    fits, lab, rnd = _fits(tmp_path)
    base = ["score", str(dist), "--distortion", "jpeg", "--resolution", "network", "--format", "json", "--quiet",
            "--mapping", str(fits)]
    # Two datasets hold a fit of this arm: the candidates are listed, nothing is scored.
    assert cli.main(base) == 2
    out, err = capsys.readouterr()
    assert out == "" and "2 fits" in err and "dataset=tid arm=" + lab in err and "dataset=live" in err
    # The live fit failed: said so, not used.
    assert cli.main(base + ["--dataset", "live"]) == 2
    assert "failed" in capsys.readouterr().err
    # Nothing matches: the random-weights fit is not taken for another seed, the pretrained one never.
    assert cli.main(base + ["--dataset", "tid", "--weights", "random", "--seed", "6"]) == 2
    err = capsys.readouterr().err
    assert "no paper-protocol fit" in err and rnd in err and "random6" in err
    assert cli.main(base + ["--dataset", "tid"]) == 0
    res = _json(capsys)[0]
    assert res["arm"] == lab
    x = res["results"][0]["measures"]["psnr"]["value"]
    b1, b2, b3, b4, b5 = 2.0, 0.5, 20.0, 0.01, 3.0  # the tid paper fit, not the @q10 arm's or a fold's
    expect = b1 * (0.5 - 1 / (1 + math.exp(b2 * (x - b3)))) + b4 * x + b5
    assert res["results"][0]["measures"]["psnr"]["mapped"] == pytest.approx(expect, rel=1e-9)
    assert cli.main(base + ["--dataset", "tid", "--weights", "random", "--seed", "5"]) == 0
    res = _json(capsys)[0]
    assert res["arm"] == rnd
    x = res["results"][0]["measures"]["psnr"]["value"]
    assert res["results"][0]["measures"]["psnr"]["mapped"] == pytest.approx(
        1.0 * (0.5 - 1 / (1 + math.exp(0.1 * (x - 10.0)))) + 1.0, rel=1e-9)


def test_random_weights_need_a_seed(tid_pair, capsys):
    _, dist = tid_pair
    assert cli.main(["score", str(dist), "--distortion", "wn", "--weights", "random"]) == 2
    assert "--weights random needs --seed N" in capsys.readouterr().err


def test_an_import_error_is_reported_by_the_score_subcommand(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "veiqa.score_cli", None)  # importing it now raises ImportError
    monkeypatch.delattr("veiqa.score_cli", raising=False)
    rc = cli.main(["score", "--distortion", "wn", "a.png"])
    err = capsys.readouterr().err
    assert rc == 1 and "veiqa score: unavailable" in err
    assert "ModuleNotFoundError: import of veiqa.score_cli halted" in err  # the import error's own message


class _Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def test_progress_bar_on_a_terminal_lines_elsewhere():
    from veiqa.progress import Progress

    t = [0.0]
    clock = lambda: t[0]  # noqa: E731
    term = _Stream(True)
    p = Progress(4, "images", "veiqa score", stream=term, clock=clock)
    for _ in range(4):
        t[0] += 2.0
        p.update()
    frames = term.getvalue().split("\r")[1:]
    assert len(frames) == 4 and frames[0].startswith("[######..................] veiqa score: 1/4 images (25%)")
    assert "0.50 images/s, 0:06 left" in frames[0] and frames[-1].endswith("0:08 in all\x1b[K\n")
    pipe = _Stream(False)
    p = Progress(4, "images", "veiqa score", stream=pipe, interval=5.0, clock=clock)
    for _ in range(4):
        t[0] += 2.0
        p.update()
    # a line once 5 s have passed (after the 3rd image), and always for the last
    assert pipe.getvalue().splitlines() == ["veiqa score: 3/4 images (75%), 0.50 images/s, 0:02 left",
                                            "veiqa score: 4/4 images (100%), 0.50 images/s, 0:08 in all"]
    quiet = _Stream(True)
    p = Progress(2, stream=quiet, enabled=False)
    p.update(2)
    assert quiet.getvalue() == ""


def test_score_rescores_one_image_as_a_workflow_arm(tid_pair, tmp_path, capsys):
    """Every setting of an arm label is a flag: the printed label is the one the workflow gives the same settings
    (veiqa.config.cam_arms), and the PSNR equals the one computed from the workflow's own Grad-CAM job
    (veiqa.gradcam.run_shard with that arm's engine config) by an independent upsampling, min-max and skimage PSNR."""
    import pandas as pd

    import veiqa.config as vc
    from veiqa.gradcam import run_shard

    _, dist = tid_pair
    rc = cli.main(["score", str(dist), "--distortion", "jpeg", "--format", "json", "--quiet", "--cam", "gradcampp",
                   "--target", "shared_top1", "--layer", "blocks.4", "--size", "112", "--pri-param", "10"])
    res, _ = _json(capsys)
    assert rc == 0
    cfg = vc.load({"gradcam": {"method": "gradcampp", "target": "shared_top1", "layer": "blocks.4"},
                   "compare": {"size": 112}, "pri": {"jpeg": {"quality": [1, 10]}}}, check_paths=False)
    arms = vc.cam_arms(cfg)
    label, pri_label = res["arm"].split("@")
    assert label == "efficientnet_lite0-pretrained-network-gradcampp-blocks.4-shared_top1-minmax" and label in arms
    assert pri_label in vc.pri_arms(cfg, "jpeg") and vc.pri_arms(cfg, "jpeg")[pri_label] == res["pri"]
    assert res["settings"] == {"method": "gradcampp", "layer": "blocks.4", "target": "shared_top1",
                               "normalize": "minmax", "size": 112, "amp": False}
    # The workflow's job on the same pair (the PRI file as its pri rule writes it: make_pri's bytes).
    img = read_image(dist)
    data, ext = make_pri(img, "jpeg", res["pri"], dist.stem)
    pri_path = tmp_path / f"pri{ext}"
    pri_path.write_bytes(data)
    shard = run_shard(pd.DataFrame({"image_id": ["x"], "path": [str(dist)], "pri_path": [str(pri_path)]}),
                      arms[label], tmp_path / "vei.parquet", device="cpu").iloc[0]
    maps = []
    for m in (shard.cam_dist, shard.cam_pri):
        m = np.asarray(m, np.float64).reshape(shard.map_h, shard.map_w)
        u = F.interpolate(torch.from_numpy(m)[None, None], size=(112, 112), mode="bilinear",
                          align_corners=False)[0, 0].numpy()
        maps.append((u - u.min()) / (u.max() - u.min()))
    assert (shard.map_h, shard.map_w) == (14, 14)  # blocks.4 of efficientnet_lite0 at 224: stride 16
    r = res["results"][0]
    assert r["class"] == shard.target_class and r["map_size"] == [14, 14]
    assert r["measures"]["psnr"]["value"] == pytest.approx(peak_signal_noise_ratio(maps[0], maps[1], data_range=1.0),
                                                           abs=1e-4)
    # The other flags reach the label too; a bad one is named.
    assert cli.main(["score", str(dist), "--distortion", "jpeg", "--format", "json", "--quiet", "--cam", "eigencam",
                     "--normalize", "none", "--weights", "random", "--seed", "3", "--resolution", "native"]) == 0
    assert _json(capsys)[0]["arm"] == "efficientnet_lite0-random3-native-eigencam-last-own_top1-none"
    assert cli.main(["score", str(dist), "--distortion", "jpeg", "--cam", "scorecam"]) == 2
    assert "method: 'scorecam' is not one of gradcam" in capsys.readouterr().err
    assert cli.main(["score", str(dist), "--distortion", "jpeg", "--layer", "nope"]) == 2
    assert "no layer named 'nope'" in capsys.readouterr().err
