from _veiqa import smk, step  # first: it puts veiqa on the import path

from veiqa.stamps import write_stamp

with step() as log:
    stamp = write_stamp(smk.params.source, smk.output.stamp, smk.params.cache)
    log.info("%s: checksums of %s (content digest %s)", stamp, smk.params.source, smk.params.content[:12])
