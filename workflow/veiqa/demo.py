"""The built-in demo dataset: real photographs that scikit-image ships, degraded at five levels.

Each pristine photograph is degraded by the paper's four distortions (Gaussian blur, white noise, JPEG, JPEG 2000)
at five levels (1 = mildest). Each distorted image carries a **proxy score**: SSIM (Wang et al. 2004, scikit-image,
Gaussian window σ = 1.5, on the luminance channel) of the distorted image against its pristine source, in [0, 1],
higher is better. It is a full-reference measure, **not a human opinion score**; the demo shows the workflow end
to end, and its correlations say how well the no-reference method tracks a full-reference measure, nothing more.

Layout written (read by :mod:`veiqa.datasets`' ``demo`` loader)::

    <root>/reference/<ref>.png
    <root>/distorted/<ref>__<dist>__<level>.<png|jpg|jp2>
    <root>/scores.csv   image,reference,distortion,level,score
"""

from __future__ import annotations

import csv
import io as _io
from pathlib import Path

import numpy as np
from PIL import Image

from .io import save_png, seed_from, write_bytes_atomic

REFERENCES = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "motorcycle_right", "camera", "clock",
              "coins", "immunohistochemistry")
MAX_SIDE = 512
# Reference content of each source image: the stereo motorcycle pair is one scene seen from two views, so its two
# references are one content wherever folds or the bootstrap resample contents (the manifest's ref_id).
CONTENTS = {"motorcycle_left": "motorcycle", "motorcycle_right": "motorcycle"}


def content_id(reference: str) -> str:
    """The content (scene) of a demo reference name: its own name, except the two motorcycle views → motorcycle."""
    return CONTENTS.get(reference, reference)

# Level 1 (mildest) .. 5 (strongest).
LEVELS = {
    "gb": [0.6, 1.2, 2.0, 3.2, 5.0],          # Gaussian sigma in pixels
    "wn": [0.01, 0.03, 0.06, 0.1, 0.18],      # noise sigma on a 0..1 scale
    "jpeg": [80, 40, 20, 10, 4],              # libjpeg quality
    "jp2k": [12, 30, 60, 120, 240],           # compression ratio
}
PROXY = "SSIM vs pristine (scikit-image, gaussian window sigma 1.5, luminance); proxy, not a human opinion score"


def load_reference(name: str) -> np.ndarray:
    """A scikit-image photograph as uint8 RGB, its longest side at most ``MAX_SIDE`` (Lanczos)."""
    import skimage.data as data

    if name in ("motorcycle_left", "motorcycle_right"):
        left, right, _ = data.stereo_motorcycle()
        img = left if name == "motorcycle_left" else right
    else:
        img = getattr(data, name)()
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise ValueError(f"scikit-image photo {name!r} is {img.dtype}, expected uint8")
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    img = img[..., :3]
    h, w = img.shape[:2]
    if max(h, w) > MAX_SIDE:
        s = MAX_SIDE / max(h, w)
        img = np.asarray(Image.fromarray(img).resize((round(w * s), round(h * s)), Image.LANCZOS))
    return np.ascontiguousarray(img)


