"""Each of the five release layouts runs the whole **default** workflow: staging, PRIs, Grad-CAM, the measures,
the NR methods, the FR ceiling, set metrics, the tables of both protocols, the paired comparisons and the report.

One workflow run stages the five miniature releases of :mod:`minireleases` (real score files, real photographs,
the rest of each score file missing as after a partial download) with the repository's ``config.yaml`` unchanged
and only ``datasets:`` added (LIVE without ``dmos.mat`` and ``fastfading/``, as a user had it). Each test then checks
one database's outputs against what the tree holds (worked out from the score files independently of veiqa) and
recomputes figures with SciPy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as sps

import minireleases as mr
from conftest import REPO

pytestmark = pytest.mark.slow

NAMES = tuple(mr.BUILDERS)
ARM = "efficientnet_lite0-pretrained-network-last-own_top1-minmax"
PRI = {"gb": "box3", "wn": "var0.5", "jpeg": "q1", "jp2k": "jpeg_q1"}


def _snakemake(wd, *args):
    cmd = [sys.executable, "-m", "snakemake", *args, "-s", str(REPO / "Snakefile"), "--directory", str(wd),
           "--cores", "2", "--configfile", str(wd / "datasets.yaml")]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=wd)
    if p.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({p.returncode}):\n{p.stdout[-3000:]}\n"
                             f"{p.stderr[-6000:]}")
    return p


@pytest.fixture(scope="module")
def releases(tmp_path_factory, shared_datasets):
    base = tmp_path_factory.mktemp("releases")
    minis = {n: mr.build(n, base / "disk" / n) for n in NAMES}
    wd = base / "wd"
    wd.mkdir()
    shutil.copy(REPO / "config.yaml", wd / "config.yaml")  # the default configuration, as a user has it
    (wd / "datasets.yaml").write_text(yaml.safe_dump(
        {"datasets": {n: {"loader": n, "source": str(m.root)} for n, m in minis.items()}}))
    _snakemake(wd)
    _snakemake(wd, "--report", "report.html")
    return wd, minis


@pytest.mark.parametrize("name", NAMES)
def test_staging_keeps_the_images_present_and_rejects_the_missing(releases, name):
    wd, minis = releases
    m = minis[name]
    man = pd.read_parquet(wd / f"resources/{name}/manifest.parquet").set_index("image_id")
    rej = pd.read_parquet(wd / f"resources/{name}/rejected.parquet")
    assert set(man.index) == set(m.images)
    np.testing.assert_allclose(man.loc[list(m.images), "score"], list(m.images.values()), atol=1e-6)
    assert man.distortion.to_dict() == m.distortion
    assert len(rej) == m.n_rows_kept - len(m.images) and set(rej.reason_code) == {"missing"}
    assert set(man.higher_is_better) == {m.higher_is_better} and set(man.score_kind) == {m.score_kind}
    assert set(man.ref_id.str.lower()) == m.contents


@pytest.mark.parametrize("name", NAMES)
def test_every_arm_scores_every_image(releases, name):
    wd, minis = releases
    n = len(minis[name].images)
    for d, pri in PRI.items():
        vei = pd.concat(pd.read_parquet(f) for f in (wd / f"results/{name}/vei/{d}/{pri}/{ARM}").glob("*.parquet"))
        assert (vei.error == "").all() and len(vei) == 6
    s = pd.read_parquet(wd / f"results/{name}/collected.parquet")
    assert set(s.pair_kind) == {"vei", "image", "nr", "fr"}
    assert set(s.loc[s.pair_kind == "nr", "measure"]) == {"niqe", "brisque", "piqe"}
    sizes = s.groupby(["arm", "measure"]).size()
    assert (sizes == n).all(), sizes[sizes != n]
    nr = s[s.pair_kind == "nr"]
    assert np.isfinite(nr.value).all() and (nr.status == "ok").all()
    # PSNR of the FR ceiling: distorted image against its pristine reference, recomputed with NumPy
    fr = s[(s.pair_kind == "fr") & (s.measure == "psnr")].set_index("image_id")
    man, root = _manifest(wd, name)
    assert len(fr) == n
    for iid in list(fr.index)[:3]:
        a, b = (np.asarray(_open(root / man.loc[iid, c]), dtype=np.float64) for c in ("path", "ref_path"))
        assert fr.loc[iid, "value"] == pytest.approx(10 * np.log10(255**2 / np.mean((a - b) ** 2)), abs=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_table3_figures_equal_scipy_on_the_collected_scores(releases, name):
    wd, _ = releases
    s = pd.read_parquet(wd / f"results/{name}/collected.parquet")
    t3 = pd.read_csv(wd / f"results/{name}/tables/paper/table3_per_distortion.csv")
    assert set(t3.distortion) == {"gb", "wn", "jpeg", "jp2k", "all"}
    for row in t3.itertuples():
        for kind, col in (("vei", "VEI"), ("image", "image")):
            sel = s[(s.pair_kind == kind) & (s.measure == "psnr")]
            if row.distortion != "all":
                sel = sel[sel.distortion == row.distortion]
            sel = sel.dropna(subset=["value"])
            o = (1 if sel.higher_is_better.iloc[0] else -1) * (1 if sel.measure_higher_is_better.iloc[0] else -1)
            rho = o * sps.spearmanr(sel.value, sel.score).statistic
            assert t3.loc[row.Index, f"SROCC {col}"] == pytest.approx(rho, abs=1e-9, nan_ok=True)
    for p in ("paper", "content_separated"):
        for t in ("table3_per_distortion", "table4_per_backbone", "table5_per_measure", f"table6_{p}"):
            assert (wd / f"results/{name}/tables/{p}/{t}.md").read_text().startswith("Table:")
        c = pd.read_csv(wd / f"results/{name}/tables/{p}/comparisons.csv")
        assert set(c.distortion) == {"gb", "wn", "jpeg", "jp2k", "all"} and set(c.arm_a) == {ARM}


@pytest.mark.parametrize("name", NAMES)
def test_set_metrics_per_level_or_per_distortion(releases, name):
    wd, minis = releases
    m = minis[name]
    sm = pd.read_parquet(wd / f"results/{name}/setmetrics.parquet")
    assert set(sm.distortion) == set(mr.FOUR)
    # a set of one image has no covariance: no FID, and the row says why (TID2013's miniature has such levels)
    one = sm.n_images < 2
    assert np.isfinite(sm.fid[~one]).all() and (sm.fid_status[~one] == "ok").all()
    assert sm.fid[one].isna().all() and sm.fid_status[one].str.contains("at least 2 feature vectors").all()
    assert one.any() == (name == "tid2013")
    assert sm.extractor.str.startswith("inception-2015-12-05@").all()
    table = pd.read_csv(wd / f"results/{name}/tables/setmetrics.csv")
    if name == "live":  # no discrete levels: one group per distortion, and the published table says so
        assert sm.level.isna().all() and len(sm) == 4 and (sm.n_images == 6).all()
        assert set(table.grouping) == {"whole distortion (no discrete levels)"}
    else:
        count = pd.Series([(d, m.level[iid]) for iid, d in m.distortion.items()]).value_counts()
        got = dict(zip(zip(sm.distortion, sm.level.astype(int)), sm.n_images))
        assert got == count.to_dict()
        assert set(table.grouping) == {"level"}
        # within each distortion the stronger level lies farther from the references
        for d, g in sm.dropna(subset=["fid"]).groupby("distortion"):
            assert g.sort_values("level").fid.is_monotonic_increasing, (d, g[["level", "fid"]])
    assert (wd / f"results/{name}/plots/setmetrics.png").stat().st_size > 10_000


def test_report_shows_every_database(releases):
    wd, _ = releases
    html = (wd / "report.html").read_text(errors="replace")
    for name in NAMES:
        for f in ("tables/paper/table3_per_distortion.csv", "tables/content_separated/comparisons.csv",
                  "tables/setmetrics.csv", "plots/setmetrics.png"):
            assert f"results/{name}/{f}" in html, (name, f)


# ------------------------------------------------------------------------------------------------ helpers


def _manifest(wd, name):
    from veiqa.datasets import read_manifest

    man, root = read_manifest(wd / f"resources/{name}/manifest.parquet")
    return man.set_index("image_id"), root


def _open(path):
    from PIL import Image

    with Image.open(path) as im:
        return im.convert("RGB")
