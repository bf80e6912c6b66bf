"""The Snakemake workflow end to end on a small demo: outputs, reruns, job lists, bad config, bad image."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as sps

from conftest import REPO

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
SMALL = {
    "datasets": {"demo": {"loader": "demo", "source": "builtin", "references": ["chelsea", "camera", "coffee"]}},
    "shard_size": 8,
    "aggregate": {"folds": 3, "bootstrap": 200, "figure_samples": 2},
}

pytestmark = pytest.mark.slow


def snakemake(workdir: Path, *args, config: dict | None = None, check=True,
              umask: int = -1) -> subprocess.CompletedProcess:
    cmd = SNAKEMAKE + list(args) + ["-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2"]
    if config is not None:
        cfg = workdir / "test-config.yaml"
        cfg.write_text(yaml.safe_dump(config))
        cmd += ["--configfile", str(cfg)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, umask=umask)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def job_counts(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Snakemake's own 'Job stats' table of a dry run: rule → number of jobs."""
    text = proc.stdout + proc.stderr
    if "Nothing to be done" in text:
        return {}
    block = text.split("Job stats:", 1)[1]
    counts = {}
    for line in block.splitlines()[3:]:
        m = re.match(r"^(\S+)\s+(\d+)$", line.strip())
        if not m:
            break
        counts[m.group(1)] = int(m.group(2))
    counts.pop("total", None)
    return counts


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("wf")
    proc = snakemake(wd, config=SMALL)
    return wd, proc


def test_demo_run_writes_every_stage(demo_run):
    wd, _ = demo_run
    man = pd.read_parquet(wd / "resources/demo/manifest.parquet")
    assert len(man) == 3 * 4 * 5 and set(man.score_kind) == {"proxy"}
    arm = "efficientnet_lite0-pretrained-network-last-own_top1-minmax"
    for d, pri in (("gb", "box3"), ("wn", "var0.5"), ("jpeg", "q1"), ("jp2k", "jpeg_q1")):
        for k in (0, 1):
            assert (wd / f"results/demo/pri/{d}/{pri}/shard-{k}.parquet").is_file()
            vei = pd.read_parquet(wd / f"results/demo/vei/{d}/{pri}/{arm}/shard-{k}.parquet")
            # Network resolution (the default): EfficientNet-Lite0's 32x reduction of its 224 px input -> 7x7.
            assert (vei.error == "").all() and (vei.map_h == 7).all() and (vei.map_w == 7).all()
            assert (wd / f"results/demo/measures/{d}/{pri}/image/shard-{k}.parquet").is_file()
    scores = pd.read_parquet(wd / "results/demo/collected.parquet")
    # The VEI method, the pixel-PRI control, the NR-IQA methods and the FR ceiling.
    assert set(scores.pair_kind) == {"vei", "image", "nr", "fr"}
    assert set(scores[scores.pair_kind == "nr"].measure) == {"niqe", "brisque", "piqe"}
    assert scores.groupby(["arm", "measure"]).size().eq(60).all()
    for p in ("paper", "content_separated"):
        for t in ("table3_per_distortion", "table4_per_backbone", "table5_per_measure"):
            assert (wd / f"results/demo/tables/{p}/{t}.md").read_text().startswith("Table:")
    assert (wd / f"results/demo/plots/figure2-{arm}.png").stat().st_size > 10_000
    # 11 measures for the VEI arm and the pixel-PRI control each, 11 for the FR ceiling, one per NR method.
    assert len(list((wd / "results/demo/plots/scatter").glob("*.png"))) == 2 * 11 + 11 + 3
    for p in ("paper", "content_separated"):
        assert (wd / f"results/demo/tables/{p}/table6_{p}.md").read_text().startswith("Table:")


