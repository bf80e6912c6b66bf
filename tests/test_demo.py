"""The built-in demo: real scikit-image photographs, five levels, proxy scores recomputed independently."""

import numpy as np
import pandas as pd
import pytest

from veiqa import demo
from veiqa.io import read_image


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    demo.build(root, references=("chelsea", "camera"))
    return root


def test_layout_and_counts(built):
    df = pd.read_csv(built / "scores.csv")
    assert len(df) == 2 * 4 * 5
    assert set(df.distortion) == {"gb", "wn", "jpeg", "jp2k"}
    assert sorted(df.level.unique()) == [1, 2, 3, 4, 5]
    assert (built / "reference" / "chelsea.png").is_file()
    assert {p.rsplit(".", 1)[1] for p in df.image} == {"png", "jpg", "jp2"}
    assert "not a human opinion score" in (built / "README.txt").read_text()


def test_proxy_score_is_ssim_against_the_pristine_photo(built):
    from skimage.metrics import structural_similarity

    df = pd.read_csv(built / "scores.csv")
    for row in df.sample(6, random_state=0).itertuples():
        ref = read_image(built / row.reference).astype(float)
        dis = read_image(built / row.image).astype(float)
        # The demo's luminance is BT.601, as MATLAB's rgb2gray (skimage's rgb2gray uses BT.709): weights by hand.
        w = np.array([0.299, 0.587, 0.114])
        expect = structural_similarity(ref @ w, dis @ w, data_range=255, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False)
        assert row.score == pytest.approx(expect, abs=1e-6)


def test_scores_fall_with_the_level(built):
    df = pd.read_csv(built / "scores.csv")
    means = df.groupby(["distortion", "level"]).score.mean().unstack()
    assert (np.diff(means.to_numpy(), axis=1) < 0).all(), means


def test_build_is_byte_identical(built, tmp_path):
    """A second build, by two worker processes (as the workflow's demo_source job runs it), writes the same bytes."""
    again = demo.build(tmp_path, references=("chelsea", "camera"), workers=2)
    names = sorted(p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(again).as_posix() for p in again.rglob("*") if p.is_file())
    for name in names:
        assert (again / name).read_bytes() == (built / name).read_bytes(), name


def test_build_error_in_a_worker_is_raised(tmp_path):
    with pytest.raises(KeyError, match="nope"):  # as the serial build raises it
        demo.build(tmp_path, references=("coins", "clock"), distortions=("gb", "nope"), levels=1, workers=2)