def _padded(shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised float64 array of ``shape`` (H, W, ...) whose rows are a little longer than W.

    Bytes only, never values: with W = 512 (most demo photographs) a row is 4096 bytes (12288 with 3 channels), so
    the column walks of ndimage's axis-0 filter pass hit the same few cache sets and that pass ran 3-4x slower than
    the row pass. Rows of 64 (mod 512) bytes spread a column over all the sets: the SSIM window filter runs 2x faster
    on 512×512. ndimage filters line by line, so every value is the one a contiguous array gets."""
    h, w, *rest = shape
    inner = int(np.prod(rest, dtype=np.int64)) * 8
    n = next((m for m in range(w, w + 64) if (m * inner) % 512 == 64), w + 1)
    return np.empty((h, n, *rest))[:, :w]


# The proxy: SSIM as scikit-image's structural_similarity(y1, y2, data_range=255, gaussian_weights=True, sigma=1.5,
# use_sample_covariance=False) computes it, operation for operation, so the same float64 value bit for bit
# (tests/test_demo.py checks it against scikit-image): Gaussian window σ 1.5 truncated at 3.5 σ (11 taps), mode
# "reflect", K1 0.01, K2 0.03, the mean of the SSIM map less a 5-pixel border.
_LUMA = np.array([0.299, 0.587, 0.114])  # BT.601, as MATLAB's rgb2gray (scikit-image's rgb2gray is BT.709)
_SSIM_SIGMA, _SSIM_TRUNCATE = 1.5, 3.5
_SSIM_PAD = int(_SSIM_TRUNCATE * _SSIM_SIGMA + 0.5)  # (win_size - 1) // 2; win_size = 2 r + 1, as scikit-image
_C1, _C2 = (0.01 * 255.0) ** 2, (0.03 * 255.0) ** 2


class _Photo:
    """A pristine photograph (uint8 RGB) with what its distorted copies share.

    The pristine side of the SSIM (μx, μx², σx²) is computed once, not for every distorted copy (3 window filters
    per score instead of 5), and the work arrays are allocated once per photograph: fresh multi-megabyte arrays for
    every image cost page faults, about half the SSIM's time."""

    def __init__(self, img: np.ndarray):
        self.img = img
        self._bufs: dict[str, np.ndarray] = {}
        self._ssim = None

    def buf(self, name: str, shape, padded: bool = True) -> np.ndarray:
        """A float64 work array of ``shape`` (:func:`_padded` rows unless ``padded`` is False), reused by name."""
        b = self._bufs.get(name)
        if b is None:
            b = self._bufs[name] = _padded(shape) if padded else np.empty(shape)
        return b

    def luma(self, rgb: np.ndarray, name: str) -> np.ndarray:
        """``rgb.astype(np.float64) @ _LUMA`` (the same product; into reused arrays) in a :func:`_padded` array."""
        f = self.buf("rgb", rgb.shape, padded=False)
        np.copyto(f, rgb)
        y = self.buf("y", rgb.shape[:2], padded=False)
        np.matmul(f, _LUMA, out=y)
        out = self.buf(name, y.shape)
        out[...] = y
        return out

    def window(self, x: np.ndarray, name: str) -> np.ndarray:
        """scikit-image's SSIM window filter of ``x`` into the work array ``name``."""
        from scipy.ndimage import gaussian_filter

        return gaussian_filter(x, _SSIM_SIGMA, output=self.buf(name, x.shape), mode="reflect", cval=0,
                               truncate=_SSIM_TRUNCATE)

    def blur(self, sigma: float) -> np.ndarray:
        """``gaussian_filter(img.astype(np.float64), (σ, σ, 0), mode="nearest", truncate=4.0)``, into a work array
        (valid until the next call)."""
        from scipy.ndimage import gaussian_filter

        x = self.buf("blur_in", self.img.shape)
        x[...] = self.img
        return gaussian_filter(x, sigma=(sigma, sigma, 0), output=self.buf("blur_out", self.img.shape),
                               mode="nearest", truncate=4.0)

    def score(self, dist: np.ndarray) -> float:
        """The proxy SSIM of ``dist`` (uint8 RGB, the photograph's size) against the photograph."""
        if self._ssim is None:
            if np.any(np.asarray(self.img.shape[:2]) - (2 * _SSIM_PAD + 1) < 0):
                raise ValueError(f"image of {self.img.shape[0]}x{self.img.shape[1]} pixels is smaller than the SSIM "
                                 f"window")
            y1 = self.luma(self.img, "y1")
            ux = self.window(y1, "ux")
            ux2 = ux * ux                                    # ux * ux, and ux ** 2 (np.square: the same product)
            vx = self.window(np.multiply(y1, y1, out=self.buf("t", y1.shape)), "vx")
            vx -= ux2                                        # vx = cov_norm * (uxx - ux * ux); cov_norm 1.0
            self._ssim = (y1, ux, ux2, vx, 2 * ux)           # 2 * ux * uy evaluates (2 * ux) * uy
        y1, ux, ux2, vx, two_ux = self._ssim
        if dist.shape != self.img.shape:
            raise ValueError(f"distorted image {dist.shape} and pristine image {self.img.shape} differ in size")
        y2 = self.luma(dist, "y2")
        t = self.buf("t", y2.shape)
        uy = self.window(y2, "uy")
        uy2 = np.multiply(uy, uy, out=self.buf("uy2", y2.shape))
        vy = self.window(np.multiply(y2, y2, out=t), "vy")
        vy -= uy2                                            # vy = uyy - uy * uy
        vxy = self.window(np.multiply(y1, y2, out=t), "vxy")
        vxy -= np.multiply(ux, uy, out=t)                    # vxy = uxy - ux * uy
        a1 = np.multiply(two_ux, uy, out=self.buf("a1", y2.shape))
        a1 += _C1                                            # A1 = 2 * ux * uy + C1
        vxy *= 2
        vxy += _C2                                           # A2 = 2 * vxy + C2
        b1 = np.add(ux2, uy2, out=self.buf("b1", y2.shape))
        b1 += _C1                                            # B1 = ux ** 2 + uy ** 2 + C1
        vy += vx                                             # vx + vy (float addition commutes exactly)
        vy += _C2                                            # B2 = vx + vy + C2
        b1 *= vy                                             # D = B1 * B2
        a1 *= vxy                                            # A1 * A2
        # S = (A1 * A2) / D into a contiguous array, as scikit-image's: the mean's summation order follows the layout
        s = np.divide(a1, b1, out=self.buf("s", y2.shape, padded=False))
        p = _SSIM_PAD
        return float(s[p:s.shape[0] - p, p:s.shape[1] - p].mean(dtype=np.float64))


def _distort(photo: _Photo, dist: str, level: int, image_id: str) -> tuple[bytes, str, np.ndarray | None]:
    """:func:`distort`, plus the pixels the file decodes to where they are known without decoding it (the lossless
    PNG distortions: the array that was encoded), else ``None``."""
    img = photo.img
    p = LEVELS[dist][level - 1]
    buf = _io.BytesIO()
    if dist in ("gb", "wn"):
        if dist == "gb":
            out = photo.blur(p)
        else:
            rng = np.random.default_rng(seed_from("demo", image_id))
            out = img.astype(np.float64)
            out += rng.normal(0.0, p * 255.0, size=img.shape)
        np.rint(out, out=out)
        np.clip(out, 0, 255, out=out)
        pixels = np.ascontiguousarray(out, dtype=np.uint8)
        Image.fromarray(pixels).save(buf, format="PNG")
        return buf.getvalue(), ".png", pixels
    if dist == "jpeg":
        Image.fromarray(img).save(buf, format="JPEG", quality=int(p))
        return buf.getvalue(), ".jpg", None
    if dist == "jp2k":
        Image.fromarray(img).save(buf, format="JPEG2000", quality_mode="rates", quality_layers=[float(p)],
                                  irreversible=True)
        return buf.getvalue(), ".jp2", None
    raise ValueError(f"unknown demo distortion {dist!r}")


def distort(img: np.ndarray, dist: str, level: int, image_id: str) -> tuple[bytes, str]:
    """Encoded bytes and extension of ``img`` degraded by ``dist`` at ``level`` (1..5)."""
    data, ext, _ = _distort(_Photo(img), dist, level, image_id)
    return data, ext


def proxy_score(ref: np.ndarray, dist: np.ndarray) -> float:
    """SSIM of the distorted image against its pristine source on luminance (BT.601): the value of scikit-image's
    ``structural_similarity(y1, y2, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``,
    bit for bit."""
    return _Photo(ref).score(dist)


# ---- the build: one task a photograph, dealt to worker processes ----------------------------------------------
#
# Processes, not threads: Pillow's JPEG 2000 encoder holds the GIL (two threads did not overlap it at all), and so
# does much of the rest: the former thread pool used ~1.1 of the job's 2 cores. A photograph's 20 images share its
# pristine SSIM side (:class:`_Photo`), so a photograph is one task; the pool hands the next one to whichever worker
# is free. The files do not depend on the number of workers.

#: The build's settings, inherited by the forked workers (nothing is pickled but a photograph's index).
_BUILD: tuple | None = None


def _build_photo(r: int) -> list[dict]:
    """Write photograph ``r`` of the running build and its distorted images; their score rows, in order."""
    from .io import read_image

    root, refs, distortions, levels = _BUILD
    ref = refs[r]
    ref_rel = f"reference/{ref}.png"
    photo = _Photo(load_reference(ref))
    save_png(root / ref_rel, photo.img)
    rows = []
    for dist in distortions:
        for level in range(1, levels + 1):
            image_id = f"{ref}__{dist}__{level}"
            data, ext, pixels = _distort(photo, dist, level, image_id)
            rel = f"distorted/{image_id}{ext}"
            write_bytes_atomic(root / rel, data)
            score = photo.score(read_image(root / rel) if pixels is None else pixels)
            rows.append({"image": rel, "reference": ref_rel, "distortion": dist, "level": level,
                         "score": round(score, 6)})
    return rows


def _warm_imports() -> None:
    """What every worker needs, imported once before they fork instead of once in each."""
    import scipy.ndimage  # noqa: F401
    import skimage.data  # noqa: F401
    import skimage.io  # noqa: F401  (skimage.data's loader)
    from PIL import Jpeg2KImagePlugin, JpegImagePlugin, PngImagePlugin  # noqa: F401

    from . import images  # noqa: F401


def _write_scores(path: Path, rows: list[dict]) -> None:
    """``scores.csv`` as pandas' ``DataFrame(rows).to_csv(index=False, lineterminator="\\n")`` writes it (the same
    bytes: csv writer, minimal quoting, floats formatted by NumPy's ``astype(str)``), without importing pandas (0.3 s
    of the job's start-up); tests/test_demo.py compares the two."""
    if not rows:
        write_bytes_atomic(path, b"\n")  # pandas' empty table
        return
    cols = ["image", "reference", "distortion", "level", "score"]
    scores = np.array([row["score"] for row in rows], dtype=np.float64).astype(str)
    text = _io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(cols)
    for row, score in zip(rows, scores):
        w.writerow([row["image"], row["reference"], row["distortion"], int(row["level"]), str(score)])
    write_bytes_atomic(path, text.getvalue().encode("utf-8"))


def build(root: str | Path, references=REFERENCES, distortions=("gb", "wn", "jpeg", "jp2k"), levels=5,
          workers: int = 1) -> Path:
    """Write the demo dataset under ``root`` (idempotent: the same files, byte for byte, on every build).

    ``workers`` processes (forked, where the platform can) build the images at once; the files and the score table
    do not depend on it.
    """
    global _BUILD
    from .parallel import map_ordered

    root = Path(root)
    refs = list(references)
    _BUILD = (root, refs, tuple(distortions), int(levels))
    try:
        if min(int(workers), len(refs)) > 1:
            _warm_imports()  # once here, not once in every forked worker
        per_photo = map_ordered(_build_photo, range(len(refs)), workers)  # one photograph at a time a worker
    finally:
        _BUILD = None
    rows = [row for part in per_photo for row in part]
    _write_scores(root / "scores.csv", rows)
    write_bytes_atomic(root / "README.txt", (
        "veiqa demo dataset: scikit-image photographs degraded at five levels.\n"
        f"score = {PROXY}.\nHigher is better, range 0..1.\n").encode())
    return root
