from _veiqa import smk, step  # first: it puts veiqa on the import path

from veiqa.shards import write_shard_index

with step() as log:
    names = write_shard_index(smk.input.manifest, smk.params.size, smk.output.index)
    log.info("%d shards of up to %d images", len(names), smk.params.size)
