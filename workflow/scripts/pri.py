from _veiqa import smk, step  # first: it puts veiqa on the import path
from veiqa import pri, shards

with step() as log:
    rows, root = shards.read_shard(smk.input.rows)
    df = pri.write_pri_shard(rows, root, smk.wildcards.distortion, dict(smk.params.pri), smk.params.image_dir,
                             smk.output.index, meta={"dataset": smk.wildcards.dataset, "shard": int(smk.wildcards.k)},
                             log=log)
    log.info("%d PRIs written (%d failed, %d identical to their input)", (df.error == "").sum(),
             (df.error != "").sum(), df.identical.sum())
