"""Pseudo-reference images (PRIs): the distorted image degraded once more by its own kind of distortion.

Following Ahmed et al. (2024):

* ``gb``   Gaussian blur  → a ``size``×``size`` mean (box) filter (scipy.ndimage.uniform_filter, edges replicated).
* ``wn``   white noise    → MATLAB ``imnoise(I, 'gaussian', 0, variance)``: the image on [0, 1], plus zero-mean
  Gaussian noise of that ``variance`` (on the [0, 1] scale; the paper's 0.5 is σ = √0.5 ≈ 0.707, i.e. 180 grey
  levels), clipped to [0, 1], back to uint8 rounding half away from zero (``im2uint8``). The generator is seeded by
  the image id, so a rerun writes byte-identical files (MATLAB's own random stream is not reproduced).
* ``jpeg`` JPEG           → re-encode with libjpeg (Pillow) at ``quality`` (1 = the lowest).
* ``jp2k`` JPEG 2000      → ``codec: jpeg``: re-encode with libjpeg at ``quality`` (the paper's §3.2: "for JPEG and
  JP2K, the JPEG encoder in MATLAB is utilized"); ``codec: jp2k``: re-encode with OpenJPEG (Pillow) at compression
  ``ratio`` (``quality_mode="rates"``), a non-paper alternative.

Blur and noise PRIs are stored losslessly as PNG; JPEG and JPEG 2000 PRIs are stored as the encoder's own output,
so what the Grad-CAM stage decodes is exactly what the codec produced.

The registries here are the one home of these facts: :data:`DISTORTIONS` (code → display name and PRI methods) and
:data:`PRI_METHODS` (name → strength key, its type, arm-label prefix, encoder). The configuration's ``distortions``
and ``pri.jp2k.codec`` allow their names (filled in by :func:`veiqa.config.load_schema`), :func:`veiqa.config.pri_arms`
labels arms with them, ``veiqa score --distortion/--pri-codec`` offers them, :func:`make_pri` dispatches through them
and docs/configuration.md's distortions table is generated from them. A dataset loader maps its own type codes
(LIVE's folder ``gblur``, TID2013's ``08``) onto these codes. The PRI strengths' defaults are the schema's (``pri``).
"""

from __future__ import annotations

import io as _io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from .io import atomic_path, seed_from, sha256_file

def mean_filter(img: np.ndarray, size: int) -> np.ndarray:
    """``size``×``size`` box filter per channel, edges replicated, rounded back to uint8."""
    from scipy.ndimage import uniform_filter

    x = img.astype(np.float64)
    sizes = (size, size) + ((1,) if x.ndim == 3 else ())
    out = uniform_filter(x, size=sizes, mode="nearest")
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def add_noise(img: np.ndarray, variance: float, seed: int) -> np.ndarray:
    """``imnoise(img, 'gaussian', 0, variance)`` with a seeded generator: noise added on [0, 1], clipped, uint8."""
    rng = np.random.default_rng(seed)
    x = img.astype(np.float64) / 255.0 + rng.normal(0.0, np.sqrt(variance), size=img.shape)
    return np.floor(np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def encode_jpeg(img: np.ndarray, quality: int) -> bytes:
    buf = _io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(quality))
    return buf.getvalue()


def encode_jp2k(img: np.ndarray, ratio: float) -> bytes:
    buf = _io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG2000", quality_mode="rates", quality_layers=[float(ratio)],
                              irreversible=True)
    return buf.getvalue()


def _box_pri(img: np.ndarray, size, image_id: str) -> tuple[bytes, str]:
    return _png_bytes(mean_filter(img, int(size))), ".png"


def _noise_pri(img: np.ndarray, variance, image_id: str) -> tuple[bytes, str]:
    # the seed's salt "wn" and the variance as configured (not cast) keep the files of earlier runs byte-identical
    return _png_bytes(add_noise(img, float(variance), seed_from(image_id, "wn", variance))), ".png"


def _jpeg_pri(img: np.ndarray, quality, image_id: str) -> tuple[bytes, str]:
    return encode_jpeg(img, int(quality)), ".jpg"


def _jp2k_pri(img: np.ndarray, ratio, image_id: str) -> tuple[bytes, str]:
    return encode_jp2k(img, float(ratio)), ".jp2"


@dataclass(frozen=True)
class PriMethod:
    """One way of degrading a distorted image once more: the configuration key of its strength and that value's
    type, the prefix of its arm labels (``box3``, ``q1``), a description, and ``make(img, strength, image_id)`` →
    (file bytes, extension)."""

    param: str
    kind: type
    label: str
    title: str
    make: Callable[[np.ndarray, object, str], tuple[bytes, str]]


