"""Tests of veiqa.datasets: loaders for each release's layout and score file, and staging.

Trees are built in tmp_path in each release's own layout with tiny generated images (8x6 unless stated) for a
subset of the rows of the *real* score files copied from ../shared/datasets/scores; the expected rows, scores and
mappings are worked out here independently from those files with plain Python (line splitting, other repositories'
CSV copies), not with the loaders' code. Images listed in a score file but not created are expected in
rejected.parquet as "missing".
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import shutil
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from PIL import Image
from scipy.stats import spearmanr

from veiqa.datasets import LOADERS, MANIFEST_COLUMNS, REJECTED_COLUMNS, read_manifest, stage
from veiqa.io import VeiqaError, read_provenance

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SCORES = SHARED / "scores"
needs_shared = pytest.mark.skipif(not SCORES.is_dir(), reason=f"{SCORES} not present (real score files)")

_FORMATS = {".bmp": "BMP", ".png": "PNG", ".jpg": "JPEG", ".jp2": "JPEG2000"}


def _img_bytes(suffix: str, size=(8, 6), seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=_FORMATS[suffix.lower()])
    return buf.getvalue()


_CACHE: dict = {}


def _write_img(path: Path, size=(8, 6), seed=0) -> None:
    key = (path.suffix.lower(), size, seed)
    if key not in _CACHE:
        _CACHE[key] = _img_bytes(path.suffix, size, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_CACHE[key])


def _lines(path: Path) -> list[list[str]]:
    return [ln.split() for ln in path.read_text().splitlines() if ln.strip()]


def _check_files(out: Path, manifest: pd.DataFrame, rejected: pd.DataFrame) -> Path:
    """Both Parquet files exist with the fixed columns; return the root recorded in the manifest."""
    m, root = read_manifest(out / "manifest.parquet")
    r = pd.read_parquet(out / "rejected.parquet")
    assert list(m.columns) == list(MANIFEST_COLUMNS)
    assert list(r.columns) == list(REJECTED_COLUMNS)
    assert len(m) == len(manifest) and len(r) == len(rejected)
    # the same Parquet types whether a table is empty or not
    ms, rs = pq.read_schema(out / "manifest.parquet"), pq.read_schema(out / "rejected.parquet")
    for schema in (ms, rs):
        assert str(schema.field("level").type) == "int64"
        assert str(schema.field("image_id").type) in ("string", "large_string")
    assert [str(ms.field(c).type) for c in ("width", "height", "score", "higher_is_better")] == \
        ["int64", "int64", "double", "bool"]
    assert str(rs.field("reason").type) in ("string", "large_string")
    for row in m.head(5).itertuples():
        f = root / row.path
        assert hashlib.sha256(f.read_bytes()).hexdigest() == row.sha256
        with Image.open(f) as im:
            assert im.size == (row.width, row.height)
    return root


# ------------------------------------------------------------------------------------------------- LIVE


def _live_tree(root: Path) -> list[dict]:
    """All 779 distorted LIVE images and 29 references as 8x6 BMPs; return icbcbicc's independent list of them."""
    for f in ("dmos_realigned.mat", "refnames_all.mat"):
        root.mkdir(parents=True, exist_ok=True)
        shutil.copy(SCORES / "live" / f, root / f)
    with open(SCORES / "live" / "LIVE_icbcbicc_realigned.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        rel = r["dis_img_path"].removeprefix("LIVE/")
        _write_img(root / rel, seed=1)
        _write_img(root / r["ref_img_path"].removeprefix("LIVE/"), seed=2)
    return rows


@needs_shared
def test_live_rows_mapping_scores_and_direction(tmp_path):
    root = tmp_path / "databaserelease2"
    indep = _live_tree(root)
    assert len(indep) == 779
    out = tmp_path / "out"
    manifest, rejected = stage("live", root, out)
    folder_map = {"jp2k": "jp2k", "jpeg": "jpeg", "wn": "wn", "gblur": "gb"}
    expect = {r["dis_img_path"].removeprefix("LIVE/"): r for r in indep
              if r["dis_img_path"].split("/")[1] in folder_map}
    assert len(manifest) == len(expect) == 779 - 145  # fastfading: 174 entries, 29 of them reference copies
    assert len(rejected) == 0
    by_path = manifest.set_index("path")
    assert set(by_path.index) == set(expect)
    for p, r in expect.items():
        row = by_path.loc[p]
        assert row.distortion == folder_map[p.split("/")[0]]
        assert row.ref_path == r["ref_img_path"].removeprefix("LIVE/")
        assert row.score == pytest.approx(float(r["score"]), abs=1e-9)  # same realigned DMOS, full precision
    assert (manifest.score_kind == "DMOS").all() and not manifest.higher_is_better.any()
    assert manifest.level.isna().all()
    # an independent look at the .mat through the original-DMOS text list: entry order jp2k, jpeg, wn, gblur, fastfading
    names = [ln[1] for ln in _lines(SCORES / "live" / "MOS_NAME_REF_dmos_original.txt")]
    assert set(manifest.path) <= set(names)
    assert manifest.image_id.is_unique and not manifest.image_id.str.contains("/").any()
    _check_files(out, manifest, rejected)

    every, _ = stage("live", root, tmp_path / "out_all", distortions="all")
    assert len(every) == 779
    assert (every.distortion == "other:fastfading").sum() == 145


# ------------------------------------------------------------------------------------------------- TID2013


TID_KEEP = {"01": "wn", "08": "gb", "10": "jpeg", "11": "jp2k"}


def _tid_rows():
    return [(float(m), n) for m, n in _lines(SCORES / "tid2013" / "mos_with_names.txt")]


def _tid_tree(root: Path, refs=("01", "25")) -> None:
    (root / "distorted_images").mkdir(parents=True)
    shutil.copy(SCORES / "tid2013" / "mos_with_names.txt", root)
    for ref in refs:
        # reference names on disk differ in case from what the loader builds (I25.BMP): i25.bmp
        _write_img(root / "reference_images" / (f"I{ref}.BMP" if ref == "01" else f"i{ref}.bmp"), seed=3)
    for _, name in _tid_rows():
        if name[1:3] in refs:
            _write_img(root / "distorted_images" / name.lower(), seed=4)  # on disk lower case, file may say I01_..BMP


@needs_shared
def test_tid2013_rows_rejects_and_log(tmp_path, caplog):
    root = tmp_path / "tid2013"
    _tid_tree(root)
    d = root / "distorted_images"
    (d / "i01_08_3.bmp").write_bytes((d / "i01_08_3.bmp").read_bytes()[:100])  # truncated
    (d / "i01_10_2.bmp").write_text("this is not a bitmap\n")  # text named .bmp
    (d / "i01_11_4.bmp").unlink()  # missing
    _write_img(d / "i01_01_5.bmp", size=(9, 6))  # wrong size vs its 8x6 reference
    broken = {"i01_08_3": "truncated", "i01_10_2": "not_image", "i01_11_4": "missing", "i01_01_5": "size"}

    rows = _tid_rows()
    kept = [(m, n) for m, n in rows if n[4:6] in TID_KEEP]
    ours = [(m, n) for m, n in kept if n[1:3] in ("01", "25")]
    assert len(rows) == 3000 and len(kept) == 25 * 4 * 5 and len(ours) == 40

    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING, logger="veiqa.datasets"):
        manifest, rejected = stage("tid2013", root, out, check_expected_size=False)
    assert len(manifest) == len(ours) - len(broken) == 36
    assert len(rejected) == len(kept) - 36
    rej = rejected.set_index("image_id")
    for iid, code in broken.items():
        assert rej.loc[iid, "reason_code"] == code
        assert iid in caplog.text
    assert (rej.drop(index=list(broken)).reason_code == "missing").all()
    assert "9x6" in rej.loc["i01_01_5", "reason"] and "8x6" in rej.loc["i01_01_5", "reason"]

    scores = {n.lower()[:-4]: m for m, n in rows}
    for r in manifest.itertuples():
        assert r.score == scores[r.image_id]
        assert r.distortion == TID_KEEP[r.image_id[4:6]] and r.db_distortion == r.image_id[4:6]
        assert r.level == int(r.image_id[-1])
        assert (root / r.path).is_file() and (root / r.ref_path).is_file()
    assert set(manifest.ref_path) == {"reference_images/I01.BMP", "reference_images/i25.bmp"}
    assert (manifest.score_kind == "MOS").all() and manifest.higher_is_better.all()
    assert (manifest.score_min == 0).all() and (manifest.score_max == 9).all()
    _check_files(out, manifest, rejected)


