"""Similarity measures (veiqa.measures) against scikit-image, piq, numpy and values worked by hand.

Tolerances: float64 computations compared with float64 references use abs 1e-6 or tighter (the residue is
summation order); piq runs in float32 where stated, compared at abs 1e-4.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import veiqa.measures as M
from veiqa.measures import _common

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tid2013_samples"
REF, DIST = DATA / "I01.BMP", DATA / "i01_01_5.bmp"


def _load(path):
    from veiqa.io import read_image

    return read_image(path).astype(np.float64)  # H×W×3 in [0, 255]


@pytest.fixture(scope="module")
def pair():
    if not (REF.is_file() and DIST.is_file()):
        pytest.skip(f"TID2013 samples not found under {DATA}")
    return _load(REF), _load(DIST)


def _t(a):
    """H×W×3 or H×W numpy → 1×C×H×W float64 tensor."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 2:
        a = a[..., None]
    return torch.from_numpy(a.copy()).permute(2, 0, 1).unsqueeze(0)


def _luma(a):
    return 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]


def _wang_downsample_np(img, f):
    """ssim.m: imfilter(img, ones(f)/f^2, 'symmetric', 'same') then img(1:f:end, 1:f:end), written in numpy."""
    from scipy.ndimage import correlate

    k = np.ones((f, f)) / f**2
    # MATLAB's anchor for an even kernel is floor((f+1)/2) (1-based); scipy's origin shifts its centre f//2.
    origin = (f + 1) // 2 - 1 - f // 2
    out = correlate(img, k, mode="reflect", origin=(origin, origin))  # scipy 'reflect' == MATLAB 'symmetric'
    return out[::f, ::f]


# ---------------------------------------------------------------- PSNR
def test_psnr_matches_skimage_on_real_pair(pair):
    from skimage.metrics import peak_signal_noise_ratio

    ref, dist = pair
    expected = peak_signal_noise_ratio(ref, dist, data_range=255)
    got = M.psnr(_t(ref), _t(dist), data_range=255.0).item()
    assert got == pytest.approx(expected, abs=1e-9)


def test_psnr_known_mse():
    x = torch.full((1, 1, 8, 8), 0.5, dtype=torch.float64)
    y = x + 0.1  # MSE = 0.01 → PSNR = 10·log10(1/0.01) = 20 dB
    assert M.psnr(x, y, 1.0).item() == pytest.approx(20.0, abs=1e-9)
    # data_range 255, MSE = 25.5² → 20·log10(255/25.5) = 20 dB
    assert M.psnr(x * 255, y * 255, 255.0).item() == pytest.approx(20.0, abs=1e-9)


def test_psnr_identical_gets_the_finite_ceiling_above_every_8bit_pair():
    x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    n = 3 * 16 * 16
    # ceiling = PSNR of half a grey level on one sample: 10·log10(255² / ((1/2)² / n)) with L = 255 levels
    ceiling = 10 * math.log10(255.0**2 / (0.25 / n))
    assert M.psnr_ceiling(n) == pytest.approx(ceiling, abs=1e-12)
    assert M.psnr(x, x, 1.0).tolist() == pytest.approx([ceiling] * 2, abs=1e-9)
    assert M.psnr(x * 255, x * 255, 255.0).tolist() == pytest.approx([ceiling] * 2, abs=1e-9)
    # the smallest 8-bit error (one grey level on one sample) lies 20·log10(2) = 6.02 dB below, and is not floored
    q = torch.zeros(1, 3, 16, 16, dtype=torch.float64)
    q1 = q.clone()
    q1[0, 0, 0, 0] = 1.0
    one = M.psnr(q, q1, 255.0).item()
    assert one == pytest.approx(10 * math.log10(255.0**2 * n), abs=1e-9)
    assert ceiling - one == pytest.approx(20 * math.log10(2), abs=1e-9)
    # monotone in the MSE: a second grey level lowers it further
    q1[0, 1, 0, 0] = 1.0
    assert M.psnr(q, q1, 255.0).item() < one
    # the former convention on request
    assert torch.isnan(M.psnr(x, x, identical="nan")).all()
    # compute keeps the status and gives the finite value
    vals, st = M.compute(x * 255, x * 255, ["psnr"], mode="image")
    assert st["psnr"] == ["identical"] * 2 and torch.isfinite(vals["psnr"]).all()


