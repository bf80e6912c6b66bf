"""Batched Grad-CAM (veiqa.gradcam): agreement with pytorch-grad-cam, target-class modes, shards and runtime.

References: ``pytorch_grad_cam.GradCAM`` 1.5.7 (the package), and a plain Grad-CAM written here from the definition
(forward hook + full backward through the unfrozen network, one image and one class at a time).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import skimage.data
import skimage.filters
import torch
import torch.nn.functional as F
from PIL import Image

import veiqa.gradcam as vg
from veiqa.backbones import load_backbone
from veiqa.gradcam import gradcam, minmax, run_shard, to_input
from veiqa.io import VeiqaError, read_provenance

# one thread: the 2 cores are shared, and OpenMP threads on oversubscribed cores are many times slower
torch.set_num_threads(1)
DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tid2013_samples"


@pytest.fixture(scope="module")
def bb():
    return load_backbone("efficientnet_lite0")


def inp(bb, img):
    return to_input(img, *bb.normalize, bb.input_size)[None]


def blurred(img, sigma=3.0):
    return (skimage.filters.gaussian(img, sigma=sigma, channel_axis=-1) * 255).round().astype(np.uint8)


def _act_grad(bb, x, cls, layer):
    """Activation and gradient of logit ``cls`` at ``layer``: full backward through an unfrozen copy, the gradient
    captured by a tensor hook."""
    model = copy.deepcopy(bb.model).requires_grad_(True)
    store = {}

    def hook(m, i, o):
        store["a"] = o
        o.register_hook(lambda g: store.__setitem__("g", g))

    h = dict(model.named_modules())[layer].register_forward_hook(hook)
    y = model(x)
    h.remove()
    y[0, cls].backward()
    return store["a"].detach()[0], store["g"][0]


def reference_cam(bb, x, cls, layer="bn2"):
    """Grad-CAM from the definition."""
    a, g = _act_grad(bb, x, cls, layer)
    return torch.relu((g.mean((1, 2))[:, None, None] * a).sum(0))


def test_matches_pytorch_grad_cam(bb):
    """Same model (efficientnet_lite0, real weights), layer bn2, class, real photos: our min-max map, upsampled with
    cv2.resize (bilinear) and min-max'd again as pytorch-grad-cam does, agrees with GradCAM's output to 1e-5."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    imgs = [skimage.data.chelsea(), skimage.data.coffee()]
    if (DATA / "i01_01_5.bmp").exists():
        imgs.append(np.asarray(Image.open(DATA / "i01_01_5.bmp").convert("RGB")))
    x = torch.cat([inp(bb, im) for im in imgs])
    out = gradcam(bb, x, x, normalize="minmax")
    ref_model = copy.deepcopy(bb.model).requires_grad_(True)  # pytorch-grad-cam needs a graph through the net
    with GradCAM(model=ref_model, target_layers=[ref_model.bn2]) as cam:
        theirs = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(c)) for c in out["target_class"]])
    for i in range(len(imgs)):
        m = cv2.resize(out["cam_dist"][i].numpy(), (224, 224))  # cv2 default INTER_LINEAR, as scale_cam_image
        m = m - m.min()
        m = m / (1e-7 + m.max())
        assert np.abs(m - theirs[i]).max() < 1e-5
        assert out["cam_dist"][i].max() == 1.0 and out["cam_dist"][i].min() == 0.0
    assert int(out["target_class"][0]) in range(281, 286)


