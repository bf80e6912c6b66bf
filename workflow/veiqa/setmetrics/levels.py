"""The per distortion x level driver: every set-level metric of a staged dataset, one row per group."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..contracts import SET_METRICS_NAN_STATUS
from ..io import VeiqaError, read_image
from .distances import fid_from_features, inception_score, kid_from_features
from .sets import as_extractor, set_features
from .lpips import LPIPSMetric, load_lpips


MANIFEST_COLUMNS = ("image_id", "ref_id", "distortion", "level", "path", "ref_path")

#: For every column of the result that can be NaN, the column saying why: its value is "ok" exactly when the number
#: is there (checked by :func:`check_statuses` before the table is returned). Its home: the table's contract.
NAN_STATUS = SET_METRICS_NAN_STATUS


def check_statuses(df) -> None:
    """VeiqaError unless every NaN of a :data:`NAN_STATUS` column has a status other than "ok", and every "ok" a
    number: no value leaves the table silently."""
    if df.empty:
        return
    for col, st in NAN_STATUS.items():
        nan, ok = df[col].isna(), df[st] == "ok"
        if (nan & ok).any() or (~nan & ~ok).any():
            bad = df.loc[nan == ok, ["distortion", "level", col, st]].head(3).to_dict("records")
            raise VeiqaError(f"set metrics: {col} and its status {st} disagree (NaN with 'ok', or a value without), "
                             f"e.g. {bad}")


def fid_min_n_default(dim: int) -> int:
    """The smallest set for an FID row not to be flagged ``fid_small_n``: the feature dimension, the number of
    images pytorch-fid 0.3.0's README calls "otherwise required" for its 2048-d pool3 features (fewer leave both
    covariances rank-deficient, and FID's small-sample bias, which falls like 1/n, dominates the value)."""
    return int(dim)


def _fid_columns(f_d, f_r, name, fid_method, imag_tol, fid_min_n) -> dict[str, Any]:
    n_min = fid_min_n if fid_min_n is not None else fid_min_n_default(f_d.shape[1])
    cols = {"fid_min_n": int(n_min), "fid_small_n": bool(min(len(f_d), len(f_r)) < n_min)}
    try:
        fr = fid_from_features(f_d, f_r, extractor=name, method=fid_method, imag_tol=imag_tol, on_imag="flag")
    except VeiqaError as e:
        return cols | dict(fid=np.nan, fid_method=fid_method, fid_sqrtm_imag_max=np.nan, fid_sqrtm_rel_err=np.nan,
                           fid_sqrtm_rel_err_status=f"FID failed: {e}", fid_imag_flag=False, fid_status=f"failed: {e}")
    rel_status = ("ok" if np.isfinite(fr.sqrtm_rel_err)
                  else f"not estimated: only the sqrtm route does ({fr.method} used)")
    return cols | dict(fid=fr.fid, fid_method=fr.method, fid_sqrtm_imag_max=fr.sqrtm_imag_max,
                       fid_sqrtm_rel_err=fr.sqrtm_rel_err, fid_sqrtm_rel_err_status=rel_status,
                       fid_imag_flag=fr.imag_flag, fid_status="ok")


def _kid_columns(f_d, f_r, name, subset_size, n_subsets, seed) -> dict[str, Any]:
    try:
        kr = kid_from_features(f_d, f_r, extractor=name, subset_size=subset_size, n_subsets=n_subsets, seed=seed)
    except VeiqaError as e:
        return dict(kid_mean=np.nan, kid_std=np.nan, kid_subset_size=0, kid_n_subsets=0, kid_status=f"failed: {e}",
                    kid_std_status=f"KID failed: {e}")
    return dict(kid_mean=kr.kid_mean, kid_std=kr.kid_std if kr.std_status == "ok" else np.nan,
                kid_subset_size=kr.subset_size, kid_n_subsets=kr.n_subsets, kid_status="ok",
                kid_std_status=kr.std_status)


