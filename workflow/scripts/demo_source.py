import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (snakemake is injected)
from veiqa import demo
from veiqa.smk import step

with step(snakemake, "demo_source") as log:  # noqa: F821
    refs = snakemake.params.references or demo.REFERENCES  # noqa: F821
    root = Path(snakemake.output.scores).parent  # noqa: F821
    demo.build(root, references=refs)
    log.info("demo dataset built in %s from %d scikit-image photographs", root, len(refs))
