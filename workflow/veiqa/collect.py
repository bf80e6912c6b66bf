"""The long table the statistics read: every measure shard of a dataset (the VEI arms and the pixel-PRI control of
:mod:`veiqa.pairs`, the NR methods and the FR ceiling of :mod:`veiqa.controls`) joined with the manifest's scores.

It imports neither torch nor the table builders, so the ``collect`` job starts without them."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import pandas as pd

from . import controls
from .contracts import MEASURE_SHARD, ContractError, check
from .io import VeiqaError, read_provenance
from .specs import MEASURES


def collect(measure_files, manifest: pd.DataFrame, dataset: str, arms: Mapping[str, Mapping]) -> pd.DataFrame:
    """Join every measure shard of a dataset with the manifest's scores: the long table the statistics read.

    ``measure_files`` maps each file to its (distortion, pri) labels (the shards of :mod:`veiqa.controls`, which do
    not depend on the PRI, get the distortion's default PRI label, so that they are evaluated as default-strength
    arms: :func:`shard_labels`). ``arms``: label → the columns of each arm of the run (:meth:`veiqa.arms.Arm.columns`
    of :func:`veiqa.config.run_arms`: ``arm_kind``, ``backbone``); a shard row of an arm not in it is an error. Adds ref_id, level, score, score_kind, higher_is_better (score direction) and the dataset name; the
    measure's direction ``measure_higher_is_better`` is the one each shard's producer wrote. The ``value`` of a
    measure with an ideal (:attr:`veiqa.specs.MeasureSpec.ideal`, NCC) is its deviation from it (the direction the
    producers write is that of the deviation).
    """
    parts = []
    for path, (distortion, pri) in measure_files.items():
        try:  # a shard that breaks its contract names its file
            t = check(pd.read_parquet(path), MEASURE_SHARD, path)
        except ContractError as e:
            raise ContractError(f"{e}. A shard written by an older veiqa: rerun its jobs (snakemake --forcerun "
                                "measures_vei measures_image nr_methods fr_ceiling), or delete it") from None
        t["distortion"] = distortion
        t["pri"] = pri
        parts.append(t)
    df = pd.concat(parts, ignore_index=True)
    unknown = sorted(set(df["arm"]) - set(arms))
    if unknown:
        files = sorted({f for f, t in zip(measure_files, parts) if set(t["arm"]) & set(unknown)})
        raise VeiqaError(f"{files[0]}: rows of arm(s) {unknown} that the configuration does not define "
                         f"(its arms: {sorted(arms)})")
    cols = pd.DataFrame([{"arm": a, **arms[a]} for a in sorted(set(df["arm"]))])
    df = df.drop(columns=[c for c in cols.columns if c != "arm" and c in df.columns])
    df = df.merge(cols, on="arm", how="left", validate="m:1")
    man = manifest[["image_id", "ref_id", "level", "score", "score_kind", "higher_is_better"]]
    df = df.merge(man, on="image_id", how="left", validate="m:1")
    df["dataset"] = dataset
    # A measure with an ideal inside its range (NCC: NK = 1, deviating both ways) enters the statistics as its
    # deviation |value - ideal| (veiqa.specs; the measure shards keep the raw value), with that deviation's direction.
    for name, spec in MEASURES.items():
        if spec.ideal is not None:
            sel = ((df["measure"] == name) & (df["pair_kind"] != controls.NR_KIND)).to_numpy()
            df.loc[sel, "value"] = spec.stat_value(df.loc[sel, "value"])
    df["measure_higher_is_better"] = df["measure_higher_is_better"].astype(bool)
    lead = ["dataset", "distortion", "pri", "arm", "arm_kind", "backbone", "pair_kind", "measure", "image_id", "ref_id", "level", "value",
            "status", "pri_identical", "score", "score_kind", "higher_is_better", "measure_higher_is_better"]
    df = df[lead].sort_values(["distortion", "pri", "arm", "measure", "image_id"], kind="stable")
    return df.reset_index(drop=True)


def shard_labels(paths, default_pri: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """(distortion, pri) of each measure shard, from the provenance its job wrote (:func:`veiqa.io.write_parquet`'s
    ``meta``), never from its path: a VEI or pixel-PRI shard names both; an NR or FR-ceiling shard (which does not
    depend on the PRI) names its distortion and gets that distortion's default PRI label ``default_pri``."""
    out = {}
    for p in paths:
        meta = read_provenance(p)
        d = meta.get("distortion")
        if d is None:
            raise VeiqaError(f"{p}: a measure shard whose provenance names no distortion (written by an older veiqa?"
                             " delete it and rerun)")
        pri = meta.get("pri")
        if pri is None:
            if d not in default_pri:
                raise VeiqaError(f"{p}: no default PRI strength for distortion {d!r}")
            pri = default_pri[d]
        out[str(Path(p))] = (d, pri)
    return out
