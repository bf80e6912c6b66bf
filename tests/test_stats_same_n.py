"""Issue 23 §5: the same images for every arm and measure of a table; a value undefined by design leaves only its
own row; a failure leaves the whole table, counted (each test fails on the same-N rule per arm of 906a9d3)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from veiqa import stats as st
from veiqa import tables
from veiqa.stats.same_images import common_rows


def _table(n_refs=10, levels=5, measures=("psnr", "ncc", "ssim"), seed=0):
    """Two distortions, a VEI arm and the pixel-PRI control, several measures, status 'ok' everywhere."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in ("awgn", "blur"):
        for r in range(n_refs):
            for lv in range(levels):
                q = rng.uniform(0, 9)
                for arm, pk in (("effnet", "vei"), ("image", "image")):
                    for m in measures:
                        rows.append(("tid", d, arm, pk, m, f"{d}_{r}_{lv}", f"R{r}", 20 + 2 * q + rng.normal(0, 2),
                                     q + rng.normal(0, 0.5), True, True, "ok"))
    return pd.DataFrame(rows, columns=list(st.REQUIRED_COLUMNS) + ["status"])


def _zero_map(df, image_ids, arm="effnet"):
    """NCC undefined by design on an all-zero map (NaN, status zero_map) for ``image_ids`` of ``arm``."""
    m = (df.arm == arm) & (df.measure == "ncc") & df.image_id.isin(image_ids)
    df.loc[m, ["value", "status"]] = [np.nan, "zero_map"]
    return df


def _row(corr, **eq):
    m = np.ones(len(corr), bool)
    for k, v in eq.items():
        m &= (corr[k] == v).to_numpy()
    assert m.sum() == 1, eq
    return corr[m].iloc[0]


def test_undefined_ncc_leaves_only_its_own_row():
    df = _zero_map(_table(), ["awgn_0_0", "awgn_3_2"])
    corr = st.correlations(df, n_boot=0, n_perm=0, protocols=("paper",)).corr
    n = df[df.distortion == "awgn"].image_id.nunique()
    psnr = _row(corr, distortion="awgn", arm="effnet", measure="psnr")
    ncc = _row(corr, distortion="awgn", arm="effnet", measure="ncc")
    base = _row(corr, distortion="awgn", arm="image", measure="psnr")
    assert psnr.n == base.n == n and psnr.n_dropped == 0  # PSNR keeps both images
    assert ncc.n == n - 2 and ncc.n_nan == 2 and ncc.n_undefined == 2 and ncc.drop_reasons == ""
    # the pooled row too; and PSNR's SROCC is SciPy's over every image
    assert _row(corr, distortion="all", arm="effnet", measure="psnr").n == df.image_id.nunique()
    g = df[(df.distortion == "awgn") & (df.arm == "effnet") & (df.measure == "psnr")]
    assert psnr.srocc == pytest.approx(sps.spearmanr(g.value, g.score)[0], abs=1e-12)


def test_measures_list_does_not_change_psnr_n():
    full = _zero_map(_table(), ["awgn_0_0", "blur_5_1", "blur_6_4"])
    only = full[full.measure == "psnr"]
    a = st.correlations(full, n_boot=0, n_perm=0, protocols=("paper",)).corr
    b = st.correlations(only, n_boot=0, n_perm=0, protocols=("paper",)).corr
    for d in ("awgn", "blur", "all"):
        ra = _row(a, distortion=d, arm="effnet", measure="psnr")
        rb = _row(b, distortion=d, arm="effnet", measure="psnr")
        assert ra.n == rb.n and ra.srocc == rb.srocc and ra.plcc == pytest.approx(rb.plcc, abs=1e-9)