def test_demo_comparisons_and_table6_summary(demo_run):
    """comparisons.{csv,md} per protocol; the demo of this test has 3 contents, below the content bootstrap's
    minimum, so its bootstrap rows print the point estimate and say why there is no interval, while Steiger's z
    (images taken as independent) gives a p-value; Table 6's VEI rows carry the summary column."""
    wd, _ = demo_run
    arm = "efficientnet_lite0-pretrained-network-last-own_top1-minmax"
    scores = pd.read_parquet(wd / "results/demo/collected.parquet")
    for p in ("paper", "content_separated"):
        c = pd.read_csv(wd / f"results/demo/tables/{p}/comparisons.csv")
        for col in ("dataset", "distortion", "arm_a", "arm_b", "statistic", "delta", "ci_low", "ci_high", "p_value",
                    "p_holm", "test", "n", "n_contents", "n_boot_valid"):
            assert col in c.columns
        assert set(c["distortion"]) == {"gb", "wn", "jpeg", "jp2k", "all"} and set(c["arm_a"]) == {arm}
        # no random-weights control in this configuration: the pixel-PRI control and the best NR method
        assert set(c["role_b"]) == {"pixel-PRI control", "best NR method"} and "image" in set(c["arm_b"])
        assert set(c.loc[c.role_b == "best NR method", "arm_b"]) <= {"niqe", "brisque", "piqe"}
        boot = c[c["test"] == "paired content bootstrap"]
        assert boot["ci_low"].isna().all() and boot["note"].str.contains("3 contents").all()
        # the point estimate: oriented SROCC of the VEI arm on the gb images, recomputed with SciPy
        g = scores[(scores.distortion == "gb") & (scores.arm == arm) & (scores.measure == "psnr")]
        o = (1 if g.higher_is_better.iloc[0] else -1) * (1 if g.measure_higher_is_better.iloc[0] else -1)
        r = boot[(boot.distortion == "gb") & (boot.statistic == "srocc")].iloc[0]
        assert r["estimate_a"] == pytest.approx(o * sps.spearmanr(g.value, g.score).statistic, abs=1e-9)
        st = c[c["test"] == "Steiger z on ranks"]
        assert st["p_value"].between(0, 1).all() and (st["p_holm"] >= st["p_value"] - 1e-12).all()
        assert (wd / f"results/demo/tables/{p}/comparisons.md").read_text().startswith("Table: Paired comparisons")
        t6 = pd.read_csv(wd / f"results/demo/tables/{p}/table6_{p}.csv", keep_default_na=False)
        sens = t6.distortion == "all, without identical pairs"  # Table 6's sensitivity row: not compared
        assert sens.any() and set(t6.loc[sens, "vs pixel PRI"]) == {""}
        assert set(t6.loc[(t6.kind == "pretrained") & ~sens, "vs pixel PRI"]) == {"no test"}
        assert set(t6.loc[t6.kind != "pretrained", "vs pixel PRI"]) == {""}


def test_table3_matches_scipy_recomputation(demo_run):
    """Table 3's SROCC/KROCC for each distortion equal SciPy's on the collected scores, sign-adjusted."""
    wd, _ = demo_run
    scores = pd.read_parquet(wd / "results/demo/collected.parquet")
    t3 = pd.read_csv(wd / "results/demo/tables/paper/table3_per_distortion.csv")
    for row in t3.itertuples():
        for kind, col in (("vei", "VEI"), ("image", "image")):
            sel = scores[(scores.pair_kind == kind) & (scores.measure == "psnr")]
            if row.distortion != "all":
                sel = sel[sel.distortion == row.distortion]
            sel = sel.dropna(subset=["value"])
            # PSNR between image and PRI rises as quality falls (PRI paradigm): orientation -1 for a proxy MOS.
            rho = -sps.spearmanr(sel.value, sel.score).statistic
            tau = -sps.kendalltau(sel.value, sel.score).statistic
            assert t3.loc[row.Index, f"SROCC {col}"] == pytest.approx(rho, abs=1e-9)
            assert t3.loc[row.Index, f"KROCC {col}"] == pytest.approx(tau, abs=1e-9)
    # PLCC after the logistic is at least |Pearson| of the raw values (the logistic contains the linear map).
    sel = scores[(scores.pair_kind == "vei") & (scores.measure == "psnr") & (scores.distortion == "gb")]
    plcc_raw = abs(sps.pearsonr(sel.value, sel.score).statistic)
    gb = t3[t3.distortion == "gb"].iloc[0]
    assert gb["PLCC VEI"] >= plcc_raw - 1e-6


