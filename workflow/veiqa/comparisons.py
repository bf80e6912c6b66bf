"""Paired comparisons between arms, per dataset × distortion and protocol: ``comparisons.{csv,md}``.

By default every VEI arm (``arm_kind`` ``vei``, :mod:`veiqa.arms`) is compared with the pixel-PRI
control (no CNN), each random-weights control arm and the best NR method of that distortion (the NR method with the
highest oriented SROCC on its images: a choice made on the same data, which favours the comparator), on the images
where both arms have a finite value (default PRI strength; the table measure for the VEI arms, the pixel-PRI
control and the random-weights control, each NR method's own score), among the images of the correlation tables
(an image that failed for any arm or measure of a dataset × distortion leaves it: :mod:`veiqa.stats.same_images`).
The tests are those of :mod:`veiqa.stats.paired`; each comparison gets:

``srocc`` / paired content bootstrap
    Δ SROCC with its percentile interval and bootstrap p-value (the primary test; same resamples for every arm of
    a dataset × distortion, so all comparisons of a distortion are paired the same way).
``plcc`` / paired content bootstrap, logistic refitted per resample
    Δ PLCC (signed a priori). Protocol ``paper``: in-sample fit of each resample. Protocol ``content_separated``:
    mean over the dataset's content folds of the held-out PLCC, folds refitted on each resample.
``srocc`` / Steiger z on ranks
    Steiger's z on the Spearman correlations (Pearson on the oriented ranks), no interval.
``plcc`` / Williams t
    Williams' t on the signed PLCCs of the in-sample mappings and the correlation of the two mapped predictions
    (protocol ``paper`` only: the pooled out-of-fold predictions of the other protocol carry fold level offsets).
``residual_sd`` / F-test on residual variances
    Residual standard deviations after each arm's mapping (in-sample for ``paper``, out-of-fold for
    ``content_separated``); Δ = sd_B − sd_A (> 0: A's residuals are smaller).

Holm's correction runs over every row of one table (one dataset × protocol) that shares a statistic and test: the
family is all distortions × all pairs of arms. No interval or bootstrap p-value is printed for fewer than
:data:`~veiqa.stats.protocols.MIN_CI_CONTENTS` contents or :data:`~veiqa.stats.protocols.MIN_CI_IMAGES` images
(column ``note`` says why): the same limits as the intervals of the correlation tables (their one home).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .io import VeiqaError, atomic_path, seed_from
from .parallel import map_ordered
from . import arms as A
from .ranking import POOL, split_default
from .stats import paired
from .stats.protocols import MIN_CI_CONTENTS, MIN_CI_IMAGES, PROTOCOLS
from .stats.same_images import common_rows

ALPHA = 0.05
ROLE_PIXEL = "pixel-PRI control"
ROLE_CONTROL = "random-weights control"
ROLE_NR = "best NR method"
T_BOOT = "paired content bootstrap"
T_BOOT_REFIT = "paired content bootstrap, logistic refitted per resample"
T_STEIGER = "Steiger z on ranks"
T_WILLIAMS = "Williams t"
T_F = "F-test on residual variances"
COLUMNS = ["dataset", "protocol", "distortion", "arm_a", "arm_b", "role_b", "measure_a", "measure_b", "statistic",
           "test", "estimate_a", "estimate_b", "delta", "ci_low", "ci_high", "test_statistic", "df", "p_value",
           "p_holm", "n", "n_contents", "n_boot", "n_boot_valid", "ci_level", "reversed", "note"]


def arm_table(scores: pd.DataFrame, default_pri: dict[str, str], measure: str,
              pool_label: str = POOL) -> pd.DataFrame:
    """The per-image rows of every arm a comparison may use: default PRI strength, the table ``measure`` (VEI arms,
    the pixel-PRI control, controls) and each NR method's own score, plus the distortions pooled as ``pool_label``.
    Adds ``kind`` (the column ``arm_kind``, :mod:`veiqa.arms`) and ``orientation``; the FR ceiling is left out."""
    default, _ = split_default(scores, default_pri)
    # the images of the correlation tables: an image that failed for any arm or measure of a dataset × distortion
    # leaves every comparison of it (veiqa.stats.same_images)
    default = default[common_rows(default)[0]]
    sel = default[A.at_measure(default, measure) & (default["arm_kind"] != A.FR_CEILING)].copy()
    if sel.empty:
        raise VeiqaError(f"no rows at measure {measure!r} in the scores table")
    sel["kind"] = sel["arm_kind"]
    hib = sel["higher_is_better"].astype(bool).to_numpy()
    mhib = sel["measure_higher_is_better"].astype(bool).to_numpy()
    sel["orientation"] = np.where(hib, 1.0, -1.0) * np.where(mhib, 1.0, -1.0)
    dup = sel.duplicated(["dataset", "distortion", "arm", "image_id"])
    if dup.any():
        r = sel[dup].iloc[0]
        raise VeiqaError(f"arm {r['arm']!r} has two rows for image {r['image_id']!r} ({r['distortion']}) at measure "
                         f"{measure!r}: the scores table must hold one value per arm and image")
    return pd.concat([sel, sel.assign(distortion=pool_label)], ignore_index=True)


def pairs_to_compare(arms: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(arm_a, arm_b, role_b) of one dataset × distortion: each VEI arm against the pixel-PRI control, each
    random-weights control and the best NR method (highest oriented SROCC on its finite images)."""
    kinds = arms.groupby("arm", sort=True)["kind"].first()
    vei = [a for a, k in kinds.items() if k == A.VEI]
    comps = [(a, ROLE_PIXEL) for a, k in kinds.items() if k == A.PIXEL]
    comps += [(a, ROLE_CONTROL) for a, k in kinds.items() if k == A.RANDOM_CONTROL]
    nr = [a for a, k in kinds.items() if k == A.NR]
    if nr:
        best, best_r = None, -np.inf
        for a in nr:
            g = arms[(arms["arm"] == a) & np.isfinite(arms["value"]) & np.isfinite(arms["score"])]
            if len(g) < 3:
                continue
            r = paired.srocc_rows(g["value"].to_numpy(), g["score"].to_numpy(), np.ones((1, len(g))),
                                  float(g["orientation"].iloc[0]))[0]
            if np.isfinite(r) and r > best_r:
                best, best_r = a, r
        if best is not None:
            comps.append((best, ROLE_NR))
    return [(a, b, role) for a in vei for b, role in comps]


