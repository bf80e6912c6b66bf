from _veiqa import smk, step  # first: it puts veiqa on the import path

from veiqa import shards
from veiqa.collect import collect, shard_labels
from veiqa.contracts import SCORES
from veiqa.io import read_provenance, write_parquet

with step() as log:
    files = shard_labels(list(smk.input.measures) + list(smk.input.controls), smk.params.default_pri)
    df = collect(files, shards.read_manifest(smk.input.manifest), smk.wildcards.dataset, smk.params.arms)
    weights, devices = {}, {}
    for f in files:
        meta = read_provenance(f)
        g = meta.get("gradcam") or {}
        if g.get("weights_sha256"):
            arm = meta["arm"]
            weights[arm] = g["weights_sha256"]
            devices.setdefault(arm, set()).add(g.get("device"))
    write_parquet(df, smk.output[0], meta={"dataset": smk.wildcards.dataset, "n_shards": len(files),
                                           "weights_sha256": weights,
                                           "devices": {a: sorted(map(str, d)) for a, d in devices.items()}},
                  contract=SCORES)
    log.info("%d rows from %d shards; %d NaN values", len(df), len(files), int(df.value.isna().sum()))