@needs_shared
def test_tid2013_real_images_and_expected_size(tmp_path):
    """The real 512x384 TID2013 BMPs pass the fixed-size check; an 8x6 one is rejected against 512x384."""
    samples = SHARED / "tid2013_samples"
    if not samples.is_dir():
        pytest.skip(f"{samples} not present")
    root = tmp_path / "tid"
    (root / "distorted_images").mkdir(parents=True)
    (root / "reference_images").mkdir()
    shutil.copy(SCORES / "tid2013" / "mos_with_names.txt", root)
    for f in ("I01.BMP", "I03.BMP"):
        shutil.copy(samples / f, root / "reference_images" / f)
    for f in ("i01_01_5.bmp", "i03_01_1.bmp"):
        shutil.copy(samples / f, root / "distorted_images" / f)
    _write_img(root / "distorted_images" / "i01_08_1.bmp")
    manifest, rejected = stage("tid2013", root, tmp_path / "out", distortions=["wn", "gb"])
    m = manifest.set_index("image_id")
    assert set(m.index) == {"i01_01_5", "i03_01_1"}
    assert m.loc["i01_01_5", "score"] == pytest.approx(3.86486, abs=1e-5)  # PROVENANCE.md
    assert m.loc["i03_01_1", "score"] == pytest.approx(5.76923, abs=1e-5)
    assert (m.width == 512).all() and (m.height == 384).all()
    assert m.loc["i01_01_5", "sha256"] == hashlib.sha256((samples / "i01_01_5.bmp").read_bytes()).hexdigest()
    r = rejected.set_index("image_id")
    assert r.loc["i01_08_1", "reason_code"] == "size" and "expected 512x384" in r.loc["i01_08_1", "reason"]