def _mapped(x, y, folds, logistic: str):
    """Predictions of the arm's logistic mapping (in-sample when ``folds`` is None, else out-of-fold) and the a-priori
    sign of each prediction's mapping (+1 / −1 / NaN), so that sign × prediction rises with expected quality."""
    from .stats.logistic import fit_logistic_many, linear_fallback

    n = x.size
    if folds is None:
        masks = [np.ones(n, bool)]
        tests = masks
    else:
        uf = np.unique(folds)
        masks = [folds != f for f in uf]
        tests = [folds == f for f in uf]
    fits = fit_logistic_many([(x, y, masks, 1)], method=logistic)[0]
    pred = np.full(n, np.nan)
    sign = np.full(n, np.nan)
    for fit, tr, te in zip(fits, masks, tests):
        d = np.corrcoef(fit.predict(x[tr]), x[tr])[0, 1] if fit.ok and tr.sum() > 1 else np.nan
        if np.isfinite(d) and d != 0:
            pred[te] = fit.predict(x[te])
            sign[te] = np.sign(d)
        else:  # failed or flat fit: the least-squares line, as in veiqa.stats.paired._plcc_of_fit
            pred[te], _ = linear_fallback(x[tr], y[tr], x[te])
            b = np.polyfit(x[tr], y[tr], 1)[0] if tr.sum() > 1 and np.ptp(x[tr]) > 0 else 0.0
            sign[te] = np.sign(b) if b != 0 else np.nan
    return pred, sign


