"""The paper's Table 6: the VEI method beside standard NR-IQA methods, per dataset and distortion.

One row per distortion (the pooled row ``all`` last) × method, in a fixed order of kinds: the VEI arm(s) with
pretrained weights, the NR baselines (NIQE, BRISQUE, PIQE; :mod:`veiqa.baselines`), the pixel-PRI (no-CNN)
baseline, the random-weights control arm(s) and the FR ceiling. Columns: PLCC and SROCC with their bootstrap
intervals (``"<STAT> CI low"`` / ``"<STAT> CI high"``, folded into the value's cell in the Markdown by
:func:`veiqa.tables.compact_ci`), N (images in the correlation), ``n_nan`` (images without a value, e.g. NR status
``too_small``, left out of it and counted) and the logistic fit's status. Only default-PRI arms enter (grids are in
the ranked table). The VEI arms, the pixel-PRI baseline, the control and the FR ceiling use the table measure;
each NR baseline is its own score.
"""

from __future__ import annotations

import pandas as pd

from .baselines import at_measure
from .io import VeiqaError
from .nr import LABELS as NR_LABELS  # display names of the NR methods (their one home: veiqa.nr)
from .ranking import arm_kind
from .tables import PROTOCOL_TEXT, SIGN_TEXT, _select, _sort_rows

KIND_ORDER = ("pretrained", "nr-baseline", "no-CNN baseline", "random-weights control", "fr-ceiling")
STATS = ("plcc", "srocc")
STAT_LABELS = {"plcc": "PLCC", "srocc": "SROCC"}
COLUMNS = ["dataset", "distortion", "method", "kind", "arm", "measure", "N", "n_nan",
           "PLCC", "PLCC CI low", "PLCC CI high", "SROCC", "SROCC CI low", "SROCC CI high", "fit_status"]


def method_label(arm: str, kind: str) -> str:
    """How a row names its method: ``VEI <arm>``, ``NIQE``, ``pixel PRI (no CNN)``, ``FR ceiling`` ..."""
    if kind == "pretrained":
        return f"VEI {arm}"
    if kind == "random-weights control":
        return f"VEI {arm} (random weights)"
    if kind == "nr-baseline":
        return NR_LABELS.get(arm, arm.upper())
    if kind == "no-CNN baseline":
        return "pixel PRI (no CNN)"
    return "FR ceiling"


def _caption(dataset: str, measure: str, protocol: str, loader: str | None, kinds: set, nr: list[str],
             failed: list[str], ci_level: float | None) -> str:
    cap = (f"Table 6. {dataset}: the VEI method beside standard no-reference IQA methods, per distortion. "
           f"VEI, pixel-PRI (the measure on the raw image and its PRI, no CNN), random-weights control and FR "
           f"ceiling rows use measure '{measure}'.")
    if nr:
        cap += (f" NR baselines ({', '.join(NR_LABELS.get(m, m) for m in nr)}) score the distorted image alone "
                "(lower = better quality); NIQE and BRISQUE are the authors' release codes and models, not MATLAB's "
                "built-in niqe()/brisque(). BRISQUE was trained on LIVE (the whole database, says its release): its "
                "figures on LIVE are in-sample.")
        if loader == "live" and "brisque" in nr:
            cap += " This dataset is LIVE, so its BRISQUE rows are in-sample."
    cap += (" The PRI is chosen by the known distortion label, so the VEI and pixel-PRI rows are distortion-aware, "
            "while the NR methods are not: pooled rows are not like-for-like.")
    if "fr-ceiling" in kinds:
        cap += (" FR ceiling: the measure between each distorted image and its pristine reference, which no "
                "no-reference method sees.")
    cap += (f" {PROTOCOL_TEXT.get(protocol, 'Protocol ' + repr(protocol))}. {SIGN_TEXT} n_nan: images without a "
            "value (e.g. too small for an NR method), left out of the correlation.")
    if ci_level is not None:
        cap += f" CI: {100 * ci_level:g}% percentile bootstrap."
    if failed:
        cap += " Failed logistic fits (PLCC from the fallback mapping named): " + ", ".join(failed) + "."
    return cap


