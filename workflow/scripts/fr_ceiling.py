from _veiqa import smk, step, torch_threads  # first: it puts veiqa on the import path
from veiqa import baselines

with step() as log:
    torch_threads()
    baselines.run_shard(baselines.FR_KIND, smk.input.rows, smk.wildcards.distortion, smk.params.measures, smk.output[0],
                        smk.wildcards.dataset, log)
