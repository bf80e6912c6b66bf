"""``veiqa score`` and the workflow's jobs share one "score one image" core (veiqa.scoring,
veiqa.gradcam.explain_batch): the command's maps and measures equal those of the workflow's own jobs on the same
image and PRI."""

import json

import numpy as np
import pandas as pd
import pytest
import skimage.data
from PIL import Image

import veiqa.config as vc
import veiqa.gradcam.shard as vgs
import veiqa.pairs
import veiqa.plots
import veiqa.pri
from veiqa import cli
from veiqa.backbones import load_backbone
from veiqa.gradcam import explain_images, run_shard
from veiqa.io import read_image


@pytest.fixture(scope="module")
def two_images(shared_datasets, tmp_path_factory):
    """A real TID2013 distorted image (512×384 BMP) and a photograph of another size (Chelsea, 300×451 PNG)."""
    d = tmp_path_factory.mktemp("score_imgs")
    cat = d / "chelsea.png"
    Image.fromarray(skimage.data.chelsea()).save(cat)
    return [shared_datasets / "tid2013_samples" / "i03_01_1.bmp", cat]


def _spy(monkeypatch, module, name, calls):
    real = getattr(module, name)

    def spy(*a, **kw):
        calls.append(name)
        return real(*a, **kw)

    monkeypatch.setattr(module, name, spy)


# (distortion, extra flags, the workflow config naming the same arm): the default arm (pretrained weights, network
# resolution) with a blur PRI; the random-weights control (seed 3) at native resolution with two layers and the
# seeded white-noise PRI (its seed is the image id: the file's stem in both paths).
CASES = [
    ("gb", [], {}),
    ("wn", ["--weights", "random", "--seed", "3", "--resolution", "native", "--layer", "blocks.4+bn2",
            "--measure", "ssim", "--size", "0"],
     {"backbones": [{"name": "efficientnet_lite0", "weights": "random", "seed": 3}],
      "gradcam": {"resolution": "native", "layer": "blocks.4+bn2"}, "compare": {"size": 0}}),
]


@pytest.mark.parametrize("distortion,flags,config", CASES, ids=["pretrained-gb", "random3-native-wn"])
def test_score_equals_the_workflow_jobs_on_the_same_images(two_images, tmp_path, monkeypatch, capsys, distortion,
                                                           flags, config):
    """Maps, classes and measure values of ``veiqa score`` equal, exactly, those of the workflow's PRI job
    (write_pri_shard), Grad-CAM job (run_shard) and measures job (vei_table) on the same images. Exactly, because both
    explain one pair per Grad-CAM pass: the shard runs with batch_size 1 (in a larger batch the two images would share
    a pass and differ by float32 batch-composition noise, ~1e-6, see test_gradcam)."""
    shown, calls = {}, []
    monkeypatch.setattr(veiqa.plots, "figure2", lambda samples, path: shown.update(
        {s[0]: (s[2], s[3], s[4]) for s in samples}))  # the command's PRI and maps, as it would draw them
    for module, name in ((veiqa.pri, "make_pri"), (vgs, "explain_batch"), (veiqa.pairs, "vei_table")):
        _spy(monkeypatch, module, name, calls)
    rc = cli.main(["score", *map(str, two_images), "--distortion", distortion, "--format", "json", "--quiet",
                   "--measure", "psnr", *flags, "--heatmap", str(tmp_path / "hm")])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert calls == ["make_pri", "explain_batch", "vei_table"] * 2  # the command goes through the shared steps
    monkeypatch.undo()

    # The workflow's jobs on the same images, with the arm the printed label names.
    cfg = vc.load({**config, "gradcam": {**config.get("gradcam", {}), "batch_size": 1}}, check_paths=False)
    arm = vc.cam_arms(cfg)[out["arm"]]
    names = [m for m in ("psnr", "ssim") if m in out["results"][0]["measures"]]
    rows = pd.DataFrame({"image_id": [p.stem for p in two_images], "path": [str(p) for p in two_images]})
    pri_params = next(iter(vc.pri_arms(cfg, distortion).values()))
    assert pri_params == out["pri"]
    index = veiqa.pri.write_pri_shard(rows, "/", distortion, pri_params, tmp_path / "pri", tmp_path / "pri.parquet")
    vei = run_shard(rows.merge(index[["image_id", "pri_path"]], on="image_id"), arm, tmp_path / "vei.parquet",
                    device="cpu")
    table = veiqa.pairs.vei_table(vei, names, cfg["compare"]["size"], arm["normalize"], out["arm"],
                                  dict(zip(index.image_id, index.identical)))

    for r, p, v in zip(out["results"], two_images, vei.itertuples()):
        assert r["image"] == str(p) and v.error == ""
        pri, cam_dist, cam_pri = shown[p.stem]
        np.testing.assert_array_equal(pri, read_image(index.set_index("image_id").loc[p.stem, "pri_path"]))
        np.testing.assert_array_equal(cam_dist.ravel(), v.cam_dist)
        np.testing.assert_array_equal(cam_pri.ravel(), v.cam_pri)
        assert cam_dist.shape == (v.map_h, v.map_w) and r["map_size"] == [v.map_h, v.map_w]
        assert r["class"] == v.target_class and r["class_prob"] == round(v.target_prob_dist, 6)
        assert r["pri_identical"] == bool(index.set_index("image_id").loc[p.stem, "identical"])
        t = table[table.image_id == p.stem].set_index("measure")
        for m in names:
            assert r["measures"][m] == {"value": float(t.loc[m, "value"]), "status": t.loc[m, "status"]}
            assert np.isfinite(t.loc[m, "value"]) and t.loc[m, "status"] == "ok"
    if flags:  # native resolution: each image its own map size (efficientnet_lite0's stride 16 at blocks.4)
        assert [r["map_size"] for r in out["results"]] == [[24, 32], [19, 29]]