def test_raw_map_matches_definition_and_batch_independence(bb):
    """normalize='none': each pair's raw map in a batch equals the single-image definition (rtol 1e-4)."""
    a, b = skimage.data.chelsea(), skimage.data.coffee()
    xd = torch.cat([inp(bb, a), inp(bb, b)])
    xp = torch.cat([inp(bb, blurred(a)), inp(bb, blurred(b))])
    out = gradcam(bb, xd, xp, normalize="none")
    assert out["cam_dist"].shape == (2, 7, 7)
    for i in range(2):
        c = int(out["target_class"][i])
        for x, key in ((xd[i : i + 1], "cam_dist"), (xp[i : i + 1], "cam_pri")):
            ref = reference_cam(bb, x, c)
            torch.testing.assert_close(out[key][i], ref, rtol=1e-4, atol=1e-5 * float(ref.max()))
    # parameters stay frozen and untouched: the backward stopped at the captured activation
    assert all(p.grad is None and not p.requires_grad for p in bb.model.parameters())


def test_target_modes(bb):
    a, b = skimage.data.chelsea(), skimage.data.coffee()
    xd, xp = inp(bb, a), inp(bb, b)  # a "PRI" of another class makes the modes differ
    with torch.no_grad():
        pd_, pp = bb.model(xd).softmax(1)[0], bb.model(xp).softmax(1)[0]
    shared = gradcam(bb, xd, xp, target="shared_top1", normalize="none")
    c = int(pd_.argmax())
    assert int(shared["target_class"][0]) == int(shared["target_class_pri"][0]) == c
    assert int(shared["pred_class_pri"][0]) == int(pp.argmax()) != c
    assert shared["target_prob_dist"][0] == pytest.approx(float(pd_[c]), rel=1e-5)
    assert shared["target_prob_pri"][0] == pytest.approx(float(pp[c]), rel=1e-4)
    torch.testing.assert_close(shared["cam_pri"][0], reference_cam(bb, xp, c), rtol=1e-4, atol=1e-6)

    own = gradcam(bb, xd, xp, target="own_top1", normalize="none")
    cp = int(pp.argmax())
    assert int(own["target_class_pri"][0]) == cp
    assert own["target_prob_pri"][0] == pytest.approx(float(pp[cp]), rel=1e-5)
    torch.testing.assert_close(own["cam_pri"][0], reference_cam(bb, xp, cp), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(own["cam_dist"][0], shared["cam_dist"][0])

    top3 = gradcam(bb, xd, xp, target="topk:3", normalize="none")
    classes = pd_.topk(3).indices.tolist()
    ref = torch.stack([reference_cam(bb, xd, k) for k in classes]).mean(0)
    torch.testing.assert_close(top3["cam_dist"][0], ref, rtol=1e-4, atol=1e-6)
    ref_p = torch.stack([reference_cam(bb, xp, k) for k in classes]).mean(0)
    torch.testing.assert_close(top3["cam_pri"][0], ref_p, rtol=1e-4, atol=1e-6)
    assert int(top3["target_class"][0]) == classes[0]
    for bad in ("topk:0", "top1", "topk:x"):
        with pytest.raises(VeiqaError, match="target"):
            gradcam(bb, xd, xp, target=bad)


def test_multi_layer_average(bb):
    x = inp(bb, skimage.data.chelsea())
    out = gradcam(bb, x, x, layers=["bn2", "blocks.4"], normalize="none")
    c = int(out["target_class"][0])
    m1 = reference_cam(bb, x, c, "bn2")
    m2 = reference_cam(bb, x, c, "blocks.4")  # 14x14, resized to bn2's 7x7
    assert m2.shape == (14, 14)
    m2 = F.interpolate(m2[None, None], size=(7, 7), mode="bilinear", align_corners=False)[0, 0]
    torch.testing.assert_close(out["cam_dist"][0], (m1 + m2) / 2, rtol=1e-4, atol=1e-6)
    with pytest.raises(VeiqaError, match="no layer named"):
        gradcam(bb, x, x, layers=["nope"])


def test_minmax():
    m = torch.tensor([[[0.0, 2.0], [1.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]], [[3.0, 3.0], [3.0, 3.0]]])
    out = minmax(m)
    torch.testing.assert_close(out[0], torch.tensor([[0.0, 0.5], [0.25, 1.0]]))
    assert torch.equal(out[1], torch.zeros(2, 2)) and torch.equal(out[2], torch.zeros(2, 2))


# ------------------------------------------------------------------------------------------------ shards


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("imgs")
    cat = skimage.data.chelsea()[:256, :320]  # 256x320
    cof = skimage.data.coffee()[:224, :288]  # 224x288
    for name, im in {"cat": cat, "cof": cof, "rocket": skimage.data.rocket()[:256, :320]}.items():
        Image.fromarray(im).save(d / f"{name}.png")
        Image.fromarray(blurred(im)).save(d / f"{name}_pri.png")
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return d


def pairs_frame(d):
    return pd.DataFrame({
        "image_id": ["cat", "corrupt", "cof", "missing", "rocket"],
        "path": ["cat.png", "corrupt.png", str(d / "cof.png"), "missing.png", "rocket.png"],
        "pri_path": ["cat_pri.png", "cat_pri.png", "cof_pri.png", "cat_pri.png", "rocket_pri.png"],
    })


def test_run_shard_format_errors_and_values(bb, image_dir, tmp_path):
    out = tmp_path / "shard.parquet"
    df = run_shard(pairs_frame(image_dir), {"batch_size": 2, "num_workers": 2}, out, device="cpu",
                   root=image_dir)
    t = pq.read_table(out)
    types = {f.name: f.type for f in t.schema}
    assert list(types) == list(vg.SHARD_COLUMNS)
    for c in ("image_id", "backbone", "weights", "weights_sha256", "error"):
        assert pa.types.is_string(types[c]) or pa.types.is_large_string(types[c])
    for c in ("target_class", "pred_class_dist", "pred_class_pri"):
        assert types[c] == pa.int64()
    assert types["map_h"] == types["map_w"] == pa.int32()
    assert types["target_prob_dist"] == types["target_prob_pri"] == pa.float64()
    assert types["cam_dist"].value_type == types["cam_pri"].value_type == pa.float32()
    assert types["zero_dist"] == types["zero_pri"] == pa.bool_()

    back = t.to_pandas()
    assert back["image_id"].tolist() == ["cat", "corrupt", "cof", "missing", "rocket"]
    err = back.set_index("image_id")["error"]
    assert "corrupt.png" in err["corrupt"] and "missing.png" in err["missing"]
    assert err["cat"] == err["cof"] == err["rocket"] == ""
    bad = back[back.error != ""]
    assert (bad.cam_dist.map(len) == 0).all() and (bad.map_h == 0).all()
    good = back[back.error == ""]
    assert (good.map_h == 7).all() and (good.map_w == 7).all() and (good.cam_dist.map(len) == 49).all()
    assert (good.backbone == "efficientnet_lite0").all() and (good.weights == "pretrained").all()
    assert (good.weights_sha256 == bb.weights_sha256).all()
    # values equal a direct in-process call on the same decoded pair (tolerance: float32 batch-composition noise)
    from veiqa.io import read_image

    xd = inp(bb, read_image(image_dir / "cat.png"))
    xp = inp(bb, read_image(image_dir / "cat_pri.png"))
    direct = gradcam(bb, xd, xp)
    row = good.iloc[0]
    np.testing.assert_allclose(row.cam_dist, direct["cam_dist"][0].numpy().ravel(), atol=1e-5)
    np.testing.assert_allclose(row.cam_pri, direct["cam_pri"][0].numpy().ravel(), atol=1e-5)
    assert row.target_class == int(direct["target_class"][0]) and row.pred_class_pri == int(direct["pred_class_pri"][0])
    assert row.target_prob_dist == pytest.approx(float(direct["target_prob_dist"][0]), rel=1e-5)
    assert not row.zero_dist and not row.zero_pri
    prov = read_provenance(out)
    assert prov["backbone"] == "efficientnet_lite0" and prov["weights_sha256"] == bb.weights_sha256
    assert prov["device"] == "cpu" and prov["config"]["target"] == "own_top1"
    assert len(df) == 5


def test_run_shard_deterministic_on_cpu(bb, image_dir, tmp_path):
    """Same inputs and config → byte-identical Parquet; decoding in workers or in the main process gives the same
    table (the provenance differs only by the num_workers setting)."""
    pairs = pairs_frame(image_dir)
    for name, workers in (("a", 2), ("b", 2), ("c", 0)):
        run_shard(pairs, {"batch_size": 4, "num_workers": workers}, tmp_path / f"{name}.parquet", device="cpu",
                  root=image_dir, backbone=bb)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert pq.read_table(tmp_path / "a.parquet").equals(pq.read_table(tmp_path / "c.parquet"))
    assert read_provenance(tmp_path / "c.parquet")["config"]["num_workers"] == 0


def test_run_shard_native_resolution(bb, image_dir, tmp_path):
    df = run_shard(pairs_frame(image_dir), {"resolution": "native", "num_workers": 0, "normalize": "none"},
                   tmp_path / "n.parquet", device="cpu", root=image_dir, backbone=bb).set_index("image_id")
    # efficientnet's stride 32: 256x320 → 8x10, 224x288 → 7x9
    assert (df.loc["cat", "map_h"], df.loc["cat", "map_w"]) == (8, 10)
    assert (df.loc["cof", "map_h"], df.loc["cof", "map_w"]) == (7, 9)
    assert len(df.loc["rocket", "cam_dist"]) == 80 and df.loc["missing", "error"] != ""
    assert min(df.loc["cat", "cam_dist"]) >= 0 and max(df.loc["cat", "cam_dist"]) != pytest.approx(1.0)  # raw
    from veiqa.io import read_image

    x = to_input(read_image(image_dir / "cof.png"), *bb.normalize, None)[None]
    ref = reference_cam(bb, x, int(df.loc["cof", "target_class"]))
    np.testing.assert_allclose(df.loc["cof", "cam_dist"], ref.numpy().ravel(), rtol=1e-4, atol=1e-6)


def test_run_shard_halves_batch_on_oom(bb, image_dir, tmp_path, monkeypatch):
    import veiqa.gradcam.shard as vgs

    sizes = []
    real = vg.gradcam

    def fake(backbone, d, p, **kw):
        sizes.append(len(d))
        if len(d) > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(backbone, d, p, **kw)

    monkeypatch.setattr(vgs, "gradcam", fake)
    pairs = pairs_frame(image_dir).iloc[[0, 2, 4]]
    df = run_shard(pairs, {"batch_size": 4, "num_workers": 0}, tmp_path / "o.parquet", device="cpu",
                   root=image_dir, backbone=bb)
    assert sizes == [3, 1, 1, 1]  # one OOM at 3 pairs, then halved (3 // 2 = 1) for the rest of the run
    assert (df.error == "").all() and (df.map_h == 7).all()


def test_config_validation(bb, image_dir, tmp_path):
    pairs = pairs_frame(image_dir)
    for cfg, word in (({"resolution": "full"}, "resolution"), ({"normalize": "z"}, "normalize"),
                      ({"batch_size": 0}, "batch_size"), ({"colour": 1}, "unknown"), ({"target": "x"}, "target")):
        with pytest.raises(VeiqaError, match=word):
            run_shard(pairs, cfg, tmp_path / "x.parquet", device="cpu", root=image_dir, backbone=bb)
    with pytest.raises(VeiqaError, match="pri_path"):
        run_shard(pairs.drop(columns="pri_path"), {}, tmp_path / "x.parquet", device="cpu", backbone=bb)
    assert not (tmp_path / "x.parquet").exists()
    assert json.dumps(vg.normalize_config({"layer": ["bn2"]}))  # serialisable for provenance


# ------------------------------------------------------------------------------------------------ precision


def test_precision_context_sets_fp32_and_restores_the_previous_settings():
    from veiqa.gradcam import grad_cam_precision

    before = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32,
              torch.get_float32_matmul_precision(), torch.backends.cudnn.benchmark)
    try:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = True, True
        torch.set_float32_matmul_precision("medium")
        torch.backends.cudnn.benchmark = True
        with pytest.raises(RuntimeError, match="inside"):
            with grad_cam_precision(torch.device("cpu")):
                assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
                assert torch.get_float32_matmul_precision() == "highest" and not torch.backends.cudnn.benchmark
                raise RuntimeError("inside")  # restored on an exception too
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
        assert torch.get_float32_matmul_precision() == "medium" and torch.backends.cudnn.benchmark
        assert not torch.are_deterministic_algorithms_enabled()  # CPU: the global flag is left alone
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before[:2]
        torch.set_float32_matmul_precision(before[2])
        torch.backends.cudnn.benchmark = before[3]


