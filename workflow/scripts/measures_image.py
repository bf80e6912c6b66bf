from _veiqa import smk, step, torch_threads  # first: it puts veiqa on the import path
import pandas as pd

from veiqa import pairs, shards
from veiqa.contracts import MEASURE_SHARD
from veiqa.io import write_parquet

with step() as log:
    torch_threads()
    rows, root = shards.read_shard(smk.input.rows)
    pri = pd.read_parquet(smk.input.pri)
    df = pairs.image_table(rows, root, pri, smk.params.measures, log=log)
    write_parquet(df, smk.output[0], meta={"dataset": smk.wildcards.dataset, "distortion": smk.wildcards.distortion,
                                           "pri": smk.wildcards.pri, "arm": "image",
                                           "measures": list(smk.params.measures)}, contract=MEASURE_SHARD)
    log.info("%d values (%d NaN) for %d pairs", len(df), int(df.value.isna().sum()), df.image_id.nunique())
