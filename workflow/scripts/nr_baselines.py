from _veiqa import smk, step  # first: it puts veiqa on the import path
from veiqa import baselines

with step() as log:
    baselines.run_shard(baselines.NR_KIND, smk.input.rows, smk.wildcards.distortion, smk.params.methods, smk.output[0],
                        smk.wildcards.dataset, log)