def test_fp32_agrees_with_a_float64_reference_and_amp_does_not(bb):
    """The default pass (float32) equals Grad-CAM of the same network in double precision to ~1e-5 of the map's
    peak; CPU bf16 autocast (amp) drifts by orders of magnitude more."""
    a = skimage.data.chelsea()
    xd, xp = inp(bb, a), inp(bb, blurred(a))
    out = gradcam(bb, xd, xp, normalize="none")
    amp = gradcam(bb, xd, xp, normalize="none", amp=True)

    class Double:
        model = bb.model.double()

    try:
        for key, x in (("cam_dist", xd), ("cam_pri", xp)):
            c = int(out["target_class_pri" if key == "cam_pri" else "target_class"][0])
            ref = reference_cam(Double, x.double(), c).float()
            err = float((out[key][0] - ref).abs().max() / ref.max())
            err_amp = float((amp[key][0] - ref).abs().max() / ref.max())
            assert err < 2e-5, err
            assert err_amp > 50 * err, (err_amp, err)
    finally:
        bb.model.float()


def test_run_shard_logs_weights_precision_and_progress_and_records_amp(bb, image_dir, tmp_path, caplog):
    import logging

    pairs = pairs_frame(image_dir).iloc[[0, 2]]
    with caplog.at_level(logging.INFO, logger="veiqa.gradcam.shard"):
        run_shard(pairs, {"batch_size": 1, "num_workers": 0, "amp": True}, tmp_path / "a.parquet", device="cpu",
                  root=image_dir, backbone=bb)
    msgs = [r.getMessage() for r in caplog.records]
    assert msgs[0] == (f"weights: efficientnet_lite0 pretrained, file {bb.weights_file}, "
                       f"SHA-256 {bb.weights_sha256}")
    assert msgs[1] == "precision: bfloat16 autocast (amp: true, mixed precision) on cpu"
    assert "amp: true" in msgs[2] and caplog.records[2].levelname == "WARNING"
    assert [m.split(",")[0] for m in msgs[3:]] == ["1/2 pairs", "2/2 pairs"] and msgs[-1].endswith("pairs/s")
    prov = read_provenance(tmp_path / "a.parquet")
    assert prov["amp"] is True and prov["precision"].startswith("bfloat16")
    run_shard(pairs, {"num_workers": 0}, tmp_path / "b.parquet", device="cpu", root=image_dir, backbone=bb)
    prov = read_provenance(tmp_path / "b.parquet")
    assert prov["amp"] is False and prov["precision"] == "float32 (TF32 off)"


