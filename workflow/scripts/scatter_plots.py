import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
import pandas as pd

from veiqa import plots
from veiqa.smk import step

smk = snakemake  # noqa: F821
with step(smk, "scatter_plots") as log:
    scores = pd.read_parquet(smk.input.scores)
    fits = pd.read_parquet(smk.input.fits)
    out = Path(smk.output[0])
    out.mkdir(parents=True, exist_ok=True)
    paths = plots.scatter_plots(scores, fits, out)
    log.info("%d scatter plots written", len(paths))
