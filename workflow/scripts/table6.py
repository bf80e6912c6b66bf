from _veiqa import smk, step  # first: it puts veiqa on the import path
from pathlib import Path

import pandas as pd

from veiqa import table6, tables

with step() as log:
    corr = pd.read_parquet(smk.input.corr)
    comps = dict(zip(smk.params.protocols, smk.input.comparisons))
    for protocol, csv in zip(smk.params.protocols, smk.output.csv):
        t = table6.table6(corr, smk.wildcards.dataset, smk.params.measure, protocol, loader=smk.params.loader,
                          comparisons=pd.read_csv(comps[protocol]))
        tables.write_table(t, Path(csv).with_suffix(""), md_compact=True)
        log.info("%s: %d rows, methods %s", protocol, len(t), ", ".join(dict.fromkeys(t["method"])))