def _classifier(clf) -> dict[str, Any]:
    """The classifier's columns: its full name, the short label of the IS columns, whether it is the standard one."""
    if clf is None:
        return dict(classifier=None, classifier_label=None, classifier_standard=None)
    return dict(classifier=clf.name, classifier_label=clf.label, classifier_standard=clf.standard)


def _is_columns(p_d, p_r, clf, is_splits) -> dict[str, Any]:
    if p_d is None or p_r is None:
        why = "no classifier with logits (pass classifier=...)"
        return dict(**_classifier(clf), is_mean=np.nan, is_std=np.nan, is_ref_mean=np.nan,
                    is_ref_std=np.nan, is_splits=0, is_status=why, is_std_status=why, is_ref_std_status=why)
    i_d = inception_score(p_d, splits=is_splits, classifier=clf.name)
    i_r = inception_score(p_r, splits=is_splits, classifier=clf.name)
    one = "no spread: one split (is_splits={} and {} images)"
    return dict(**_classifier(clf), is_mean=i_d.is_mean, is_std=i_d.is_std if i_d.splits > 1 else np.nan,
                is_ref_mean=i_r.is_mean, is_ref_std=i_r.is_std if i_r.splits > 1 else np.nan, is_splits=i_d.splits,
                is_status="ok", is_std_status="ok" if i_d.splits > 1 else one.format(is_splits, i_d.n),
                is_ref_std_status="ok" if i_r.splits > 1 else one.format(is_splits, i_r.n))


def _weight_provenance(ex, clf, lp) -> list[dict[str, str]]:
    """One record (role, path, full SHA-256) per weight file the run used."""
    out = [{"role": "extractor", "name": ex.name, "path": p, "sha256": h} for p, h in ex.weight_files.items()]
    if clf is not None and clf is not ex:
        out += [{"role": "classifier", "name": clf.name, "path": p, "sha256": h} for p, h in clf.weight_files.items()]
    if lp is not None:
        out += [{"role": "lpips", "name": lp.name, "path": p, "sha256": h} for p, h in lp.weight_files.items()]
    return out