@needs_shared
def test_tid2013_from_zip_nested_one_folder(tmp_path):
    src = tmp_path / "src"
    _tid_tree(src / "tid2013", refs=("02",))
    archive = tmp_path / "tid2013.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(src.rglob("*")):
            zf.write(f, f.relative_to(src).as_posix())
    out = tmp_path / "out"
    manifest, rejected = stage("tid2013", archive, out, check_expected_size=False)
    assert len(manifest) == 20 and set(manifest.ref_id) == {"i02"}
    direct, _ = stage("tid2013", src / "tid2013", tmp_path / "out_dir", check_expected_size=False)
    assert manifest[["image_id", "sha256"]].equals(direct[["image_id", "sha256"]])
    prov = read_provenance(out / "manifest.parquet")
    assert prov["root_rel"] == "raw/tid2013"
    _, root = read_manifest(out / "manifest.parquet")
    assert root == (out / "raw" / "tid2013").resolve()


# ------------------------------------------------------------------------------------------------- CSIQ


CSIQ_TOKENS = {"AWGN": ("awgn", "wn"), "BLUR": ("blur", "gb"), "JPEG": ("jpeg", "jpeg"),
               "jpeg2000": ("jpeg2000", "jp2k"), "fnoise": ("fnoise", None), "contrast": ("contrast", None)}


def _csiq_tree(root: Path, refs=("1600", "woman")) -> list[tuple[str, float]]:
    labels = [(n, float(s)) for n, s in _lines(SCORES / "csiq" / "csiq_label.txt")]
    root.mkdir(parents=True)
    shutil.copy(SCORES / "csiq" / "csiq.beta.xlsx", root)
    for ref in refs:
        _write_img(root / "src_imgs" / f"{ref}.png", seed=5)
    for name, _ in labels:
        ref, token, _lvl, _ = name.split(".")
        if ref in refs:
            _write_img(root / "dst_imgs" / CSIQ_TOKENS[token][0] / name, seed=6)
    return labels


@needs_shared
def test_csiq_xlsx_and_label_txt(tmp_path):
    root = tmp_path / "CSIQ"
    labels = _csiq_tree(root)
    assert len(labels) == 866
    ours = {n: s for n, s in labels if n.split(".")[0] in ("1600", "woman") and CSIQ_TOKENS[n.split(".")[1]][1]}
    kept_all = [n for n, _ in labels if CSIQ_TOKENS[n.split(".")[1]][1]]
    manifest, rejected = stage("csiq", root, tmp_path / "out", check_expected_size=False)
    assert len(manifest) == len(ours) == 2 * 4 * 5
    assert len(rejected) == len(kept_all) - len(ours) and (rejected.reason_code == "missing").all()
    by_file = manifest.set_index(manifest.path.str.rsplit("/", n=1).str[1])
    for name, s in ours.items():
        row = by_file.loc[name]  # path spelled as on disk (1600.AWGN.1.png)
        assert row.score == pytest.approx(s, abs=1e-6)  # label file has 6 decimals, the sheet full precision
        assert row.distortion == CSIQ_TOKENS[name.split(".")[1]][1]
        assert row.level == int(name.split(".")[2])
    assert not manifest.higher_is_better.any() and (manifest.score_kind == "DMOS").all()
    assert (manifest.score_max == 1).all()

    txt, _ = stage("csiq", root, tmp_path / "out_txt", check_expected_size=False,
                   score_file=SCORES / "csiq" / "csiq_label.txt")
    assert sorted(txt.image_id) == sorted(manifest.image_id)
    np.testing.assert_allclose(txt.set_index("image_id").score.sort_index(),
                               manifest.set_index("image_id").score.sort_index(), atol=1e-6)