# ---------------------------------------------------------------- SSIM
def test_wang_downsample_by_hand():
    x = torch.tensor([[[[1.0, 2.0, 3.0], [5.0, 6.0, 7.0]]]], dtype=torch.float64)
    # f=2: out(i,j) = mean of the 2×2 block starting at (i,j), the last column padded symmetrically (3 → 3)
    got = _common.wang_downsample(x, 2)
    assert got.tolist() == [[[[3.5, 5.0]]]]
    assert M.wang_factor(384, 512) == 2 and M.wang_factor(224, 224) == 1 and M.wang_factor(640, 900) == 3
    assert M.wang_factor(383, 512) == 1  # round(1.496) = 1


@pytest.mark.parametrize("f, shape", [(2, (6, 9)), (2, (8, 10)), (3, (10, 7)), (4, (9, 13))])
def test_wang_downsample_matches_scipy_reference(f, shape):
    rng = np.random.default_rng(f)
    a = rng.random(shape)
    got = _common.wang_downsample(_t(a), f)[0, 0].numpy()
    np.testing.assert_allclose(got, _wang_downsample_np(a, f), atol=1e-12)


def test_ssim_matches_skimage_on_real_pair(pair):
    from skimage.metrics import structural_similarity

    ref, dist = pair
    yr, yd = _luma(ref), _luma(dist)
    f = max(1, round(min(yr.shape) / 256))
    assert f == 2
    expected = structural_similarity(
        _wang_downsample_np(yr, f), _wang_downsample_np(yd, f),
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
    )
    got = M.ssim(_t(ref), _t(dist), data_range=255.0).item()
    assert got == pytest.approx(expected, abs=1e-9)
    # without downsampling: skimage on the full-resolution luminance
    exp_full = structural_similarity(yr, yd, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    assert M.ssim(_t(ref), _t(dist), 255.0, downsample=False).item() == pytest.approx(exp_full, abs=1e-9)


def test_ssim_downsampling_f3_odd_size_matches_skimage():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(0)
    from scipy.ndimage import gaussian_filter

    a = gaussian_filter(rng.random((661, 701)), 2) * 255  # f = round(661/256) = 3, odd sizes
    b = np.clip(a + rng.normal(0, 5, a.shape), 0, 255)
    expected = structural_similarity(_wang_downsample_np(a, 3), _wang_downsample_np(b, 3), gaussian_weights=True,
                                     sigma=1.5, use_sample_covariance=False, data_range=255)
    assert M.ssim(_t(a), _t(b), 255.0).item() == pytest.approx(expected, abs=1e-9)


def test_ssim_terms_multiply_back(pair):
    ref, dist = pair
    s, l, c, st = M.ssim_maps(_t(ref), _t(dist), 255.0, terms=True)
    assert (l * c * st).mean().item() == pytest.approx(s.mean().item(), abs=1e-12)
    r = M.ssim(_t(ref), _t(dist), 255.0, return_terms=True)
    assert r.ssim.item() == pytest.approx(s.mean().item(), abs=1e-15)
    for term in (r.luminance, r.contrast, r.structure):
        assert 0 < term.item() <= 1


def test_ssim_terms_by_hand():
    rng = torch.Generator().manual_seed(0)
    x = torch.rand(1, 1, 32, 32, generator=rng, dtype=torch.float64) * 0.5
    # offset: σ's and covariance unchanged → c = s = 1 at every pixel, only the luminance term drops
    r = M.ssim(x, x + 0.3, 1.0, return_terms=True)
    assert r.contrast.item() == pytest.approx(1.0, abs=1e-9) and r.structure.item() == pytest.approx(1.0, abs=1e-9)
    assert r.luminance.item() < 0.99
    # negated structure: y = 1 − x has σxy = −σx² → s ≈ −1 where σ ≫ C3
    r2 = M.ssim(x, 1 - x, 1.0, return_terms=True)
    assert r2.structure.item() < -0.9
    # identical
    r3 = M.ssim(x, x, 1.0, return_terms=True)
    assert all(v.item() == pytest.approx(1.0, abs=1e-12) for v in r3)


# ---------------------------------------------------------------- MS-SSIM, GMSD, FSIM, VSI against piq
def test_ms_ssim_matches_piq_on_real_pair(pair):
    import piq

    ref, dist = pair
    yr, yd = _t(_luma(ref)) / 255, _t(_luma(dist)) / 255  # 384×512: every scale has even sides
    expected = piq.multi_scale_ssim(yr, yd, data_range=1.0, reduction="none").item()
    assert M.ms_ssim(_t(ref), _t(dist), 255.0).item() == pytest.approx(expected, abs=1e-9)


def test_ms_ssim_wtd_and_product_from_the_per_scale_terms(pair):
    # msssim.m's two methods worked from its per-scale terms: the pyramid in numpy (2x2 average, 'symmetric', every
    # 2nd sample), each scale's SSIM and l maps from ssim_maps (cs = SSIM / l), then 'product' and 'wtd_sum'
    from veiqa.measures._ssim import MS_SSIM_WEIGHTS

    ref, dist = pair
    a, b = _luma(ref)[:383, :509], _luma(dist)[:383, :509]      # odd sides: the symmetric padding matters
    cs, last = [], None
    for j in range(5):
        if j:
            a, b = _wang_downsample_np(a, 2), _wang_downsample_np(b, 2)
        smap, lum, _, _ = M.ssim_maps(_t(a), _t(b), 255.0, downsample=False, terms=True)
        if j < 4:
            cs.append((smap / lum).mean().item())
        else:
            last = smap.mean().item()
    w = np.array(MS_SSIM_WEIGHTS)
    terms = np.array(cs + [last])
    wtd = float((terms * w / w.sum()).sum())
    prod = float(np.prod(terms ** w))
    x, y = _t(_luma(ref)[:383, :509]), _t(_luma(dist)[:383, :509])
    assert M.ms_ssim_wtd(x, y, 255.0).item() == pytest.approx(wtd, abs=1e-12)
    assert M.ms_ssim(x, y, 255.0).item() == pytest.approx(prod, abs=1e-12)
    assert abs(wtd - prod) > 1e-3                                # the two conventions differ visibly here
    vals, st = M.compute(x, y, ["ms_ssim", "ms_ssim_wtd"], mode="image", grey="luma")
    assert vals["ms_ssim_wtd"].item() == pytest.approx(wtd, abs=1e-12) and st["ms_ssim_wtd"] == ["ok"]
    assert torch.isnan(M.ms_ssim_wtd(x[..., :150, :150], y[..., :150, :150], 255.0)).all()   # below 161: NaN


def test_ms_ssim_too_small_is_nan_with_status():
    x = torch.rand(2, 1, 7, 7, dtype=torch.float64)
    assert torch.isnan(M.ms_ssim(x, x * 0.5)).all()
    vals, st = M.compute(x, x * 0.5, ["ms_ssim", "ssim", "psnr"], mode="map", data_range=1.0)
    assert st["ms_ssim"] == ["too_small"] * 2 and st["ssim"] == ["too_small"] * 2
    assert torch.isnan(vals["ssim"]).all() and torch.isfinite(vals["psnr"]).all()
    a, b = M.prepare_maps(x, x.sqrt(), size=224)  # sqrt: not identical after min-max
    vals, st = M.compute(a, b, ["ms_ssim"], mode="map", data_range=1.0)
    assert st["ms_ssim"] == ["ok"] * 2 and torch.isfinite(vals["ms_ssim"]).all()


def test_gmsd_matches_piq_on_real_pair(pair):
    import piq

    ref, dist = pair
    expected = piq.gmsd(_t(ref), _t(dist), data_range=255.0, reduction="none").item()
    n = (384 // 2) * (512 // 2)
    got = M.gmsd(_t(ref), _t(dist), 255.0).item()
    # GMSD.m uses std2 (N−1), piq the population std: the only difference on even sizes
    assert got == pytest.approx(expected * math.sqrt(n / (n - 1)), abs=1e-9)
    assert M.gmsd(_t(ref), _t(ref), 255.0).item() == 0.0


def test_fsim_vsi_wrappers_follow_piq_on_real_pair(pair):
    """FSIM/VSI are veiqa torch implementations checked against piq: this checks the wrappers' conventions (RGB → FSIMc, data_range 255,
    grey FSIM on luminance) against piq called directly on [0, 1] images (float32, abs 1e-5), and the
    measures' defining properties."""
    import piq

    ref, dist = pair
    r, d = _t(ref).float(), _t(dist).float()
    assert M.fsim(r, d, 255.0).item() == pytest.approx(piq.fsim(r / 255, d / 255, chromatic=True).item(), abs=1e-5)
    lr, ld = M._common.luminance(r), M._common.luminance(d)
    assert M.fsim(r, d, 255.0, chromatic=False).item() == pytest.approx(
        piq.fsim(lr / 255, ld / 255, chromatic=False).item(), abs=1e-5)
    assert M.vsi(r, d, 255.0).item() == pytest.approx(piq.vsi(r / 255, d / 255).item(), abs=1e-5)
    # defining properties on a 128×128 crop: 1 for identical images, lower for a stronger distortion
    rc, dc = r[..., :128, :128], d[..., :128, :128]
    worse = (dc + (dc - rc)).clamp(0, 255)  # twice the noise
    assert M.fsim(rc, rc, 255.0).item() == pytest.approx(1.0, abs=1e-6)
    assert M.vsi(rc, rc, 255.0).item() == pytest.approx(1.0, abs=1e-6)
    assert M.fsim(rc, worse, 255.0).item() < M.fsim(rc, dc, 255.0).item()
    assert M.vsi(rc, worse, 255.0).item() < M.vsi(rc, dc, 255.0).item()


# ---------------------------------------------------------------- NCC (NK), PCC, NAE by hand
def test_ncc_is_eskicioglu_fisher_nk_by_hand():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64).reshape(1, 1, 2, 2)
    y = torch.tensor([1.0, 3.0, 2.0, 4.0], dtype=torch.float64).reshape(1, 1, 2, 2)
    # NK = Σxy / Σx² = (1 + 6 + 6 + 16) / (1 + 4 + 9 + 16) = 29/30
    assert M.ncc(x, y).item() == pytest.approx(29 / 30, abs=1e-12)
    # reference first: NK(y, x) = 29 / Σy² = 29/30 too here; with z = [2, 2, 2, 2]: Σxz = 20, Σx² = 30, Σz² = 16
    z = torch.full((1, 1, 2, 2), 2.0, dtype=torch.float64)
    assert M.ncc(x, z).item() == pytest.approx(20 / 30, abs=1e-12)
    assert M.ncc(z, x).item() == pytest.approx(20 / 16, abs=1e-12)
    assert M.ncc(x, x).item() == pytest.approx(1.0, abs=1e-12)
    # gain of both inputs cancels; an offset does not: NK(x, x + 1) = 1 + Σx/Σx² = 1 + 10/30
    assert M.ncc(3 * x, 3 * y).item() == pytest.approx(29 / 30, abs=1e-12)
    assert M.ncc(x, x + 1).item() == pytest.approx(1 + 10 / 30, abs=1e-12)
    assert math.isnan(M.ncc(torch.zeros_like(x), x).item())


def test_pcc_by_hand_and_numpy(pair):
    x = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64).reshape(1, 1, 2, 2)
    assert M.pcc(x, 2 * x + 5).item() == pytest.approx(1.0, abs=1e-12)
    assert M.pcc(x, -x).item() == pytest.approx(-1.0, abs=1e-12)
    y = torch.tensor([1.0, 3.0, 2.0, 4.0], dtype=torch.float64).reshape(1, 1, 2, 2)
    # x̄ = ȳ = 2.5; Σ dx·dy = 2.25 + (−0.5)(0.5) + (0.5)(−0.5) + 2.25 = 4; Σ dx² = Σ dy² = 5 → 0.8
    assert M.pcc(x, y).item() == pytest.approx(0.8, abs=1e-12)
    ref, dist = pair
    assert M.pcc(_t(ref), _t(dist)).item() == pytest.approx(np.corrcoef(ref.ravel(), dist.ravel())[0, 1], abs=1e-9)
    c = torch.full((1, 1, 2, 2), 3.0, dtype=torch.float64)
    assert math.isnan(M.pcc(c, x).item())


