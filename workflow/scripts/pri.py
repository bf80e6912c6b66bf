import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
from veiqa import pri, shards
from veiqa.smk import step

smk = snakemake  # noqa: F821
with step(smk, "pri") as log:
    rows, root = shards.shard_rows(smk.input.manifest, smk.wildcards.distortion, smk.wildcards.k, smk.params.shard_size)
    df = pri.write_pri_shard(rows, root, smk.wildcards.distortion, dict(smk.params.pri), smk.params.image_dir,
                             smk.output.index, meta={"dataset": smk.wildcards.dataset, "shard": int(smk.wildcards.k)},
                             log=log)
    log.info("%d PRIs written (%d failed, %d identical to their input)", (df.error == "").sum(),
             (df.error != "").sum(), df.identical.sum())
