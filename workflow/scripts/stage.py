from _veiqa import smk, step  # first: it puts veiqa on the import path
from pathlib import Path

from veiqa.datasets import stage

with step() as log:
    ds = smk.params.dataset
    builtin = ds["loader"] == "demo" and ds.get("source") in (None, "builtin")
    source = Path(smk.input.source).parent if builtin else Path(ds["source"]).expanduser()
    manifest, rejected = stage(ds["loader"], source, Path(smk.output.manifest).parent, smk.params.distortions,
                               logger=log, workers=smk.threads)
    log.info("%d images staged, %d rejected", len(manifest), len(rejected))