@dataclass(frozen=True)
class Distortion:
    """A distortion the workflow evaluates: its code (the ``distortion`` column of every table), its display name,
    and its PRI methods (:data:`PRI_METHODS` names, the paper's first). With more than one, a PRI setting names
    its method as ``codec`` and the arm labels name it (``jpeg_q1``, ``jp2k_ratio100``)."""

    code: str
    title: str
    pri: tuple[str, ...]


#: PRI method name → method.
PRI_METHODS: dict[str, PriMethod] = {
    "box": PriMethod("size", int, "box", "size×size mean (box) filter, edges replicated", _box_pri),
    "noise": PriMethod("variance", float, "var", "imnoise(I, 'gaussian', 0, variance) on [0, 1], seeded by the image "
                       "id", _noise_pri),
    "jpeg": PriMethod("quality", int, "q", "JPEG re-encode (libjpeg via Pillow) at quality", _jpeg_pri),
    "jp2k": PriMethod("ratio", float, "ratio", "JPEG 2000 re-encode (OpenJPEG via Pillow) at ratio:1", _jp2k_pri),
}

#: Distortion code → distortion: the paper's four, in its order.
DISTORTIONS: dict[str, Distortion] = {
    d.code: d
    for d in [
        Distortion("gb", "Gaussian blur", ("box",)),
        Distortion("wn", "white noise", ("noise",)),
        Distortion("jpeg", "JPEG", ("jpeg",)),
        Distortion("jp2k", "JPEG 2000", ("jpeg", "jp2k")),
    ]
}


def distortion_spec(code: str) -> Distortion:
    """The registry entry of ``code``; a ``ValueError`` naming the known codes otherwise."""
    if code not in DISTORTIONS:
        raise ValueError(f"no pseudo-reference is defined for distortion {code!r}; known: {', '.join(DISTORTIONS)}")
    return DISTORTIONS[code]


def pri_method(code: str, params: dict) -> str:
    """The PRI method a setting of distortion ``code`` uses: its only one, or the one its ``codec`` names."""
    d = distortion_spec(code)
    if len(d.pri) == 1:
        return d.pri[0]
    if params.get("codec") not in d.pri:
        raise ValueError(f"{code} PRI parameters {params!r}: codec must be one of {d.pri}")
    return params["codec"]


def make_pri(img: np.ndarray, distortion: str, params: dict, image_id: str) -> tuple[bytes, str]:
    """Return the PRI file's bytes and its extension for one distorted image (uint8, H×W×3)."""
    method = PRI_METHODS[pri_method(distortion, params)]
    return method.make(img, params[method.param], image_id)


def _png_bytes(arr: np.ndarray) -> bytes:
    """Lossless PNG bytes at zlib level 1, as :func:`veiqa.io.save_png` writes (the same pixels; Pillow's default
    level 6 took 3.3 of the 4.6 CPU-s of a 50-image white-noise PRI shard: noise hardly compresses)."""
    buf = _io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", optimize=False, compress_level=1)
    return buf.getvalue()


def write_pri_shard(rows, root: str | Path, distortion: str, params: dict, image_dir: str | Path,
                    out_path: str | Path, meta: dict | None = None, log=None):
    """Write the PRIs of one shard and the shard's index Parquet.

    ``rows`` is the shard's slice of the manifest (image_id, path); ``root`` the dataset root the paths are relative
    to. Each PRI file is written atomically; an image that fails to decode gets an ``error`` in its row instead of
    taking the shard down. The index has image_id, pri_path (as given by image_dir, relative to the working directory when it is), pri_sha256, identical (the PRI decodes to
    exactly the input pixels), mean_abs_diff (mean |PRI − input| in grey levels) and error.
    """
    import pandas as pd

    from .contracts import PRI as PRI_TABLE
    from .io import ImageError, read_image, write_parquet

    image_dir = Path(image_dir)
    image_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for r in rows.itertuples(index=False):
        rec = {"image_id": r.image_id, "pri_path": "", "pri_sha256": "", "identical": False,
               "mean_abs_diff": float("nan"), "error": ""}
        try:
            img = read_image(Path(root) / r.path)
            data, ext = make_pri(img, distortion, params, r.image_id)
            dest = image_dir / f"{r.image_id}{ext}"
            with atomic_path(dest) as tmp:
                tmp.write_bytes(data)
            pri = read_image(dest)
            diff = np.abs(pri.astype(np.int16) - img.astype(np.int16))
            rec.update(pri_path=dest.as_posix(), pri_sha256=sha256_file(dest),
                       identical=bool(diff.max() == 0), mean_abs_diff=float(diff.mean()))
        except ImageError as e:
            rec["error"] = str(e)
            if log:
                log.warning("PRI not made for %s: %s", r.image_id, e)
        out.append(rec)
    df = pd.DataFrame(out, columns=list(PRI_TABLE.names))
    write_parquet(df, out_path, meta={"distortion": distortion, "pri_params": params, **(meta or {})},
                  contract=PRI_TABLE)
    return df
