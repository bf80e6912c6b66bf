from _veiqa import smk, step  # first: it puts veiqa on the import path
from pathlib import Path

import pandas as pd

from veiqa import table6, tables

with step() as log:
    corr = pd.read_parquet(smk.input.corr)
    comps = dict(zip(smk.params.protocols, smk.input.comparisons))
    sens = table6.sensitivity_corr(pd.read_parquet(smk.input.collected), dict(smk.params.default_pri),
                                   pd.read_parquet(smk.input.folds), smk.params.measure, n_boot=smk.params.bootstrap,
                                   seed=smk.params.seed, logistic=smk.params.logistic,
                                   n_perm=smk.params.permutations, protocols=smk.params.protocols)
    for protocol, csv in zip(smk.params.protocols, smk.output.csv):
        t = table6.table6(corr, smk.wildcards.dataset, smk.params.measure, protocol, loader=smk.params.loader,
                          comparisons=pd.read_csv(comps[protocol]), sensitivity=sens)
        tables.write_table(t, Path(csv).with_suffix(""), md_compact=True)
        log.info("%s: %d rows, methods %s", protocol, len(t), ", ".join(dict.fromkeys(t["method"])))
