"""`veiqa measure` (veiqa.measures.cli) on the real TID2013 pair and on bad inputs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

import veiqa.measures as M
from veiqa.measures import cli

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tid2013_samples"
REF, DIST = DATA / "I01.BMP", DATA / "i01_01_5.bmp"


def _run(argv):
    parser = argparse.ArgumentParser(prog="veiqa")
    cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture()
def real_pair():
    if not (REF.is_file() and DIST.is_file()):
        pytest.skip(f"TID2013 samples not found under {DATA}")
    return REF, DIST


def test_json_has_every_measure(real_pair, capsys):
    from skimage.metrics import peak_signal_noise_ratio

    from veiqa.io import read_image

    assert _run(["measure", str(REF), str(DIST), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {r["measure"]: r for r in out["measures"]}
    assert list(rows) == list(M.MEASURES)
    assert all(r["status"] == "ok" and isinstance(r["value"], float) for r in rows.values())
    # image-mode conventions: PSNR as skimage on RGB with data_range 255
    expected = peak_signal_noise_ratio(read_image(REF), read_image(DIST), data_range=255)
    assert rows["psnr"]["value"] == pytest.approx(expected, abs=1e-9)
    assert 0 < rows["ssim"]["value"] < 1 and rows["gmsd"]["higher_is_better"] is False


def test_table_with_selected_measures(real_pair, capsys):
    assert _run(["measure", str(REF), str(DIST), "--measure", "psnr", "--measure", "nae"]) == 0
    out = capsys.readouterr().out
    lines = [ln.split()[0] for ln in out.splitlines()[3:]]
    assert lines == ["psnr", "nae"]


def test_not_an_image_exits_2_naming_the_file(real_pair, tmp_path, capsys):
    bad = tmp_path / "notes.bmp"
    bad.write_text("this is not an image")
    assert _run(["measure", str(REF), str(bad)]) == 2
    assert str(bad) in capsys.readouterr().err
    missing = tmp_path / "missing.png"
    assert _run(["measure", str(missing), str(DIST)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_size_mismatch_exits_2(real_pair, tmp_path, capsys):
    from PIL import Image

    from veiqa.io import read_image

    small = tmp_path / "crop.png"
    Image.fromarray(np.ascontiguousarray(read_image(DIST)[:100, :120])).save(small)
    assert _run(["measure", str(REF), str(small)]) == 2
    err = capsys.readouterr().err
    assert str(small) in err and "differs" in err


def test_unknown_measure_is_rejected(real_pair):
    with pytest.raises(SystemExit) as e:
        _run(["measure", str(REF), str(DIST), "--measure", "nope"])
    assert e.value.code == 2


def test_variants_and_grey_option(real_pair, capsys):
    """``--measure ssim_nodownsample`` / ``pcc`` are offered; ``--grey luma`` changes SSIM only slightly and gives
    what the library computes with that option."""
    import torch

    from veiqa.io import read_image

    argv = ["measure", str(REF), str(DIST), "--format", "json", "--measure", "ssim_nodownsample", "--measure", "pcc"]
    assert _run(argv) == 0
    rows = {r["measure"]: r["value"] for r in json.loads(capsys.readouterr().out)["measures"]}
    assert _run(argv + ["--grey", "luma"]) == 0
    luma = {r["measure"]: r["value"] for r in json.loads(capsys.readouterr().out)["measures"]}
    t = lambda p: torch.from_numpy(read_image(p).astype(np.float64)).permute(2, 0, 1).unsqueeze(0)  # noqa: E731
    v, _ = M.compute(t(REF), t(DIST), ["ssim_nodownsample", "pcc"], mode="image", grey="luma")
    assert luma["ssim_nodownsample"] == pytest.approx(v["ssim_nodownsample"].item(), abs=1e-12)
    assert rows["ssim_nodownsample"] != luma["ssim_nodownsample"]
    assert rows["ssim_nodownsample"] == pytest.approx(luma["ssim_nodownsample"], abs=5e-3)
    assert rows["pcc"] == luma["pcc"] == pytest.approx(v["pcc"].item(), abs=1e-12)
