from _veiqa import smk, step, torch_threads  # first: it puts veiqa on the import path
import pandas as pd

from veiqa import pairs
from veiqa.contracts import MEASURE_SHARD
from veiqa.io import read_provenance, write_parquet

with step() as log:
    torch_threads()
    vei = pd.read_parquet(smk.input.vei)
    pri = pd.read_parquet(smk.input.pri, columns=["image_id", "identical"])
    df = pairs.vei_table(vei, smk.params.measures, smk.params.size, smk.params.normalize, smk.wildcards.cam,
                         dict(zip(pri.image_id, pri.identical)), log=log)
    prov = read_provenance(smk.input.vei)
    write_parquet(df, smk.output[0], meta={"dataset": smk.wildcards.dataset, "distortion": smk.wildcards.distortion,
                                           "pri": smk.wildcards.pri, "arm": smk.wildcards.cam,
                                           "compare_size": smk.params.size, "measures": list(smk.params.measures),
                                           "gradcam": {k: prov.get(k) for k in prov if k != "versions"}},
                  contract=MEASURE_SHARD)
    log.info("%d values (%d NaN) for %d pairs", len(df), int(df.value.isna().sum()), df.image_id.nunique())