def _compare_group(item) -> list[dict]:
    """Every comparison of one dataset × distortion, for every protocol (see the module docstring)."""
    with np.errstate(invalid="ignore", divide="ignore"):  # constant predictions: NaN correlations, reported as such
        return _compare_group_rows(item)


def _compare_group_rows(item) -> list[dict]:
    (ds, dist), g, fold_of, protocols, n_boot, seed, ci_level, logistic = item
    wide = g.pivot_table(index="image_id", columns="arm", values="value", aggfunc="first")
    meta = g.groupby("image_id", sort=False)[["score", "ref_id"]].first().reindex(wide.index)
    orient = g.groupby("arm")["orientation"].first()
    measure = g.groupby("arm")["measure"].first()
    contents_all = np.unique(meta["ref_id"].astype(str))
    rng = np.random.default_rng(seed_from(seed, "comparisons", ds, dist))
    counts = paired.content_resamples(contents_all, n_boot, rng)
    cache: dict = {}

    def rows_of(kind, arm, ids, x, y, W, folds, o):
        key = (kind, arm, ids)
        if key not in cache:
            if kind == "srocc":
                cache[key] = paired.srocc_rows(x, y, W, o)
            elif kind == "plcc_paper":
                cache[key] = paired.plcc_rows(x, y, W, o, logistic=logistic)
            else:
                cache[key] = paired.plcc_fold_rows(x, y, W, folds, o, logistic=logistic)
        return cache[key]

    out = []
    for a, b, role in pairs_to_compare(g):
        ok = np.isfinite(wide[a]) & np.isfinite(wide[b]) & np.isfinite(meta["score"])
        ids_ok = tuple(wide.index[ok.to_numpy()])
        xa, xb = wide.loc[ok, a].to_numpy(float), wide.loc[ok, b].to_numpy(float)
        y = meta.loc[ok, "score"].to_numpy(float)
        refs = meta.loc[ok, "ref_id"].astype(str).to_numpy()
        folds = np.array([fold_of[(ds, r)] for r in refs], dtype=int)
        n, n_c = int(ok.sum()), int(np.unique(refs).size)
        oa, ob = float(orient[a]), float(orient[b])
        sa, sb = oa * paired.srocc_rows(xa, y, np.ones((1, n)))[0], ob * paired.srocc_rows(xb, y, np.ones((1, n)))[0]
        base = {"dataset": ds, "distortion": dist, "arm_a": a, "arm_b": b, "role_b": role,
                "measure_a": measure[a], "measure_b": measure[b], "n": n, "n_contents": n_c, "ci_level": ci_level,
                "reversed": ",".join(s for s, r in (("A", sa), ("B", sb)) if np.isfinite(r) and r < 0)}
        too_few = n < MIN_CI_IMAGES
        boot_note = ("" if not too_few and n_c >= MIN_CI_CONTENTS and n_boot > 0 else
                     f"no interval: {n} images, {n_c} contents (needs >= {MIN_CI_IMAGES} images and >= "
                     f"{MIN_CI_CONTENTS} contents)" if n_boot > 0 else "no interval: bootstrap off")
        W = paired.image_weights(counts, contents_all, refs)
        for protocol in protocols:
            pbase = {**base, "protocol": protocol}
            # paired content bootstrap: SROCC, PLCC refitted per resample
            boots = [("srocc", T_BOOT, "srocc"),
                     ("plcc", T_BOOT_REFIT, "plcc_paper" if protocol == "paper" else "plcc_folds")]
            for stat, test, kind in boots:
                row = {**pbase, "statistic": stat, "test": test, "n_boot": n_boot, "note": boot_note}
                if boot_note:
                    Wp = W[:1]
                else:
                    Wp = W
                if too_few:
                    row.update(n_boot_valid=0)
                else:
                    ra = rows_of(kind, a, ids_ok, xa, y, Wp, folds, oa)
                    rb = rows_of(kind, b, ids_ok, xb, y, Wp, folds, ob)
                    res = paired.paired_bootstrap(ra, rb, ci_level)
                    if boot_note:
                        res.update(ci_low=np.nan, ci_high=np.nan, p_value=np.nan, n_boot_valid=0)
                    res["n_boot"] = n_boot
                    row.update(res)
                out.append(row)
            if too_few:
                for stat, test in (("srocc", T_STEIGER), ("residual_sd", T_F)) + \
                        ((("plcc", T_WILLIAMS),) if protocol == "paper" else ()):
                    out.append({**pbase, "statistic": stat, "test": test, "note": f"no test: {n} images"})
                continue
            # Steiger's z on the oriented ranks (the same in both protocols: SROCC involves no mapping)
            ra_rank = paired._wranks(oa * xa, np.ones((1, n)))[0][0]
            rb_rank = paired._wranks(ob * xb, np.ones((1, n)))[0][0]
            r_ab = float(np.corrcoef(ra_rank, rb_rank)[0, 1])
            z, p = paired.steiger_z(sa, sb, r_ab, n)
            out.append({**pbase, "statistic": "srocc", "test": T_STEIGER, "estimate_a": sa, "estimate_b": sb,
                        "delta": sa - sb, "test_statistic": z, "p_value": p})
            fmask = None if protocol == "paper" else folds
            pa, sga = _mapped(xa, y, fmask, logistic)
            pb, sgb = _mapped(xb, y, fmask, logistic)
            if protocol == "paper":
                ta, tb = sga * oa * pa, sgb * ob * pb  # signed predictions: rise with expected quality
                r_a = float(np.corrcoef(ta, y)[0, 1]) if np.all(np.isfinite(ta)) else np.nan
                r_b = float(np.corrcoef(tb, y)[0, 1]) if np.all(np.isfinite(tb)) else np.nan
                r_pp = float(np.corrcoef(ta, tb)[0, 1]) if np.isfinite(r_a) and np.isfinite(r_b) else np.nan
                t, p, df = paired.williams_t(r_a, r_b, r_pp, n)
                out.append({**pbase, "statistic": "plcc", "test": T_WILLIAMS, "estimate_a": r_a, "estimate_b": r_b,
                            "delta": r_a - r_b, "test_statistic": t, "df": str(df), "p_value": p})
            F, p, d1, d2 = paired.f_test(y - pa, y - pb)
            sd_a = float(np.std(y - pa, ddof=1)) if np.all(np.isfinite(pa)) else np.nan
            sd_b = float(np.std(y - pb, ddof=1)) if np.all(np.isfinite(pb)) else np.nan
            out.append({**pbase, "statistic": "residual_sd", "test": T_F, "estimate_a": sd_a, "estimate_b": sd_b,
                        "delta": sd_b - sd_a, "test_statistic": F, "df": f"{d1},{d2}", "p_value": p})
    return out


