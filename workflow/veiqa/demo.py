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

import io as _io
from pathlib import Path

import numpy as np
from PIL import Image

from .io import atomic_path, save_png, seed_from, write_bytes_atomic
from .pri import DISTORTIONS

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


def _distort(img: np.ndarray, dist: str, level: int, image_id: str) -> tuple[bytes, str, np.ndarray | None]:
    """Encoded bytes and extension of ``img`` degraded by ``dist`` at ``level`` (1..5), and the pixels the file
    decodes to where they are known without decoding it (the lossless PNG distortions: the array that was encoded),
    else ``None``."""
    p = LEVELS[dist][level - 1]
    buf = _io.BytesIO()
    if dist in ("gb", "wn"):
        if dist == "gb":
            from scipy.ndimage import gaussian_filter

            out = gaussian_filter(img.astype(np.float64), sigma=(p, p, 0), mode="nearest", truncate=4.0)
        else:
            rng = np.random.default_rng(seed_from("demo", image_id))
            out = img.astype(np.float64) + rng.normal(0.0, p * 255.0, size=img.shape)
        pixels = np.clip(np.rint(out), 0, 255).astype(np.uint8)
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


def proxy_score(ref: np.ndarray, dist: np.ndarray) -> float:
    """SSIM of the distorted image against its pristine source on luminance (BT.601), scikit-image."""
    from skimage.metrics import structural_similarity

    w = np.array([0.299, 0.587, 0.114])
    y1 = ref.astype(np.float64) @ w
    y2 = dist.astype(np.float64) @ w
    return float(structural_similarity(y1, y2, data_range=255.0, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))


# ---- the build: one task a photograph, dealt to worker processes ----------------------------------------------
#
# Processes, not threads: Pillow's JPEG 2000 encoder holds the GIL (two threads did not overlap it at all), and so
# does much of the rest: the former thread pool used ~1.1 of the job's 2 cores. A photograph is one task; the pool
# hands the next one to whichever worker is free. The files do not depend on the number of workers.

#: The build's settings, inherited by the forked workers (nothing is pickled but a photograph's index).
_BUILD: tuple | None = None


def _build_photo(r: int) -> list[dict]:
    """Write photograph ``r`` of the running build and its distorted images; their score rows, in order."""
    from .io import read_image

    root, refs, distortions, levels = _BUILD
    ref = refs[r]
    ref_rel = f"reference/{ref}.png"
    img = load_reference(ref)
    save_png(root / ref_rel, img)
    rows = []
    for dist in distortions:
        for level in range(1, levels + 1):
            image_id = f"{ref}__{dist}__{level}"
            data, ext, pixels = _distort(img, dist, level, image_id)
            rel = f"distorted/{image_id}{ext}"
            write_bytes_atomic(root / rel, data)
            score = proxy_score(img, read_image(root / rel) if pixels is None else pixels)
            rows.append({"image": rel, "reference": ref_rel, "distortion": dist, "level": level,
                         "score": round(score, 6)})
    return rows


def _warm_imports() -> None:
    """What every worker needs, imported once before they fork instead of once in each."""
    import scipy.ndimage  # noqa: F401
    import skimage.metrics  # noqa: F401
    import skimage.data  # noqa: F401
    import skimage.io  # noqa: F401  (skimage.data's loader)
    from PIL import Jpeg2KImagePlugin, JpegImagePlugin, PngImagePlugin  # noqa: F401

    from . import images  # noqa: F401


def build(root: str | Path, references=REFERENCES, distortions=tuple(DISTORTIONS), levels=5,
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
    import pandas as pd

    rows = [row for part in per_photo for row in part]
    with atomic_path(root / "scores.csv") as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False, lineterminator="\n")
    write_bytes_atomic(root / "README.txt", (
        "veiqa demo dataset: scikit-image photographs degraded at five levels.\n"
        f"score = {PROXY}.\nHigher is better, range 0..1.\n").encode())
    return root