# ------------------------------------------------------------------------------------------------- SIQAD


@needs_shared
def test_siqad_rows_and_reference_sizes(tmp_path):
    root = tmp_path / "SIQAD"
    (root / "DistortedImages").mkdir(parents=True)
    shutil.copy(SCORES / "siqad" / "sccdmos.txt", root)
    rows = [(float(s), n) for s, n in _lines(SCORES / "siqad" / "sccdmos.txt")]
    sizes = {"1": (8, 6), "20": (10, 7)}  # SIQAD sizes vary by reference: each image is checked against its own
    for r, size in sizes.items():
        _write_img(root / "references" / f"cim{r}.bmp", size=size, seed=7)
    for _, n in rows:
        r = n[3:].split("_")[0]
        if r in sizes:
            _write_img(root / "DistortedImages" / n, size=sizes[r], seed=8)
    keep = {"1": "wn", "2": "gb", "5": "jpeg", "6": "jp2k"}
    ours = {n[:-4]: s for s, n in rows if n[3:].split("_")[0] in sizes and n.split("_")[1] in keep}
    manifest, rejected = stage("siqad", root, tmp_path / "out")
    assert len(rows) == 980 and len(manifest) == len(ours) == 2 * 4 * 7
    assert len(rejected) == 18 * 4 * 7
    for r in manifest.itertuples():
        assert r.score == ours[r.image_id]
        assert r.distortion == keep[r.image_id.split("_")[1]]
        assert (r.width, r.height) == sizes[r.ref_id[3:]]
    assert not manifest.higher_is_better.any()


# ------------------------------------------------------------------------------------------------- KADID-10k


