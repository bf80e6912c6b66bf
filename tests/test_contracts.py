"""Issue 25 (1c): every table the producers really write holds its contract (veiqa.contracts), the status
vocabulary holds every status they emit (found by running them over edge cases), and each kind of violation is
refused before the file lands, with the table, the file and the column named."""

import ast
import math

import numpy as np
import pandas as pd
import pytest
import skimage.data
import torch
from PIL import Image

from conftest import REPO
from test_datasets import _demo_tree

from veiqa import contracts as C, controls, measures, nr, pairs, pri, stats
from veiqa.arms import Arm
from veiqa.collect import collect
from veiqa.datasets import read_manifest, stage
from veiqa.io import VeiqaError, write_parquet

torch.set_num_threads(1)
MEASURES = ["psnr", "ncc", "pcc", "ms_ssim"]  # NCC/PCC: NaN on zero/constant maps; MS-SSIM: too small at 7×7


def _maps(h=7, w=7, seed=0):
    return np.random.default_rng(seed).random((h, w))


def vei_row(image_id, a, b, error=""):
    h, w = a.shape
    return {"image_id": image_id, "map_h": h, "map_w": w, "cam_dist": a.ravel().astype(np.float32),
            "cam_pri": b.ravel().astype(np.float32), "error": error}


@pytest.fixture(scope="module")
def vei_shard():
    """A VEI arm over every edge case a heat-map pair has: ok, identical maps, an all-zero map, a constant map, a
    one-cell map (image smaller than the stride), a failed Grad-CAM; MS-SSIM is too small for 7×7 maps."""
    a, b = _maps(seed=1), _maps(seed=2)
    vei = pd.DataFrame([vei_row("ok", a, b), vei_row("same", a, a), vei_row("zero", np.zeros((7, 7)), b),
                        vei_row("const", np.full((7, 7), 0.5), b), vei_row("one", np.ones((1, 1)), np.ones((1, 1))),
                        {"image_id": "bad", "map_h": 0, "map_w": 0, "cam_dist": np.zeros(0, np.float32),
                         "cam_pri": np.zeros(0, np.float32), "error": "x.png: not an image"}])
    return pairs.vei_table(vei, MEASURES, 0, "none", "toy-random-network", {"same": True})


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("imgs")
    cat = skimage.data.chelsea()[:96, :128]
    Image.fromarray(cat).save(d / "cat.png")
    Image.fromarray(np.clip(cat.astype(int) + 9, 0, 255).astype(np.uint8)).save(d / "cat_pri.png")
    Image.fromarray(np.full((20, 24, 3), 128, np.uint8)).save(d / "tiny.png")
    (d / "broken.png").write_bytes(b"\x89PNG broken")
    return d


@pytest.fixture(scope="module")
def image_shard(image_dir):
    """The pixel-PRI arm: an ordinary pair, a PRI identical to its image, an unreadable image."""
    rows = pd.DataFrame({"image_id": ["cat", "same", "broken"], "path": ["cat.png", "cat.png", "broken.png"]})
    pri_t = pd.DataFrame({"image_id": ["cat", "same", "broken"], "identical": [False, True, False], "error": "",
                          "pri_path": [str(image_dir / p) for p in ("cat_pri.png", "cat.png", "cat_pri.png")]})
    return pairs.image_table(rows, image_dir, pri_t, ["psnr", "ssim"])


@pytest.fixture(scope="module")
def nr_rows():
    return pd.DataFrame({"image_id": ["cat", "tiny", "broken"], "path": ["cat.png", "tiny.png", "broken.png"],
                         "ref_path": ["cat_pri.png", "tiny.png", "cat.png"]})


@pytest.fixture(scope="module")
def nr_shard(image_dir, nr_rows):
    """NR methods on an ordinary image, one smaller than they need and an unreadable one."""
    return controls.nr_table(nr_rows, image_dir, nr.METHODS)


@pytest.fixture(scope="module")
def fr_shard(image_dir, nr_rows):
    return controls.fr_table(nr_rows.iloc[:2], image_dir, ["psnr", "ms_ssim"])