def test_nae_by_hand():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64).reshape(1, 1, 2, 2)
    y = torch.tensor([1.0, 2.0, 3.0, 6.0], dtype=torch.float64).reshape(1, 1, 2, 2)
    assert M.nae(x, y).item() == pytest.approx(2.0 / 10.0, abs=1e-12)
    z = torch.zeros_like(x)
    assert M.nae(z, z).item() == 0.0
    assert math.isnan(M.nae(z, y).item())


# ---------------------------------------------------------------- maps: zero, constant, statuses, batching
def test_zero_and_constant_maps_never_crash_or_inf():
    g = torch.Generator().manual_seed(1)
    r = torch.rand(1, 1, 168, 168, generator=g)
    z = torch.zeros_like(r)
    c = torch.full_like(r, 0.4)
    x = torch.cat([r, z, z, c, c, r])
    y = torch.cat([r * 0.9, z, r, c, r, r])
    vals, st = M.compute(x, y, mode="map", data_range=1.0)
    assert set(vals) == set(M.MEASURES)
    expected_status = ["ok", "zero_map", "zero_map", "constant_map", "constant_map", "identical"]
    for name, v in vals.items():
        assert st[name] == expected_status, name
        assert not torch.isinf(v).any(), name
    nan_expected = {  # PSNR of identical pairs (incl. zero/zero, c/c): the finite ceiling
        "ncc": [False, True, True, False, False, False],  # all-zero reference → NaN
        "pcc": [False, True, True, True, True, False],  # any constant map → NaN
        "nae": [False, False, True, False, False, False],  # zero reference vs non-zero → NaN; zero/zero → 0
    }
    for name, v in vals.items():
        exp = nan_expected.get(name, [False] * 6)
        assert torch.isnan(v).tolist() == exp, name
    assert vals["psnr"][[1, 3, 5]].tolist() == pytest.approx([M.psnr_ceiling(168 * 168)] * 3, abs=1e-4)  # float32
    for name in ("ssim", "ssim_nodownsample", "ms_ssim", "fsim", "vsi", "ncc", "pcc"):
        assert vals[name][5].item() == pytest.approx(1.0, abs=1e-5), name
    assert vals["gmsd"][5].item() == pytest.approx(0.0, abs=1e-7)