def test_arm_failure_leaves_every_arm_of_the_table_counted():
    df = _table()
    fail = (df.arm == "effnet") & df.image_id.isin(["blur_1_1", "blur_2_3"])  # e.g. too small for the network
    df.loc[fail, ["value", "status"]] = [np.nan, "too_small_for_network"]
    df = df.drop(index=df.index[(df.arm == "image") & (df.measure == "ssim") & (df.image_id == "blur_4_0")])
    corr = st.correlations(df, n_boot=0, n_perm=0, protocols=("paper",)).corr
    n = df[df.distortion == "blur"].image_id.nunique()
    for arm in ("effnet", "image"):
        for m in ("psnr", "ncc", "ssim"):
            r = _row(corr, distortion="blur", arm=arm, measure=m)
            assert r.n == n - 3, (arm, m)
            assert r.drop_reasons == ("effnet all measures:too_small_for_network=2; image ssim:missing=1")
    assert _row(corr, distortion="blur", arm="image", measure="psnr").n_dropped == 3  # finite, left: counted
    assert _row(corr, distortion="blur", arm="effnet", measure="psnr").n_dropped == 1
    n_awgn = df[df.distortion == "awgn"].image_id.nunique()
    assert _row(corr, distortion="awgn", arm="image", measure="psnr").n == n_awgn
    pooled = _row(corr, distortion="all", arm="image", measure="psnr")
    assert pooled.n == df.image_id.nunique() - 3 and pooled.drop_reasons == _row(
        corr, distortion="blur", arm="image", measure="psnr").drop_reasons
    # the tables show the count and the reason
    t3 = tables.table_per_distortion(corr, "tid", "effnet", measure="psnr")
    blur = t3[t3.distortion == "blur"].iloc[0]
    assert blur.N == n - 3 and blur["N dropped"] == 1
    assert "blur: dropped 1 (effnet all measures:too_small_for_network=2; image ssim:missing=1)" in t3.attrs["caption"]


def test_common_rows_keeps_undefined_apart_from_failures():
    df = _zero_map(_table(n_refs=2, levels=2), ["awgn_0_0"])
    df.loc[(df.arm == "image") & (df.measure == "psnr") & (df.image_id == "awgn_1_1"), ["value", "status"]] = \
        [np.nan, "error"]
    keep, reasons, undefined = common_rows(df)
    assert undefined.sum() == 1 and not keep[undefined].any()
    gone = df.image_id == "awgn_1_1"
    assert not keep[gone.to_numpy()].any()
    assert keep[(~gone & ~pd.Series(undefined, index=df.index)).to_numpy()].all()
    assert reasons == {("tid", "awgn"): "image psnr:error=1"}


def test_comparisons_use_the_tables_images():
    """An arm's failure on an image removes it from the comparisons of the other arms too, as from the tables."""
    from veiqa import comparisons

    df = _zero_map(_table(measures=("psnr", "ncc")), ["awgn_0_0"])
    df.loc[(df.arm == "effnet") & (df.measure == "ncc") & (df.image_id == "awgn_1_1"), ["value", "status"]] = \
        [np.nan, "error"]
    df["pri"] = "q1"
    nr = df[(df.arm == "image") & (df.measure == "psnr")].assign(arm="niqe", pair_kind="nr", measure="niqe")
    df = pd.concat([df, nr], ignore_index=True)
    df["arm_kind"] = df["pair_kind"].map({"vei": "vei", "image": "pixel", "nr": "nr"})  # as collect writes it
    corr = st.correlations(df.drop(columns="pri"), n_boot=0, n_perm=0, protocols=("paper",)).corr
    c = comparisons.comparisons(df, {"awgn": "q1", "blur": "q1"}, st.assign_folds(df, k=3), n_boot=0,
                                protocols=("paper",))["paper"]
    n_awgn = df[df.distortion == "awgn"].image_id.nunique()
    for role in (comparisons.ROLE_PIXEL, comparisons.ROLE_NR):
        r = c[(c.distortion == "awgn") & (c.role_b == role)].iloc[0]
        assert r.n == n_awgn - 1  # awgn_1_1 failed (NCC error) for the VEI arm: gone from PSNR comparisons too
    assert _row(corr, distortion="awgn", arm="niqe", measure="niqe").n == n_awgn - 1
    assert _row(corr, distortion="awgn", arm="effnet", measure="psnr").n == n_awgn - 1