@needs_shared
def test_kadid10k_from_tar_gz_idempotent(tmp_path):
    src = tmp_path / "src" / "kadid10k"
    (src / "images").mkdir(parents=True)
    shutil.copy(SCORES / "kadid10k" / "dmos.csv", src)
    with open(SCORES / "kadid10k" / "dmos.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    refs = ("I01", "I81")
    for ref in refs:
        _write_img(src / "images" / f"{ref}.png", seed=9)
    for r in rows:
        if r["ref_img"][:-4] in refs:
            _write_img(src / "images" / r["dist_img"], seed=10)
    keep = {"01": "gb", "09": "jp2k", "10": "jpeg", "11": "wn"}
    ours = {r["dist_img"][:-4].lower(): float(r["dmos"]) for r in rows
            if r["ref_img"][:-4] in refs and r["dist_img"][4:6] in keep}
    archive = tmp_path / "kadid10k.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(src, arcname="kadid10k")
    out = tmp_path / "out"
    manifest, rejected = stage("kadid10k", archive, out, check_expected_size=False)
    assert len(rows) == 10125 and len(manifest) == len(ours) == 2 * 4 * 5
    assert len(rejected) == 79 * 4 * 5
    for r in manifest.itertuples():
        assert r.score == ours[r.image_id]
        assert r.distortion == keep[r.image_id[4:6]]
    # KADID's "dmos" column is a 1..5 MOS: higher is better
    assert manifest.higher_is_better.all() and (manifest.score_kind == "MOS").all()
    assert (manifest.score_min == 1).all() and (manifest.score_max == 5).all()

    marker = out / "raw" / ".veiqa_extracted.json"
    before = marker.stat().st_mtime_ns
    again, _ = stage("kadid10k", archive, out, check_expected_size=False)
    assert marker.stat().st_mtime_ns == before  # not extracted a second time
    pd.testing.assert_frame_equal(again, manifest)


# ------------------------------------------------------------------------------------------------- direction


@needs_shared
@pytest.mark.parametrize(
    "name,files",
    [("tid2013", ["tid2013/mos_with_names.txt"]), ("csiq", ["csiq/csiq.beta.xlsx"]),
     ("siqad", ["siqad/sccdmos.txt"]), ("kadid10k", ["kadid10k/dmos.csv"])],
)
def test_score_direction_agrees_with_levels(tmp_path, name, files):
    """Within each distortion type a higher level is a stronger distortion, so the score must fall with level
    when higher is better and rise when lower is better: the sign of Spearman's rho(level, score) over all
    four kept types, per type, must be the opposite of higher_is_better (checked on the loaders' full tables)."""
    for f in files:
        shutil.copy(SCORES / f, tmp_path)
    df = LOADERS[name](tmp_path)
    df = df[df.distortion.isin(["gb", "wn", "jpeg", "jp2k"])]
    hib = bool(df.higher_is_better.iloc[0])
    for dist, g in df.groupby("distortion"):
        rho = spearmanr(g.level.astype(float), g.score).statistic
        assert (rho < -0.3) if hib else (rho > 0.3), (name, dist, rho)
    assert df.score.between(df.score_min.iloc[0], df.score_max.iloc[0]).all()


# ------------------------------------------------------------------------------------------------- demo


def _demo_tree(root: Path) -> list[dict]:
    ext = {"gb": "png", "wn": "png", "jpeg": "jpg", "jp2k": "jp2"}
    rows = []
    for k, ref in enumerate(("kodim01", "kodim02")):
        _write_img(root / "reference" / f"{ref}.png", seed=11)
        for d, e in ext.items():
            for lvl in (1, 3):
                rel = f"distorted/{ref}__{d}__{lvl}.{e}"
                _write_img(root / rel, seed=12)
                rows.append({"image": rel, "reference": f"reference/{ref}.png", "distortion": d,
                             "level": lvl, "score": round(1 - 0.1 * lvl - 0.01 * k, 3)})
    pd.DataFrame(rows).to_csv(root / "scores.csv", index=False)
    return rows


def test_demo_proxy_and_distortion_filter(tmp_path):
    root = tmp_path / "demo"
    rows = _demo_tree(root)
    manifest, rejected = stage("demo", root, tmp_path / "out")
    assert len(manifest) == len(rows) == 16 and len(rejected) == 0
    m = manifest.set_index("image_id")
    assert m.loc["kodim02__jp2k__3", "score"] == pytest.approx(0.69)
    assert m.loc["kodim02__jp2k__3", "path"] == "distorted/kodim02__jp2k__3.jp2"
    assert (manifest.score_kind == "proxy").all() and manifest.higher_is_better.all()
    assert "not a human opinion" in read_provenance(tmp_path / "out" / "manifest.parquet")["score_note"]
    assert sorted(manifest.level.unique()) == [1, 3]

    only, rej = stage("demo", root, tmp_path / "out_jpeg", distortions=["jpeg"])
    assert len(only) == 4 and (only.distortion == "jpeg").all() and len(rej) == 0
    with pytest.raises(VeiqaError, match="'blur' is not a distortion name"):
        stage("demo", root, tmp_path / "x", distortions=["blur"])
    with pytest.raises(VeiqaError, match="other:fastfading"):
        stage("demo", root, tmp_path / "x", distortions=["other:fastfading"])


def test_demo_reference_broken_rejects_its_images(tmp_path, caplog):
    root = tmp_path / "demo"
    _demo_tree(root)
    (root / "reference" / "kodim01.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with caplog.at_level(logging.WARNING, logger="veiqa.datasets"):
        manifest, rejected = stage("demo", root, tmp_path / "out")
    assert len(manifest) == 8 and len(rejected) == 8
    assert (rejected.reason_code == "reference").all() and set(rejected.ref_id) == {"kodim01"}
    assert "kodim01__gb__1" in caplog.text


# ------------------------------------------------------------------------------------------------- errors


def _zip_with(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    return path


def test_archive_path_traversal_refused(tmp_path):
    bad = _zip_with(tmp_path / "evil.zip", {"demo/scores.csv": b"x", "../evil.txt": b"pwned"})
    with pytest.raises(VeiqaError, match="outside the extraction folder"):
        stage("demo", bad, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out" / "raw").exists()

    tgz = tmp_path / "evil.tar.gz"
    with tarfile.open(tgz, "w:gz") as tf:
        info = tarfile.TarInfo("../../evil2.txt")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"pwned"))
    with pytest.raises(VeiqaError, match="outside the extraction folder"):
        stage("demo", tgz, tmp_path / "out2")
    assert not (tmp_path / "evil2.txt").exists() and not tmp_path.parent.joinpath("evil2.txt").exists()


@needs_shared
def test_bad_score_files_and_layout(tmp_path, caplog):
    root = tmp_path / "tid"
    _tid_tree(root, refs=("01",))
    full = (root / "mos_with_names.txt").read_text().splitlines()
    (root / "mos_with_names.txt").write_text("\n".join(full[:100]) + "\n")  # a partial copy: staged, with a warning
    with caplog.at_level(logging.WARNING, logger="veiqa.datasets"):
        m, _ = stage("tid2013", root, tmp_path / "o0", check_expected_size=False)
    assert "lists 100 distorted images" in caplog.text and len(m) == 20  # rows 1..100 are all of i01's 4x5 kept rows
    (root / "mos_with_names.txt").unlink()
    with pytest.raises(VeiqaError, match="mos_with_names.txt"):
        stage("tid2013", root, tmp_path / "o1")
    (root / "mos_with_names.txt").write_text("5.1 i01_01_1.bmp\nfive i01_01_2.bmp\n")
    with pytest.raises(VeiqaError, match=r"mos_with_names.txt: line 2: mos 'five'"):
        stage("tid2013", root, tmp_path / "o2")
    shutil.copy(SCORES / "tid2013" / "mos_with_names.txt", root)
    shutil.rmtree(root / "reference_images")
    with pytest.raises(VeiqaError, match="reference_images/ not found"):
        stage("tid2013", root, tmp_path / "o3")

    live = tmp_path / "live"
    (live / "refimgs").mkdir(parents=True)
    (live / "dmos_realigned.mat").write_bytes(b"MATLAB 5.0 MAT-file, but not really")
    shutil.copy(SCORES / "live" / "refnames_all.mat", live)
    with pytest.raises(VeiqaError, match="dmos_realigned.mat: cannot read MATLAB file"):
        stage("live", live, tmp_path / "o4")

    kadid = tmp_path / "kadid10k"
    (kadid / "images").mkdir(parents=True)
    (kadid / "dmos.csv").write_text("dist_img,ref_img,score\nI01_01_01.png,I01.png,4.5\n")
    with pytest.raises(VeiqaError, match="dmos.csv: missing column"):
        stage("kadid10k", kadid, tmp_path / "o5")

    csiq = tmp_path / "csiq"
    (csiq / "dst_imgs").mkdir(parents=True)
    (csiq / "csiq.beta.xlsx").write_bytes(b"not a spreadsheet")
    with pytest.raises(VeiqaError, match="csiq.beta.xlsx: cannot read spreadsheet"):
        stage("csiq", csiq, tmp_path / "o6")

    with pytest.raises(VeiqaError, match="known datasets"):
        stage("live2", live, tmp_path / "o7")


def test_score_scale_row_fills_the_candidate_columns():
    from veiqa.datasets import csiq, kadid10k, live, siqad, tid2013
    from veiqa.datasets._common import CANDIDATE_COLUMNS

    row = tid2013.SCALE.row("i01_08_3", "i01", "gb", "08", 3, "d/i01_08_3.bmp", "r/I01.BMP", 4.5)
    assert tuple(row) == CANDIDATE_COLUMNS
    assert row == {"image_id": "i01_08_3", "ref_id": "i01", "distortion": "gb", "db_distortion": "08", "level": 3,
                   "path": "d/i01_08_3.bmp", "ref_path": "r/I01.BMP", "score": 4.5, "score_kind": "MOS",
                   "higher_is_better": True, "score_min": 0.0, "score_max": 9.0, "expected_width": 512,
                   "expected_height": 384}
    # the scale of each database as its module documents it: kind, direction, range, fixed size
    assert [(m.SCALE.kind, m.SCALE.higher_is_better, m.SCALE.range, m.SCALE.size)
            for m in (live, csiq, siqad, kadid10k)] == [
        ("DMOS", False, (0.0, 100.0), None), ("DMOS", False, (0.0, 1.0), (512, 512)),
        ("DMOS", False, (0.0, 100.0), None), ("MOS", True, (1.0, 5.0), (512, 384))]
    assert live.SCALE.row("a", "b", "wn", "wn", None, "p", "q", 1)["expected_width"] is None