def set_metrics_for_levels(
    manifest_df, root, extractor, *, classifier=None, lpips_metric="auto", lpips_net: str = "alex",
    lpips_weights=None, kid_subset_size: int = 1000, kid_n_subsets: int = 100, is_splits: int = 10, seed: int = 0,
    fid_method: str = "auto", imag_tol: float = 1e-3, fid_min_n: int | None = None, device: str = "cpu",
):
    """For each distortion x level of a staged dataset: FID and KID of the distorted set against its pristine
    references, the Inception Score of the distorted set and of the reference set, and the mean LPIPS of each image
    against its reference.

    ``manifest_df`` has columns image_id, ref_id, distortion, level, path, ref_path (paths relative to ``root``).  The
    reference set of a group is the unique ``ref_path`` of its images.  ``extractor``: see :func:`as_extractor`.
    ``classifier`` (for IS) defaults to the extractor when it has logits; else the IS columns are NaN with a reason in
    ``is_status``.  ``lpips_metric``: an :class:`LPIPSMetric`, None (disabled) or ``"auto"`` (:func:`load_lpips`
    with ``lpips_net``/``lpips_weights``; when its weights are absent the LPIPS columns are NaN and ``lpips_status``
    says why).  FID uses :func:`fid_from_features` with ``fid_method`` (default "auto": the exact "svd" route when a
    set has fewer images than feature dimensions); imaginary parts above ``imag_tol`` are flagged
    (``fid_imag_flag``), not raised.  ``fid_small_n`` flags rows whose smaller set has fewer than ``fid_min_n``
    images (default :func:`fid_min_n_default`, the feature dimension).  KID's and IS's spreads are NaN, with the
    reason in ``kid_std_status`` / ``is_std_status``, when the subsets or splits cannot vary.  Every NaN has a
    status column that says why (:data:`NAN_STATUS`).  Each image is run through the networks once (reference
    features are cached across groups).  One row per group, sorted.  ``.attrs["weight_files"]`` lists every weight
    file used (role, extractor name, path, full SHA-256) for the provenance.
    """
    import pandas as pd

    missing = [c for c in MANIFEST_COLUMNS if c not in manifest_df.columns]
    if missing:
        raise VeiqaError(f"set_metrics_for_levels: manifest lacks columns {missing} (needs {list(MANIFEST_COLUMNS)})")
    root = Path(root)
    ex = as_extractor(extractor, device=device) if isinstance(extractor, str) else as_extractor(extractor)
    clf = None
    if classifier is not None:
        clf = as_extractor(classifier, device=device) if isinstance(classifier, str) else as_extractor(classifier)
    elif ex.has_logits:
        clf = ex

    lp, lp_status = None, "ok"
    if isinstance(lpips_metric, LPIPSMetric):
        lp = lpips_metric
    elif lpips_metric is None:
        lp_status = "disabled"
    elif lpips_metric == "auto":
        try:
            lp = load_lpips(lpips_net, lpips_weights, device=device)
        except VeiqaError as e:
            lp_status = f"unavailable: {e}"
    else:
        raise VeiqaError(f"set_metrics_for_levels: lpips_metric must be an LPIPSMetric, None or 'auto', got "
                         f"{lpips_metric!r}")

    feat_cache: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    clf_cache: dict[str, np.ndarray | None] = {}

    def features_of(paths: Sequence[str]):
        todo = [p for p in dict.fromkeys(paths) if p not in feat_cache]
        if todo:
            sf = set_features([root / p for p in todo], ex, keep_features=True)
            for i, p in enumerate(todo):
                feat_cache[p] = (sf.features[i], None if sf.probs is None else sf.probs[i])
        return np.stack([feat_cache[p][0] for p in paths])

    def probs_of(paths: Sequence[str]):
        if clf is None:
            return None
        if clf is ex:
            features_of(paths)
            vals = [feat_cache[p][1] for p in paths]
        else:
            todo = [p for p in dict.fromkeys(paths) if p not in clf_cache]
            if todo:
                sf = set_features([root / p for p in todo], clf, keep_features=True)
                for i, p in enumerate(todo):
                    clf_cache[p] = None if sf.probs is None else sf.probs[i]
            vals = [clf_cache[p] for p in paths]
        if any(v is None for v in vals):
            return None
        return np.stack(vals)

    rows = []
    df = manifest_df.sort_values(["distortion", "level", "image_id"], kind="mergesort")
    for (dist, level), g in df.groupby(["distortion", "level"], sort=True, dropna=False):
        paths = [str(p) for p in g["path"]]
        refs = list(dict.fromkeys(str(p) for p in g["ref_path"]))
        row: dict[str, Any] = {"distortion": dist, "level": level, "n_images": len(paths), "n_refs": len(refs),
                               "extractor": ex.name, "extractor_label": ex.label,
                               "extractor_standard": ex.standard}
        f_d, f_r = features_of(paths), features_of(refs)
        row.update(_fid_columns(f_d, f_r, ex.name, fid_method, imag_tol, fid_min_n))
        row.update(_kid_columns(f_d, f_r, ex.name, kid_subset_size, kid_n_subsets, seed))
        row.update(_is_columns(probs_of(paths), probs_of(refs), clf, is_splits))
        if lp is None:
            row.update(lpips=None, lpips_mean=np.nan, lpips_std=np.nan, lpips_status=lp_status)
        else:
            vals = [float(lp(read_image(root / p), read_image(root / r))[0])
                    for p, r in zip(g["path"].astype(str), g["ref_path"].astype(str))]
            row.update(lpips=lp.name, lpips_mean=float(np.mean(vals)), lpips_std=float(np.std(vals)),
                       lpips_status="ok")
        rows.append(row)
    out = pd.DataFrame(rows)
    if len(out):  # the groupby keys come back as objects when a level is <NA>: the manifest's dtype again
        out["level"] = out["level"].astype(manifest_df["level"].dtype)
    check_statuses(out)
    out.attrs["weight_files"] = _weight_provenance(ex, clf, lp)
    return out
