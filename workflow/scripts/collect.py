from _veiqa import smk, step  # first: it puts veiqa on the import path
from pathlib import Path

from veiqa import baselines, shards
from veiqa.collect import collect
from veiqa.contracts import SCORES
from veiqa.io import read_provenance, write_parquet

with step() as log:
    files = {}
    for f in smk.input.measures:
        parts = Path(f).parts  # results/<ds>/measures/<distortion>/<pri>/<arm>/shard-<k>.parquet
        files[f] = (parts[-4], parts[-3])
    files.update(baselines.shard_labels(smk.input.baselines, smk.params.default_pri))
    df = collect(files, shards.read_manifest(smk.input.manifest), smk.wildcards.dataset)
    weights, devices = {}, {}
    for f in files:
        g = read_provenance(f).get("gradcam") or {}
        if g.get("weights_sha256"):
            arm = Path(f).parts[-2]
            weights[arm] = g["weights_sha256"]
            devices.setdefault(arm, set()).add(g.get("device"))
    write_parquet(df, smk.output[0], meta={"dataset": smk.wildcards.dataset, "n_shards": len(files),
                                           "weights_sha256": weights,
                                           "devices": {a: sorted(map(str, d)) for a, d in devices.items()}},
                  contract=SCORES)
    log.info("%d rows from %d shards; %d NaN values", len(df), len(files), int(df.value.isna().sum()))
