"""Issue 23 §6: Table 6's sensitivity row without the identical pairs equals a recomputation on the data without
them (fails on 906a9d3: no such row)."""

import numpy as np
import pandas as pd
import pytest

from veiqa import stats as st
from veiqa import table6, tables


def _scores(n_refs=10, levels=5, seed=0):
    """Default-PRI long table: a VEI arm, the pixel-PRI control and NIQE over two distortions; a fifth of the VEI
    pairs (level 0) have identical maps (PSNR at its ceiling, SSIM 1: a group apart from the others)."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in ("gb", "wn"):
        for r in range(n_refs):
            for lv in range(levels):
                q = rng.uniform(0, 9)
                iid = f"{d}_{r}_{lv}"
                ident = lv == 0
                for arm, pk, m, v, s in (
                        ("effnet", "vei", "psnr", 101.1 if ident else 40 - 2 * q + rng.normal(0, 3),
                         "identical" if ident else "ok"),
                        ("effnet", "vei", "ssim", 1.0 if ident else 0.9 - 0.05 * q + rng.normal(0, 0.05),
                         "identical" if ident else "ok"),
                        ("image", "image", "psnr", 45 - 2 * q + rng.normal(0, 2), "ok"),
                        ("niqe", "nr", "niqe", 10 - q + rng.normal(0, 1), "ok")):
                    rows.append(("tid", d, "q1", arm, {"vei": "vei", "image": "pixel", "nr": "nr"}[pk], pk, m, iid,
                                 f"R{r}", v, s, q + rng.normal(0, 0.5), True, pk == "nr"))
    return pd.DataFrame(rows, columns=["dataset", "distortion", "pri", "arm", "arm_kind", "pair_kind", "measure",
                                       "image_id", "ref_id", "value", "status", "score", "higher_is_better",
                                       "measure_higher_is_better"])


def test_sensitivity_row_equals_recomputation_without_identical_pairs():
    sc = _scores()
    folds = st.assign_folds(sc, k=3)
    kw = dict(n_boot=40, seed=3, n_perm=20)
    sens = table6.sensitivity_corr(sc, {"gb": "q1", "wn": "q1"}, folds, "psnr", **kw)
    # independent recomputation: drop the identical images by hand, pool, correlate
    gone = set(sc.loc[sc.status == "identical", "image_id"])
    assert len(gone) == 20
    ref_in = sc[~sc.image_id.isin(gone) & sc.measure.isin(["psnr", "niqe"])].drop(columns="pri")
    ref = st.correlations(ref_in.assign(distortion=table6.NO_IDENTICAL), pool_label=None, folds=folds, **kw).corr
    cols = ["arm", "protocol", "n", "plcc", "srocc", "krocc", "rmse", "srocc_ci_low", "srocc_ci_high"]
    a = sens.sort_values(["arm", "protocol"])[cols].reset_index(drop=True)
    b = ref.sort_values(["arm", "protocol"])[cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert (sens.n == 80).all() and (sens.n_identical_left == 20).all()

    corr = st.correlations(sc.drop(columns="pri").assign(pri_setting="default"), folds=folds, **kw).corr
    t = table6.table6(corr, "tid", "psnr", "paper", sensitivity=sens)
    assert list(dict.fromkeys(t.distortion)) == ["gb", "wn", "all", table6.NO_IDENTICAL]
    row = t[(t.distortion == table6.NO_IDENTICAL) & (t.arm == "effnet")].iloc[0]
    r = sens[(sens.arm == "effnet") & (sens.protocol == "paper")].iloc[0]
    assert row.SROCC == r.srocc and row.PLCC == r.plcc and row.N == 80
    assert t[(t.distortion == "all") & (t.arm == "effnet")].N.iloc[0] == 100
    cap = t.attrs["caption"]
    assert f"Row '{table6.NO_IDENTICAL}' (sensitivity check)" in cap and "without the 20 images" in cap
    assert t[(t.distortion == "all") & (t.arm == "effnet")].PLCC.iloc[0] != row.PLCC
    md = tables.to_markdown(tables.compact_ci(t))
    assert f"| {table6.NO_IDENTICAL} |" in md


def test_no_identical_pairs_row_is_the_pooled_row_when_none():
    sc = _scores()
    sc.loc[sc.status == "identical", "status"] = "ok"
    folds = st.assign_folds(sc, k=3)
    sens = table6.sensitivity_corr(sc, {"gb": "q1", "wn": "q1"}, folds, "psnr", n_boot=0, n_perm=0)
    corr = st.correlations(sc.drop(columns="pri").assign(pri_setting="default"), folds=folds, n_boot=0, n_perm=0).corr
    pooled = corr[(corr.distortion == "all") & (corr.measure.isin(["psnr", "niqe"]))]
    for arm in ("effnet", "image", "niqe"):
        for p in ("paper", "content_separated"):
            a = sens[(sens.arm == arm) & (sens.protocol == p)].iloc[0]
            b = pooled[(pooled.arm == arm) & (pooled.protocol == p)].iloc[0]
            assert a.n == b.n and a.srocc == pytest.approx(b.srocc, abs=1e-12)
            assert a.plcc == pytest.approx(b.plcc, abs=1e-6)


def test_permutations_come_from_the_config():
    """aggregate.permutations (default 200, as before) reaches both rules that compute the chance level; 0 leaves
    the chance level and its table column out."""
    from conftest import REPO

    from veiqa import config as vc

    cfg = vc.validate({"datasets": {"demo": {"loader": "demo"}}})
    assert cfg["aggregate"]["permutations"] == 200
    assert vc.validate({"datasets": {"demo": {"loader": "demo"}}, "aggregate": {"permutations": 0}})[
        "aggregate"]["permutations"] == 0
    with pytest.raises(Exception, match="permutations"):
        vc.validate({"datasets": {"demo": {"loader": "demo"}}, "aggregate": {"permutations": -1}})
    rules = (REPO / "workflow/rules/aggregate.smk").read_text()
    assert rules.count('permutations=CFG["aggregate"]["permutations"]') == 2  # correlations and table6
    for script in ("correlations.py", "table6.py"):
        assert "n_perm=smk.params.permutations" in (REPO / "workflow/scripts" / script).read_text()
    sc = _scores()
    corr = st.correlations(sc.drop(columns="pri").assign(pri_setting="default"), n_boot=20, n_perm=0,
                           protocols=("paper",)).corr
    assert corr["plcc_chance"].isna().all()
    t = table6.table6(corr, "tid", "psnr", "paper")
    assert "PLCC chance" not in t.columns and "chance level" not in t.attrs["caption"]