def test_batch_equals_per_item():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(3, 1, 7, 7, generator=g)
    y = torch.rand(3, 1, 7, 7, generator=g)
    a, b = M.prepare_maps(x, y, size=168)  # ≥ 161 so that MS-SSIM is defined
    full, _ = M.compute(a, b, mode="map", data_range=1.0)
    for i in range(3):
        one, _ = M.compute(a[i : i + 1], b[i : i + 1], mode="map", data_range=1.0)
        for name in full:
            assert full[name][i].item() == pytest.approx(one[name][0].item(), abs=1e-5, nan_ok=True), name


def test_map_mode_unnormalised_uses_pair_max():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 1, 32, 32, generator=g, dtype=torch.float64)
    y = torch.rand(2, 1, 32, 32, generator=g, dtype=torch.float64)
    names = ["psnr", "ssim", "gmsd", "ncc", "nae"]
    v1, _ = M.compute(x * 7.0, y * 7.0, names, mode="map", data_range=None)
    dr = torch.maximum(x.flatten(1).amax(1), y.flatten(1).amax(1)).reshape(-1, 1, 1, 1)
    v2, _ = M.compute(x / dr, y / dr, names, mode="map", data_range=1.0)
    for n in names:
        torch.testing.assert_close(v1[n], v2[n], atol=1e-9, rtol=0)
    with pytest.raises(ValueError, match="non-negative"):
        M.compute(-x, y, ["psnr"], mode="map")


