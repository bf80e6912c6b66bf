"""Pseudo-reference images: each checked against an independent computation."""

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from veiqa import pri
from veiqa.io import read_image, read_provenance


@pytest.fixture()
def photo():
    import skimage.data

    return skimage.data.chelsea()[:96, :128].copy()


def test_mean_filter_matches_convolution_by_hand(photo):
    from scipy.signal import convolve2d

    out = pri.mean_filter(photo, 3)
    for c in range(3):
        padded = np.pad(photo[..., c].astype(np.float64), 1, mode="edge")
        ref = convolve2d(padded, np.full((3, 3), 1 / 9), mode="valid")
        np.testing.assert_array_equal(out[..., c], np.clip(np.rint(ref), 0, 255).astype(np.uint8))
    # One pixel worked by hand: the mean of the 3x3 neighbourhood.
    assert out[10, 20, 0] == round(photo[9:12, 19:22, 0].astype(float).mean())


def test_noise_is_seeded_by_image_id_and_has_the_asked_variance():
    flat = np.full((256, 256, 3), 128, np.uint8)
    a, _ = pri.make_pri(flat, "wn", {"variance": 0.0025}, "img_a")
    b, _ = pri.make_pri(flat, "wn", {"variance": 0.0025}, "img_a")
    c, _ = pri.make_pri(flat, "wn", {"variance": 0.0025}, "img_b")
    assert a == b and a != c
    arr = np.asarray(Image.open(io.BytesIO(a))).astype(float) - 128
    assert abs(arr.mean()) < 0.2
    assert arr.std() == pytest.approx(0.05 * 255, rel=0.02)  # variance 0.0025 on [0,1] = sigma 0.05 = 12.75 levels


