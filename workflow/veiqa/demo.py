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


def distort(img: np.ndarray, dist: str, level: int, image_id: str) -> tuple[bytes, str]:
    """Encoded bytes and extension of ``img`` degraded by ``dist`` at ``level`` (1..5)."""
    p = LEVELS[dist][level - 1]
    buf = _io.BytesIO()
    if dist == "gb":
        from scipy.ndimage import gaussian_filter

        out = gaussian_filter(img.astype(np.float64), sigma=(p, p, 0), mode="nearest", truncate=4.0)
        Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8)).save(buf, format="PNG")
        return buf.getvalue(), ".png"
    if dist == "wn":
        rng = np.random.default_rng(seed_from("demo", image_id))
        out = img.astype(np.float64) + rng.normal(0.0, p * 255.0, size=img.shape)
        Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8)).save(buf, format="PNG")
        return buf.getvalue(), ".png"
    if dist == "jpeg":
        Image.fromarray(img).save(buf, format="JPEG", quality=int(p))
        return buf.getvalue(), ".jpg"
    if dist == "jp2k":
        Image.fromarray(img).save(buf, format="JPEG2000", quality_mode="rates", quality_layers=[float(p)],
                                  irreversible=True)
        return buf.getvalue(), ".jp2"
    raise ValueError(f"unknown demo distortion {dist!r}")


def proxy_score(ref: np.ndarray, dist: np.ndarray) -> float:
    """SSIM of the distorted image against its pristine source on luminance (BT.601), scikit-image."""
    from skimage.metrics import structural_similarity

    w = np.array([0.299, 0.587, 0.114])
    y1 = ref.astype(np.float64) @ w
    y2 = dist.astype(np.float64) @ w
    return float(structural_similarity(y1, y2, data_range=255.0, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))


def _build_reference(root: Path, ref: str, distortions, levels: int) -> list[dict]:
    from .io import read_image

    img = load_reference(ref)
    ref_rel = f"reference/{ref}.png"
    save_png(root / ref_rel, img)
    rows = []
    for dist in distortions:
        for level in range(1, levels + 1):
            image_id = f"{ref}__{dist}__{level}"
            data, ext = distort(img, dist, level, image_id)
            rel = f"distorted/{image_id}{ext}"
            write_bytes_atomic(root / rel, data)
            score = proxy_score(img, read_image(root / rel))
            rows.append({"image": rel, "reference": ref_rel, "distortion": dist, "level": level,
                         "score": round(score, 6)})
    return rows


def build(root: str | Path, references=REFERENCES, distortions=("gb", "wn", "jpeg", "jp2k"), levels=5,
          workers: int = 1) -> Path:
    """Write the demo dataset under ``root`` (idempotent: the same files, byte for byte, on every build).

    ``workers`` photographs are processed at once (threads: the encoders and filters release the GIL); the files
    and the score table do not depend on it.
    """
    from concurrent.futures import ThreadPoolExecutor

    import pandas as pd

    root = Path(root)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        per_ref = list(pool.map(lambda r: _build_reference(root, r, distortions, levels), references))
    rows = [row for part in per_ref for row in part]
    df = pd.DataFrame(rows)
    with atomic_path(root / "scores.csv") as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n")
    write_bytes_atomic(root / "README.txt", (
        "veiqa demo dataset: scikit-image photographs degraded at five levels.\n"
        f"score = {PROXY}.\nHigher is better, range 0..1.\n").encode())
    return root