def test_every_measure_shard_a_producer_writes_holds_its_contract(vei_shard, image_shard, nr_shard, fr_shard,
                                                                   tmp_path):
    for name, t in (("vei", vei_shard), ("image", image_shard), ("nr", nr_shard), ("fr", fr_shard)):
        assert C.check(t, C.MEASURE_SHARD) is t
        write_parquet(t, tmp_path / f"{name}.parquet", contract=C.MEASURE_SHARD)
        C.check(pd.read_parquet(tmp_path / f"{name}.parquet"), C.MEASURE_SHARD)  # and as read back
    assert list(vei_shard.columns) == pairs.COLUMNS == list(C.MEASURE_SHARD.names)


def test_the_vocabulary_holds_every_status_the_producers_emit(vei_shard, image_shard, nr_shard, monkeypatch,
                                                              image_dir, nr_rows):
    # an NR method that returns a non-finite value: the one status the edge cases above cannot reach
    monkeypatch.setattr(nr, "score_many", lambda img, methods: {m: math.inf for m in methods})
    nan_shard = controls.nr_table(nr_rows.iloc[:1], image_dir, ["niqe"])
    emitted = {}
    for name, t in (("vei", vei_shard), ("image", image_shard), ("nr", nr_shard), ("nr inf", nan_shard)):
        for s in t["status"]:
            emitted.setdefault(s, name)
    assert set(emitted) == set(C.STATUSES), emitted  # every status emitted is known, and every known one emitted
    assert set(measures.STATUSES) == set(C.MEASURE_STATUSES) <= set(C.STATUSES)
    v = vei_shard.set_index(["image_id", "measure"])
    assert v.loc[("same", "psnr"), "status"] == C.STATUS_IDENTICAL
    assert v.loc[("zero", "ncc"), "status"] == C.STATUS_ZERO and math.isnan(v.loc[("zero", "ncc"), "value"])
    assert v.loc[("const", "pcc"), "status"] == C.STATUS_CONSTANT and math.isnan(v.loc[("const", "pcc"), "value"])
    assert v.loc[("ok", "ms_ssim"), "status"] == C.STATUS_TOO_SMALL
    assert (v.loc["one", "status"] == C.STATUS_TOO_SMALL_NET).all() and (v.loc["bad", "status"] == "error").all()
    n = nr_shard.set_index(["image_id", "measure"])
    assert (n.loc["tiny", "status"] == C.STATUS_TOO_SMALL).any() and (n.loc["broken", "status"] == C.STATUS_ERROR).all()
    assert (nan_shard.status == C.STATUS_NAN).all() and nan_shard.value.isna().all()
    # the rule the contract asserts holds in every emitted row: these statuses always carry NaN
    for t in (vei_shard, image_shard, nr_shard, nan_shard):
        assert t.loc[t.status.isin(C.NAN_STATUSES), "value"].isna().all()


def test_staging_pri_and_gradcam_tables_hold_their_contracts(tmp_path):
    root = tmp_path / "demo"
    rows = _demo_tree(root)
    (root / rows[0]["image"]).unlink()  # a listed image that is missing: one rejected row
    manifest, rejected = stage("demo", root, tmp_path / "out")  # written with contract=MANIFEST / REJECTED
    assert len(rejected) == 1 and rejected.reason_code.iloc[0] == "missing"
    man, root_read = read_manifest(tmp_path / "out" / "manifest.parquet")
    C.check(man, C.MANIFEST)
    C.check(pd.read_parquet(tmp_path / "out" / "rejected.parquet"), C.REJECTED)

    gb = man[man.distortion == "gb"].head(2)
    gb = pd.concat([gb, gb.head(1).assign(image_id="broken", path="nope.png")], ignore_index=True)
    t = pri.write_pri_shard(gb, root_read, "gb", {"size": 3}, tmp_path / "pri", tmp_path / "pri.parquet")
    assert (t.error != "").sum() == 1
    C.check(pd.read_parquet(tmp_path / "pri.parquet"), C.PRI)

    from veiqa.backbones import Backbone
    from veiqa.gradcam import SHARD_COLUMNS, run_shard

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1, stride=2), torch.nn.ReLU(),
                                torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 3)).eval()
    bb = Backbone("toy", model, "0", (16, 16), ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)), "random:0", "random:0")
    pairs_df = pd.DataFrame({"image_id": list(t.image_id), "path": list(gb.path),
                             "pri_path": [p or "nope.png" for p in t.pri_path]})
    vei = run_shard(pairs_df, {"num_workers": 0, "batch_size": 2}, tmp_path / "vei.parquet", device="cpu",
                    root=root_read, backbone=bb)
    assert (vei.error != "").sum() == 1
    C.check(pd.read_parquet(tmp_path / "vei.parquet"), C.VEI)
    assert list(C.VEI.names) == list(SHARD_COLUMNS)  # the shard's exact dtypes stay in veiqa.gradcam


