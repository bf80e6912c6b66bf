"""Image decoding: every file the workflow reads becomes a uint8 array, or an :class:`~veiqa.io.ImageError` that
names the file and what is wrong with it.

Pillow's ``convert("RGB")`` alone is not safe for IQA data: it clips 16-bit greyscale (``I;16``) and 32-bit integer
(``I``) values at 255, so a 16-bit copy of a photograph becomes an almost white image; it drops alpha without
looking at it; it converts CMYK with a naive formula and ignores the colour profile; it silently takes the first
frame of an animated file. Here each mode has a stated outcome:

========================  ============================================================================================
mode                      outcome
========================  ============================================================================================
``1``, ``L``, ``RGB``,    decoded as Pillow does (48-bit RGB and 16-bit-per-channel RGBA PNG/TIFF are read by Pillow
``YCbCr``, ``P``          keeping each sample's high byte, ``v // 256``: within one level of ``round(v·255/65535)``,
                          and exact for 16-bit copies of 8-bit images, ``v·257``)
``I;16``, ``I;16B/L/N``   scaled by the true bit depth: ``round(v · 255 / (2**bits − 1))``, ``bits`` from the TIFF's
                          BitsPerSample tag (default 16)
``I`` (32-bit integer)    as ``I;16`` when the bit depth is known (PNG, PGM: 16; a TIFF: its BitsPerSample ≤ 16);
                          otherwise rejected; values outside ``0 … 2**bits − 1`` are rejected
``RGBA``, ``LA``, ``PA``, alpha dropped when every pixel is opaque; rejected when any pixel is transparent (what lies
``P`` with transparency    under a transparent pixel is arbitrary, so there is no faithful RGB image to score)
``F`` (32-bit float)      rejected: a float image has no defined white level
``CMYK`` and other modes  rejected (CMYK → RGB needs the file's colour profile; convert it with a colour-managed tool)
several frames            rejected (animated GIF/PNG/WebP, multi-page TIFF), except MPO (a camera JPEG with an
                          embedded preview), whose first frame is the primary image (CIPA DC-007)
========================  ============================================================================================
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import ImageError

_PLAIN = {"1", "L", "RGB", "YCbCr", "P"}
_ALPHA = {"RGBA", "LA", "PA", "RGBa", "La"}
_WORD = {"I;16", "I;16B", "I;16L", "I;16N"}


def _bit_depth(im) -> int | None:
    """Bits per sample of a 16/32-bit integer greyscale image, where the container says it."""
    tags = getattr(im, "tag_v2", None)
    if tags is not None and 258 in tags:  # TIFF BitsPerSample
        bits = tags[258]
        return int(bits[0] if isinstance(bits, tuple) else bits)
    if im.format in ("PNG", "PPM"):  # Pillow rescales a PGM's maxval to 16 bits
        return 16
    return 16 if im.mode in _WORD else None


def _scale_words(path: Path, im) -> np.ndarray:
    """A 16-bit (or 32-bit-integer holding ≤ 16-bit) greyscale image scaled to uint8 by its true bit depth."""
    bits = _bit_depth(im)
    if bits is None or not 1 <= bits <= 16:
        raise ImageError(f"{path}: {im.mode} image ({bits or 'unknown'} bits per sample); veiqa reads integer images "
                         f"of up to 16 bits; convert it to 8- or 16-bit first")
    arr = np.asarray(im).astype(np.int64)
    top = (1 << bits) - 1
    if arr.size and (arr.min() < 0 or arr.max() > top):
        raise ImageError(f"{path}: {im.mode} image with values {arr.min()}..{arr.max()} outside the "
                         f"{bits}-bit range 0..{top}")
    return np.rint(arr * (255.0 / top)).astype(np.uint8)


def _drop_alpha(path: Path, im):
    """The image without its alpha channel, which must be fully opaque."""
    rgba = im.convert("LA" if im.mode in ("LA", "La") else "RGBA")
    alpha = np.asarray(rgba)[..., -1]
    if alpha.size and alpha.min() < 255:
        frac = float((alpha < 255).mean())
        raise ImageError(f"{path}: {im.mode} image with transparency ({frac:.1%} of pixels not opaque); there is no "
                         f"faithful RGB image to score; flatten it onto a background first")
    return rgba.convert("L" if rgba.mode == "LA" else "RGB")


def _frames(path: Path, im) -> None:
    n = getattr(im, "n_frames", 1)
    if n > 1 and im.format != "MPO":
        raise ImageError(f"{path}: {im.format} file with {n} frames (animated or multi-page); veiqa scores single "
                         f"still images; extract the frame to score")


def decode(path: str | os.PathLike, mode: str = "RGB") -> np.ndarray:
    """Read an image file fully into a uint8 array (H×W×3 for ``mode="RGB"``, H×W for ``"L"``), by the rules of
    the module docstring. Raises :class:`ImageError` naming the file when it is missing, truncated, not an image,
    or of a kind that cannot be faithfully read as 8-bit RGB/greyscale."""
    from PIL import Image, UnidentifiedImageError

    if mode not in ("RGB", "L"):
        raise ValueError(f"mode must be 'RGB' or 'L', not {mode!r}")
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: file not found")
    try:
        with Image.open(path) as im:
            _frames(path, im)
            im.load()
            if im.mode in _WORD or im.mode == "I":
                grey = _scale_words(path, im)
                return grey if mode == "L" else np.repeat(grey[..., None], 3, axis=2)
            if (im.mode == "P" and "transparency" in im.info) or im.mode in _ALPHA:
                im = _drop_alpha(path, im)
            elif im.mode == "F":
                raise ImageError(f"{path}: 32-bit floating-point image (mode F); a float image has no defined white "
                                 f"level; convert it to an 8- or 16-bit integer image first")
            elif im.mode not in _PLAIN:
                raise ImageError(f"{path}: {im.mode} image; veiqa reads greyscale, RGB, palette and 16-bit greyscale "
                                 f"images" + ("; convert CMYK to RGB with its colour profile first"
                                              if im.mode == "CMYK" else ""))
            return np.asarray(im.convert(mode))
    except UnidentifiedImageError as e:
        raise ImageError(f"{path}: not an image ({e})") from e
    except ImageError:
        raise
    except (OSError, ValueError, SyntaxError) as e:
        raise ImageError(f"{path}: cannot decode image ({e})") from e
