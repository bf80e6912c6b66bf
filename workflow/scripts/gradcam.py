from _veiqa import smk, step, torch_threads  # first: it puts veiqa on the import path
import pandas as pd

from veiqa import gradcam, shards

with step() as log:
    torch_threads()
    rows, root = shards.read_shard(smk.input.rows)
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
