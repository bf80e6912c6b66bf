"""FSIM/FSIMc and VSI (veiqa.measures._fsim, _vsi: batched torch) against piq 0.8.0's ``fsim``/``vsi``.

The torch implementations follow FeatureSIM.m / VSI.m with piq's conventions, so they must reproduce piq to
float rounding.  Tolerances: float32 inputs compared with piq on the same float32 inputs at abs 1e-5 (observed
differences ≤ 2e-6: the same mathematics evaluated in a different order, e.g. cached float64-built filters);
float64 inputs against piq in float64 at abs 1e-9.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import veiqa.measures as M
from veiqa.measures import _fsim, _vsi
from veiqa.measures._common import luminance

piq = pytest.importorskip("piq")

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tid2013_samples"
REF, DIST = DATA / "I01.BMP", DATA / "i01_01_5.bmp"


def _piq_vsi(x, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # piq warns when it replicates a grey channel
        return piq.vsi(x, y, reduction="none", **kw)


def _piq_fsim(x, y, **kw):
    return piq.fsim(x, y, reduction="none", chromatic=x.shape[1] == 3, **kw)


@pytest.fixture(scope="module")
def pair():
    if not (REF.is_file() and DIST.is_file()):
        pytest.skip(f"TID2013 samples not found under {DATA}")
    from veiqa.io import read_image

    def load(p):
        return torch.from_numpy(read_image(p).astype(np.float32)).permute(2, 0, 1).unsqueeze(0)

    return load(REF), load(DIST)  # 1×3×384×512 in [0, 255]


def smooth_maps(n: int, size: int = 224, seed: int = 0):
    """Grad-CAM-like maps: 7×7 non-negative noise, bilinearly upsampled, min-max normalised to [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(n, 1, 7, 7, generator=g)
    b = (a + 0.4 * torch.rand(n, 1, 7, 7, generator=g)).clamp_min(0)
    return M.prepare_maps(a, b, size=size)


# ---------------------------------------------------------------- real image pair (TID2013 I01, AWGN level 5)
def test_fsim_matches_piq_on_real_pair(pair):
    r, d = pair
    # 384×512: automatic downsampling by round(384/256) = 2; RGB → FSIMc (YIQ)
    assert M.fsim(r, d, 255.0).item() == pytest.approx(_piq_fsim(r / 255, d / 255).item(), abs=1e-5)
    lr, ld = luminance(r), luminance(d)
    grey = _piq_fsim(lr / 255, ld / 255).item()
    assert M.fsim(r, d, 255.0, chromatic=False).item() == pytest.approx(grey, abs=1e-5)
    assert M.fsim(lr, ld, 255.0).item() == pytest.approx(grey, abs=1e-5)
    assert 0.5 < grey < 1.0


def test_vsi_matches_piq_on_real_pair(pair):
    r, d = pair
    assert M.vsi(r, d, 255.0).item() == pytest.approx(_piq_vsi(r / 255, d / 255).item(), abs=1e-5)
    lr, ld = luminance(r), luminance(d)
    assert M.vsi(lr, ld, 255.0).item() == pytest.approx(_piq_vsi(lr / 255, ld / 255).item(), abs=1e-5)


def test_float64_matches_piq_float64(pair):
    r, d = pair
    r, d = r[..., 100:228, 200:328].double() / 255, d[..., 100:228, 200:328].double() / 255
    assert M.fsim(r, d).item() == pytest.approx(_piq_fsim(r, d).item(), abs=1e-9)
    assert M.vsi(r, d).item() == pytest.approx(_piq_vsi(r, d).item(), abs=1e-9)
    lr, ld = luminance(r), luminance(d)
    assert M.fsim(lr, ld).item() == pytest.approx(_piq_fsim(lr, ld).item(), abs=1e-9)


# ---------------------------------------------------------------- Grad-CAM-like maps (map mode)
def test_batch_of_smooth_maps_matches_piq():
    x, y = smooth_maps(6)
    got_f, got_v = M.fsim(x, y), M.vsi(x, y)
    exp_f, exp_v = _piq_fsim(x, y), _piq_vsi(x, y)
    torch.testing.assert_close(got_f, exp_f, atol=1e-5, rtol=0)
    torch.testing.assert_close(got_v, exp_v, atol=1e-5, rtol=0)
    assert got_f.shape == (6,) and got_v.shape == (6,)
    assert (got_f < 1).all() and (got_v < 1).all()  # the pairs differ
    # the batch is processed in chunks: any chunk size gives the same values
    torch.testing.assert_close(M.fsim(x, y, chunk=1), got_f, atol=1e-6, rtol=0)
    torch.testing.assert_close(M.vsi(x, y, chunk=4), got_v, atol=1e-6, rtol=0)


def test_odd_sizes_and_downsampling_match_piq():
    # odd sides use piq's (k − (n−1)/2)/(n−1) frequency grid; 517 → FSIM/VSI downsample by round(517/256) = 2
    g = torch.Generator().manual_seed(5)
    x = F.interpolate(torch.rand(1, 3, 9, 11, generator=g), size=(517, 541), mode="bilinear", align_corners=False)
    y = (x + 0.05 * torch.rand(x.shape, generator=g)).clamp(0, 1)
    assert M.fsim(x, y).item() == pytest.approx(_piq_fsim(x, y).item(), abs=1e-5)
    assert M.vsi(x, y).item() == pytest.approx(_piq_vsi(x, y).item(), abs=1e-5)
    xs, ys = x[..., :101, :77].mean(1, keepdim=True), y[..., :101, :77].mean(1, keepdim=True)
    assert M.fsim(xs, ys).item() == pytest.approx(_piq_fsim(xs, ys).item(), abs=1e-5)
    assert M.vsi(xs, ys).item() == pytest.approx(_piq_vsi(xs, ys).item(), abs=1e-5)


def test_identical_inputs_give_one():
    x, _ = smooth_maps(3, size=96, seed=1)
    torch.testing.assert_close(M.fsim(x, x), torch.ones(3), atol=1e-6, rtol=0)
    torch.testing.assert_close(M.vsi(x, x), torch.ones(3), atol=1e-6, rtol=0)


def test_zero_and_constant_maps_as_piq():
    """piq's epsilon guards make all-zero and constant maps finite (PC = 1 on flat regions; SDSP of a flat
    map is 0): the torch versions give the same values, never NaN."""
    x, _ = smooth_maps(1, size=64, seed=2)
    z, c = torch.zeros_like(x), torch.full_like(x, 0.4)
    a = torch.cat([z, z, c, c, x])
    b = torch.cat([z, x, c, x, z])
    f, v = M.fsim(a, b), M.vsi(a, b)
    assert torch.isfinite(f).all() and torch.isfinite(v).all()
    torch.testing.assert_close(f, _piq_fsim(a, b), atol=1e-5, rtol=0)
    torch.testing.assert_close(v, _piq_vsi(a, b), atol=1e-5, rtol=0)
    assert f[0].item() == 1.0 and f[2].item() == 1.0 and v[0].item() == 1.0


def test_data_range_scaling_and_per_pair_range():
    x, y = smooth_maps(2, size=64, seed=3)
    ref_f, ref_v = M.fsim(x, y), M.vsi(x, y)
    dr = torch.tensor([7.0, 0.5])
    s = dr.reshape(-1, 1, 1, 1)
    torch.testing.assert_close(M.fsim(x * s, y * s, dr), ref_f, atol=1e-5, rtol=0)
    torch.testing.assert_close(M.vsi(x * s, y * s, dr), ref_v, atol=1e-5, rtol=0)


def test_building_blocks():
    # lower median = torch.median (rank ⌊(M−1)/2⌋) for even and odd lengths
    v = torch.rand(5, 1001) ** 2
    torch.testing.assert_close(_fsim.lower_median(v), v.median(-1).values, atol=0, rtol=0)
    torch.testing.assert_close(_fsim.lower_median(v[:, :1000]), v[:, :1000].median(-1).values, atol=0, rtol=0)
    # separable Scharr magnitude = piq's conv2d with its Scharr kernels (zero padding)
    from piq.functional import gradient_map, scharr_filter

    x = torch.rand(2, 1, 31, 40, dtype=torch.float64) * 255
    k = scharr_filter(dtype=x.dtype)
    expected = gradient_map(x, torch.stack([k, k.transpose(-1, -2)]))
    torch.testing.assert_close(_fsim._scharr_magnitude(x), expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(_vsi._scharr_magnitude(x), expected, atol=1e-12, rtol=0)
    # filters are built once per (H, W, device, dtype)
    assert _fsim._filters(40, 50, torch.device("cpu"), torch.float32) is _fsim._filters(
        40, 50, torch.device("cpu"), torch.float32)
    # SDSP saliency map equals piq's
    import importlib

    piq_sdsp = importlib.import_module("piq.vsi").sdsp  # the module (piq.vsi the attribute is the function)
    img = torch.rand(2, 3, 48, 40, dtype=torch.float64) * 255
    torch.testing.assert_close(_vsi.sdsp(img), piq_sdsp(img, data_range=255), atol=1e-9, rtol=0)


def test_validation():
    x = torch.rand(1, 2, 16, 16)
    with pytest.raises(ValueError, match="channels"):
        M.fsim(x, x)
    with pytest.raises(ValueError, match="channels"):
        M.vsi(x, x)
    with pytest.raises(ValueError, match="RGB"):
        M.fsim(x[:, :1], x[:, :1], chromatic=True)
    assert M.fsim(x[:0, :1], x[:0, :1]).shape == (0,) and M.vsi(x[:0, :1], x[:0, :1]).shape == (0,)
    assert not math.isnan(M.fsim(x[:, :1], x[:, :1]).item())


def test_distinct_finds_repeated_images_exactly():
    from veiqa.measures._common import distinct

    g = torch.Generator().manual_seed(3)
    a, b = torch.rand(2, 1, 8, 8, generator=g)
    c = a.clone()
    c[0, 0, 0] += 1e-6  # same shape, nearly the same: distinct
    t = torch.stack([a, b, a, c, b])
    u, inv = distinct(t)
    assert inv.tolist() == [0, 1, 0, 2, 1]
    assert torch.equal(u[inv], t)
    u, inv = distinct(torch.stack([a, b, c]))
    assert inv is None and u.shape[0] == 3


@pytest.mark.parametrize("size", [(40, 52), (300, 451)])  # one FSIM/VSI scale; VSI's 2x pooling at min side 300
def test_shared_references_give_the_values_of_pairs_measured_one_at_a_time(size):
    # The FR ceiling measures 5 distorted images against one reference: FSIM's phase congruency and VSI's saliency of
    # a repeated image are computed once per block. Each pair measured alone (nothing to share) is the reference.
    g = torch.Generator().manual_seed(0)
    refs = (torch.rand(2, 3, *size, generator=g) * 255).round()
    y = refs[torch.tensor([0, 0, 0, 1, 1, 0])]
    x = (y + torch.randn(y.shape, generator=g) * 9).clamp(0, 255).round()
    x[2] = y[2]  # an identical pair: x and y share it too
    for fn in (M.fsim, M.vsi):
        batch = fn(x, y, data_range=255.0)
        alone = torch.cat([fn(x[i:i + 1], y[i:i + 1], data_range=255.0) for i in range(len(x))])
        assert torch.allclose(batch, alone, rtol=0, atol=1e-6), fn.__name__
        assert batch[2] == pytest.approx(1.0, abs=1e-6)
    assert M.fsim(x[:3], y[:3], 255.0).tolist() == pytest.approx(_piq_fsim(x[:3] / 255, y[:3] / 255).tolist(), abs=1e-5)


@pytest.mark.parametrize("hw", [(33, 47), (64, 64), (300, 451)])
def test_noise_constants_by_parseval_equal_the_spatial_filter_sums(hw):
    # phasecong2 sums the spatial filters An = real(ifft2(filter)): Σ An² and Σ_{i<j} An_i·An_j over the scales of an
    # orientation. _filters gets them in the frequency domain (Parseval); here they are summed in space as
    # FeatureSIM.m does.
    H, W = hw
    bank, a = _fsim._filters(H, W, torch.device("cpu"), torch.float64)
    spatial = torch.fft.ifft2(bank).real * math.sqrt(H * W)
    an2 = (spatial**2).sum(dim=(1, 2, 3))
    aiaj = sum((spatial[:, i] * spatial[:, j]).sum(dim=(1, 2)) for i in range(4) for j in range(i + 1, 4))
    em_n = (bank.real[:, 0] ** 2).sum(dim=(1, 2))
    c = (math.sqrt(math.pi / 2) + 2.0 * math.sqrt(2 - math.pi / 2)) / 1.7
    expect = c * torch.sqrt((2 * an2 + 4 * aiaj) / (2 * math.log(2) * em_n))
    assert torch.allclose(a, expect, rtol=1e-13, atol=0)
