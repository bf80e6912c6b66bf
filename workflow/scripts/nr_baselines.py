import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
from veiqa import baselines
from veiqa.smk import step

smk = snakemake  # noqa: F821
with step(smk, "nr_baselines") as log:
    baselines.run_shard(baselines.NR_KIND, smk.input.manifest, smk.wildcards.distortion, smk.wildcards.k,
                        smk.params.shard_size, smk.params.methods, smk.output[0], smk.wildcards.dataset, log)
