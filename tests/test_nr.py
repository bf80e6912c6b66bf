"""NIQE, BRISQUE, PIQE (veiqa.nr) against values worked by hand, SciPy, the authors' MATLAB code run in GNU Octave
(tests/fixtures/nr_reference.json, provenance inside), libsvm and an independent PIQE implementation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage, optimize, special

from veiqa import nr
from veiqa.io import VeiqaError, read_image
from veiqa.nr import brisque as B
from veiqa.nr import features as F
from veiqa.nr import niqe as N
from veiqa.nr import piqe as P

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "nr_reference.json").read_text())
SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "tid2013_samples"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared TID2013 samples not present")


def _sample(name):
    return read_image(SAMPLES / name)


# --- building blocks -------------------------------------------------------------------------------------------


def test_matlab_gray_by_hand():
    img = np.array([[[10, 200, 30], [255, 255, 255]], [[0, 0, 0], [1, 2, 2]]], dtype=np.uint8)
    # 0.298936021293775·R + 0.587043074451121·G + 0.114020904255103·B, rounded (MATLAB rgb2gray on uint8)
    # (10, 200, 30) -> 2.98936 + 117.40861 + 3.42063 = 123.8186 -> 124; (1, 2, 2) -> 1.70106 -> 2
    np.testing.assert_array_equal(F.matlab_gray(img), [[124, 255], [0, 2]])
    np.testing.assert_allclose(F.RGB2GRAY, [0.298936021293775, 0.587043074451121, 0.114020904255103], atol=1e-15)


def test_mscn_matches_scipy_gaussian_filter():
    rng = np.random.default_rng(0)
    x = rng.random((20, 17)) * 255
    w = F.gaussian_window()
    assert w.shape == (7, 7) and abs(w.sum() - 1) < 1e-15 and w[3, 3] == w.max()
    # separable scipy Gaussian with radius 3 (truncate·σ = 3) and replicate ('nearest') boundary
    mu = ndimage.gaussian_filter(x, 7 / 6, mode="nearest", truncate=3 / (7 / 6))
    var = ndimage.gaussian_filter(x * x, 7 / 6, mode="nearest", truncate=3 / (7 / 6)) - mu * mu
    expected = (x - mu) / (np.sqrt(np.abs(var)) + 1)
    got, sigma = F.mscn(x, boundary="replicate")
    np.testing.assert_allclose(got, expected, atol=1e-10)
    np.testing.assert_allclose(sigma, np.sqrt(np.abs(var)), atol=1e-9)
    # 'zero' is filter2(..., 'same'): the image surrounded by zeros
    mu0 = ndimage.gaussian_filter(x, 7 / 6, mode="constant", cval=0.0, truncate=3 / (7 / 6))
    got0, _ = F.mscn(x, boundary="zero")
    var0 = ndimage.gaussian_filter(x * x, 7 / 6, mode="constant", truncate=3 / (7 / 6)) - mu0 ** 2
    np.testing.assert_allclose(got0, (x - mu0) / (np.sqrt(np.abs(var0)) + 1), atol=1e-10)
    # the separable default equals the 7×7 fspecial window applied directly
    direct, _ = F.mscn(x, boundary="replicate", window=w)
    np.testing.assert_allclose(got, direct, atol=1e-12)
    np.testing.assert_allclose(np.outer(F.gaussian_1d(), F.gaussian_1d()), w, atol=1e-16)


def test_aggd_fit_by_hand_and_against_root_finding():
    v = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0])
    alpha, lstd, rstd = F.aggd_fit(v)
    assert lstd == pytest.approx(np.sqrt(5 / 2))            # zero is on neither side
    assert rstd == pytest.approx(np.sqrt(14 / 3))
    g = lstd / rstd
    rhat = (9 / 6) ** 2 / (19 / 6)
    target = rhat * (g ** 3 + 1) * (g + 1) / (g ** 2 + 1) ** 2
    root = optimize.brentq(lambda a: special.gamma(2 / a) ** 2 / (special.gamma(1 / a) * special.gamma(3 / a))
                           - target, 0.2, 10)
    assert abs(alpha - root) <= 0.0005 + 1e-12             # the 0.001 grid holds the root to half a step
    assert round(alpha * 1000) == alpha * 1000             # and alpha is a grid point, as in MATLAB


def test_nearest_alpha_equals_matlab_full_scan():
    rng = np.random.default_rng(4)
    for r_grid, squared in ((F._R_AGGD, True), (F._R_GGD, False)):
        # targets inside, outside and exactly on (and halfway between) the grid's ratios
        t = np.concatenate([rng.uniform(r_grid.min() * 0.5, r_grid.max() * 1.5, 3000), r_grid[::97],
                            (r_grid[:-1:89] + r_grid[1::89]) / 2])
        d = r_grid[None, :] - t[:, None]
        scan = F.ALPHA_GRID[np.argmin(d * d if squared else np.abs(d), axis=1)]   # min() over the whole grid
        np.testing.assert_array_equal(F._nearest_alpha(r_grid, t), scan)


def test_ggd_and_aggd_recover_known_shapes():
    rng = np.random.default_rng(1)
    a, s = F.ggd_fit(rng.standard_normal(400_000))
    assert a == pytest.approx(2.0, abs=0.03) and s == pytest.approx(1.0, abs=0.01)
    a, s = F.ggd_fit(rng.laplace(size=400_000))
    assert a == pytest.approx(1.0, abs=0.03)
    alpha, lstd, rstd = F.aggd_fit(rng.standard_normal((3, 200_000)), axis=1)   # vectorised over rows
    np.testing.assert_allclose(alpha, 2.0, atol=0.05)
    np.testing.assert_allclose(lstd, 1.0, atol=0.01)


def test_imresize_half_matches_octave():
    ref = FIXTURE["imresize_half"]
    got = F.imresize_half(np.array(ref["input"]))
    np.testing.assert_allclose(got, np.array(ref["octave"]), atol=1e-9)


def test_imresize_half_of_constant_and_shape():
    out = F.imresize_half(np.full((9, 14), 7.5))
    assert out.shape == (5, 7)
    np.testing.assert_allclose(out, 7.5, atol=1e-12)


# --- the methods against the MATLAB releases run in Octave ------------------------------------------------------


@needs_samples
@pytest.mark.parametrize("name", sorted(FIXTURE["niqe"]))
def test_niqe_matches_matlab_release(name):
    assert nr.score(_sample(name), "niqe") == pytest.approx(FIXTURE["niqe"][name], rel=1e-6)


@needs_samples
@pytest.mark.parametrize("name", sorted(FIXTURE["brisque"]))
def test_brisque_matches_matlab_release(name):
    # features: brisque_feature.m in Octave; score: the release's brisquescore.m in Octave, which runs libsvm's
    # svm-scale -r allrange and svm-predict -b 1 ... allmodel (Debian libsvm-tools) on the release's own files
    img = _sample(name)
    np.testing.assert_allclose(B.features(img), FIXTURE["brisque_features"][name], rtol=1e-7, atol=1e-9)
    assert nr.score(img, "brisque") == pytest.approx(FIXTURE["brisque"][name], abs=1e-6)


@needs_samples
def test_flat_patch_matches_release():
    # a quarter of the image in constant windows, four whole flat NIQE blocks: the MSCN there is round-off, and the
    # release's NaN handling decides NIQE (MATLAB's min over NaNs gives alpha = 0.2; nanmean is per column)
    grey = F.matlab_gray(_sample("I04.BMP")).astype(np.uint8)
    grey[:200, :260] = 128
    assert nr.score(grey, "niqe") == pytest.approx(FIXTURE["niqe_flat_patch"], rel=1e-6)
    assert nr.score(grey, "brisque") == pytest.approx(FIXTURE["brisque_flat_patch"], abs=1e-6)


def test_one_sided_and_zero_samples_fit_as_matlab():
    # estimateaggdparam.m on a vector with no negative value: leftstd = sqrt(mean([])) = NaN, rhatnorm NaN,
    # min((r_gam - NaN).^2) returns index 1 -> alpha = gam(1) = 0.2
    alpha, lstd, rstd = F.aggd_fit(np.array([0.5, 1.0, 0.0, 2.0]))
    assert alpha == 0.2 and np.isnan(lstd) and rstd == pytest.approx(np.sqrt((0.25 + 1 + 4) / 3))
    alpha, lstd, rstd = F.aggd_fit(np.zeros((2, 5)), axis=1)
    np.testing.assert_array_equal(alpha, [0.2, 0.2])
    assert np.isnan(lstd).all() and np.isnan(rstd).all()
    assert F.ggd_fit(np.zeros(9)) == (0.2, 0.0)               # estimateggdparam.m: rho = 0/0, min -> gam(1)


def test_niqe_model_file_is_the_fixture_one():
    from veiqa.io import sha256_file
    from veiqa.nr.models import data_file

    # the vendored NIQE model is the release's file (sha256 also in nr/data/NIQE_NOTICE.txt)
    assert sha256_file(data_file("niqe_modelparameters.mat")) == FIXTURE["provenance"]["niqe_model_sha256"]


@needs_samples
@pytest.mark.parametrize("name", sorted(FIXTURE["piqe"]))
def test_piqe_matches_independent_implementation(name):
    assert nr.score(_sample(name), "piqe") == pytest.approx(FIXTURE["piqe"][name], rel=1e-9)


def test_piqe_uniform_image_scores_100_and_surround_columns():
    assert nr.score(np.full((40, 37), 128, np.uint8), "piqe") == 100.0
    # MATLAB deletes column 8, then column 9 of the 15 left: original 1-based columns 8 and 10
    assert list(P.SURROUND_COLUMNS + 1) == [1, 2, 3, 4, 5, 6, 7, 9, 11, 12, 13, 14, 15, 16]


def test_piqe_pads_by_replication():
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (37, 45), dtype=np.uint8)
    padded = np.pad(img, ((0, 11), (0, 3)), mode="edge")
    assert nr.score(img, "piqe") == nr.score(padded, "piqe")


@needs_samples
def test_distortion_raises_every_score():
    ref, noisy = _sample("I01.BMP"), _sample("i01_01_5.bmp")     # i01_01_5: strongest additive Gaussian noise
    for m in nr.METHODS:
        assert nr.score(noisy, m) > nr.score(ref, m), m          # LOWER_IS_BETTER


# --- API and errors ---------------------------------------------------------------------------------------------


@needs_samples
def test_score_many_order_grey_equals_rgb():
    img = _sample("I03.BMP")
    many = nr.score_many(img, ["piqe", "niqe"])
    assert list(many) == ["piqe", "niqe"]
    grey = F.matlab_gray(img).astype(np.uint8)
    assert nr.score_many(grey, ["piqe", "niqe"]) == many
    assert nr.METHODS == ("niqe", "brisque", "piqe") and nr.LOWER_IS_BETTER is True
    # one home for the names: Table 6's labels are nr.LABELS (the schema's enum is checked in test_controls)
    from veiqa import table6

    assert list(nr.LABELS) == list(nr.METHODS) and table6.NR_LABELS is nr.LABELS


def test_errors_are_veiqa_errors():
    with pytest.raises(nr.UnknownMethodError, match="unknown NR-IQA method 'ssim'"):
        nr.score(np.zeros((200, 200), np.uint8), "ssim")
    with pytest.raises(nr.ImageTooSmallError, match="96×96"):
        nr.score(np.zeros((150, 150, 3), np.uint8), "niqe")
    with pytest.raises(nr.ImageTooSmallError, match="14×14"):
        nr.score(np.zeros((10, 30), np.uint8), "brisque")
    with pytest.raises(nr.NRError, match="shape"):
        nr.score(np.zeros((5, 5, 2), np.uint8), "piqe")
    with pytest.raises(nr.NRError, match="uint8"):
        nr.score(np.zeros((200, 200)), "brisque")
    assert issubclass(nr.ModelFileError, VeiqaError)


def test_missing_model_file_is_named():
    from veiqa.nr.models import ModelFileError, data_file

    with pytest.raises(ModelFileError, match="absent.mat: model file missing"):
        data_file("absent.mat")


def test_niqe_block_features_shape_and_flat_image():
    rng = np.random.default_rng(2)
    feats = N.features(rng.integers(0, 256, (200, 300), dtype=np.uint8))
    assert feats.shape == (2 * 3, 36)                            # 2×3 whole 96×96 blocks, two scales side by side
    with pytest.raises(nr.NRError, match="flat"):
        nr.score(np.full((200, 200), 77, np.uint8), "niqe")


# --- CLI --------------------------------------------------------------------------------------------------------


@needs_samples
def test_cli_json_bad_file_and_progress(tmp_path, capsys):
    from veiqa.cli import main

    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    good = str(SAMPLES / "I03.BMP")
    rc = main(["nr", good, str(bad), "--method", "niqe", "--method", "piqe", "--format", "json"])
    out, err = capsys.readouterr()
    assert rc == 1
    doc = json.loads(out)
    assert [r["image"] for r in doc["results"]] == [good]
    assert doc["results"][0]["scores"]["niqe"] == pytest.approx(FIXTURE["niqe"]["I03.BMP"], rel=1e-6)
    assert set(doc["results"][0]["scores"]) == {"niqe", "piqe"}
    assert "broken.png" in err and "[2/2]" in err


def test_cli_table_reports_too_small(tmp_path, capsys):
    from PIL import Image

    from veiqa.cli import main

    small = tmp_path / "small.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 60), dtype=np.uint8)).save(small)
    rc = main(["nr", str(small), "--method", "niqe", "--method", "piqe"])
    out, err = capsys.readouterr()
    assert rc == 1
    lines = out.strip().splitlines()
    assert lines[0] == "image\tniqe\tpiqe"
    cells = lines[1].split("\t")
    assert cells[1] == "nan" and float(cells[2]) > 0
    assert "niqe" in err and "96×96" in err