def test_second_run_does_nothing(demo_run):
    wd, _ = demo_run
    proc = snakemake(wd, config=SMALL)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_changing_an_aggregation_setting_reruns_only_aggregation(demo_run):
    wd, _ = demo_run
    cfg = yaml.safe_load(yaml.safe_dump(SMALL))
    cfg["aggregate"]["folds"] = 2
    counts = job_counts(snakemake(wd, "-n", config=cfg))
    assert set(counts) == {"correlations", "comparisons", "tables", "table6", "rank_arms", "scatter_plots", "summary",
                           "all"}, counts


def test_second_backbone_adds_only_its_own_jobs(demo_run):
    wd, _ = demo_run
    cfg = yaml.safe_load(yaml.safe_dump(SMALL))
    cfg["backbones"] = [{"name": "efficientnet_lite0", "weights": "pretrained"},
                        {"name": "efficientnet_lite0", "weights": "random", "seed": 1}]
    counts = job_counts(snakemake(wd, "-n", config=cfg))
    # Its Grad-CAM and measures per shard (4 distortions x 2 shards), its Figure 2, then the aggregation.
    assert counts.pop("gradcam") == 8 and counts.pop("measures_vei") == 8 and counts.pop("figure2") == 1
    assert set(counts) == {"collect", "correlations", "comparisons", "tables", "table6", "rank_arms", "scatter_plots",
                           "summary", "all"}, counts


def test_adding_a_measure_does_not_rerun_gradcam(demo_run):
    wd, _ = demo_run
    cfg = yaml.safe_load(yaml.safe_dump(SMALL))
    cfg["measures"] = ["psnr", "ssim"]
    counts = job_counts(snakemake(wd, "-n", config=cfg))
    assert "gradcam" not in counts and "pri" not in counts and counts["measures_vei"] == 8


