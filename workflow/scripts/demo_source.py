from _veiqa import smk, step  # first: it puts veiqa on the import path
from pathlib import Path

from veiqa import demo

with step() as log:
    refs = smk.params.references or demo.REFERENCES
    root = Path(smk.output.scores).parent
    demo.build(root, references=refs, workers=smk.threads)
    log.info("demo dataset built in %s from %d scikit-image photographs", root, len(refs))
