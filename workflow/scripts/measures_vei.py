import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
import pandas as pd
import torch

from veiqa import pairs
from veiqa.io import read_provenance, write_parquet
from veiqa.smk import step

smk = snakemake  # noqa: F821
with step(smk, "measures_vei") as log:
    torch.set_num_threads(max(1, smk.threads))
    vei = pd.read_parquet(smk.input.vei)
    pri = pd.read_parquet(smk.input.pri, columns=["image_id", "identical"])
    df = pairs.vei_table(vei, smk.params.measures, smk.params.size, smk.params.normalize, smk.wildcards.cam,
                         dict(zip(pri.image_id, pri.identical)), log=log)
    prov = read_provenance(smk.input.vei)
    write_parquet(df, smk.output[0], meta={"dataset": smk.wildcards.dataset, "distortion": smk.wildcards.distortion,
                                           "pri": smk.wildcards.pri, "arm": smk.wildcards.cam,
                                           "compare_size": smk.params.size, "measures": list(smk.params.measures),
                                           "gradcam": {k: prov.get(k) for k in prov if k != "versions"}})
    log.info("%d values (%d NaN) for %d pairs", len(df), int(df.value.isna().sum()), df.image_id.nunique())
