"""`veiqa score`: single images scored from the command line, one model load, bad files reported."""

import io
import json
import math

import numpy as np
import pytest

import torch.nn.functional as F
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from veiqa import cli
from veiqa.backbones import load_backbone
from veiqa.gradcam import gradcam, to_input
from veiqa.io import read_image
from veiqa.pri import make_pri


def test_score_json_matches_an_independent_recomputation(tid_pair, tmp_path, capsys):
    _, dist = tid_pair
    bogus = tmp_path / "notes.png"
    bogus.write_text("not an image")
    betas = [2.0, 0.5, 20.0, 0.01, 3.0]
    rc = cli.main(["score", str(dist), str(bogus), "--distortion", "wn", "--format", "json",
                   "--measure", "psnr", "--measure", "ssim", "--heatmap", str(tmp_path / "hm"),
                   "--mapping", ",".join(map(str, betas))])
    out, err = capsys.readouterr()
    assert rc == 1 and "notes.png" in err and "not an image" in err
    res = json.loads(out)
    assert res["pri"] == {"variance": 0.5} and res["resolution"] == "network" and len(res["results"]) == 1
    r = res["results"][0]
    # Independent path: PRI, Grad-CAM maps, bilinear upsampling to 224, min-max, skimage PSNR.
    img = read_image(dist)
    data, _ = make_pri(img, "wn", {"variance": 0.5}, dist.stem)
    pri = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    bb = load_backbone("efficientnet_lite0")
    o = gradcam(bb, to_input(img, *bb.normalize, bb.input_size)[None], to_input(pri, *bb.normalize, bb.input_size)[None],
                target="own_top1")  # the defaults: network input size, each image's own class
    maps = []
    for m in (o["cam_dist"], o["cam_pri"]):
        u = F.interpolate(m[None].double(), size=(224, 224), mode="bilinear", align_corners=False)[0, 0].numpy()
        maps.append((u - u.min()) / (u.max() - u.min()))
    expect = peak_signal_noise_ratio(maps[0], maps[1], data_range=1.0)
    assert r["measures"]["psnr"]["value"] == pytest.approx(expect, abs=1e-4)
    assert r["class"] == int(o["target_class"][0])
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
    assert lines[1].split("\t") == ["image", "class", "p", "psnr"]
    assert np.isfinite(float(lines[2].split("\t")[3]))

