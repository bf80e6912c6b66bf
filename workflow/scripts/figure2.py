from _veiqa import smk, step  # first: it puts veiqa on the import path
import numpy as np
import pandas as pd

from veiqa import plots, shards
from veiqa.io import read_image

with step() as log:
    manifest = shards.read_manifest(smk.input.manifest).set_index("image_id")
    root = shards.dataset_root(smk.input.manifest)
    vei = pd.concat([pd.read_parquet(f) for f in smk.input.vei], ignore_index=True)
    pri = pd.concat([pd.read_parquet(f) for f in smk.input.pri], ignore_index=True).set_index("image_id")
    vei = vei[vei["error"] == ""].merge(manifest[["distortion", "level"]], left_on="image_id", right_index=True)
    # A deterministic sample spread over the distortions: the n images closest to each distortion's median level.
    picks = []
    per = max(1, int(np.ceil(smk.params.samples / max(1, vei["distortion"].nunique()))))
    for d, g in vei.sort_values("image_id").groupby("distortion", sort=True):
        picks += list(g.iloc[np.linspace(0, len(g) - 1, per).round().astype(int)].itertuples())
    picks = picks[: smk.params.samples]
    samples = []
    for r in picks:
        h, w = int(r.map_h), int(r.map_w)
        samples.append((r.image_id, read_image(root / manifest.loc[r.image_id, "path"]),
                        read_image(pri.loc[r.image_id, "pri_path"]),
                        np.asarray(r.cam_dist, np.float32).reshape(h, w),
                        np.asarray(r.cam_pri, np.float32).reshape(h, w)))
    plots.figure2(samples, smk.output[0])
    log.info("figure 2 with %d images: %s", len(samples), ", ".join(s[0] for s in samples))