def test_prepare_maps():
    x = torch.zeros(2, 1, 7, 7)
    x[0, 0, 3, 3] = 5.0
    x[1] = 2.0  # constant map
    a, b = M.prepare_maps(x, x.clone(), size=224)
    assert a.shape == (2, 1, 224, 224)
    assert a[0].max().item() == pytest.approx(1.0) and a[0].min().item() == 0.0
    assert (a[1] == 0).all()  # constant → zeros (like pytorch-grad-cam's scale_cam_image)
    keep, _ = M.prepare_maps(x, x, size=None, normalize="none")
    assert torch.equal(keep, x)
    # bilinear upsampling as torch's interpolate with align_corners=False
    up, _ = M.prepare_maps(x, x, size=(14, 21), normalize="none")
    torch.testing.assert_close(up, torch.nn.functional.interpolate(x, size=(14, 21), mode="bilinear", align_corners=False))


def test_measure_table_long_format():
    g = torch.Generator().manual_seed(4)
    x = torch.rand(3, 1, 32, 32, generator=g)
    y = x.clone()
    y[0] = torch.rand(1, 32, 32, generator=g)
    df = M.measure_table(["a", "b", "c"], x, y, ["psnr", "ncc"], mode="map", extra_cols={"backbone": "resnet50", "k": [1, 2, 3]})
    assert list(df.columns) == ["image_id", "measure", "value", "status", "backbone", "k"]
    assert len(df) == 6 and str(df["value"].dtype) == "float64"
    assert df["image_id"].tolist() == ["a", "a", "b", "b", "c", "c"] and df["k"].tolist() == [1, 1, 2, 2, 3, 3]
    row = df[(df.image_id == "b") & (df.measure == "psnr")].iloc[0]
    assert row.value == pytest.approx(M.psnr_ceiling(32 * 32), abs=1e-4) and row.status == "identical"  # float32