def test_bad_config_stops_before_any_job(tmp_path):
    proc = snakemake(tmp_path, config={"shard_size": "many", "gradcam": {"batchsize": 4}}, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "'shard_size': 'many' has the wrong type; expected integer" in out
    assert "unknown key 'batchsize' under 'gradcam'; allowed keys:" in out and "batch_size" in out
    assert not (tmp_path / "resources").exists() and not (tmp_path / "results").exists()


def test_missing_dataset_source_stops_before_any_job(tmp_path):
    cfg = {"datasets": {"tid": {"loader": "tid2013", "source": str(tmp_path / "no-such-tid2013.zip")}}}
    proc = snakemake(tmp_path, "-n", config=cfg, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "'datasets.tid.source'" in out and "no-such-tid2013.zip does not exist" in out


def test_bad_image_is_rejected_and_the_rest_goes_on(tmp_path, shared_datasets):
    """A TID2013 tree of real images plus a truncated one: staging rejects it by name, the others get PRIs."""
    tid = tmp_path / "tid2013"
    (tid / "distorted_images").mkdir(parents=True)
    (tid / "reference_images").mkdir()
    samples = shared_datasets / "tid2013_samples"
    for ref in ("I01.BMP", "I03.BMP"):
        shutil.copy(samples / ref, tid / "reference_images" / ref)
    shutil.copy(samples / "i01_01_5.bmp", tid / "distorted_images" / "i01_01_5.bmp")
    shutil.copy(samples / "i03_01_1.bmp", tid / "distorted_images" / "i03_01_1.bmp")
    data = (samples / "i01_01_5.bmp").read_bytes()
    (tid / "distorted_images" / "i01_01_4.bmp").write_bytes(data[: len(data) // 3])  # truncated
    lines = (shared_datasets / "scores/tid2013/mos_with_names.txt").read_text().splitlines()
    keep = [ln for ln in lines if ln.split()[1].lower() in ("i01_01_5.bmp", "i03_01_1.bmp", "i01_01_4.bmp")]
    assert len(keep) == 3
    (tid / "mos_with_names.txt").write_text("\n".join(keep) + "\n")
    cfg = {"datasets": {"tid": {"loader": "tid2013", "source": str(tid)}}, "distortions": ["wn"]}
    wd = tmp_path / "wd"
    wd.mkdir()
    snakemake(wd, "resources/tid/manifest.parquet", config=cfg)
    rej = pd.read_parquet(wd / "resources/tid/rejected.parquet")
    assert list(rej.image_id) == ["i01_01_4"] and rej.reason_code.iloc[0] == "truncated"
    assert "i01_01_4" in (wd / "logs/tid/stage.log").read_text()
    man = pd.read_parquet(wd / "resources/tid/manifest.parquet")
    assert sorted(man.image_id) == ["i01_01_5", "i03_01_1"] and man.higher_is_better.all()
    proc = snakemake(wd, "results/tid/pri/wn/var0.5/shard-0.parquet", config=cfg)
    pri = pd.read_parquet(wd / "results/tid/pri/wn/var0.5/shard-0.parquet")
    assert (pri.error == "").all() and len(pri) == 2
    assert proc.returncode == 0 and np.isfinite(pri.mean_abs_diff).all()


def test_setmetrics_fid_rises_with_distortion_level(demo_run):
    wd, _ = demo_run
    sm = pd.read_parquet(wd / "results/demo/setmetrics.parquet")
    assert set(sm.distortion) == {"gb", "wn", "jpeg", "jp2k"} and sorted(sm.level.unique()) == [1, 2, 3, 4, 5]
    assert sm.extractor.str.startswith("inception-2015-12-05@").all()  # the default: the standard FID network
    assert (sm.fid_sqrtm_imag_max < 1e-3).all()
    for d, g in sm.groupby("distortion"):
        g = g.sort_values("level")
        assert sps.spearmanr(g.level, g.fid).statistic >= 0.9, (d, list(g.fid))
        assert g.fid.iloc[-1] > 5 * g.fid.iloc[0], d
    # LPIPS needs torchvision ImageNet weights that are not installed here: reported, not silently dropped.
    assert sm.lpips_mean.isna().all() and sm.lpips_status.str.contains("alexnet-owt-7be5be79.pth").all()


def test_html_report_has_tables_and_pictures(demo_run):
    wd, _ = demo_run
    snakemake(wd, "--report", "report.html", config=SMALL)
    html = (wd / "report.html").read_text(errors="replace")
    assert len(html) > 100_000
    for needle in ("table3_per_distortion.csv", "ranked_arms.csv", "setmetrics.png", "figure2-", "Scatter plots",
                   "content_separated", "Ablation", "comparisons.csv"):
        assert needle in html, needle
    # The front page says what was run and shows Table 6 with the paired-test verdicts, from the run's own files.
    front = html.split("What was run", 1)[1]  # the included summary (results/summary.rst), before the result lists
    n = len(pd.read_parquet(wd / "resources/demo/manifest.parquet"))
    assert n == 60 and f"Dataset demo (loader demo): {n} images staged, 0 rejected" in front
    for needle in ("Grad-CAM arms (1): efficientnet", "Table 6, demo", "vs pixel PRI", "NIQE", "FR ceiling",
                   "3 folds over reference contents", "200 bootstrap resamples"):
        assert needle in front, needle
    t6 = pd.read_csv(wd / "results/demo/tables/content_separated/table6_content_separated.csv")
    from veiqa.table6 import NO_IDENTICAL

    vei = t6[(t6.kind == "pretrained") & (t6.distortion != NO_IDENTICAL)]  # the sensitivity row is not compared
    # 3 contents: too few for intervals and paired tests, which the run records as NaN and "no test"
    assert len(vei) == 5 and vei["vs pixel PRI"].isin(["better", "not distinguishable", "worse", "no test"]).all()
    fmt = lambda v: "n/a" if pd.isna(v) else f"{v:.3f}"  # noqa: E731
    for _, r in vei.iterrows():  # each VEI row's SROCC with its interval, and its verdict, in that order
        cell = f"{fmt(r['SROCC'])} [{fmt(r['SROCC CI low'])}, {fmt(r['SROCC CI high'])}]"
        assert cell in front and r["vs pixel PRI"] in front.split(cell, 1)[1][:400], (r["distortion"], cell)
