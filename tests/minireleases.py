"""Miniature releases of the five databases, each in its own layout, names and formats, for end-to-end runs.

Each tree holds the database's **real** score file(s) copied unchanged from ``../shared/datasets/scores`` and a few
images: three contents, each with two levels (or, for LIVE, two entries of the score file) of each of the paper's
four distortions, at the database's own image size where the release has a fixed one (CSIQ 512x512, TID2013 and
KADID-10k 512x384). Every other row of the score file has no image, as after a partial download, so staging
rejects it as "missing". Images are real photographs: TID2013's own reference images and two of its distorted
images from ``../shared/datasets/tid2013_samples``; elsewhere scikit-image's photographs (a screen-content
composite with text for SIQAD). Distorted images are made with the named distortion, stronger for a stronger
level (for LIVE, a larger DMOS), so the scores and the images go the same way, as in the real databases.

``build(name, root)`` writes the tree and returns a :class:`Mini` record of what it holds, computed here from the
score files with plain Python (not with veiqa's loaders).
"""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SCORES = SHARED / "scores"
SAMPLES = SHARED / "tid2013_samples"

FOUR = ("gb", "wn", "jpeg", "jp2k")


@dataclass
class Mini:
    """What a miniature release holds (worked out from the score files, independently of veiqa)."""

    root: Path
    images: dict[str, float] = field(default_factory=dict)  # image_id as veiqa names it -> score in the file
    distortion: dict[str, str] = field(default_factory=dict)  # image_id -> gb | wn | jpeg | jp2k
    level: dict[str, int | None] = field(default_factory=dict)
    contents: set[str] = field(default_factory=set)
    n_rows_kept: int = 0  # rows of the score file with one of the four distortions (staged or rejected)
    higher_is_better: bool = True
    score_kind: str = "MOS"


# ------------------------------------------------------------------------------------------------ images


def _photo(name: str) -> np.ndarray:
    import skimage.data

    a = getattr(skimage.data, name)()
    if a.ndim == 2:
        a = np.stack([a] * 3, axis=-1)
    return a[..., :3]


def _fit(a: np.ndarray, w: int, h: int) -> Image.Image:
    """Scale to cover w x h, then crop the centre."""
    im = Image.fromarray(a)
    s = max(w / im.width, h / im.height)
    im = im.resize((max(w, round(im.width * s)), max(h, round(im.height * s))), Image.LANCZOS)
    x0, y0 = (im.width - w) // 2, (im.height - h) // 2
    return im.crop((x0, y0, x0 + w, y0 + h))