def test_noise_is_imnoise_added_on_unit_scale_clipped_and_rounded():
    """imnoise(I,'gaussian',0,v) for uint8 I: im2double, + sqrt(v)*randn, clip to [0,1], im2uint8 (round half up)."""
    from scipy.stats import norm

    img = np.tile(np.arange(256, dtype=np.uint8), (64, 1))[..., None].repeat(3, axis=2)
    out = pri.add_noise(img, 0.5, seed=7)
    z = np.random.default_rng(7).standard_normal(img.shape)  # the same draws, by hand
    ref = np.floor(np.clip(img / 255.0 + np.sqrt(0.5) * z, 0, 1) * 255 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(out, ref)
    # Variance 0.5 (sigma 0.707, 180 grey levels) saturates most pixels: for mid-grey 128, P(x + n <= 0) at the
    # normal CDF of -(128/255)/0.707.
    mid = pri.add_noise(np.full((200, 200, 3), 128, np.uint8), 0.5, seed=1)
    p0 = norm.cdf(-(128 / 255) / np.sqrt(0.5))
    assert (mid == 0).mean() == pytest.approx(p0, abs=0.01)
    assert (mid == 255).mean() == pytest.approx(norm.cdf(-(127 / 255) / np.sqrt(0.5)), abs=0.01)


def test_jpeg_pri_uses_the_lowest_quality_tables(photo):
    data, ext = pri.make_pri(photo, "jpeg", {"quality": 1}, "x")
    assert ext == ".jpg"
    im = Image.open(io.BytesIO(data))
    # libjpeg at quality 1 scales the standard tables by 5000% and clamps to 255 (baseline): every entry is 255.
    for table in im.quantization.values():
        assert set(table) == {255}


def test_jp2k_pri_meets_the_compression_ratio(photo):
    big = np.tile(photo, (4, 4, 1))
    data, ext = pri.make_pri(big, "jp2k", {"codec": "jp2k", "ratio": 50}, "x")
    assert ext == ".jp2"
    ratio = big.nbytes / len(data)
    assert 40 < ratio < 60, ratio
    assert np.asarray(Image.open(io.BytesIO(data))).shape == big.shape


def test_jp2k_images_with_codec_jpeg_go_through_the_jpeg_encoder(photo):
    """The paper's §3.2: JP2K images are re-encoded by the JPEG encoder at the lowest quality."""
    data, ext = pri.make_pri(photo, "jp2k", {"codec": "jpeg", "quality": 1}, "x")
    assert ext == ".jpg" and data[:2] == b"\xff\xd8"  # a JPEG file (SOI marker)
    assert data == pri.make_pri(photo, "jpeg", {"quality": 1}, "x")[0]
    with pytest.raises(ValueError, match="codec"):
        pri.make_pri(photo, "jp2k", {"ratio": 50}, "x")


def test_pri_shard_is_byte_identical_on_rerun_and_survives_a_bad_image(tmp_path, photo):
    root = tmp_path / "ds"
    root.mkdir()
    Image.fromarray(photo).save(root / "good.png")
    (root / "bad.png").write_bytes(b"not an image at all")
    rows = pd.DataFrame({"image_id": ["good", "bad"], "path": ["good.png", "bad.png"]})
    for d, params in [("wn", {"variance": 0.5}), ("gb", {"size": 3}), ("jpeg", {"quality": 1}),
                      ("jp2k", {"codec": "jp2k", "ratio": 100}), ("jp2k", {"codec": "jpeg", "quality": 1})]:
        out1 = tmp_path / f"{d}{params.get('codec', '')}1"
        out2 = tmp_path / f"{d}{params.get('codec', '')}2"
        df1 = pri.write_pri_shard(rows, root, d, params, out1 / "img", out1 / "index.parquet")
        df2 = pri.write_pri_shard(rows, root, d, params, out2 / "img", out2 / "index.parquet")
        assert list(df1.pri_sha256) == list(df2.pri_sha256)
        assert df1.loc[0, "error"] == "" and df1.loc[0, "pri_sha256"]
        assert "bad.png" in df1.loc[1, "error"] and "not an image" in df1.loc[1, "error"]
        assert read_provenance(out1 / "index.parquet")["pri_params"] == params
        if d == "gb":
            np.testing.assert_array_equal(read_image(df1.loc[0, "pri_path"]), pri.mean_filter(photo, 3))


def test_identical_pri_is_flagged(tmp_path):
    # A flat image is a fixed point of the mean filter: the PRI equals its input and says so.
    root = tmp_path
    Image.fromarray(np.full((16, 16, 3), 77, np.uint8)).save(root / "flat.png")
    rows = pd.DataFrame({"image_id": ["flat"], "path": ["flat.png"]})
    df = pri.write_pri_shard(rows, root, "gb", {"size": 3}, root / "img", root / "i.parquet")
    assert bool(df.identical[0]) and df.mean_abs_diff[0] == 0


def test_paper_preset_dry_run_plans_jpeg_reencodes_for_jp2k_and_imnoise_variance(tmp_path):
    """`snakemake -n` with `preset: paper` (weight files of VGG16/InceptionResNetV2/DarkNet19 absent here): the
    plan holds JP2K PRIs made by the JPEG encoder at the lowest quality and noise of variance 0.5 (σ 0.707)."""
    import re
    import shutil
    import subprocess

    import yaml

    from conftest import REPO
    from veiqa import config as vc

    cfg = {"distortions": ["wn", "jp2k"], "setmetrics": {"enabled": False},
           "datasets": {"demo": {"loader": "demo", "source": "builtin", "references": ["chelsea"]}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    exe = REPO / ".venv" / "bin" / "snakemake"
    opts = ["-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--cores", "1",
            "--configfile", str(tmp_path / "c.yaml"), "--config", "preset=paper"]
    subprocess.run([str(exe) if exe.exists() else shutil.which("snakemake"), "resources/demo/shards/index.json"]
                   + opts, check=True, capture_output=True, cwd=tmp_path)
    smk = [str(exe) if exe.exists() else shutil.which("snakemake")] + opts
    dry = subprocess.run(smk + ["-n"], capture_output=True, text=True, cwd=tmp_path)
    text = dry.stdout + dry.stderr
    assert dry.returncode == 0, text[-3000:]
    pri_outputs = set(re.findall(r"results/demo/pri/(\w+)/([^/\s]+)/shard-\d+\.parquet", text))
    assert pri_outputs == {("wn", "var0.5"), ("jp2k", "jpeg_q1")}
    cams = set(re.findall(r"results/demo/vei/jp2k/jpeg_q1/([^/\s]+)/shard-", text))
    assert cams == {f"{b}-pretrained-network-last-own_top1-minmax" for b in
                    ("vgg16", "inception_resnet_v2", "darknet19")}  # missing weight files do not stop the plan
    # What those labels run: the resolved config's PRI parameters, as the pri rule's params get them.
    resolved = vc.load(yaml.safe_load((REPO / "config.yaml").read_text()) | cfg | {"preset": "paper"}, base_dir=tmp_path)
    assert vc.pri_arms(resolved, "jp2k")["jpeg_q1"] == {"codec": "jpeg", "quality": 1}
    variance = vc.pri_arms(resolved, "wn")["var0.5"]["variance"]
    assert variance ** 0.5 == pytest.approx(0.7071, abs=1e-4)
    assert pri.make_pri(np.zeros((8, 8, 3), np.uint8), "jp2k", {"codec": "jpeg", "quality": 1}, "x")[1] == ".jpg"


def test_make_pri_dispatches_every_registered_method(photo):
    """Each distortion's setting reaches the PRI method the registry names: the file is that encoder's (libjpeg and
    OpenJPEG through Pillow, called here directly; the box filter and noise as tested above, with the noise seeded
    by the image id and the salt "wn" as earlier runs were)."""
    from veiqa.io import seed_from

    def pil(fmt, **kw):
        buf = io.BytesIO()
        Image.fromarray(photo).save(buf, format=fmt, **kw)
        return buf.getvalue()

    png = lambda a: np.asarray(Image.open(io.BytesIO(pri._png_bytes(a))))  # noqa: E731
    want = {"box": (3, ".png", lambda v: png(pri.mean_filter(photo, 3))),
            "noise": (0.5, ".png", lambda v: png(pri.add_noise(photo, 0.5, seed_from("x", "wn", 0.5)))),
            "jpeg": (5, ".jpg", lambda v: pil("JPEG", quality=5)),
            "jp2k": (40, ".jp2", lambda v: pil("JPEG2000", quality_mode="rates", quality_layers=[40.0],
                                                irreversible=True))}
    seen = set()
    for code, d in pri.DISTORTIONS.items():
        for name in d.pri:
            m = pri.PRI_METHODS[name]
            value, ext, expected = want[name]
            params = {m.param: value, **({"codec": name} if len(d.pri) > 1 else {})}
            data, got_ext = pri.make_pri(photo, code, params, "x")
            assert got_ext == ext, (code, name)
            ref = expected(value)
            if isinstance(ref, bytes):
                assert data == ref, (code, name)
            else:
                np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), ref)
            seen.add(name)
    assert seen == set(pri.PRI_METHODS)  # every method is some distortion's
    with pytest.raises(ValueError, match="known: gb, wn, jpeg, jp2k"):
        pri.make_pri(photo, "fastfading", {}, "x")
    with pytest.raises(ValueError, match=r"codec must be one of \('jpeg', 'jp2k'\)"):
        pri.make_pri(photo, "jp2k", {"quality": 1}, "x")