def _long(n_refs=6, levels=4, seed=0):
    """A collected-like long table: two arms, two measures, a few NaN rows undefined by design."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n_refs):
        for lv in range(levels):
            q = rng.uniform(0, 9)
            for arm, pk in (("effnet", "vei"), ("image", "image")):
                for m in ("psnr", "ncc"):
                    undefined = m == "ncc" and arm == "effnet" and r == 0 and lv == 0
                    rows.append(("tid", "gb", arm, pk, m, f"i{r}_{lv}", f"R{r}",
                                 np.nan if undefined else 20 + 2 * q + rng.normal(0, 2), q, True, True,
                                 C.STATUS_ZERO if undefined else C.STATUS_OK))
    return pd.DataFrame(rows, columns=list(stats.REQUIRED_COLUMNS) + ["status"])


def _arms(*shards):
    """The run's arms of these shards, as veiqa.config.run_arms gives them to collect (the kind of each is known
    here: the shards were made by the producer of that kind)."""
    kind = {"vei": "vei", "image": "pixel", "nr": "nr", "fr": "fr_ceiling"}
    return {a: Arm(a, kind[pk]).columns() for t in shards for a, pk in zip(t.arm, t.pair_kind)}


def test_collected_scores_and_the_correlation_outputs_hold_their_contracts(vei_shard, image_shard, nr_shard,
                                                                           fr_shard, tmp_path):
    files = {}
    for name, t in (("vei", vei_shard), ("image", image_shard), ("nr", nr_shard), ("fr", fr_shard)):
        write_parquet(t, tmp_path / f"{name}.parquet", contract=C.MEASURE_SHARD)
        files[str(tmp_path / f"{name}.parquet")] = ("gb", "box3")
    ids = sorted(set().union(*(t.image_id for t in (vei_shard, image_shard, nr_shard, fr_shard))))
    man = pd.DataFrame({"image_id": ids, "ref_id": "r0", "level": 1, "score": np.linspace(1, 5, len(ids)),
                        "score_kind": "MOS", "higher_is_better": True})
    scores = collect(files, man, "toy", _arms(vei_shard, image_shard, nr_shard, fr_shard))
    C.check(scores, C.SCORES)
    C.check(scores, C.CORRELATION_INPUT)
    write_parquet(scores, tmp_path / "collected.parquet", contract=C.SCORES)

    res = stats.correlations(_long(), n_boot=0, n_perm=0, k=3)
    paths = stats.save_results(res, tmp_path / "corr")  # each written with its contract
    for name, contract in (("corr", C.CORR), ("fits", C.FITS), ("folds", C.FOLDS), ("predictions", C.PREDICTIONS)):
        C.check(pd.read_parquet(paths[name]), contract)
    assert set(res.corr.fit_status) <= set(C.FIT_STATUSES)
    empty = stats.correlations(_long().iloc[:0], n_boot=0, n_perm=0, k=3)  # no rows: empty tables, same columns
    C.check(empty.predictions, C.PREDICTIONS)


# ------------------------------------------------------------------------------------------------ violations

def _refused(tmp_path, df, contract, *patterns):
    out = tmp_path / "bad.parquet"
    with pytest.raises(C.ContractError) as e:
        write_parquet(df, out, contract=contract)
    msg = str(e.value)
    assert msg.startswith(f"{contract.name} table {out}: "), msg
    for p in patterns:
        assert p in msg, msg
    assert not out.exists() and not list(tmp_path.glob(".bad.parquet*")), "a refused table must not land"
    assert isinstance(e.value, VeiqaError)
    return msg


def test_each_kind_of_violation_is_refused_with_table_file_and_column(vei_shard, tmp_path):
    good = vei_shard.copy()
    _refused(tmp_path, good.drop(columns=["status", "arm"]), C.MEASURE_SHARD, "missing column(s) ['status', 'arm']")
    t = good.copy()
    t.loc[t.image_id == "zero", "arm"] = None
    _refused(tmp_path, t, C.MEASURE_SHARD, f"column 'arm' holds nulls in {len(MEASURES)} row(s) (e.g. image_id 'zero')")
    _refused(tmp_path, good.assign(value=good.value.astype(str)), C.MEASURE_SHARD,
             "column 'value' should be float, has dtype")
    _refused(tmp_path, good.assign(pri_identical=good.pri_identical.astype(int)), C.MEASURE_SHARD,
             "column 'pri_identical' should be bool")
    t = good.copy()
    t.loc[t.image_id == "ok", "status"] = "foo"
    _refused(tmp_path, t, C.MEASURE_SHARD, f"unknown status ['foo'] in {len(MEASURES)} row(s) (e.g. image_id 'ok')")
    t = good.copy()
    t.loc[t.image_id == "bad", "value"] = 1.0
    _refused(tmp_path, t, C.MEASURE_SHARD, f"value is not NaN in {len(MEASURES)} row(s) whose status is one of",
             "(e.g. image_id 'bad')")
    # several faults at once: all named in one message
    msg = _refused(tmp_path, t.drop(columns=["measure_higher_is_better"]), C.MEASURE_SHARD,
                   "missing column(s) ['measure_higher_is_better']",
                   "value is not NaN")
    assert msg.count(";") >= 1
    # a list column holding scalars, an int column holding floats (other contracts)
    vei = pd.DataFrame({c: [] for c in C.VEI.names}).assign(cam_dist=pd.Series([], dtype=float))
    _refused(tmp_path, vei, C.VEI, "column 'cam_dist' should be list")
    folds = pd.DataFrame({"dataset": ["d"], "ref_id": ["r"], "fold": [0.0], "k": [2]})
    _refused(tmp_path, folds, C.FOLDS, "column 'fold' should be int, has dtype float64")


def test_an_unknown_status_written_by_a_producer_is_refused(image_dir, nr_rows, tmp_path, monkeypatch):
    rows_file = tmp_path / "rows.parquet"
    write_parquet(nr_rows.iloc[2:], rows_file, meta={"root": str(image_dir), "root_is_relative": False})
    monkeypatch.setattr(controls, "STATUS_ERROR", "broken")  # a producer with a status of its own
    out = tmp_path / "nr" / "shard-0.parquet"
    with pytest.raises(C.ContractError, match=r"measure shard table .*shard-0\.parquet: unknown status \['broken'\]"):
        controls.run_shard("nr", rows_file, "gb", ["niqe"], out, "toy", log=__import__("logging").getLogger())
    assert not out.exists()


def test_collect_refuses_a_shard_that_breaks_its_contract(vei_shard, tmp_path):
    bad = vei_shard.assign(status=vei_shard.status.replace(C.STATUS_ZERO, "zero"))
    write_parquet(bad, tmp_path / "old.parquet")  # written without a check (e.g. by an older version)
    man = pd.DataFrame({"image_id": vei_shard.image_id.unique(), "ref_id": "r", "level": 1, "score": 1.0,
                        "score_kind": "MOS", "higher_is_better": True})
    with pytest.raises(C.ContractError, match=r"old\.parquet: unknown status \['zero'\].*--forcerun measures_vei"):
        collect({str(tmp_path / "old.parquet"): ("gb", "box3")}, man, "toy", _arms(vei_shard))


def test_a_contract_names_only_known_kinds_and_columns():
    with pytest.raises(ValueError, match="unknown kinds"):
        C.Contract("t", "doc", {"a": "text"})
    with pytest.raises(ValueError, match=r"columns \['b'\]"):
        C.Contract("t", "doc", {"a": "string"}, not_null=("b",))
    assert C.check(pd.DataFrame({"a": ["x"], "extra": [1]}), C.Contract("t", "doc", {"a": "string"})) is not None


# ------------------------------------------------------------------------------------------------ one home

#: Statuses distinctive enough to find as literals (``ok``, ``error``, ``identical`` and ``nan`` are also column
#: names, flags and reason words elsewhere, so only their constants are checked).
DISTINCT = {C.STATUS_ZERO, C.STATUS_CONSTANT, C.STATUS_TOO_SMALL, C.STATUS_TOO_SMALL_NET}


def status_literals(path):
    """(line, text) of every status literal in ``path`` outside docstrings, and of every ``STATUS_*`` name bound to
    a string literal."""
    tree = ast.parse(path.read_text(), str(path))
    docs = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            docs.add(id(first.value))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value in DISTINCT and id(node) not in docs:
            out.append((node.lineno, node.value))
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            out += [(node.lineno, t.id) for t in node.targets if isinstance(t, ast.Name) and t.id.startswith("STATUS")]
    return out


def test_no_status_literal_outside_the_contracts(tmp_path):
    files = [p for d in ("workflow/veiqa", "workflow/scripts") for p in sorted((REPO / d).rglob("*.py"))]
    bad = {str(p.relative_to(REPO)): status_literals(p) for p in files if p.name != "contracts.py"}
    assert not {k: v for k, v in bad.items() if v}
    planted = tmp_path / "m.py"
    planted.write_text('"""zero_map in a docstring is fine."""\nSTATUS_X = "x"\nif s == "too_small":\n    pass\n')
    assert status_literals(planted) == [(2, "STATUS_X"), (3, "too_small")]



def test_degenerate_counts_and_set_metrics_hold_their_contracts(vei_shard, tmp_path):
    from test_setmetrics import _HandFeatures, _staged_dataset

    from veiqa import ranking
    from veiqa import setmetrics as sm

    write_parquet(vei_shard, tmp_path / "vei.parquet", contract=C.MEASURE_SHARD)
    man = pd.DataFrame({"image_id": vei_shard.image_id.unique(), "ref_id": "r", "level": 1, "score": 1.0,
                        "score_kind": "MOS", "higher_is_better": True})
    scores = collect({str(tmp_path / "vei.parquet"): ("gb", "box3")}, man, "toy", _arms(vei_shard))
    deg = ranking.degenerate_counts(scores, {"gb": "box3"})
    write_parquet(deg, tmp_path / "deg.parquet", contract=C.DEGENERATE)
    assert deg[(deg.distortion == "gb") & (deg.measure == "ncc")].n_zero_map.tolist() == [1]  # the zero map counted

    (tmp_path / "sm").mkdir()
    man = _staged_dataset(tmp_path / "sm")
    lone = man[man.level == 2].iloc[:1].assign(level=3)  # a level with one image: FID and KID fail, with a status
    man = pd.concat([man, lone], ignore_index=True)
    out = sm.set_metrics_for_levels(man, tmp_path / "sm", sm.Extractor("handfeat", _HandFeatures(), has_logits=True),
                                    lpips_metric=None, kid_n_subsets=3, is_splits=1)
    sm.write_set_metrics(out, tmp_path / "sm.parquet")  # written with contract=SET_METRICS
    C.check(pd.read_parquet(tmp_path / "sm.parquet"), C.SET_METRICS)
    assert sm.NAN_STATUS is C.SET_METRICS_NAN_STATUS
    bad = out.copy()
    bad.loc[bad.level == 3, "fid_status"] = C.STATUS_OK  # a NaN FID said to be fine
    _refused(tmp_path, bad, C.SET_METRICS, "fid and its status fid_status disagree", "in 1 row(s) (e.g. level 3)")
    # a database without discrete levels (LIVE: the manifest's nullable Int64 level is <NA>): one row per
    # distortion, level null, written under the same contract (CI's miniature LIVE release failed here)
    nolevel = man[man.level != 3].assign(level=pd.array([pd.NA] * (len(man) - 1), dtype="Int64"))
    out = sm.set_metrics_for_levels(nolevel, tmp_path / "sm", sm.Extractor("handfeat", _HandFeatures()),
                                    lpips_metric=None, kid_n_subsets=3, is_splits=1)
    assert len(out) == 1 and out.level.isna().all() and str(out.level.dtype) == "Int64"
    sm.publish(out, tmp_path / "sm-live.parquet", tmp_path / "sm-live.csv", tmp_path / "sm-live.png")
    C.check(pd.read_parquet(tmp_path / "sm-live.parquet"), C.SET_METRICS)
    md = (tmp_path / "sm-live.md").read_text()  # the Markdown table writes the missing level as n/a
    assert "| blur | n/a | whole distortion (no discrete levels) |" in md
