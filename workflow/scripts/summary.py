from _veiqa import smk, step  # first: it puts veiqa on the import path

import pandas as pd

from veiqa.summary import DatasetRun, read_caption, write_front_page

with step() as log:
    runs = [DatasetRun(name=ds, loader=loader, n_images=len(pd.read_parquet(man)), n_rejected=len(pd.read_parquet(rej)),
                       table6=pd.read_csv(t6), caption=read_caption(md))
            for ds, loader, man, rej, t6, md in zip(smk.params.datasets, smk.params.loaders, smk.input.manifests,
                                                     smk.input.rejected, smk.input.table6, smk.input.table6_md)]
    write_front_page(smk.output[0], runs, dict(smk.params.settings), smk.params.protocol)
    log.info("front page: %d datasets, %d Table 6 rows", len(runs), sum(len(r.table6) for r in runs))
