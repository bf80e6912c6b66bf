from _veiqa import smk, step, torch_threads  # first: it puts veiqa on the import path
from veiqa import controls

with step() as log:
    torch_threads()
    controls.run_shard(controls.FR_KIND, smk.input.rows, smk.wildcards.distortion, smk.params.measures, smk.output[0],
                        smk.wildcards.dataset, log)