def test_explain_images_equals_run_shard_and_reports_a_size_mismatch(two_images, tmp_path):
    """explain_images on decoded arrays gives run_shard's frame for the same files, exactly where both make the same
    passes: at native resolution one pair per pass (batch_size 1), where a PRI of another size is an error row as
    the job's loader makes it; at network resolution all four pairs in one pass (batch_size 4)."""
    bb = load_backbone("efficientnet_lite0", weights="random", seed=1)
    imgs = [read_image(p) for p in two_images]
    pris = [np.ascontiguousarray(im[::-1]) for im in imgs]  # flipped: same size, different content
    bad = pris[0][:-32]
    for i, a in enumerate(pris + [bad]):
        Image.fromarray(a).save(tmp_path / f"p{i}.png")
    ids = ["a", "b", "c", "d"]
    paths = [str(two_images[0]), str(two_images[1]), str(two_images[0]), str(two_images[1])]
    pri_paths = [str(tmp_path / f) for f in ("p0.png", "p1.png", "p2.png", "p1.png")]
    cfg = {"resolution": "native", "batch_size": 1, "num_workers": 0, "target": "shared_top1"}
    shard = run_shard(pd.DataFrame({"image_id": ids, "path": paths, "pri_path": pri_paths}), cfg,
                      tmp_path / "v.parquet", device="cpu", backbone=bb)
    mem = explain_images(bb, ids, [imgs[0], imgs[1], imgs[0], imgs[1]], [pris[0], pris[1], bad, pris[1]], cfg)
    assert list(mem.columns) == list(shard.columns) and mem.image_id.tolist() == ids
    assert "differs from the image's" in mem.error[2] and "differs from the image's" in shard.error[2]
    ok = [0, 1, 3]
    pd.testing.assert_frame_equal(mem.drop(columns="error").iloc[ok], shard.drop(columns="error").iloc[ok])
    # The error row is the job's: no maps, no class.
    assert mem.map_h[2] == 0 and mem.target_class[2] == -1 and len(mem.cam_dist[2]) == 0
    assert mem.map_h[0] != mem.map_h[1]  # native: each image its own map size

    cfg = {"batch_size": 4, "num_workers": 0}
    shard = run_shard(pd.DataFrame({"image_id": ids, "path": paths, "pri_path": pri_paths}), cfg,
                      tmp_path / "w.parquet", device="cpu", backbone=bb)
    mem = explain_images(bb, ids, [imgs[0], imgs[1], imgs[0], imgs[1]], [pris[0], pris[1], bad, pris[1]], cfg)
    pd.testing.assert_frame_equal(mem, shard)
    assert (mem.error == "").all() and (mem.map_h == 7).all()  # resized to 224: the shorter PRI is no error
