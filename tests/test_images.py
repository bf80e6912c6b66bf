"""Image decoding: 16-bit files scaled by their bit depth, and every unfaithful kind of file rejected by name."""

import json
import struct
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from veiqa import cli
from veiqa.io import ImageError, read_image


def write_png16(path, arr):
    """A 16-bit greyscale or 48-bit RGB PNG written byte by byte from the PNG specification (independent of Pillow,
    whose writer cannot produce 48-bit RGB)."""
    arr = np.asarray(arr, dtype=">u2")
    h, w = arr.shape[:2]
    colour_type = 2 if arr.ndim == 3 else 0

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + arr[i].tobytes() for i in range(h))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture
def photo(tid_pair):
    return read_image(tid_pair[1])


def test_16_bit_copies_decode_to_their_8_bit_original(photo, tmp_path):
    wide = photo.astype(np.uint16) * 257  # the usual 8 → 16 bit widening: 255 → 65535
    grey8 = np.asarray(Image.fromarray(photo).convert("L"))
    write_png16(tmp_path / "rgb48.png", wide)
    write_png16(tmp_path / "grey16.png", grey8.astype(np.uint16) * 257)
    tifffile.imwrite(tmp_path / "rgb48.tif", wide, photometric="rgb")
    tifffile.imwrite(tmp_path / "grey16.tif", grey8.astype(np.uint16) * 257)
    for name in ("rgb48.png", "rgb48.tif"):
        np.testing.assert_array_equal(read_image(tmp_path / name), photo, err_msg=name)
    for name in ("grey16.png", "grey16.tif"):
        assert Image.open(tmp_path / name).mode.startswith("I")  # the mode Pillow clips at 255
        np.testing.assert_array_equal(read_image(tmp_path / name, mode="L"), grey8, err_msg=name)
        np.testing.assert_array_equal(read_image(tmp_path / name), np.repeat(grey8[..., None], 3, axis=2))


def test_16_bit_values_round_to_the_nearest_8_bit_level(tmp_path):
    v = np.array([[0, 128, 129, 257, 32767, 32768, 65406, 65407, 65535]], dtype=np.uint16)
    tifffile.imwrite(tmp_path / "ramp.tif", v)
    # By hand: round(v * 255 / 65535); 128 / 257 = 0.498 → 0, 129 / 257 = 0.502 → 1, 65406 / 257 = 254.498 → 254, 65407 / 257 = 254.502 → 255.
    assert read_image(tmp_path / "ramp.tif", mode="L").tolist() == [[0, 0, 1, 1, 127, 128, 254, 255, 255]]
    # A 12-bit PGM (maxval 4095), written by hand: 1000 / 4095 * 255 = 62.27 → 62, 2056 / 4095 * 255 = 128.03 → 128.
    (tmp_path / "g12.pgm").write_bytes(b"P5\n4 1\n4095\n" + np.array([0, 1000, 2056, 4095], ">u2").tobytes())
    assert read_image(tmp_path / "g12.pgm", mode="L").tolist() == [[0, 62, 128, 255]]


def test_a_16_bit_copy_measures_like_its_8_bit_original(tid_pair, tmp_path, capsys):
    ref, dist = tid_pair
    write_png16(tmp_path / "dist48.png", read_image(dist).astype(np.uint16) * 257)
    grey = tmp_path / "grey16.png"
    Image.fromarray(np.asarray(Image.open(dist).convert("L")).astype(np.uint16) * 257).save(grey)  # Pillow's I;16 PNG
    Image.open(dist).convert("L").save(tmp_path / "grey8.png")
    got = {}
    for name, a, b in (("rgb8", ref, dist), ("rgb16", ref, tmp_path / "dist48.png"),
                       ("grey8", ref, tmp_path / "grey8.png"), ("grey16", ref, grey)):
        assert cli.main(["measure", str(a), str(b), "--measure", "psnr", "--format", "json"]) == 0
        got[name] = json.loads(capsys.readouterr().out)
    psnr = lambda d: next(m["value"] for m in d["measures"] if m["measure"] == "psnr")  # noqa: E731
    # Independent: skimage's PSNR of the 8-bit files.
    assert psnr(got["rgb8"]) == pytest.approx(peak_signal_noise_ratio(read_image(ref), read_image(dist)), abs=1e-9)
    assert psnr(got["rgb16"]) == pytest.approx(psnr(got["rgb8"]), abs=1e-12)
    assert psnr(got["grey16"]) == pytest.approx(psnr(got["grey8"]), abs=1e-12)
    assert psnr(got["grey16"]) > 10  # the clipped (all-white) reading gave about 5 dB


def _rejected(path, *words):
    with pytest.raises(ImageError) as e:
        read_image(path)
    msg = str(e.value)
    assert str(path) in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


def test_alpha_dropped_only_when_opaque(photo, tmp_path):
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "opaque.png")
    np.testing.assert_array_equal(read_image(tmp_path / "opaque.png"), photo)
    rgba[:10, :10, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "holes.png")
    _rejected(tmp_path / "holes.png", "RGBA", "transparency")
    la = np.dstack([photo[..., 0], np.full(photo.shape[:2], 128, np.uint8)])
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    _rejected(tmp_path / "la.png", "LA", "100.0% of pixels")
    pal = Image.fromarray(photo).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    index = int(np.asarray(pal)[0, 0])
    pal.save(tmp_path / "pal.gif", transparency=index)
    _rejected(tmp_path / "pal.gif", "P", "transparency")
    opaque_pal = Image.fromarray(photo).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    opaque_pal.save(tmp_path / "pal.png")
    np.testing.assert_array_equal(read_image(tmp_path / "pal.png"), np.asarray(opaque_pal.convert("RGB")))


def test_float_cmyk_int32_and_multi_frame_files_rejected_by_name(photo, tmp_path):
    tifffile.imwrite(tmp_path / "float.tif", photo[..., 0].astype(np.float32) / 255)
    _rejected(tmp_path / "float.tif", "floating-point", "mode F")
    Image.fromarray(photo).convert("CMYK").save(tmp_path / "cmyk.jpg")
    _rejected(tmp_path / "cmyk.jpg", "CMYK", "colour profile")
    tifffile.imwrite(tmp_path / "int32.tif", photo[..., 0].astype(np.int32) * 1000)
    _rejected(tmp_path / "int32.tif", "32 bits per sample")
    frames = [Image.fromarray(photo), Image.fromarray(255 - photo)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    _rejected(tmp_path / "anim.gif", "GIF", "2 frames")
    frames[0].save(tmp_path / "pages.tif", save_all=True, append_images=frames[1:])
    _rejected(tmp_path / "pages.tif", "TIFF", "2 frames")
    frames[0].save(tmp_path / "anim.png", save_all=True, append_images=frames[1:])
    _rejected(tmp_path / "anim.png", "PNG", "2 frames")


def test_missing_truncated_and_foreign_files(photo, tmp_path):
    _rejected(tmp_path / "absent.png", "file not found")
    (tmp_path / "notes.png").write_text("not an image")
    _rejected(tmp_path / "notes.png", "not an image")
    Image.fromarray(photo).save(tmp_path / "full.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "full.png").read_bytes()[:2000])
    _rejected(tmp_path / "cut.png", "cannot decode")