def _screen(a: np.ndarray, w: int, h: int, seed: int) -> Image.Image:
    """A screen-content image (SIQAD's kind): a white page with lines of text beside a photograph."""
    page = Image.new("RGB", (w, h), (255, 255, 255))
    page.paste(_fit(a, w // 2, h // 2), (w // 2 - 8, 8))
    d = ImageDraw.Draw(page)
    rng = np.random.default_rng(seed)
    words = ["quality", "image", "screen", "content", "database", "text", "graphics", "window", "menu", "file"]
    for k, y in enumerate(range(h // 2 + 20, h - 12, 14)):
        d.text((10, y), " ".join(rng.choice(words, 6)), fill=(20 * (k % 3), 20, 60))
    d.rectangle((8, 8, w // 2 - 24, h // 2 - 8), outline=(0, 0, 128), width=3)
    for k in range(6):
        d.text((16, 16 + 20 * k), f"Item {k + 1}: " + " ".join(rng.choice(words, 2)), fill=(0, 0, 0))
    return page


def distort(img: Image.Image, kind: str, t: float, seed: int) -> Image.Image:
    """``kind`` at strength ``t`` in (0, 1]: the larger t, the worse the image."""
    if kind == "gb":
        return img.filter(ImageFilter.GaussianBlur(radius=0.6 + 5 * t))
    if kind == "wn":
        a = np.asarray(img, dtype=np.float64)
        a = a + np.random.default_rng(seed).normal(0, 4 + 40 * t, a.shape)
        return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    if kind == "jpeg":
        img.save(buf, format="JPEG", quality=int(round(60 - 55 * t)))
    elif kind == "jp2k":
        img.save(buf, format="JPEG2000", quality_mode="rates", quality_layers=[20 + 180 * t])
    else:
        raise ValueError(kind)
    buf.seek(0)
    with Image.open(buf) as im:
        return im.convert("RGB")


def _save(im: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".bmp": "BMP", ".png": "PNG"}[path.suffix.lower()]
    im.save(path, format=fmt)


def _lines(path: Path) -> list[list[str]]:
    return [ln.split() for ln in path.read_text().splitlines() if ln.strip()]


# ------------------------------------------------------------------------------------------------ databases


def tid2013(root: Path) -> Mini:
    """``reference_images/I01.BMP``…, ``distorted_images/i01_08_3.bmp``…, ``mos_with_names.txt`` (MOS 0..9)."""
    codes = {"01": "wn", "08": "gb", "10": "jpeg", "11": "jp2k"}
    refs = {"01": "I01.BMP", "03": "I03.BMP", "04": "I04.BMP"}
    real = {"i01_01_5.bmp", "i03_01_1.bmp"}  # the two real distorted images of the shared samples
    levels = {"01": (1, 5), "03": (1, 4), "04": (2, 5)}
    m = Mini(root=root)
    shutil.copy(SCORES / "tid2013" / "mos_with_names.txt", root / "mos_with_names.txt")
    for ref, f in refs.items():
        _save(Image.open(SAMPLES / f).convert("RGB"), root / "reference_images" / f)
        m.contents.add(f"i{ref}")
    for mos, name in _lines(root / "mos_with_names.txt"):
        ref, code, lvl = name[1:3], name[4:6], int(name[7])
        if code not in codes:
            continue
        m.n_rows_kept += 1
        if ref not in refs or lvl not in levels[ref]:
            continue
        out = root / "distorted_images" / name.lower()
        if name.lower() in real:
            shutil.copy(SAMPLES / name.lower(), out)
        else:
            ref_im = Image.open(root / "reference_images" / refs[ref])
            _save(distort(ref_im, codes[code], lvl / 5, seed=lvl), out)
        iid = name.lower()[:-4]
        m.images[iid], m.distortion[iid], m.level[iid] = float(mos), codes[code], lvl
    return m


def csiq(root: Path) -> Mini:
    """``src_imgs/<ref>.png``, ``dst_imgs/<folder>/<ref>.<TOKEN>.<level>.png``, ``csiq.beta.xlsx`` (DMOS 0..1)."""
    tokens = {"AWGN": ("awgn", "wn"), "BLUR": ("blur", "gb"), "JPEG": ("jpeg", "jpeg"),
              "jpeg2000": ("jpeg2000", "jp2k")}
    refs = {"1600": "astronaut", "woman": "coffee", "bridge": "rocket"}
    m = Mini(root=root, higher_is_better=False, score_kind="DMOS")
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(SCORES / "csiq" / "csiq.beta.xlsx", root / "csiq.beta.xlsx")
    for ref, photo in refs.items():
        _save(_fit(_photo(photo), 512, 512), root / "src_imgs" / f"{ref}.png")
        m.contents.add(ref)
    for name, dmos in _lines(SCORES / "csiq" / "csiq_label.txt"):
        ref, token, lvl, _ = name.split(".")
        if token not in tokens:
            continue
        m.n_rows_kept += 1
        if ref not in refs or int(lvl) not in (1, 4):
            continue
        folder, code = tokens[token]
        ref_im = Image.open(root / "src_imgs" / f"{ref}.png")
        _save(distort(ref_im, code, int(lvl) / 5, seed=int(lvl)), root / "dst_imgs" / folder / name)
        iid = name[:-4].lower()  # veiqa's CSIQ image ids are lower case (1600.awgn.1)
        m.images[iid], m.distortion[iid], m.level[iid] = float(dmos), code, int(lvl)
    return m


def kadid10k(root: Path) -> Mini:
    """``images/I01.png``, ``images/I01_01_01.png``…, ``dmos.csv`` (its "dmos" column is a 1..5 MOS)."""
    codes = {"01": "gb", "09": "jp2k", "10": "jpeg", "11": "wn"}
    refs = {"I01": "chelsea", "I02": "coffee", "I03": "astronaut"}
    m = Mini(root=root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    shutil.copy(SCORES / "kadid10k" / "dmos.csv", root / "dmos.csv")
    for ref, photo in refs.items():
        _save(_fit(_photo(photo), 512, 384), root / "images" / f"{ref}.png")
        m.contents.add(ref.lower())
    with open(root / "dmos.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            ref, code, lvl = r["dist_img"][:3], r["dist_img"][4:6], int(r["dist_img"][7:9])
            if code not in codes:
                continue
            m.n_rows_kept += 1
            if ref not in refs or lvl not in (1, 4):
                continue
            ref_im = Image.open(root / "images" / f"{ref}.png")
            _save(distort(ref_im, codes[code], lvl / 5, seed=lvl), root / "images" / r["dist_img"])
            iid = r["dist_img"][:-4].lower()
            m.images[iid], m.distortion[iid], m.level[iid] = float(r["dmos"]), codes[code], lvl
    return m


def siqad(root: Path) -> Mini:
    """``references/cim<k>.bmp``, ``DistortedImages/cim<k>_<type>_<level>.bmp``, ``sccdmos.txt`` (DMOS, lower
    is better). SIQAD's images vary in size; these are 320x256 screen-content composites."""
    codes = {"1": "wn", "2": "gb", "5": "jpeg", "6": "jp2k"}
    refs = {"1": "astronaut", "2": "coffee", "3": "chelsea"}
    m = Mini(root=root, higher_is_better=False, score_kind="DMOS")
    (root / "DistortedImages").mkdir(parents=True, exist_ok=True)
    shutil.copy(SCORES / "siqad" / "sccdmos.txt", root / "sccdmos.txt")
    for ref, photo in refs.items():
        _save(_screen(_photo(photo), 320, 256, seed=int(ref)), root / "references" / f"cim{ref}.bmp")
        m.contents.add(f"cim{ref}")
    for dmos, name in _lines(root / "sccdmos.txt"):
        ref, code, lvl = name[3:-4].split("_")
        if code not in codes:
            continue
        m.n_rows_kept += 1
        if ref not in refs or int(lvl) not in (2, 6):
            continue
        ref_im = Image.open(root / "references" / f"cim{ref}.bmp")
        _save(distort(ref_im, codes[code], int(lvl) / 7, seed=int(lvl)), root / "DistortedImages" / name)
        iid = name[:-4]
        m.images[iid], m.distortion[iid], m.level[iid] = float(dmos), codes[code], int(lvl)
    return m


def live(root: Path) -> Mini:
    """LIVE Release 2 as the issue's user had it: ``dmos_realigned.mat`` and ``refnames_all.mat`` (``dmos.mat`` and
    the ``fastfading/`` folder absent), ``refimgs/<name>.bmp``, ``<folder>/img<k>.bmp``; DMOS, no discrete levels.
    The entries are taken from an independent CSV copy of the realigned DMOS (icbcbicc's), not from the .mat."""
    folders = {"jp2k": "jp2k", "jpeg": "jpeg", "wn": "wn", "gblur": "gb"}
    refs = {"bikes.bmp": "rocket", "caps.bmp": "coffee", "parrots.bmp": "chelsea"}
    m = Mini(root=root, higher_is_better=False, score_kind="DMOS")
    root.mkdir(parents=True, exist_ok=True)
    for f in ("dmos_realigned.mat", "refnames_all.mat"):
        shutil.copy(SCORES / "live" / f, root / f)
    for ref, photo in refs.items():
        _save(_fit(_photo(photo), 384, 256), root / "refimgs" / ref)
        m.contents.add(ref[:-4])
    with open(SCORES / "live" / "LIVE_icbcbicc_realigned.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["dis_img_path"].split("/")[1] in folders]
    m.n_rows_kept = len(rows)
    for folder, code in folders.items():
        for ref in refs:
            mine = sorted((float(r["score"]), r["dis_img_path"]) for r in rows
                          if r["dis_img_path"].split("/")[1] == folder and r["ref_img_path"].endswith("/" + ref))
            for dmos, path in (mine[1], mine[-2]):  # a mild and a strong one of this content
                rel = path.removeprefix("LIVE/")
                ref_im = Image.open(root / "refimgs" / ref)
                _save(distort(ref_im, code, min(1.0, max(0.05, dmos / 80)), seed=len(m.images)), root / rel)
                iid = f"{folder}_{rel.split('/')[1][:-4]}"  # veiqa's LIVE image ids: <folder>_img<k>
                m.images[iid], m.distortion[iid], m.level[iid] = dmos, code, None
    return m


BUILDERS = {"live": live, "csiq": csiq, "tid2013": tid2013, "siqad": siqad, "kadid10k": kadid10k}


def build(name: str, root: Path) -> Mini:
    root.mkdir(parents=True, exist_ok=True)
    return BUILDERS[name](root)
