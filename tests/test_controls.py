"""NR-IQA methods and the FR ceiling in the workflow (issue 14): shard driver, collect join, statistics
orientation, ranked kinds, Table 6, config keys, and the jobs a dry run plans."""

import math
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from scipy import stats as sps
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from veiqa import arms, config as vc, controls, measures as M, nr, pairs, ranking, table6, tables
from veiqa.collect import collect
from veiqa.io import read_image, write_parquet
from veiqa.measures._common import rgb2gray


def _pair(rng, shape, noise):
    ref = rng.integers(0, 256, shape, dtype=np.uint8)
    dist = np.clip(ref.astype(int) + rng.integers(-noise, noise + 1, shape), 0, 255).astype(np.uint8)
    return ref, dist


def test_fr_ceiling_equals_measures_computed_directly_and_skimage(tmp_path):
    rng = np.random.default_rng(3)
    (tmp_path / "ref").mkdir()
    (tmp_path / "dist").mkdir()
    arrays, recs = {}, []
    for i, (shape, noise) in enumerate([((48, 40, 3), 5), ((48, 40, 3), 30), ((33, 35, 3), 12)]):
        ref, dist = _pair(rng, shape, noise)
        Image.fromarray(ref).save(tmp_path / f"ref/r{i}.png")
        Image.fromarray(dist).save(tmp_path / f"dist/d{i}.png")
        arrays[f"i{i}"] = (ref, dist)
        recs.append({"image_id": f"i{i}", "path": f"dist/d{i}.png", "ref_path": f"ref/r{i}.png"})
    (tmp_path / "dist/d3.png").write_bytes(b"not a png")
    recs.append({"image_id": "i3", "path": "dist/d3.png", "ref_path": "ref/r0.png"})
    rows = pd.DataFrame(recs)
    t = controls.fr_table(rows, tmp_path, ["psnr", "ssim"])
    assert list(t.columns) == pairs.COLUMNS
    assert list(t.image_id.unique()) == ["i0", "i1", "i2", "i3"]
    assert set(t.pair_kind) == {"fr"} and set(t.arm) == {"fr-ceiling"}
    assert not t.pri_identical.any()
    for k, (ref, dist) in arrays.items():
        got = t[t.image_id == k].set_index("measure")
        assert got.loc["psnr", "value"] == pytest.approx(peak_signal_noise_ratio(ref, dist, data_range=255), abs=1e-9)
        x = torch.from_numpy(dist).permute(2, 0, 1)[None].double()
        y = torch.from_numpy(ref).permute(2, 0, 1)[None].double()
        direct, _ = M.compute(x, y, ["ssim"], mode="image")
        # the workflow computes image mode in float32, but the SSIM family on a float64 grey image: the same value
        assert got.loc["ssim", "value"] == pytest.approx(float(direct["ssim"][0]), rel=1e-12)
        assert (got.status == "ok").all()
    # SSIM of the measures (Wang's downsampling is a no-op below 256 px): skimage's Gaussian SSIM on MATLAB's
    # rounded rgb2gray grey, the image-mode convention.
    ref, dist = arrays["i0"]
    lum = lambda a: rgb2gray(torch.from_numpy(a).permute(2, 0, 1)[None].double())[0, 0].numpy()  # noqa: E731
    sk = structural_similarity(lum(ref), lum(dist), data_range=255, gaussian_weights=True, sigma=1.5,
                               use_sample_covariance=False)
    assert t[(t.image_id == "i0") & (t.measure == "ssim")].value.iloc[0] == pytest.approx(sk, abs=2e-5)
    bad = t[t.image_id == "i3"]
    assert (bad.status == "error").all() and bad.value.isna().all()
    # The noisier image is further from its reference.
    psnr = t[t.measure == "psnr"].set_index("image_id").value
    assert psnr["i0"] > psnr["i1"]
    # ... and the shard says so: against the pristine reference, higher PSNR/SSIM = better quality
    assert t.measure_higher_is_better.dtype == bool and t.measure_higher_is_better.all()


def test_fr_ceiling_without_reference_column_is_a_clear_error(tmp_path):
    with pytest.raises(controls.VeiqaError, match="ref_path"):
        controls.fr_table(pd.DataFrame({"image_id": ["a"], "path": ["a.png"]}), tmp_path, ["psnr"])


