from _veiqa import smk, step  # first: it puts veiqa on the import path
from pathlib import Path

import pandas as pd

from veiqa import comparisons

with step() as log:
    res = comparisons.comparisons(pd.read_parquet(smk.input.collected), dict(smk.params.default_pri),
                                  pd.read_parquet(smk.input.folds), measure=smk.params.measure,
                                  protocols=smk.params.protocols, n_boot=smk.params.bootstrap, seed=smk.params.seed,
                                  logistic=smk.params.logistic, workers=smk.threads)
    for protocol, csv in zip(smk.params.protocols, smk.output.csv):
        t = res[protocol]
        comparisons.write(t, Path(csv).with_suffix(""))
        v = comparisons.verdicts(t)
        log.info("%s: %d rows; against the pixel-PRI control (SROCC, Holm): %s", protocol, len(t),
                 ", ".join(f"{n} {k}" for k, n in v["verdict"].value_counts().items()) or "none")
