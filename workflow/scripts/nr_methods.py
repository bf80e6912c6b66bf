from _veiqa import smk, step  # first: it puts veiqa on the import path
from veiqa import controls

with step() as log:
    controls.run_shard(controls.NR_KIND, smk.input.rows, smk.wildcards.distortion, smk.params.methods, smk.output[0],
                        smk.wildcards.dataset, log)
