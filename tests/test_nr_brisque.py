"""BRISQUE's release pipeline (brisquescore.m: features -> fprintf %f -> svm-scale -r allrange -> svm-predict -b 1
allmodel) in veiqa.nr.brisque, against libsvm's own binaries (Debian libsvm-tools, skipped where absent), libsvm's
Python bindings (libsvm-official, the test extras: runs everywhere), a scaling worked by hand from allrange, and the
provenance of the shipped release files."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from veiqa import nr
from veiqa.io import read_image, sha256_file
from veiqa.nr import brisque as B
from veiqa.nr.models import DATA, data_file

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "tid2013_samples"
NAMES = ("I01.BMP", "I03.BMP", "I04.BMP", "i01_01_5.bmp", "i03_01_1.bmp")
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared TID2013 samples not present")
BINARIES = shutil.which("svm-scale") and shutil.which("svm-predict")
needs_binaries = pytest.mark.skipif(not BINARIES, reason="libsvm's svm-scale/svm-predict binaries are not on PATH "
                                                         "(Debian/Ubuntu: apt-get install libsvm-tools)")


def _generated():
    """Images unlike the training set: white noise (features far outside allrange), a smooth ramp with mild noise,
    a blurred noise field, and a blocky (8×8-quantised) image."""
    rng = np.random.default_rng(11)
    noise = rng.integers(0, 256, (72, 96, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:90, 0:120]
    ramp = np.clip(xx * 2 + yy + rng.normal(0, 3, xx.shape), 0, 255).astype(np.uint8)
    from scipy import ndimage

    blur = np.clip(ndimage.gaussian_filter(rng.normal(128, 60, (80, 80)), 2) * 1.0, 0, 255).astype(np.uint8)
    blocky = np.kron(rng.integers(0, 256, (10, 12)), np.ones((8, 8))).astype(np.uint8)
    blocky = np.clip(blocky.astype(int) + rng.integers(-4, 5, blocky.shape), 0, 255).astype(np.uint8)
    return {"noise": noise, "ramp": ramp, "blur": blur, "blocky": blocky}


def _release_binaries(feat: np.ndarray) -> float:
    """brisquescore.m's own steps with libsvm's binaries on the release's files (the check script's function)."""
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "scripts" / "nr_brisque_check.py"
    spec = importlib.util.spec_from_file_location("nr_brisque_check", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.release_binaries(feat)


# --- libsvm's binaries (skipped without them) --------------------------------------------------------------------


@needs_binaries
@needs_samples
@pytest.mark.parametrize("name", NAMES)
def test_brisque_equals_release_through_libsvm_binaries(name):
    img = read_image(SAMPLES / name)
    assert nr.score(img, "brisque") == pytest.approx(_release_binaries(B.features(img)), abs=1e-6)


@needs_binaries
def test_brisque_on_generated_images_equals_libsvm_binaries():
    ranges, _ = B.model()
    outside = 0
    for name, img in _generated().items():
        feat = B.features(img)
        outside += int(np.any((feat < ranges.fmin) | (feat > ranges.fmax)))
        assert nr.score(img, "brisque") == pytest.approx(_release_binaries(feat), abs=1e-6), name
    assert outside >= 1          # at least one image exercises svm-scale's unclipped extrapolation


@needs_binaries
def test_svm_scale_binary_equals_scale_ranges(tmp_path):
    # at the minima, maxima, inside and outside the ranges; svm-scale omits the zeros it would print
    ranges, _ = B.model()
    rows = [ranges.fmin, ranges.fmax, (ranges.fmin + ranges.fmax) / 3, ranges.fmax * 1.7 + 0.01]
    for feat in rows:
        feat = B.printf_round(feat, "%f")
        (tmp_path / "t").write_text("1 " + "".join("%d:%f " % (k, v) for k, v in enumerate(feat, 1)) + "\n")
        out = subprocess.run(["svm-scale", "-r", str(data_file(B.RANGE_FILE)), str(tmp_path / "t")],
                             capture_output=True, text=True, check=True).stdout.split()
        got = np.zeros(36)
        for item in out[1:]:
            k, v = item.split(":")
            got[int(k) - 1] = float(v)
        np.testing.assert_array_equal(B.printf_round(ranges.apply(feat), "%g"), got)


# --- libsvm's Python bindings (libsvm-official; runs in CI) ---------------------------------------------------------


def _libsvm_model():
    svmutil = pytest.importorskip("libsvm.svmutil", reason="libsvm-official (test extras) not installed")
    return svmutil, svmutil.svm_load_model(str(data_file(B.MODEL_FILE)))


def test_release_model_parsed_as_libsvm_reads_it():
    _, lib = _libsvm_model()
    _, svr = B.model()
    assert svr.sv.shape == (774, 36) == (lib.get_nr_sv(), 36)
    assert svr.gamma == lib.param.gamma == 0.05 and svr.rho == lib.rho[0] == -153.591
    coef = np.array([lib.sv_coef[0][i] for i in range(lib.l)])
    np.testing.assert_array_equal(svr.coef, coef)
    assert lib.is_probability_model()          # allmodel carries probA: svm-predict -b 1 accepts it


def test_release_svr_equals_libsvm_predict_with_and_without_b1():
    svmutil, lib = _libsvm_model()
    ranges, svr = B.model()
    rng = np.random.default_rng(3)
    # random points in the scaled cube, the all-minima (-1) and all-maxima (+1) rows, one far outside
    x = np.vstack([rng.uniform(-1, 1, (5, 36)), -np.ones(36), np.ones(36), rng.uniform(-3, 3, 36)])
    rows = [{k: float(v) for k, v in enumerate(r, 1) if v != 0} for r in x]
    p0, _, _ = svmutil.svm_predict([0] * len(rows), rows, lib, "-q")
    p1, _, _ = svmutil.svm_predict([0] * len(rows), rows, lib, "-b 1 -q")   # brisquescore.m's -b 1
    np.testing.assert_allclose(svr.predict(x), p0, rtol=0, atol=1e-9)
    np.testing.assert_allclose(p1, p0, rtol=0, atol=1e-9)                   # -b 1 leaves an SVR's value alone
    # the whole pipeline from features at every feature's minimum: svm-scale writes -1 everywhere
    assert B.score_features(ranges.fmin)[0] == pytest.approx(p0[5], abs=1e-9)
    assert B.score_features(ranges.fmax)[0] == pytest.approx(p0[6], abs=1e-9)


def test_svm_scale_worked_by_hand_from_allrange():
    ranges, _ = B.model()
    text = data_file(B.RANGE_FILE).read_text()
    # allrange's lines "1 0.338 10" and "23 1.5e-005 0.442057", lower/upper "-1 1"
    assert re.search(r"^1 0\.338 10\s*$", text, re.M) and re.search(r"^23 1\.5e-005 0\.442057\s*$", text, re.M)
    assert (ranges.lower, ranges.upper) == (-1.0, 1.0)
    x = B.printf_round(ranges.fmin, "%f")
    f1 = [0.338, 10.0, 5.169, 19.662, 2.7535]
    got = []
    for v in f1:
        x[0] = v
        got.append(ranges.apply(x)[0])
    # 0.338 -> min -> -1; 10 -> max -> +1; 5.169 is the midpoint -> 0; 19.662 = 10 + 9.662 -> 3 (no clipping);
    # 2.7535 = 0.338 + 9.662/4 -> -0.5
    np.testing.assert_allclose(got, [-1.0, 1.0, 0.0, 3.0, -0.5], rtol=0, atol=1e-15)
    # feature 23 (sigma_l^2 of a shifted product at the half scale): brisquescore.m's '%f' keeps six decimals,
    # so 1.2e-5 and 1.4e-5 both arrive as 0.000012 / 0.000014 and 1.5e-5 exactly as the minimum
    x[22] = 1.5e-5
    assert B.printf_round(np.array([1.2345e-5]), "%f")[0] == 0.000012
    assert ranges.apply(x)[22] == -1.0
    x[22] = 0.000015 + 0.442042 / 4
    assert ranges.apply(x)[22] == pytest.approx(-0.5, abs=1e-12)
    # a feature with min == max is not written by svm-scale: 0 to svm-predict
    r2 = B.ScaleRanges(-1.0, 1.0, np.array([1.0, 2.0]), np.array([1.0, 4.0]))
    np.testing.assert_array_equal(r2.apply(np.array([7.0, 3.0])), [0.0, 0.0])
    np.testing.assert_array_equal(r2.apply(np.array([1.0, 4.0])), [0.0, 1.0])
    # %g: six significant digits, as svm-scale prints
    assert B.printf_round(np.array([-0.123456789, 3.14159265e-7]), "%g").tolist() == [-0.123457, 3.14159e-07]


@needs_samples
def test_release_roundings_matter_and_are_mirrored():
    # the %f / %g printing of brisquescore.m and svm-scale moves the score by more than the 1e-6 the tests hold it to
    ranges, svr = B.model()
    feat = B.features(read_image(SAMPLES / "I01.BMP"))
    unrounded = svr.predict(ranges.apply(feat))[0]
    assert abs(B.score_features(feat)[0] - unrounded) > 1e-5


# --- the shipped files ------------------------------------------------------------------------------------------


def test_release_files_match_provenance():
    prov = (DATA / "PROVENANCE.md").read_text()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([^`]+)` \|.*\| ([0-9a-f]{64}) \|$", prov, re.M)}
    assert set(rows) == {"brisque_allmodel", "brisque_allrange", "niqe_modelparameters.mat"}
    for name, digest in rows.items():
        assert sha256_file(data_file(name)) == digest, name
    assert "2e2a5ac04cd4b73ac0f5867de5b974581fa2d4d2" in prov
    notice = (DATA / "BRISQUE_NOTICE.txt").read_text()
    # the release's notice in full: from its first to its last line
    assert "-----------COPYRIGHT NOTICE STARTS WITH THIS LINE------------" in notice
    assert "-----------COPYRIGHT NOTICE ENDS WITH THIS LINE------------" in notice
    assert "This release version of BRISQUE was trained on the entire LIVE database." in notice
    assert notice.rstrip().endswith("SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.\n"
                                    "====================================================================")


def test_bad_model_files_are_named(tmp_path):
    bad = tmp_path / "m.txt"
    bad.write_text("svm_type c_svc\nkernel_type linear\nSV\n1 1:0.5\n")
    with pytest.raises(nr.ModelFileError, match="m.txt: not a libsvm epsilon_svr"):
        B.read_libsvm_model(bad)
    rng_file = tmp_path / "r.txt"
    rng_file.write_text("x\n-1 1\n1 0 1\n37 0 1\n")
    with pytest.raises(nr.ModelFileError, match="r.txt: feature index 37 outside 1..36"):
        B.read_scale_ranges(rng_file)
    rng_file.write_text("1 0 1\n")
    with pytest.raises(nr.ModelFileError, match="r.txt: not an svm-scale range file"):
        B.read_scale_ranges(rng_file)
    # a feature the range file does not list is scaled to 0, as svm-scale does
    rng_file.write_text("x\r\n-1 1\r\n2 0 4\r\n")
    r = B.read_scale_ranges(rng_file, 3)
    np.testing.assert_array_equal(r.apply(np.array([5.0, 1.0, 9.0])), [0.0, -0.5, 0.0])
