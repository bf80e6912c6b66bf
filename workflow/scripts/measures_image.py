import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
import pandas as pd
import torch

from veiqa import pairs, shards
from veiqa.io import write_parquet
from veiqa.smk import step

smk = snakemake  # noqa: F821
with step(smk, "measures_image") as log:
    torch.set_num_threads(max(1, smk.threads))
    rows, root = shards.shard_rows(smk.input.manifest, smk.wildcards.distortion, smk.wildcards.k, smk.params.shard_size)
    pri = pd.read_parquet(smk.input.pri)
    df = pairs.image_table(rows, root, pri, smk.params.measures, log=log)
    write_parquet(df, smk.output[0], meta={"dataset": smk.wildcards.dataset, "distortion": smk.wildcards.distortion,
                                           "pri": smk.wildcards.pri, "arm": "image",
                                           "measures": list(smk.params.measures)})
    log.info("%d values (%d NaN) for %d pairs", len(df), int(df.value.isna().sum()), df.image_id.nunique())
