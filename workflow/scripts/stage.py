import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
from veiqa.datasets import stage
from veiqa.smk import step

smk = snakemake  # noqa: F821
with step(smk, "stage") as log:
    ds = smk.params.dataset
    builtin = ds["loader"] == "demo" and ds.get("source") in (None, "builtin")
    source = Path(smk.input.source).parent if builtin else Path(ds["source"]).expanduser()
    manifest, rejected = stage(ds["loader"], source, Path(smk.output.manifest).parent, smk.params.distortions,
                               logger=log, workers=smk.threads)
    log.info("%d images staged, %d rejected", len(manifest), len(rejected))
