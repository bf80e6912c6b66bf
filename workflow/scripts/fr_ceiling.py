import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
import torch

from veiqa import baselines
from veiqa.smk import step

smk = snakemake  # noqa: F821
with step(smk, "fr_ceiling") as log:
    torch.set_num_threads(max(1, smk.threads))
    baselines.run_shard(baselines.FR_KIND, smk.input.manifest, smk.wildcards.distortion, smk.wildcards.k,
                        smk.params.shard_size, smk.params.measures, smk.output[0], smk.wildcards.dataset, log)