def comparisons(scores: pd.DataFrame, default_pri: dict[str, str], folds: pd.DataFrame, measure: str = "psnr",
                protocols=PROTOCOLS, n_boot: int = 1000, seed: int = 0, ci_level: float = 0.95,
                logistic: str = "monotone", pool_label: str = POOL, workers: int = 1) -> dict[str, pd.DataFrame]:
    """The comparison table of every dataset of ``scores`` (the collected long table) for each protocol:
    ``{protocol: DataFrame}`` with columns :data:`COLUMNS`, Holm-adjusted per dataset × statistic × test, caption
    in ``attrs["caption"]``. ``folds``: the dataset's content folds (``folds.parquet`` of the correlations step:
    dataset, ref_id, fold), used by the content-separated PLCC."""
    for p in protocols:
        if p not in PROTOCOLS:
            raise VeiqaError(f"unknown protocol {p!r} (expected one of {PROTOCOLS})")
    arms = arm_table(scores, default_pri, measure, pool_label)
    fold_of = {(d, str(r)): int(f) for d, r, f in folds[["dataset", "ref_id", "fold"]].itertuples(index=False)}
    missing = set(zip(arms["dataset"], arms["ref_id"].astype(str))) - set(fold_of)
    if missing:
        raise VeiqaError(f"the folds table has no fold for content(s) {sorted(missing)[:5]} (of {len(missing)}): "
                         "it does not belong to this scores table")
    order = {d: i for i, d in enumerate(sorted(set(arms["distortion"]) - {pool_label}) + [pool_label])}
    groups = sorted(arms.groupby(["dataset", "distortion"], sort=False), key=lambda kv: (kv[0][0], order[kv[0][1]]))
    items = [(k, g, fold_of, tuple(protocols), int(n_boot), seed, float(ci_level), logistic) for k, g in groups]
    rows = [r for part in map_ordered(_compare_group, items, workers) for r in part]
    df = pd.DataFrame(rows)
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = np.nan
    df = df[COLUMNS]
    df["note"] = df["note"].fillna("")
    df["df"] = df["df"].fillna("")
    for c in ("n", "n_contents", "n_boot", "n_boot_valid"):
        df[c] = df[c].astype("Int64")
    out = {}
    for p in protocols:
        t = df[df["protocol"] == p].reset_index(drop=True).copy()
        t["p_holm"] = np.nan
        for _, idx in t.groupby(["dataset", "statistic", "test"], sort=False).groups.items():
            t.loc[idx, "p_holm"] = paired.holm(t.loc[idx, "p_value"].to_numpy(float))
        t.attrs["caption"] = caption(t, p, measure, n_boot)
        out[p] = t
    return out


