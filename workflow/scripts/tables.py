from _veiqa import smk, step  # first: it puts veiqa on the import path
from pathlib import Path

import pandas as pd

from veiqa import tables
from veiqa.arms import DEFAULT_PRI

with step() as log:
    corr = pd.read_parquet(smk.input.corr)
    corr = corr[corr["pri_setting"] == DEFAULT_PRI]  # default PRI strengths; grids are in ranked_arms
    ds = smk.wildcards.dataset
    main = smk.params.main_arm
    for protocol in ("paper", "content_separated"):
        out = Path(smk.output.csv[0]).parents[1] / protocol
        t3 = tables.table_per_distortion(corr, ds, main, measure=smk.params.measure, protocol=protocol, with_ci=True)
        t4 = tables.table_per_arm(corr, ds, measure=smk.params.measure, protocol=protocol, with_ci=True)
        t5 = tables.table_per_measure(corr, ds, main, protocol=protocol, with_ci=True)
        for name, t in (("table3_per_distortion", t3), ("table4_per_backbone", t4), ("table5_per_measure", t5)):
            tables.write_table(t, out / name, md_compact=True)
        log.info("%s tables written for arm %s", protocol, main)