def test_shard_pieces_alone(bb):
    """The OOM retry, row assembly and typed frame of the job runtime, each without a model run."""
    from veiqa.gradcam.shard import assemble_rows, explain_with_retry, shard_frame

    calls = []

    def run(sl):
        calls.append((sl.start, sl.stop))
        if sl.stop - sl.start > 2:
            raise RuntimeError("CUDA error: out of memory")
        n = sl.stop - sl.start
        z = torch.zeros(n)
        return {"cam_dist": torch.arange(n * 4, dtype=torch.float32).view(n, 2, 2), "cam_pri": torch.zeros(n, 2, 2),
                "target_class": torch.arange(sl.start, sl.stop), "target_prob_dist": z.double(), "target_prob_pri": z.double(),
                "pred_class_dist": z.long(), "pred_class_pri": z.long()}

    rows, chunk = explain_with_retry(run, 5, 8, torch.device("cpu"))
    assert calls == [(0, 5), (0, 2), (2, 4), (4, 5)] and chunk == 2
    assert [r["target_class"] for r in rows] == [0, 1, 2, 3, 4]
    assert (rows[0]["map_h"], rows[0]["map_w"]) == (2, 2) and rows[0]["cam_dist"].dtype == np.float32
    with pytest.raises(VeiqaError, match="batch of one pair"):
        explain_with_retry(lambda sl: run(slice(0, 9)), 1, 1, torch.device("cpu"))
    with pytest.raises(ValueError, match="other"):  # anything but out-of-memory propagates
        explain_with_retry(lambda sl: (_ for _ in ()).throw(ValueError("other")), 1, 1, torch.device("cpu"))

    df = shard_frame(assemble_rows(["a", "b", "c"], {0: rows[0], 2: {"error": "bad file"}}, bb))
    assert df.error.tolist() == ["", "not processed", "bad file"]
    assert not df.zero_dist[0] and df.zero_pri[0] and not df.zero_pri[2]  # flags only on rows with maps
    assert df.dtypes["map_h"] == np.int32 and len(shard_frame([])) == 0