def caption(t: pd.DataFrame, protocol: str, measure: str, n_boot: int) -> str:
    """What a comparison table holds, how to read it, and what its figures rest on (only what this run computed)."""
    ds = ", ".join(sorted(set(t["dataset"])))
    cap = (f"Paired comparisons, {ds}, protocol '{protocol}': each VEI arm (A) against the pixel-PRI control, the "
           "random-weights control(s) and the best NR method of each distortion (B; chosen by SROCC on the same data, "
           f"which favours B), on the images where both have a value (measure '{measure}' for VEI arms, the "
           "pixel-PRI and random-weights controls; each NR method's own score). delta = A - B with signs fixed a "
           "priori (score direction x measure direction): delta > 0 means A agrees better with the human scores; "
           "for residual_sd, delta = sd_B - sd_A. Tests: paired content bootstrap (contents resampled with "
           "replacement, the same resamples for both arms; percentile interval, two-sided bootstrap p)")
    cap += (", PLCC with the logistic refitted on every resample (in-sample)" if protocol == "paper" else
            ", PLCC as the mean over the dataset's content folds of the held-out PLCC, folds refitted on every "
            "resample")
    cap += ("; Steiger's z on the Spearman correlations; " +
            ("Williams' t on the PLCCs; " if protocol == "paper" else "") +
            "F-test on residual variances after the logistic mapping" +
            (" (in-sample)" if protocol == "paper" else " (out-of-fold)") +
            ". Steiger, Williams and F assume independent images; images of one content are not, so their p-values "
            "are optimistic: the content bootstrap is the primary test. p_holm: Holm's correction over all rows of "
            "this table with the same statistic and test. reversed: the arm(s) whose SROCC is negative here "
            "(a mapping absorbs direction, so an F-test does not see it).")
    if n_boot > 0:
        m = int(t.groupby(["dataset", "statistic", "test"]).size().max()) if len(t) else 0
        p_min = 2.0 / (n_boot + 1)
        cap += f" {n_boot} resamples: the smallest bootstrap p is {p_min:.4f}"
        if m and p_min * m >= ALPHA:
            cap += (f", so with {m} comparisons per family no Holm-adjusted bootstrap p can fall below {ALPHA:g} "
                    f"(more resamples needed: at least {int(np.ceil(2 * m / ALPHA))})")
        cap += "."
    short = t.loc[t["note"] != "", "note"]
    if len(short):
        cap += f" {short.nunique()} kind(s) of rows without interval or test: see column note."
    return cap


