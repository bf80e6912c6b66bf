"""veiqa's image-mode measures against the authors' MATLAB code, run under GNU Octave at development time.

tests/fixtures/matlab_reference.json holds the values of ssim.m (Wang's automatic downsampling + ssim_index.m),
ssim_index.m (no downsampling), msssim.m (its default method 'product' as ms_ssim, 'wtd_sum' as ms_ssim_wtd),
GMSD.m, FeatureSIM.m (FSIM and FSIMc) and VSI.m on the pairs of tests/matlab_pairs.py, with the files' repositories, commits and the Octave version (its "provenance").

Tolerances (relative): the issue's targets are 0.5% for every measure and 1% for VSI.  Observed: PSNR, NCC (NK)
and NAE agree to float rounding, held to 1e-7.  SSIM, SSIM without downsampling, MS-SSIM and GMSD agree to float
rounding on the same grey image; veiqa's rgb2gray has MATLAB's full-precision weights, Octave's the 6-digit
0.298936/0.587043/0.114021, which rounds 4 of the 196,608 grey levels of i03_tint the other way (GMSD
1.7e-5 relative), so they are held to 1e-4; FSIMc/FSIM to ≤ 0.06% (piq's
phasecong2 conventions, see veiqa.measures._fsim), held to 0.1%; VSI to ≤ 0.015% (piq's resize, pooling and
white point, see veiqa.measures._vsi), held to 0.05%.  float32 inputs are held to the issue's targets.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import veiqa.measures as M
from matlab_pairs import PAIRS, build

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "matlab_reference.json"
TOL64 = {"ssim": 1e-4, "ssim_nodownsample": 1e-4, "ms_ssim": 1e-4, "ms_ssim_wtd": 1e-4, "gmsd": 1e-4, "psnr": 1e-7, "ncc": 1e-7,
         "nae": 1e-7, "fsim": 1e-3, "fsim_grey": 1e-3, "vsi": 5e-4}
TARGET = {k: 5e-3 for k in TOL64} | {"vsi": 1e-2}


@pytest.fixture(scope="module")
def reference():
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def pairs(shared_datasets):
    return build(shared_datasets / "tid2013_samples")


def _batch(pairs, dtype):
    t = lambda a: torch.from_numpy(np.stack(a).astype(np.float64)).permute(0, 3, 1, 2).to(dtype)  # noqa: E731
    return t([pairs[k][0] for k in PAIRS]), t([pairs[k][1] for k in PAIRS])


def _values(x, y):
    names = ["ssim", "ssim_nodownsample", "ms_ssim", "ms_ssim_wtd", "gmsd", "fsim", "vsi", "psnr", "ncc", "nae"]
    v, _ = M.compute(x, y, names, mode="image")
    v["fsim_grey"] = M.compute(x, y, ["fsim"], mode="image", fsim_chromatic=False)[0]["fsim"]
    return v


def test_fixture_provenance(reference):
    prov = reference["provenance"]
    assert set(prov["files"]) == {"ssim_index.m", "msssim.m", "ssim_index_new.m", "FeatureSIM.m", "VSI.m", "GMSD.m"}
    assert all(len(f["commit"]) == 40 for f in prov["files"].values())
    assert "Octave" in prov["octave"] and list(reference["values"]) == list(PAIRS)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, TOL64), (torch.float32, TARGET)], ids=["float64", "float32"])
def test_image_mode_matches_matlab_reference(reference, pairs, dtype, tol):
    x, y = _batch(pairs, dtype)
    got = _values(x, y)
    for name, rtol in tol.items():
        for i, pair in enumerate(PAIRS):
            exp = reference["values"][pair][name]
            assert float(got[name][i]) == pytest.approx(exp, rel=rtol), (name, pair)


def test_luma_grey_departs_from_gmsd_m_on_nearly_identical_pairs(reference, pairs):
    """Why image mode uses rgb2gray: unrounded luminance halves GMSD of the one-level (LSB) pair and more."""
    x, y = _batch(pairs, torch.float64)
    i = PAIRS.index("i04_lsb")
    exp = reference["values"]["i04_lsb"]["gmsd"]
    luma = M.compute(x[i : i + 1], y[i : i + 1], ["gmsd"], mode="image", grey="luma")[0]["gmsd"].item()
    assert abs(luma - exp) / exp > 0.5
