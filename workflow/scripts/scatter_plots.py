from _veiqa import smk, step  # first: it puts veiqa on the import path
import pandas as pd

from veiqa import plots
from veiqa.io import atomic_dir

with step() as log:
    scores = pd.read_parquet(smk.input.collected)
    fits = pd.read_parquet(smk.input.fits)
    with atomic_dir(smk.output[0]) as out:  # built beside its final name, renamed into place when complete
        paths = plots.scatter_plots(scores, fits, out, workers=smk.threads)
    log.info("%d scatter plots written", len(paths))