def table6(corr: pd.DataFrame, dataset: str, measure: str = "psnr", protocol: str = "paper",
           loader: str | None = None, pool_label: str = "all", comparisons: pd.DataFrame | None = None,
           alpha: float = 0.05) -> pd.DataFrame:
    """Table 6 of ``dataset`` under ``protocol`` from the correlation frame of :func:`veiqa.stats.correlations`
    (as :func:`veiqa.ranking.correlations_all_arms` writes it). ``loader`` (the dataset's loader name) marks
    BRISQUE's LIVE figures as in-sample in the caption. ``comparisons``: this protocol's table of
    :func:`veiqa.comparisons.comparisons`; adds the column ``vs pixel PRI`` (:func:`add_verdicts`). The caption is in
    ``df.attrs["caption"]``."""
    sel = _select(corr, dataset=dataset, protocol=protocol)
    sel = sel[at_measure(sel, measure) & ~sel["arm"].str.contains("@", regex=False)].copy()
    if not (sel["pair_kind"] == "vei").any():
        raise VeiqaError(f"no VEI rows for dataset={dataset!r} measure={measure!r} protocol={protocol!r}")
    sel["kind"] = [arm_kind(a, p) for a, p in zip(sel["arm"], sel["pair_kind"])]
    rank = {k: i for i, k in enumerate(KIND_ORDER)}
    found = set(sel.loc[sel["kind"] == "nr-baseline", "arm"])
    nr = [m for m in NR_LABELS if m in found] + sorted(found - set(NR_LABELS))
    nr_rank = {m: i for i, m in enumerate(nr)}
    dist_rank = {d: i for i, d in enumerate(_sort_rows(sel["distortion"], pool_label))}
    sel = sel.assign(_d=sel["distortion"].map(dist_rank), _k=sel["kind"].map(rank),
                     _a=[nr_rank.get(a, 0) for a in sel["arm"]])
    sel = sel.sort_values(["_d", "_k", "_a", "arm"], kind="stable")
    out = pd.DataFrame({
        "dataset": sel["dataset"].to_numpy(), "distortion": sel["distortion"].to_numpy(),
        "method": [method_label(a, k) for a, k in zip(sel["arm"], sel["kind"])], "kind": sel["kind"].to_numpy(),
        "arm": sel["arm"].to_numpy(), "measure": sel["measure"].to_numpy(),
        "N": sel["n"].astype(int).to_numpy(), "n_nan": sel["n_nan"].astype(int).to_numpy(),
    })
    for s in STATS:
        lab = STAT_LABELS[s]
        out[lab] = sel[s].astype(float).to_numpy()
        out[f"{lab} CI low"] = sel[f"{s}_ci_low"].astype(float).to_numpy()
        out[f"{lab} CI high"] = sel[f"{s}_ci_high"].astype(float).to_numpy()
    out["fit_status"] = sel["fit_status"].to_numpy()
    out = out[COLUMNS].reset_index(drop=True)
    failed = [f"{d} ({m}: {mp})" for d, m, st, mp in zip(out["distortion"], out["method"], sel["fit_status"],
                                                        sel["mapping"]) if st != "ok"]
    levels = sel.loc[sel["n_boot"] > 0, "ci_level"].dropna()
    out.attrs["caption"] = _caption(dataset, measure, protocol, loader, set(out["kind"]), nr, failed,
                                    float(levels.iloc[0]) if len(levels) else None)
    if comparisons is not None:
        out = add_verdicts(out, comparisons, alpha)
    return out


def add_verdicts(t6: pd.DataFrame, comp: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Column ``vs pixel PRI`` of Table 6: for each VEI arm row, ``better`` / ``not distinguishable`` / ``worse`` than
    the pixel-PRI baseline by the paired content bootstrap of ΔSROCC, Holm-adjusted over its family of the
    comparison table (:func:`veiqa.comparisons.verdicts`), at ``alpha``; empty on other rows; ``no test`` where the
    comparison table has no p-value. The caption names the test, the family and alpha."""
    from . import comparisons as C

    v = C.verdicts(comp, alpha)
    key = {(d, a): verdict for d, a, verdict in v[["distortion", "arm", "verdict"]].itertuples(index=False)}
    out = t6.copy()
    out["vs pixel PRI"] = [key.get((d, a), "no test") if k == "pretrained" else ""
                           for d, a, k in zip(out["distortion"], out["arm"], out["kind"])]
    fam = comp[(comp["statistic"] == "srocc") & (comp["test"] == C.T_BOOT)]
    m = int(fam["p_value"].notna().sum())
    n_boot = sorted(set(int(b) for b in fam["n_boot"].dropna()))
    cap = (f" vs pixel PRI: the VEI arm is better / not distinguishable / worse than the pixel-PRI baseline by the "
           f"paired content bootstrap of delta SROCC ({', '.join(map(str, n_boot)) or 'no'} resamples, same images "
           f"and contents for both arms), Holm-adjusted over the {m} comparisons of that test in "
           f"comparisons.csv, alpha {alpha:g}")
    if (out["vs pixel PRI"] == "no test").any():
        cap += "; 'no test': no p-value (too few images or contents; see comparisons.csv, column note)"
    out.attrs = dict(t6.attrs)
    out.attrs["caption"] = t6.attrs.get("caption", "") + cap + "."
    return out
