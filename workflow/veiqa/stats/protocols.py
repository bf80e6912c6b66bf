"""Evaluation protocols: folds over contents, per-group evaluation, the whole correlation table, its files.

Direction (orientation)
    ``orientation = (+1 if higher_is_better else −1) × (+1 if measure_higher_is_better else −1)``, where
    ``higher_is_better`` is the score direction from the dataset manifest (False for DMOS-like scores) and
    ``measure_higher_is_better`` the direction of the objective measure (False for e.g. GMSD, NAE). SROCC, KROCC and
    ``plcc_raw`` (Pearson on the raw values, no mapping) are reported *signed* and multiplied by ``orientation``, so
    a positive value always means "the measure agrees with human judgement" and a negative one that it disagrees.
    PLCC after the logistic mapping (:mod:`veiqa.stats.logistic`) is Pearson(prediction, score): the mapping already
    absorbs the direction, it is not multiplied by ``orientation``; it is ≥ 0 for an in-sample fit of the monotone
    method (out-of-fold it can be negative, meaning the predictions anti-correlate with the scores). RMSE is in the
    units of the score.

Failed fits
    A failed logistic fit is *reported* (``fit_status="failed"`` and a ``fit_message``), never dropped. Its PLCC/RMSE
    are then computed on a linear least-squares mapping of the raw values (which has the same |PLCC| as the raw
    values) and flagged with ``mapping="linear_fallback"``; when even that is impossible (constant x) PLCC/RMSE are
    NaN and ``mapping="none"``.

Same images for every arm and measure of a table (:mod:`veiqa.stats.same_images`)
    Within one dataset × distortion (the pooled row included), every arm and measure is correlated over the same
    images, so Tables 3-6 compare arms and measures like for like. A value undefined by the measure's design
    (status ``zero_map``, ``constant_map``, ``too_small``) leaves only its own row; a failure (another NaN, a
    missing row, no score) removes the image from every arm and measure of the table. Counted per row of ``corr``:
    ``n_nan`` (this measure's own non-finite rows), ``n_undefined`` (of those, undefined by design), ``n_dropped``
    (finite here, dropped because the image failed elsewhere in the table), ``drop_reasons`` (the table's failures:
    arm, measures, status, number of images, e.g. ``effnet psnr:error=2``) and, when the input has a ``status``
    column, ``n_identical`` (kept rows whose pair is ``identical``).

Protocols (both reported, column ``protocol``)
    ``"paper"``: the logistic is fitted on all images of the group and evaluated on the same images (as in the
    paper and in Sheikh et al. 2006).
    ``"content_separated"``: k-fold cross-validation over reference contents (column ``ref_id``): per dataset the
    unique ref_ids are shuffled with a seeded generator and dealt round-robin into k folds (:func:`assign_folds`;
    the same folds are used for every arm, measure, pair kind and distortion of a dataset, so no content is ever in
    both the training and the test part of a fit). The logistic is fitted on the training contents and predicts
    the held-out contents. **Primary** figures (columns ``plcc``, ``srocc``, ``krocc``, ``rmse``, ``plcc_raw``) are
    the **mean over folds of the per-fold statistics** on the held-out contents. Pooling the out-of-fold predictions
    of k separately fitted mappings (an earlier version) is biased: each fold is predicted at the level of its
    training contents, which anti-correlates with the held-out contents' mean score (null: PLCC ≈ −0.2 to −0.3).
    Choosing an arm out of fold is :mod:`veiqa.stats.nested`.

Signs
    PLCC is signed like SROCC: Pearson(prediction × mapping direction × orientation, score), the mapping direction
    being that of the fitted curve (per fold out of fold; :func:`veiqa.stats.weighted.direction_signs`). An arm that
    goes the wrong way gets a negative PLCC; ``fit_direction_reversed`` flags it.

Intervals (see docs/statistics.md)
    ``paper``: SROCC/KROCC/plcc_raw from a cluster bootstrap over contents; PLCC/RMSE depend on the in-sample fit and
    get **no interval**; instead ``plcc_chance`` (95th percentile of the PLCC of content-block permutations of x,
    refitted) and ``plcc_p_perm``. ``content_separated``: contents resampled within folds, per-fold figures recomputed
    with the fold mappings fixed, averaged. No interval below ``MIN_CI_CONTENTS`` contents or ``MIN_CI_IMAGES``
    images (``ci_note``), nor when fewer than 90 % of the resamples are valid (``n_boot_valid``).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import contracts as C
from ..contracts import FIT_FAILED, FIT_OK, STATUS_IDENTICAL
from ..io import VeiqaError, seed_from, write_parquet
from ..parallel import map_ordered
from .logistic import (BETA_NAMES, LOGISTIC_METHODS, MIN_FIT_POINTS, LogisticFit, fit_logistic, fit_logistic_folds, fit_logistic_many,
                       linear_fallback)
from .chance import _chance_from_fits, _chance_plcc, _fit_batched, _perm_draws, _perm_problems
from .long_table import GROUP_KEYS, arm_attributes, validate
from .same_images import common_rows
from .weighted import (blocked_stats, bootstrap_weights, direction_signs, percentile_ci,
                       stratified_content_counts)

ARM_KEYS = ("dataset", "distortion", "arm", "pair_kind")
PROTOCOLS = ("paper", "content_separated")
STATS = ("plcc", "srocc", "krocc", "rmse")
FIT_STATS = ("plcc", "rmse")  # the figures that depend on the fitted mapping
#: Below these, no interval is printed (column ``ci_note`` says why): a bootstrap of 2-7 contents or < 10 images
#: gives intervals such as [1, 1] that do not cover.
MIN_CI_CONTENTS = 8
MIN_CI_IMAGES = 10


# ----------------------------------------------------------------------------------------------------------------
# folds and bootstrap weights
# ----------------------------------------------------------------------------------------------------------------

def assign_folds(df: pd.DataFrame, k: int = 5, seed: int = 0) -> pd.DataFrame:
    """Fold of each reference content per dataset: columns dataset, ref_id, fold (0..k_eff−1), k.

    Per dataset the sorted unique ref_ids are permuted with ``default_rng(seed_from(seed, "folds", dataset))`` and
    dealt round-robin into ``k_eff = min(k, number of contents)`` folds (sizes differ by at most one).
    """
    if k < 2:
        raise VeiqaError(f"k-fold content separation needs k >= 2 (got k={k})")
    rows = []
    for ds, sub in df.groupby("dataset", sort=True):
        refs = np.array(sorted(pd.unique(sub["ref_id"].astype(str))), dtype=object)
        rng = np.random.default_rng(seed_from(seed, "folds", ds))
        perm = refs[rng.permutation(refs.size)]
        k_eff = min(k, refs.size)
        for i, r in enumerate(perm):
            rows.append((ds, r, i % k_eff if k_eff else -1, k_eff))
    return pd.DataFrame(rows, columns=["dataset", "ref_id", "fold", "k"])


# ----------------------------------------------------------------------------------------------------------------
# per-group evaluation
# ----------------------------------------------------------------------------------------------------------------

def evaluate_group(x, y, ref_ids, *, orientation: float = 1.0, protocol: str = "paper",
                   folds: np.ndarray | None = None, n_boot: int = 1000, ci_level: float = 0.95,
                   rng: np.random.Generator | None = None, n_starts: int = 5, fold_n_starts: int = 3,
                   full_fit: LogisticFit | None = None, fold_fits: Sequence[LogisticFit] | None = None,
                   logistic: str = "monotone", n_perm: int = 0,
                   kendall_matrix_max_n: int = 2000, defer_perm: bool = False) -> tuple[dict, list[dict], np.ndarray]:
    """Evaluate one group (finite x, y only) under one protocol.

    Returns (row dict of statistics, list of fit dicts (fold −1 = fit on all points), predictions array).
    ``folds`` (content_separated only) gives each point's fold number. See the module docstring for the rules.
    The paper fit uses ``n_starts`` starting points; content-separated fold fits use ``fold_n_starts`` (each fold
    fit sees only its training rows; there is no warm start from a fit that saw the held-out contents). ``full_fit``,
    when given, is used as the paper protocol's fit instead of fitting again (it must be the fit of these x, y);
    likewise ``fold_fits`` (one per fold in the order of ``np.unique(folds)``, each fitted on the other folds' rows).
    ``logistic``: the fitting method of :func:`veiqa.stats.logistic.fit_logistic` (``monotone`` or ``nlinfit``).
    ``defer_perm``: instead of the chance level, put the permuted copies in ``row["_perm"]`` (x copies, y,
    orientation, PLCC) for the caller to fit in a batch with other groups' (:func:`_chance_from_fits`).
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    n = x.size
    rng = rng if rng is not None else np.random.default_rng(0)
    ref_codes, ref_index = np.unique(np.asarray(ref_ids).astype(str), return_inverse=True)
    row: dict = {"n": n, "n_refs": int(ref_codes.size)}
    fits: list[dict] = []
    if protocol == "paper":
        fit = full_fit if full_fit is not None else fit_logistic(x, y, n_starts=n_starts, method=logistic)
        fits.append({"fold": -1, **fit.as_dict()})
        if fit.ok:
            pred, mapping = fit.predict(x), "logistic"
        else:
            pred, mapping = linear_fallback(x, y, x)
        row.update(fit_status=fit.status, fit_message=fit.message, mapping=mapping, n_fits_failed=int(not fit.ok),
                   k_folds=np.nan)
    elif protocol == "content_separated":
        if folds is None:
            raise ValueError("content_separated needs folds")
        folds = np.asarray(folds)
        pred = np.full(n, np.nan)
        mappings, failed_msgs = set(), []
        ufolds = np.unique(folds)
        if fold_fits is None:
            # no warm start from the all-contents fit: its optimum saw the held-out contents
            fold_fits = fit_logistic_folds(x, y, [folds != f for f in ufolds], n_starts=fold_n_starts,
                                           method=logistic)
        for f, fit in zip(ufolds, fold_fits):
            test = folds == f
            train = ~test
            fits.append({"fold": int(f), **fit.as_dict()})
            if fit.ok:
                pred[test] = fit.predict(x[test])
                mappings.add("logistic")
            else:
                pred[test], m = linear_fallback(x[train], y[train], x[test])
                mappings.add(m)
                failed_msgs.append(f"fold {int(f)}: {fit.message}")
        n_failed = len(failed_msgs)
        mapping = "none" if "none" in mappings else ("linear_fallback" if "linear_fallback" in mappings else "logistic")
        row.update(fit_status=FIT_OK if n_failed == 0 else FIT_FAILED, fit_message="; ".join(failed_msgs)[:500],
                   mapping=mapping, n_fits_failed=n_failed, k_folds=int(ufolds.size))
    else:
        raise VeiqaError(f"unknown protocol {protocol!r} (expected one of {PROTOCOLS})")

    sign = direction_signs(x, pred, folds if protocol == "content_separated" else None) * orientation
    # mapping direction fixed a priori: an arm going the wrong way gets a negative PLCC (RMSE stays that of pred)
    row["fit_direction_reversed"] = bool(np.any(sign < 0))
    row["n_boot"] = int(n_boot)
    row["ci_level"] = float(ci_level)
    ok_n = n >= MIN_CI_IMAGES and ref_codes.size >= MIN_CI_CONTENTS
    row["ci_note"] = "" if ok_n else (f"no interval: {ref_codes.size} contents / {n} images, fewer than "
                                      f"{MIN_CI_CONTENTS} / {MIN_CI_IMAGES}")
    if protocol == "content_separated":
        ufolds = np.unique(folds)
        F = (folds[None, :] == ufolds[:, None]).astype(float)
        counts = np.ones((1, ref_codes.size))
        if n_boot > 0 and ok_n:
            counts = np.vstack([counts, stratified_content_counts(ref_index, folds, n_boot, rng)])
        W = counts[:, ref_index]
        st = _fold_mean_stats(x, y, pred, sign, W, F, kendall_matrix_max_n)
    else:
        W = np.ones((1, n))
        if n_boot > 0 and ok_n:
            W = np.vstack([W, bootstrap_weights(n, n_boot, rng, ref_index)])
        st = blocked_stats(x, y, pred, W, 1.0, kendall_matrix_max_n, sign=sign)
        for s in ("srocc", "krocc", "plcc_raw"):
            st[s] = st[s] * orientation
    for k, v in st.items():
        row[k] = float(v[0])
    no_ci = set() if protocol == "content_separated" else set(FIT_STATS)  # in-sample fit: no honest interval
    valid = [int(np.sum(np.isfinite(st[s][1:]))) for s in STATS if s not in no_ci]
    row["n_boot_valid"] = min(valid) if W.shape[0] > 1 and valid else 0
    for s in STATS:
        row[f"{s}_ci_low"] = row[f"{s}_ci_high"] = np.nan
        if W.shape[0] > 1 and s not in no_ci:
            row[f"{s}_ci_low"], row[f"{s}_ci_high"] = percentile_ci(st[s][1:], ci_level, asked=n_boot)
    if protocol == "paper" and n_perm > 0 and n >= MIN_FIT_POINTS:
        if defer_perm:  # the caller fits the permutations of many groups in one batch (correlations)
            row["_perm"] = (_perm_draws(x, ref_index, n_perm, rng), y, orientation, row["plcc"])
        else:
            row.update(_chance_plcc(x, y, ref_index, orientation, row["plcc"], n_perm, rng, logistic))
    return row, fits, pred


def _fold_mean_stats(x, y, pred, sign, W, F, kendall_matrix_max_n) -> dict[str, np.ndarray]:
    """Mean over folds of the per-fold statistics for each row of W (B × N); F (k × N) are fold indicators.

    A row's figure is the mean over the folds where it is finite (NaN when none is)."""
    k, B = F.shape[0], W.shape[0]
    WF = (W[None, :, :] * F[:, None, :]).reshape(k * B, -1)
    st = blocked_stats(x, y, pred, WF, 1.0, kendall_matrix_max_n, sign=sign)
    out = {}
    for s, v in st.items():
        v = v.reshape(k, B)
        with np.errstate(invalid="ignore"), __import__("warnings").catch_warnings():
            __import__("warnings").simplefilter("ignore", RuntimeWarning)
            out[s] = np.nanmean(v, axis=0)
    return out


# ----------------------------------------------------------------------------------------------------------------
# whole table
# ----------------------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class CorrelationResult:
    """Outputs of :func:`correlations`.

    corr: one row per group × protocol (statistics, CIs, fit status);
    fits: one row per logistic fit (group × protocol × fold; fold −1 = all points) with b1..b5, fit_status,
    fit_message, n_fit, rss; folds: dataset, ref_id, fold, k; predictions: per image and protocol the mapped
    prediction (in-sample for "paper", out-of-fold for "content_separated") and its fold.
    """

    corr: pd.DataFrame
    fits: pd.DataFrame
    folds: pd.DataFrame
    predictions: pd.DataFrame


def correlations(df: pd.DataFrame, *, protocols: Sequence[str] = PROTOCOLS, k: int = 5, n_boot: int = 1000,
                 ci_level: float = 0.95, seed: int = 0, pool_label: str | None = "all", n_starts: int = 5,
                 fold_n_starts: int = 3, kendall_matrix_max_n: int = 2000,
                 logistic: str = "monotone", workers: int = 1, n_perm: int = 200,
                 folds: pd.DataFrame | None = None) -> CorrelationResult:
    """Correlations per dataset × distortion × arm × pair_kind × measure (plus ``distortion=pool_label`` pooling
    all distortions of a dataset; none when ``pool_label`` is None) under each protocol.

    Input: the long table (columns ``REQUIRED_COLUMNS``; an optional ``status`` column names why a value is
    missing or degenerate). Every arm and measure of a dataset × distortion is evaluated on the same images
    (:func:`veiqa.stats.same_images.common_rows`): rows whose value or score is NaN are dropped from their group
    and counted in ``n_nan`` (``n_undefined`` of them undefined by design, which leave only their own row); finite
    rows dropped because the image failed for another arm or measure are counted in ``n_dropped``, with
    ``drop_reasons``. Output columns of ``corr``: the group keys, protocol, n, n_nan, n_undefined, n_dropped,
    n_identical, drop_reasons, n_refs, orientation,
    higher_is_better, measure_higher_is_better, logistic, fit_status, fit_message, mapping, n_fits_failed, k_folds,
    plcc, srocc, krocc, rmse, plcc_raw, {stat}_ci_low/_ci_high, n_boot, n_boot_valid, ci_level and for
    content_separated {stat}_fold_mean/_fold_std. Deterministic for a given ``seed`` (each group's generator is
    seeded from seed, the protocol and the group's keys). See the module docstring for mapping, direction and
    protocol rules.

    ``k``: folds of the content-separated protocol (fewer when a dataset has fewer contents); ``n_boot``: bootstrap
    resamples (0 disables CIs); ``ci_level``: coverage of the percentile intervals; ``n_starts`` /
    ``fold_n_starts``: logistic starting points (see :func:`fit_logistic`) for the paper fit / each fold fit;
    ``kendall_matrix_max_n``: largest group size for which bootstrap KROCC uses the N × N sign matrix (above it,
    SciPy per resample; same values, different speed); ``logistic``: ``monotone`` or ``nlinfit``
    (:mod:`veiqa.stats.logistic`). The fits of all groups (paper and every fold) are solved together in vectorised
    batches (:func:`veiqa.stats.logistic.fit_logistic_many`: the same fits as one group at a time).
    ``workers``: groups are evaluated by that many forked processes (:func:`veiqa.parallel.map_ordered`); the result
    is the same for any number.
    """
    for p in protocols:
        if p not in PROTOCOLS:
            raise VeiqaError(f"unknown protocol {p!r} (expected one of {PROTOCOLS})")
    if logistic not in LOGISTIC_METHODS:
        raise VeiqaError(f"unknown logistic method {logistic!r} (expected one of {LOGISTIC_METHODS})")
    df = validate(df)
    if pool_label is not None and pool_label in set(df["distortion"]):
        raise VeiqaError(f"a distortion is named {pool_label!r}, which is the pooled label; pass another pool_label")
    folds_df = assign_folds(df, k=k, seed=seed) if folds is None else folds
    fold_map = {(d, r): f for d, r, f in folds_df[["dataset", "ref_id", "fold"]].itertuples(index=False)}
    full = df if pool_label is None else pd.concat([df, df.assign(distortion=pool_label)], ignore_index=True)
    keep, reasons, undefined = common_rows(full, pool_label)
    full = full.assign(_keep=keep, _undefined=undefined, _finite=np.isfinite(full["value"]) & np.isfinite(full["score"]),
                       _identical=(full["status"].astype(str) == STATUS_IDENTICAL) if "status" in full.columns else False)

    def group_fit_problem(g):
        """The group's kept rows, values, scores, contents, folds, and its fits' training masks and starts."""
        gg = g[g["_keep"].to_numpy()]
        x = gg["value"].to_numpy()
        refs = gg["ref_id"].to_numpy()
        fold_of = np.array([fold_map[(g["dataset"].iloc[0], r)] for r in refs], dtype=int)
        masks, starts = [], []
        if "paper" in protocols:
            masks.append(np.ones(x.size, bool)), starts.append(n_starts)
        if "content_separated" in protocols:
            ufolds = np.unique(fold_of)
            masks += [fold_of != f for f in ufolds]
            starts += [fold_n_starts] * ufolds.size
        return gg, x, gg["score"].to_numpy(), refs, fold_of, masks, starts

    def one_group(item):
        keys, g, (gg, x, y, refs, fold_of, _, _), all_fits = item
        corr_rows, fit_rows, pred_parts = [], [], []
        key = dict(zip(GROUP_KEYS, keys))
        kept = g["_keep"].to_numpy()
        finite = g["_finite"].to_numpy()
        hib = bool(g["higher_is_better"].iloc[0])
        mhib = bool(g["measure_higher_is_better"].iloc[0])
        orientation = (1.0 if hib else -1.0) * (1.0 if mhib else -1.0)
        all_fits = list(all_fits)
        full_fit = all_fits.pop(0) if x.size and "paper" in protocols else None
        counts = {"n_nan": int((~finite).sum()), "n_undefined": int(g["_undefined"].sum()),
                  "n_dropped": int((finite & ~kept).sum()), "n_identical": int(gg["_identical"].sum()),
                  "drop_reasons": reasons.get((key["dataset"], key["distortion"]), "")}
        for protocol in protocols:
            rng = np.random.default_rng(seed_from(seed, "bootstrap", protocol, *keys))
            folds = fold_of if protocol == "content_separated" else None
            base = {**key, "protocol": protocol}
            if x.size == 0:
                row = {"n": 0, "n_refs": 0, "fit_status": FIT_FAILED, "fit_message": "no finite rows",
                       "mapping": "none", "n_fits_failed": 1, "n_boot": n_boot, "n_boot_valid": 0,
                       "ci_level": ci_level}
                fits, pred = [], np.array([])
            else:
                row, fits, pred = evaluate_group(x, y, refs, orientation=orientation, protocol=protocol,
                                                 folds=folds, n_boot=n_boot, ci_level=ci_level, rng=rng,
                                                 n_starts=n_starts, fold_n_starts=fold_n_starts,
                                                 full_fit=full_fit, fold_fits=all_fits or None, logistic=logistic,
                                                 n_perm=n_perm, kendall_matrix_max_n=kendall_matrix_max_n,
                                                 defer_perm=True)
            corr_rows.append({**base, **row, **counts, "orientation": orientation, "logistic": logistic,
                              "higher_is_better": hib, "measure_higher_is_better": mhib})
            for f in fits:
                fit_rows.append({**base, **f})
            pred_parts.append(pd.DataFrame({**{c: gg[c].to_numpy() for c in GROUP_KEYS}, "protocol": protocol,
                                            "image_id": gg["image_id"].to_numpy(), "ref_id": refs,
                                            "fold": folds if folds is not None else -1,
                                            "value": x, "score": y, "prediction": pred}))
        return corr_rows, fit_rows, pred_parts

    def chunk_of_groups(chunk):
        """Groups one by one, then the permutation fits of all of them in a few batches (the same fits as one
        group at a time, at a fraction of the solver's per-iteration overhead)."""
        done = [one_group(it) for it in chunk]
        pending = [r for c, _, _ in done for r in c if "_perm" in r]
        probs = [pr for r in pending for pr in _perm_problems(r["_perm"][0], r["_perm"][1])]
        fitted = _fit_batched(probs, logistic)
        at = 0
        for r in pending:
            xs, yy, o, pl = r.pop("_perm")
            r.update(_chance_from_fits(xs, yy, fitted[at:at + len(xs)], o, pl))
            at += len(xs)
        return done

    groups = list(full.groupby(list(GROUP_KEYS), sort=True))
    # Every group's fits (paper and each fold) in a few vectorised batches here, then the bootstrap per group
    # in the workers: the same fits as one group at a time (fit_logistic_many), at a fraction of the overhead.
    arrays = [group_fit_problem(g) for _, g in groups]
    with_rows = [i for i, a in enumerate(arrays) if a[1].size]
    problems = [(a[1], a[2], a[5], a[6]) for a in (arrays[i] for i in with_rows)]
    parts = max(1, min(int(workers), len(problems)))  # one batch per worker (the rows do not interact)
    cuts = np.linspace(0, len(problems), parts + 1).astype(int)
    fitted = [f for part in map_ordered(lambda c: fit_logistic_many(c, method=logistic),
                                        [problems[a:b] for a, b in zip(cuts[:-1], cuts[1:])], parts) for f in part]
    fits_of = dict(zip(with_rows, fitted))
    items = [(keys, g, arrays[i], fits_of.get(i, [])) for i, (keys, g) in enumerate(groups)]
    corr_rows, fit_rows, pred_parts = [], [], []
    # groups are independent and seeded by their keys: chunks of them (a few per worker, for balance)
    n_chunks = max(1, min(len(items), 4 * max(1, int(workers))))
    cuts = np.linspace(0, len(items), n_chunks + 1).astype(int)
    chunks = [items[a:b] for a, b in zip(cuts[:-1], cuts[1:])]
    for c, f, p in (r for part in map_ordered(chunk_of_groups, chunks, workers) for r in part):
        corr_rows += c
        fit_rows += f
        pred_parts += p
    lead = list(GROUP_KEYS) + ["protocol", "n", "n_nan", "n_undefined", "n_dropped", "n_identical", "drop_reasons", "n_refs",
                               "orientation", "higher_is_better", "measure_higher_is_better", "logistic",
                               "fit_status", "fit_message", "mapping", "n_fits_failed", "k_folds", "fit_direction_reversed",
                               *STATS, "plcc_raw", "plcc_chance", "plcc_p_perm", "n_perm"]
    ci_cols = [f"{s}_ci_{e}" for s in STATS for e in ("low", "high")] + ["n_boot", "n_boot_valid", "ci_level", "ci_note"]
    corr = pd.DataFrame(corr_rows)
    for c in lead + ci_cols:
        if c not in corr.columns:
            corr[c] = np.nan
    corr = corr[lead + ci_cols].reset_index(drop=True)
    fits = pd.DataFrame(fit_rows, columns=list(GROUP_KEYS) + ["protocol", "fold", *BETA_NAMES, "fit_status",
                                                              "fit_message", "n_fit", "rss", "n_starts",
                                                              "fit_method"])
    preds = pd.concat(pred_parts, ignore_index=True) if pred_parts else pd.DataFrame(columns=C.PREDICTIONS.names)
    attrs = arm_attributes(df)
    if attrs is not None:
        corr, fits = (t.merge(attrs, on=["arm", "pair_kind"], how="left", validate="m:1") for t in (corr, fits))
    return CorrelationResult(corr=corr, fits=fits, folds=folds_df, predictions=preds)


def save_results(result: CorrelationResult, outdir: str | os.PathLike, meta: Mapping | None = None) -> dict[str, str]:
    """Write corr.parquet, fits.parquet, folds.parquet, predictions.parquet into ``outdir`` (atomic, provenance),
    each checked against its contract (:mod:`veiqa.contracts`) first."""
    out = {}
    contracts = {"corr": C.CORR, "fits": C.FITS, "folds": C.FOLDS, "predictions": C.PREDICTIONS}
    for name, contract in contracts.items():
        path = os.path.join(os.fspath(outdir), f"{name}.parquet")
        write_parquet(getattr(result, name), path, meta, contract=contract)
        out[name] = path
    return out
