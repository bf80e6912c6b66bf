"""The long table the statistics read: every measure shard of a dataset (the VEI arms and the no-CNN baseline of
:mod:`veiqa.pairs`, the NR methods and the FR ceiling of :mod:`veiqa.baselines`) joined with the manifest's scores.

It imports neither torch nor the table builders, so the ``collect`` job starts without them."""

from __future__ import annotations

import pandas as pd

from . import baselines
from .contracts import MEASURE_SHARD, check
from .specs import MEASURES


def collect(measure_files, manifest: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Join every measure shard of a dataset with the manifest's scores: the long table the statistics read.

    ``measure_files`` maps each file to its (distortion, pri) labels (the shards of :mod:`veiqa.baselines` get the
    default PRI's label from :func:`veiqa.baselines.shard_labels`, so that they are evaluated as default-strength
    arms). Adds ref_id, level, score, score_kind,
    higher_is_better (score direction), measure_higher_is_better and the dataset name. The ``value`` of a measure
    with an ideal (:attr:`veiqa.specs.MeasureSpec.ideal`, NCC) is its deviation from it.
    """
    parts = []
    for path, (distortion, pri) in measure_files.items():
        t = check(pd.read_parquet(path), MEASURE_SHARD, path)  # a shard that breaks its contract names its file
        t["distortion"] = distortion
        t["pri"] = pri
        parts.append(t)
    df = pd.concat(parts, ignore_index=True)
    man = manifest[["image_id", "ref_id", "level", "score", "score_kind", "higher_is_better"]]
    df = df.merge(man, on="image_id", how="left", validate="m:1")
    df["dataset"] = dataset
    # The PRI paradigm: an image that changes little when degraded once more was already degraded, so quality
    # rises with *dissimilarity* between the pair. A measure whose higher values mean "more similar" (PSNR, SSIM)
    # therefore has lower values for better images, and the statistics' sign convention is set accordingly.
    # A measure with an ideal inside its range (NCC: NK = 1, deviating both ways) enters the statistics as its
    # deviation |value - ideal| (veiqa.specs; the measure shards keep the raw value), with that deviation's direction.
    for name, spec in MEASURES.items():
        if spec.ideal is not None:
            sel = (df["measure"] == name).to_numpy()
            df.loc[sel, "value"] = spec.stat_value(df.loc[sel, "value"])
    df["measure_higher_is_better"] = df["measure"].map({k: not v.stat_higher_is_better for k, v in MEASURES.items()})
    # NR baselines and the FR ceiling (veiqa.baselines) are not PRI pairs: their own names and directions.
    df = baselines.orient(df)
    lead = ["dataset", "distortion", "pri", "arm", "backbone", "pair_kind", "measure", "image_id", "ref_id", "level", "value",
            "status", "pri_identical", "score", "score_kind", "higher_is_better", "measure_higher_is_better"]
    df = df[lead].sort_values(["distortion", "pri", "arm", "measure", "image_id"], kind="stable")
    return df.reset_index(drop=True)