# ------------------------------------------------------------------------------------------------ other methods
# Each method against its pytorch-grad-cam 1.5.7 class (same model, layer, classes, input). The library upsamples
# each map to the input size and min-max scales it: its target size is set to the layer's own, so its output is
# min-max(ReLU(raw map)) at layer resolution, which is what veiqa's normalize="minmax" returns.


def library_maps(model, layer, x, classes, cls_name, size):
    import pytorch_grad_cam as P
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    ref_model = copy.deepcopy(model).requires_grad_(True)  # the library needs a graph through the net
    cam = getattr(P, cls_name)(model=ref_model, target_layers=[dict(ref_model.named_modules())[layer]])
    cam.get_target_width_height = lambda t: (size[1], size[0])  # (width, height): no upsampling
    with cam:
        return cam(input_tensor=x, targets=[ClassifierOutputTarget(int(c)) for c in classes])


class _Toy(torch.nn.Module):
    """A small CNN whose gradients at ``conv2`` are O(0.1): the library's ε (1e-6 in Grad-CAM++, 1e-7 in
    XGrad-CAM) is then negligible, so the library's formulas and the papers' give the same maps."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(3)
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 6, 3, padding=1, stride=2)
        self.fc = torch.nn.Linear(6, 5)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * (20.0 if p.dim() == 2 else 0.5))

    def forward(self, x):
        h = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.fc(h.mean((2, 3)))


@pytest.fixture(scope="module")
def toy():
    from veiqa.backbones import Backbone

    model = _Toy().eval().requires_grad_(False)
    return Backbone("toy", model, "conv2", (12, 12), ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)), "random:3", "random:3")


@pytest.mark.parametrize("name", list(vg.METHODS))
def test_each_method_matches_pytorch_grad_cam_on_a_small_cnn(toy, name):
    """Every method (ReLU'd, min-max) equals its pytorch-grad-cam 1.5.7 class to float32 tolerance; Eigen-CAM up to
    the sign of the principal component (the library's is LAPACK's, veiqa's is fixed: see the next test)."""
    x = torch.randn(4, 3, 12, 12, generator=torch.Generator().manual_seed(1))
    out = gradcam(toy, x[:2], x[2:], normalize="minmax", cam=name)  # own_top1: 4 images, each its own class
    ours = torch.cat([out["cam_dist"], out["cam_pri"]]).numpy()
    classes = torch.cat([out["target_class"], out["target_class_pri"]])
    assert ours.shape == (4, 6, 6)
    meth = vg.METHODS[name]
    theirs = library_maps(toy.model, "conv2", x, classes, meth.library, (6, 6))
    if name == "eigencam":
        from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection

        with torch.no_grad():
            acts = toy.model.conv2(torch.relu(toy.model.conv1(x))).numpy()  # the hooked layer's output
        proj = get_2d_projection(acts)
        for i in range(4):  # both are min-max(ReLU(±the same projection)), each with its own sign
            signed = []
            for sgn in (1.0, -1.0):
                m = np.maximum(sgn * proj[i], 0)
                signed.append((m - m.min()) / (1e-7 + m.max() - m.min()))
            assert min(np.abs(ours[i] - m).max() for m in signed) < 1e-5
            assert min(np.abs(theirs[i] - m).max() for m in signed) < 1e-5
    else:
        np.testing.assert_allclose(ours, theirs, atol=2e-6 if name != "gradcampp" else 1e-5)
    assert (ours.max(axis=(1, 2)) == 1.0).all()


def hooked(bb, x, cls, layer):
    """Activation and gradient of logit ``cls`` at ``layer``, float64 NumPy."""
    a, g = _act_grad(bb, x, cls, layer)
    return a.double().numpy(), g.double().numpy()


@pytest.mark.parametrize("layer", ["bn2", "blocks.5"])
def test_methods_on_efficientnet_match_the_library_or_the_paper(bb, layer):
    """On the real network (bn2: ReLU6 output; blocks.5: signed) XGrad-CAM, LayerCAM, HiResCAM equal the library to
    float32 tolerance. Grad-CAM++ equals the paper's eq. 19 written here in float64 from hooked activations and
    gradients; the library's ε = 1e-6 in α's denominator is not negligible here (gradients² ~ 1e-6), so the library
    differs from the paper by more than 1% of the map's range, as docs/explanation-methods.md says."""
    x = inp(bb, skimage.data.chelsea())
    for name in ("xgradcam", "layercam", "hirescam", "gradcampp"):
        out = gradcam(bb, x, x, normalize="minmax", layers=[layer], cam=name)
        ours = out["cam_dist"][0].numpy()
        c = int(out["target_class"][0])
        theirs = library_maps(bb.model, layer, x, [c], vg.METHODS[name].library, ours.shape)[0]
        if name != "gradcampp":
            np.testing.assert_allclose(ours, theirs, atol=5e-6)
            continue
        a, g = hooked(bb, x, c, layer)
        g2, g3 = g**2, g**3
        den = 2 * g2 + a.sum((1, 2), keepdims=True) * g3
        alpha = np.divide(g2, den, out=np.zeros_like(g2), where=den != 0)
        w = (alpha * np.maximum(g, 0)).sum((1, 2))
        paper = np.maximum((w[:, None, None] * a).sum(0), 0)
        paper = (paper - paper.min()) / (paper.max() - paper.min())
        np.testing.assert_allclose(ours, paper, atol=1e-4)
        assert np.abs(ours - theirs).max() > 0.01


def test_eigencam_is_the_first_principal_component_with_a_fixed_sign(bb):
    """Eigen-CAM of efficientnet_lite0 equals ±(the library's projection); the sign veiqa keeps correlates positively
    with the channel-summed activation. It needs no gradient: one map whatever the target class."""
    from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection

    x = torch.cat([inp(bb, skimage.data.chelsea()), inp(bb, skimage.data.coffee())])
    raw = gradcam(bb, x, x, normalize="none", layers=["blocks.5"], cam="eigencam")["cam_dist"].numpy()
    top3 = gradcam(bb, x, x, normalize="none", layers=["blocks.5"], cam="eigencam", target="topk:3")
    np.testing.assert_array_equal(top3["cam_dist"].numpy(), raw)
    for i in range(2):
        a, _ = hooked(bb, x[i : i + 1], 0, "blocks.5")
        proj = get_2d_projection(a[None].astype(np.float32))[0].astype(np.float64)
        sign = 1.0 if (proj * a.sum(0)).sum() > 0 else -1.0
        np.testing.assert_allclose(raw[i], np.maximum(sign * proj, 0), atol=1e-4 * np.abs(proj).max())
        assert raw[i].max() > 0


def test_method_config_and_errors(bb):
    x = inp(bb, skimage.data.chelsea())
    with pytest.raises(VeiqaError, match="method: 'scorecam' is not one of gradcam, gradcampp"):
        gradcam(bb, x, x, cam="scorecam")
    with pytest.raises(VeiqaError, match="method"):
        vg.normalize_config({"method": "nope"})
    assert vg.normalize_config(None)["method"] == vg.DEFAULT_METHOD == "gradcam"
    # gradcam by name is the default pass, value for value
    torch.testing.assert_close(gradcam(bb, x, x, cam="gradcam")["cam_dist"], gradcam(bb, x, x)["cam_dist"],
                               rtol=0, atol=0)


def test_method_grid_arms_labels_and_the_ready_grid():
    """gradcam.method is a grid key: names from the registry, labels that name a method other than Grad-CAM (so a
    Grad-CAM arm's label and engine config are those of earlier runs), the paper preset keeping Grad-CAM, and the
    ready grid of workflow/configs/ with both controls."""
    import yaml

    import veiqa.config as vc

    repo = Path(__file__).resolve().parents[1]
    cfg = vc.load({"gradcam": {"method": ["gradcam", "gradcampp", "eigencam"]}}, check_paths=False)
    arms = vc.cam_arms(cfg)
    assert list(arms) == ["efficientnet_lite0-pretrained-network-last-own_top1-minmax",
                          "efficientnet_lite0-pretrained-network-gradcampp-last-own_top1-minmax",
                          "efficientnet_lite0-pretrained-network-eigencam-last-own_top1-minmax"]
    first = next(iter(arms))
    assert vc.cam_arms(vc.load({}, check_paths=False)) == {first: arms[first]} and "method" not in arms[first]
    assert arms["efficientnet_lite0-pretrained-network-gradcampp-last-own_top1-minmax"]["method"] == "gradcampp"
    assert vg.normalize_config(arms["efficientnet_lite0-pretrained-network-eigencam-last-own_top1-minmax"])[
        "method"] == "eigencam"
    schema = vc.load_schema()["properties"]["gradcam"]["properties"]["method"]
    assert schema["oneOf"][0]["enum"] == list(vg.METHODS)
    with pytest.raises(vc.ConfigError, match="'gradcam.method': 'scorecam' is not valid; allowed: 'gradcam'"):
        vc.load({"gradcam": {"method": "scorecam"}}, check_paths=False)
    assert vc.load({"preset": "paper", "gradcam": {"method": ["layercam"]}}, check_paths=False)["gradcam"][
        "method"] == "gradcam"
    grid = vc.load(yaml.safe_load((repo / "workflow/configs/explanation_grid.yaml").read_text()), check_paths=False)
    arms = vc.cam_arms(grid)
    assert len(arms) == 6 * 2 * 2 * 2 and sum(vc.is_control(a) for a in arms.values()) == 24
    assert {a["method"] for a in arms.values() if "method" in a} == set(vg.METHODS) - {"gradcam"}
    assert grid["pixel_control"] and grid["nr_methods"] and grid["fr_ceiling"]
    # the docs list every method of the registry with its title
    doc = (repo / "docs/explanation-methods.md").read_text()
    for name, m in vg.METHODS.items():
        assert f"| `{name}` | {m.title} |" in doc