def test_registry():
    assert list(M.MEASURES) == ["psnr", "ssim", "ssim_l", "ssim_c", "ssim_s", "ssim_nodownsample", "ms_ssim",
                                "ms_ssim_wtd", "gmsd", "ncc", "pcc", "fsim", "nae", "vsi"]
    assert not M.MEASURES["gmsd"].higher_is_better and not M.MEASURES["nae"].higher_is_better
    assert M.MEASURES["ms_ssim"].min_size == 161 == M.ms_ssim_min_size()  # the torch-free registry, veiqa.specs


def test_registry_and_collect_import_without_torch():
    import subprocess
    import sys

    code = ("import sys; import veiqa.specs, veiqa.pairs, veiqa.controls; "
            "sys.exit(3 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0, "collect's imports load torch"


# ---------------------------------------------------------------- differentiability and SSIMLoss
def test_ssim_and_ms_ssim_are_differentiable():
    g = torch.Generator().manual_seed(5)
    x = torch.rand(2, 1, 176, 176, generator=g, requires_grad=True)
    y = torch.rand(2, 1, 176, 176, generator=g)
    (M.ssim(x, y).sum() + M.ms_ssim(x, y).sum()).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_ssim_loss_trains():
    g = torch.Generator().manual_seed(6)
    from scipy.ndimage import gaussian_filter

    clean = torch.from_numpy(gaussian_filter(np.random.default_rng(6).random((64, 64)), 2)).float()
    clean = ((clean - clean.min()) / (clean.max() - clean.min())).reshape(1, 1, 64, 64)
    noisy = (clean + 0.3 * torch.randn(clean.shape, generator=g)).clamp(0, 1)
    img = noisy.clone().requires_grad_(True)
    opt = torch.optim.Adam([img], lr=0.01)
    loss_fn = M.SSIMLoss(data_range=1.0)
    start = M.ssim(noisy, clean).item()
    for _ in range(60):
        opt.zero_grad()
        loss = loss_fn(img, clean)
        loss.backward()
        opt.step()
    end = M.ssim(img.detach(), clean).item()
    assert end > start + 0.3, (start, end)


# ---------------------------------------------------------------- MATLAB conventions: rgb2gray, ssim without downsampling
def test_rgb2gray_by_hand():
    # MATLAB/Octave rgb2gray(uint8([200 30 77])) = round(0.298936·200 + 0.587043·30 + 0.114021·77) = round(86.18) = 86
    px = torch.tensor([200.0, 30.0, 77.0, 10.0, 10.0, 10.0], dtype=torch.float64).reshape(1, 2, 3).permute(2, 0, 1)
    g = _common.rgb2gray(px.unsqueeze(0), 255.0)
    assert g.flatten().tolist() == [86.0, 10.0]  # grey (R = G = B) stays itself: the weights sum to 1
    # in [0, 1] (data_range 1) the same grey levels, /255
    assert _common.rgb2gray(px.unsqueeze(0) / 255, 1.0).flatten().tolist() == pytest.approx([86 / 255, 10 / 255], abs=1e-15)


def test_ssim_nodownsample_matches_skimage_matlab_convention(pair):
    """MATLAB's ssim convention as scikit-image states it (Gaussian σ = 1.5, population covariance, L = 255), on the
    rounded rgb2gray grey image, no downsampling."""
    from skimage.metrics import structural_similarity

    ref, dist = pair
    gr = _common.rgb2gray(_t(ref), 255.0)
    gd = _common.rgb2gray(_t(dist), 255.0)
    expected = structural_similarity(gr[0, 0].numpy(), gd[0, 0].numpy(), gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, data_range=255)
    vals, _ = M.compute(_t(ref), _t(dist), ["ssim_nodownsample", "ssim"], mode="image")
    assert vals["ssim_nodownsample"].item() == pytest.approx(expected, abs=1e-9)
    assert vals["ssim"].item() != pytest.approx(expected, abs=1e-3)  # 384×512: ssim.m downsamples by 2


def test_ssim_family_equals_the_separate_functions():
    g = torch.Generator().manual_seed(7)
    for shape in [(2, 1, 200, 170), (1, 1, 700, 661)]:  # f = 1 and f = 3 (separate downsampled pass)
        x = torch.rand(*shape, generator=g, dtype=torch.float64)
        y = (x + 0.2 * torch.rand(*shape, generator=g, dtype=torch.float64)).clamp(0, 1)
        fam = M.ssim_family(x, y, 1.0)
        r = M.ssim(x, y, 1.0, return_terms=True)
        assert torch.allclose(fam["ssim"], r.ssim, atol=1e-12) and torch.allclose(fam["ssim_s"], r.structure, atol=1e-12)
        assert torch.allclose(fam["ssim_nodownsample"], M.ssim(x, y, 1.0, downsample=False), atol=1e-12)
        assert torch.allclose(fam["ms_ssim"], M.ms_ssim(x, y, 1.0), atol=1e-12)


@pytest.mark.parametrize("piece_bytes", [1, 3_100_000])  # stripes of 44 rows of one image; two images a piece
def test_ssim_family_in_pieces_equals_whole_maps_and_stays_differentiable(monkeypatch, piece_bytes):
    from veiqa.measures import _ssim

    monkeypatch.setattr(_ssim, "PIECE_BYTES", piece_bytes)
    g = torch.Generator().manual_seed(13)
    x = torch.rand(3, 1, 190, 200, generator=g, dtype=torch.float64)
    y = (x + 0.2 * torch.rand(x.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    pieces = list(_ssim._pieces(3, 180, 5 * 200 * 8))
    assert len(pieces) == (15 if piece_bytes == 1 else 2)  # 5 stripes of 44 rows per image; [0:2], [2:3]
    fam = M.ssim_family(x, y, torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64))
    s, l, c, st = M.ssim_maps(x, y, 1.0, downsample=False, terms=True)
    for name, whole in (("ssim_nodownsample", s), ("ssim_l", l), ("ssim_c", c), ("ssim_s", st)):
        assert torch.allclose(fam[name], whole.mean(dim=(1, 2, 3)), rtol=0, atol=1e-14), name
    # gradients through the pieces: the same as through whole maps (whose gradient gradcheck verifies above)
    grads = []
    for pb in (piece_bytes, 1 << 40):
        monkeypatch.setattr(_ssim, "PIECE_BYTES", pb)
        a = x.clone().requires_grad_(True)
        out = M.ssim_family(a, y, 1.0, ("ssim_s", "ms_ssim"))
        (out["ssim_s"].sum() + out["ms_ssim"].sum()).backward()
        grads.append(a.grad)
    assert torch.allclose(grads[0], grads[1], rtol=0, atol=1e-15) and grads[1].abs().max() > 0


# ---------------------------------------------------------------- SSIMLoss per channel
def test_ssim_loss_per_channel_gradcheck():
    g = torch.Generator().manual_seed(8)
    x = torch.rand(1, 3, 12, 13, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.rand(1, 3, 12, 13, generator=g, dtype=torch.float64)
    loss = M.SSIMLoss(data_range=1.0, downsample=False, colour="per_channel")
    assert torch.autograd.gradcheck(lambda a: loss(a, y), (x,), eps=1e-6, atol=1e-6)
    # per channel = mean of the single-channel SSIMs
    per = [M.ssim(x[:, c : c + 1], y[:, c : c + 1], 1.0, downsample=False).item() for c in range(3)]
    assert loss(x, y).item() == pytest.approx(1 - sum(per) / 3, abs=1e-12)


def test_luminance_preserving_colour_change_gets_a_gradient_only_per_channel():
    g = torch.Generator().manual_seed(9)
    base = 0.3 + 0.4 * torch.rand(1, 3, 24, 24, generator=g, dtype=torch.float64)
    # ΔY = 0.299·ΔR + 0.587·ΔG + 0.114·ΔB = 0 for (ΔR, ΔG, ΔB) = (0.114, 0, −0.299)·t
    t = 0.2 * torch.rand(1, 1, 24, 24, generator=g, dtype=torch.float64)
    shifted = base + torch.cat([0.114 * t, 0 * t, -0.299 * t], dim=1)
    img = shifted.clone().requires_grad_(True)
    lum = M.SSIMLoss(1.0, downsample=False)(img, base)
    lum.backward()
    assert lum.item() == pytest.approx(0.0, abs=1e-12) and img.grad.abs().max().item() < 1e-9
    img.grad = None
    pc = M.SSIMLoss(1.0, downsample=False, colour="per_channel")(img, base)
    pc.backward()
    assert pc.item() > 1e-3 and img.grad.abs().max().item() > 1e-6
    with pytest.raises(ValueError, match="colour"):
        M.SSIMLoss(colour="rgb")


# ---------------------------------------------------------------- speed paths give the same numbers
def test_separable_filter_matches_scipy_valid_correlation():
    from scipy.ndimage import correlate

    g = torch.Generator().manual_seed(10)
    x = torch.rand(1, 1, 150, 401, generator=g, dtype=torch.float64)  # not square: each axis filtered once
    k = _common.gaussian_1d(11, 1.5)
    got = _common.separable_filter_valid(x, k)[0, 0].numpy()
    full = correlate(x[0, 0].numpy(), np.outer(k.numpy(), k.numpy()), mode="constant")
    assert got.shape == (140, 391)
    assert np.abs(got - full[5:-5, 5:-5]).max() < 1e-13


def test_prewitt_gradient_magnitude_matches_scipy_correlation():
    # GMSD.m: conv2(Y, dx, 'same') with dx = [1 0 -1; 1 0 -1; 1 0 -1]/3 (as correlation with the kernel flipped
    # by conv2; the magnitude is the same) and dy = dx'; zero padding
    from scipy.ndimage import correlate

    from veiqa.measures import _gradient

    a = np.random.default_rng(14).random((37, 50)) * 255
    dx = np.array([[1.0, 0.0, -1.0]] * 3) / 3
    ref = np.hypot(correlate(a, dx, mode="constant"), correlate(a, dx.T, mode="constant"))
    got = _gradient.gradient_magnitude(torch.from_numpy(a)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-11)


def test_compute_in_blocks_equals_one_pair_at_a_time():
    g = torch.Generator().manual_seed(11)
    x = torch.rand(5, 3, 400, 420, generator=g, dtype=torch.float64) * 255  # 504,000 samples/pair: blocks of 4
    y = (x + 20 * torch.rand(x.shape, generator=g, dtype=torch.float64)).clamp(0, 255)
    names = ["psnr", "ssim", "ssim_nodownsample", "ms_ssim", "gmsd", "ncc", "pcc", "nae"]
    assert 5 > 2**21 // (3 * 400 * 420) > 1
    batch, _ = M.compute(x, y, names, mode="image", data_range=torch.full((5,), 255.0, dtype=torch.float64))
    for i in range(5):
        one, _ = M.compute(x[i : i + 1], y[i : i + 1], names, mode="image")
        for n in names:
            assert batch[n][i].item() == pytest.approx(one[n].item(), rel=1e-12), n


def test_ssim_terms_of_blocky_jpeg_pairs_keep_their_digits_from_float32_input():
    # A JPEG at quality 1 against a JPEG of it (the paper's PRI for JPEG): flat 8x8 blocks, local variances near
    # zero, where SSIM's c and s terms divide small differences. float32 moments gave them only ~3 digits (5e-4
    # relative on the demo's pairs); the grey-based measures are computed in float64 whatever the input dtype, so
    # float32 input (what measure_table passes in image mode) gives the float64 values.
    import io

    from PIL import Image

    rng = np.random.default_rng(12)
    smooth = (rng.random((40, 40, 3)) * 255).astype(np.uint8)
    img = np.asarray(Image.fromarray(smooth).resize((320, 320), Image.BICUBIC))

    def jpeg(a, q):
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, format="JPEG", quality=q)
        return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))

    dist = jpeg(img, 10)
    pri = jpeg(dist, 1)
    x = torch.from_numpy(dist.copy()).permute(2, 0, 1)[None]
    y = torch.from_numpy(pri.copy()).permute(2, 0, 1)[None]
    names = ["ssim", "ssim_c", "ssim_s", "ssim_nodownsample", "ms_ssim", "gmsd"]
    v64, _ = M.compute(x.double(), y.double(), names, mode="image")
    v32, _ = M.compute(x.float(), y.float(), names, mode="image")
    for n in names:
        assert v32[n].item() == pytest.approx(v64[n].item(), rel=1e-12), n
    # and the values are skimage's (float64) on MATLAB's rounded grey
    from skimage.metrics import structural_similarity

    lum = lambda t: M._common.rgb2gray(t.double())[0, 0].numpy()  # noqa: E731
    sk = structural_similarity(lum(x), lum(y), data_range=255, gaussian_weights=True, sigma=1.5,
                               use_sample_covariance=False)
    assert v32["ssim_nodownsample"].item() == pytest.approx(sk, rel=1e-9)