def test_nr_driver_matches_nr_api_and_gives_every_failure_a_status(tmp_path, tid_pair):
    ref_path, dist_path = tid_pair
    shutil.copy(dist_path, tmp_path / "big.bmp")
    Image.fromarray(np.full((20, 24, 3), 128, np.uint8)).save(tmp_path / "tiny.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    rows = pd.DataFrame({"image_id": ["big", "tiny", "broken"], "path": ["big.bmp", "tiny.png", "broken.png"]})
    t = controls.nr_table(rows, tmp_path, nr.METHODS)
    assert list(t.columns) == pairs.COLUMNS and len(t) == 3 * len(nr.METHODS)
    assert list(t.image_id) == [i for i in ("big", "tiny", "broken") for _ in nr.METHODS]
    assert (t.pair_kind == "nr").all() and (t.arm == t.measure).all()
    assert t.measure_higher_is_better.dtype == bool and not t.measure_higher_is_better.any()  # lower = better
    for name in ("big", "tiny"):
        img = read_image(tmp_path / rows.set_index("image_id").loc[name, "path"])
        got = t[t.image_id == name].set_index("measure")
        for m in nr.METHODS:
            try:
                want, status = nr.score(img, m), "ok"
            except nr.ImageTooSmallError:
                want, status = math.nan, "too_small"
            except nr.NRError:  # e.g. a method of veiqa.nr not implemented yet; the row keeps it as a status
                want, status = math.nan, "error"
            assert got.loc[m, "status"] == status, (name, m)
            assert got.loc[m, "value"] == pytest.approx(want, abs=1e-12, nan_ok=True)
    big = t[t.image_id == "big"].set_index("measure")
    assert big.loc["niqe", "status"] == "ok" and big.loc["niqe", "value"] > 0
    tiny = t[t.image_id == "tiny"].set_index("measure")
    # NIQE needs two 96x96 blocks: a 20x24 image is too small, with NaN, never a silent drop.
    assert tiny.loc["niqe", "status"] == "too_small" and math.isnan(tiny.loc["niqe", "value"])
    broken = t[t.image_id == "broken"]
    assert (broken.status == "error").all() and broken.value.isna().all()


def test_nr_driver_stops_on_a_missing_model_and_an_unknown_method(monkeypatch, tid_pair, tmp_path):
    shutil.copy(tid_pair[1], tmp_path / "a.bmp")
    rows = pd.DataFrame({"image_id": ["a"], "path": ["a.bmp"]})
    with pytest.raises(controls.VeiqaError, match="unknown NR method"):
        controls.nr_table(rows, tmp_path, ["niqe", "ilniqe"])

    def missing(*a, **k):
        raise nr.ModelFileError("niqe_model.mat: model file missing")

    monkeypatch.setattr(nr, "score_many", missing)
    monkeypatch.setattr(nr, "score", missing)
    with pytest.raises(nr.ModelFileError):
        controls.nr_table(rows, tmp_path, ["niqe"])


# ------------------------------------------------------------------------------------------- collect + statistics

def _long(ids, measure, values, pair_kind, arm, hib, status="ok"):
    return pd.DataFrame({"image_id": ids, "measure": measure, "value": values, "status": status,
                         "pair_kind": pair_kind, "arm": arm, "pri_identical": False,
                         "measure_higher_is_better": hib})[pairs.COLUMNS]


@pytest.fixture()
def collected(tmp_path):
    rng = np.random.default_rng(11)
    n = 16
    ids = [f"img{i:02d}" for i in range(n)]
    mos = np.linspace(1, 9, n) + rng.normal(0, 0.2, n)
    man = pd.DataFrame({"image_id": ids, "ref_id": [f"r{i % 4}" for i in range(n)], "level": 1, "score": mos,
                        "score_kind": "MOS", "higher_is_better": True, "distortion": "gb"})
    niqe = 20 - mos + rng.normal(0, 0.5, n)           # lower = better
    niqe[3] = np.nan                                  # an image too small for NIQE
    fr = 20 + 2 * mos + rng.normal(0, 0.5, n)         # PSNR to the reference: higher = better
    pri = 30 - mos + rng.normal(0, 0.5, n)            # PSNR to the PRI: higher = worse (PRI paradigm)
    files = {}
    # each shard's direction as its producer writes it (checked against the producers in the tests above)
    for name, t in (("image", _long(ids, "psnr", pri, "image", "image", False)),
                    ("nr", _long(ids, "niqe", niqe, "nr", "niqe", False,
                                 ["too_small" if i == 3 else "ok" for i in range(n)])),
                    ("fr", _long(ids, "psnr", fr, "fr", "fr-ceiling", True))):
        p = tmp_path / f"{name}.parquet"
        write_parquet(t, p)
        files[str(p)] = ("gb", "box3")
    run = {"image": arms.PIXEL_ARM, "niqe": arms.nr_arm("niqe"), "fr-ceiling": arms.FR_ARM}
    return collect(files, man, "toy", {a: r.columns() for a, r in run.items()}), mos, niqe, fr, pri


def test_shard_labels_come_from_the_provenance_and_controls_get_the_default_pri(tmp_path):
    from veiqa.collect import shard_labels

    t = _long(["a"], "psnr", [1.0], "image", "image", False)
    # paths that say nothing: the labels are the ones each job wrote into its file's provenance
    write_parquet(t, tmp_path / "x.parquet", meta={"distortion": "jpeg", "pri": "q10", "arm": "image"})
    write_parquet(t, tmp_path / "y.parquet", meta={"distortion": "gb", "arm": "nr"})
    write_parquet(t, tmp_path / "z.parquet", meta={"distortion": "wn", "arm": "nr"})
    got = shard_labels([tmp_path / "x.parquet", tmp_path / "y.parquet"], {"gb": "box3", "jpeg": "q1"})
    assert got == {str(tmp_path / "x.parquet"): ("jpeg", "q10"), str(tmp_path / "y.parquet"): ("gb", "box3")}
    with pytest.raises(controls.VeiqaError, match="no default PRI"):
        shard_labels([tmp_path / "z.parquet"], {"gb": "box3"})
    write_parquet(t, tmp_path / "old.parquet")
    with pytest.raises(controls.VeiqaError, match="old.parquet.*names no distortion"):
        shard_labels([tmp_path / "old.parquet"], {"gb": "box3"})


def test_collect_joins_the_control_shards_with_their_own_directions(collected):
    df, mos, *_ = collected
    assert len(df) == 3 * 16 and df.score.notna().all() and (df.pri == "box3").all()
    by = df.groupby(["pair_kind", "measure"])["measure_higher_is_better"].unique()
    assert by[("image", "psnr")].tolist() == [False]     # PRI paradigm: more similar = worse
    assert by[("fr", "psnr")].tolist() == [True]         # FR: more similar to the reference = better
    assert by[("nr", "niqe")].tolist() == [False]        # NIQE: lower = better
    assert df["measure_higher_is_better"].dtype == bool
    assert df[df.pair_kind == "nr"].status.tolist().count("too_small") == 1
    # what each arm is comes from its record, for every row
    kinds = df.groupby("arm")["arm_kind"].unique()
    assert {a: k.tolist() for a, k in kinds.items()} == {"image": ["pixel"], "niqe": ["nr"],
                                                         "fr-ceiling": ["fr_ceiling"]}
    assert (df["backbone"] == "none").all()


def test_collect_refuses_rows_of_an_arm_the_configuration_does_not_define(tmp_path):
    t = _long(["a"], "psnr", [1.0], "vei", "vgg16-pretrained-network-last-own_top1-minmax", False)
    write_parquet(t, tmp_path / "s.parquet")
    man = pd.DataFrame({"image_id": ["a"], "ref_id": ["r"], "level": 1, "score": 1.0, "score_kind": "MOS",
                        "higher_is_better": True})
    with pytest.raises(controls.VeiqaError, match="s.parquet: rows of arm.*vgg16-pretrained"):
        collect({str(tmp_path / "s.parquet"): ("gb", "box3")}, man, "toy", {"image": arms.PIXEL_ARM.columns()})


def test_controls_get_the_statistics_and_kinds_of_every_arm(collected):
    df, mos, niqe, fr, pri = collected
    res = ranking.correlations_all_arms(df, {"gb": "box3"}, k=2, n_boot=50, seed=0)
    c = res.corr[(res.corr.protocol == "paper") & (res.corr.distortion == "gb")].set_index("arm")
    ok = np.isfinite(niqe)
    # Signed SROCC: positive = agrees with MOS (SciPy on the raw values, sign by direction).
    assert c.loc["niqe", "srocc"] == pytest.approx(-sps.spearmanr(niqe[ok], mos[ok]).statistic, abs=1e-12)
    assert c.loc["niqe", "n"] == 15 and c.loc["niqe", "n_nan"] == 1
    assert c.loc["fr-ceiling", "srocc"] == pytest.approx(sps.spearmanr(fr, mos).statistic, abs=1e-12)
    assert c.loc["image", "srocc"] == pytest.approx(-sps.spearmanr(pri, mos).statistic, abs=1e-12)
    assert (c.srocc > 0.8).all()
    deg = ranking.degenerate_counts(df, {"gb": "box3"})
    ranked = ranking.ranked_table(res.corr, deg, "psnr", default_pri={"gb": "box3"})
    kinds = ranked[ranked.distortion == "gb"].set_index("arm").kind
    assert kinds.to_dict() == {"niqe": "NR method", "fr-ceiling": "fr-ceiling", "image": "pixel-PRI control"}
    other = ranking.ranked_table(res.corr, deg, "ssim", default_pri={"gb": "box3"})
    assert set(other.arm) == {"niqe"}                    # no psnr-scored arm in a table of ssim


# --------------------------------------------------------------------------------------------------- Table 6

def _corr_row(distortion, arm, pair_kind, measure, plcc, srocc, protocol="paper", status="ok", kind=None,
              pri="default"):
    kind = kind or {"nr": "nr", "fr": "fr_ceiling", "image": "pixel", "vei": "vei"}[pair_kind]
    return {"dataset": "live1", "distortion": distortion, "arm": arm, "pair_kind": pair_kind, "measure": measure,
            "arm_kind": kind, "pri_setting": pri,
            "protocol": protocol, "n": 40, "n_nan": 2 if pair_kind == "nr" else 0, "plcc": plcc, "srocc": srocc,
            "plcc_ci_low": plcc - 0.1, "plcc_ci_high": plcc + 0.05, "srocc_ci_low": srocc - 0.1,
            "srocc_ci_high": srocc + 0.05, "fit_status": status, "mapping": "logistic" if status == "ok" else
            "linear_fallback", "ci_level": 0.95, "n_boot": 200}


def test_table6_layout_on_a_synthetic_corr_table(tmp_path):
    vei, ctl = "vgg16-pretrained-native-last-shared_top1-minmax", "vgg16-random0-native-last-shared_top1-minmax"
    rows = []
    for d in ("all", "wn", "gb"):
        rows += [_corr_row(d, "piqe", "nr", "piqe", 0.5, 0.4), _corr_row(d, "fr-ceiling", "fr", "psnr", 0.9, 0.95),
                 _corr_row(d, ctl, "vei", "psnr", 0.3, 0.2, kind="random_control"),
                 _corr_row(d, "image", "image", "psnr", 0.6, 0.55),
                 _corr_row(d, "niqe", "nr", "niqe", 0.7, 0.65), _corr_row(d, vei, "vei", "psnr", 0.8, 0.75),
                 _corr_row(d, "brisque", "nr", "brisque", 0.75, 0.7, status="failed"),
                 _corr_row(d, vei, "vei", "ssim", 0.1, 0.1), _corr_row(d, "fr-ceiling", "fr", "ssim", 0.2, 0.2),
                 _corr_row(d, vei, "vei", "psnr", 0.8, 0.75, protocol="content_separated"),
                 _corr_row(d, vei + "@box5", "vei", "psnr", 0.1, 0.1, pri="box5")]
    corr = pd.DataFrame(rows)
    t = table6.table6(corr, "live1", "psnr", "paper", loader="live")
    assert list(t.columns) == table6.COLUMNS
    assert list(dict.fromkeys(t.distortion)) == ["gb", "wn", "all"]
    gb = t[t.distortion == "gb"]
    assert gb.method.tolist() == [f"VEI {vei}", "NIQE", "BRISQUE", "PIQE", "pixel PRI (no CNN)",
                                  f"VEI {ctl} (random weights)", "FR ceiling"]
    assert gb.kind.tolist() == ["pretrained", "NR method", "NR method", "NR method", "pixel-PRI control",
                                "random-weights control", "fr-ceiling"]
    assert gb.measure.tolist() == ["psnr", "niqe", "brisque", "piqe", "psnr", "psnr", "psnr"]
    assert gb.SROCC.tolist() == pytest.approx([0.75, 0.65, 0.7, 0.4, 0.55, 0.2, 0.95])
    assert gb["PLCC CI low"].tolist() == pytest.approx([0.7, 0.6, 0.65, 0.4, 0.5, 0.2, 0.8])
    assert gb.n_nan.tolist() == [0, 2, 2, 2, 0, 0, 0] and len(t) == 3 * 7
    cap = t.attrs["caption"]
    assert "BRISQUE was trained on LIVE" in cap and "This dataset is LIVE" in cap and "95%" in cap
    assert "NR methods (NIQE, BRISQUE, PIQE)" in cap
    assert "gb (BRISQUE: linear_fallback)" in cap
    csv, md = tables.write_table(t, tmp_path / "table6_paper", md_compact=True)
    text = open(md).read()
    assert text.startswith("Table: Table 6. live1")
    row = "| gb | NIQE | NR method | niqe | niqe | 40 | 2 | 0 | 0.700 [0.600, 0.750] | 0.650 [0.550, 0.700] | ok |"
    assert row in text
    back = pd.read_csv(csv)
    assert back.shape == t.shape and back["SROCC CI high"].iloc[0] == pytest.approx(0.8)
    cs = table6.table6(corr, "live1", "psnr", "content_separated", loader="tid2013")
    assert cs.kind.tolist() == ["pretrained"] * 3 and "This dataset is LIVE" not in cs.attrs["caption"]
    with pytest.raises(controls.VeiqaError, match="no VEI rows"):
        table6.table6(corr, "live1", "gmsd", "paper")


# ---------------------------------------------------------------------------------------------------- config

def test_schema_defaults_and_rejects_bad_nr_methods():
    cfg = vc.validate({"datasets": {"demo": {"loader": "demo"}}})
    assert cfg["nr_methods"] == list(nr.METHODS) and cfg["fr_ceiling"] is True
    schema = vc.load_schema()
    assert schema["properties"]["nr_methods"]["items"]["enum"] == list(nr.METHODS)
    assert vc.validate({"datasets": {"demo": {"loader": "demo"}}, "nr_methods": []})["nr_methods"] == []
    with pytest.raises(vc.ConfigError, match="nr_methods"):
        vc.validate({"datasets": {"demo": {"loader": "demo"}}, "nr_methods": ["niqe", "ilniqe"]})
    with pytest.raises(vc.ConfigError, match="fr_ceiling"):
        vc.validate({"datasets": {"demo": {"loader": "demo"}}, "fr_ceiling": "yes"})


# -------------------------------------------------------------------------------------------- workflow dry run

TINY = {
    "datasets": {"demo": {"loader": "demo", "source": "builtin", "references": ["camera", "coins"]}},
    "distortions": ["gb", "jpeg"],
    "shard_size": 4,
    "measures": ["psnr", "ssim"],
    "setmetrics": {"enabled": False},
}


def test_dry_run_plans_the_control_jobs(tmp_path):
    from test_workflow import job_counts, snakemake

    snakemake(tmp_path, "resources/demo/shards/index.json", config=TINY)  # staging and the shard list
    plan = job_counts(snakemake(tmp_path, "-n", config=TINY))
    # 2 references x 5 levels = 10 images per distortion -> 3 shards of 4, for gb and jpeg.
    assert plan["nr_methods"] == plan["fr_ceiling"] == plan["measures_image"] == 6
    assert plan["table6"] == plan["collect"] == 1
    off = job_counts(snakemake(tmp_path, "-n", config={**TINY, "nr_methods": [], "fr_ceiling": False}))
    assert "nr_methods" not in off and "fr_ceiling" not in off and off["table6"] == 1
