from _veiqa import smk, step  # first: it puts veiqa on the import path
from pathlib import Path

import pandas as pd

from veiqa import ranking, stats
from veiqa.contracts import FIT_OK

with step() as log:
    df = pd.read_parquet(smk.input[0])
    res = ranking.correlations_all_arms(df, dict(smk.params.default_pri), k=smk.params.folds,
                                        n_boot=smk.params.bootstrap, seed=smk.params.seed,
                                        logistic=smk.params.logistic, n_perm=smk.params.permutations,
                                        workers=smk.threads)
    stats.save_results(res, Path(smk.output.corr).parent,
                       meta={"dataset": smk.wildcards.dataset, "folds": smk.params.folds,
                             "bootstrap": smk.params.bootstrap, "seed": smk.params.seed,
                             "logistic": smk.params.logistic, "permutations": smk.params.permutations})
    failed = res.corr[res.corr.fit_status != FIT_OK]
    log.info("%d correlation rows, %d with a failed logistic fit", len(res.corr), len(failed))