def verdicts(comp: pd.DataFrame, alpha: float = ALPHA, statistic: str = "srocc", test: str = T_BOOT,
             role: str = ROLE_PIXEL) -> pd.DataFrame:
    """Per dataset × distortion × VEI arm: ``better`` / ``not distinguishable`` / ``worse`` than its ``role``
    comparator from the Holm-adjusted p of ``statistic`` / ``test`` at ``alpha`` and the sign of delta; ``no test``
    where the table has no p-value (the note says why). Columns dataset, distortion, arm, verdict, delta, p_holm."""
    sel = comp[(comp["statistic"] == statistic) & (comp["test"] == test) & (comp["role_b"] == role)]
    rows = []
    for r in sel.itertuples(index=False):
        if not np.isfinite(r.p_holm):
            v = "no test"
        elif r.p_holm < alpha:
            v = "better" if r.delta > 0 else "worse"
        else:
            v = "not distinguishable"
        rows.append((r.dataset, r.distortion, r.arm_a, v, r.delta, r.p_holm))
    return pd.DataFrame(rows, columns=["dataset", "distortion", "arm", "verdict", "delta", "p_holm"])


MD_COLUMNS = {"distortion": "distortion", "arm_a": "A", "arm_b": "B", "role_b": "B is", "statistic": "statistic",
              "test": "test", "estimate_a": "A value", "estimate_b": "B value", "delta": "delta",
              "ci_low": "delta CI low", "ci_high": "delta CI high", "p_value": "p", "p_holm": "p Holm", "n": "N",
              "n_contents": "contents", "n_boot_valid": "valid resamples", "reversed": "reversed", "note": "note"}


def write(t: pd.DataFrame, stem) -> tuple[str, str]:
    """``<stem>.csv`` (every column, full precision) and ``<stem>.md`` (the caption and a narrower view: the interval
    inside the delta cell), each written atomically."""
    from .tables import _fmt, to_markdown

    stem = str(stem)
    with atomic_path(stem + ".csv", suffix=".csv") as tmp:
        t.to_csv(tmp, index=False, lineterminator="\n")
    view = t[list(MD_COLUMNS)].rename(columns=MD_COLUMNS)
    for c in ("N", "contents", "valid resamples"):  # counts as text: "" where a row has none
        view[c] = ["" if pd.isna(v) else str(int(v)) for v in view[c]]
    # the interval inside the delta cell, where the row has one (analytic tests have none)
    view["delta"] = [_fmt(d, 3) + (f" [{_fmt(lo, 3)}, {_fmt(hi, 3)}]" if np.isfinite(lo) and np.isfinite(hi) else "")
                     for d, lo, hi in zip(t["delta"].astype(float), t["ci_low"].astype(float),
                                          t["ci_high"].astype(float))]
    view = view.drop(columns=["delta CI low", "delta CI high"])
    for c in ("p", "p Holm"):  # small p-values stay readable: 3 decimals, or 2 significant digits below 0.001
        view[c] = [_fmt(v, 3) if not (np.isfinite(v) and v < 0.001) else f"{v:.1e}" for v in view[c].astype(float)]
    view.attrs = dict(t.attrs)
    with atomic_path(stem + ".md", suffix=".md") as tmp:
        tmp.write_text(to_markdown(view, None, 3), encoding="utf-8")
    return stem + ".csv", stem + ".md"
