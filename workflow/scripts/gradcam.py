import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
import pandas as pd
import torch

from veiqa import gradcam, shards
from veiqa.smk import step

smk = snakemake  # noqa: F821
with step(smk, "gradcam") as log:
    torch.set_num_threads(max(1, smk.threads))
    rows, root = shards.shard_rows(smk.input.manifest, smk.wildcards.distortion, smk.wildcards.k, smk.params.shard_size)
    pri = pd.read_parquet(smk.input.pri)
    pairs = rows[["image_id", "path"]].merge(pri[["image_id", "pri_path"]], on="image_id", how="left", validate="1:1")
    pairs["path"] = [str(root / p) for p in pairs["path"]]
    pairs["pri_path"] = pairs["pri_path"].fillna("")
    df = gradcam.run_shard(pairs, dict(smk.params.cam), smk.output.vei, log=log)  # weights, precision, pairs/s
    bad = df[df["error"] != ""]
    for r in bad.itertuples():
        log.warning("no heat maps for %s: %s", r.image_id, r.error)
    log.info("%s: %d pairs explained, %d failed, %d all-zero distorted maps", smk.wildcards.cam, len(df) - len(bad),
             len(bad), int(df["zero_dist"].sum()))
