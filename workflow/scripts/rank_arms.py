from _veiqa import smk, step  # first: it puts veiqa on the import path
from pathlib import Path

import pandas as pd

from veiqa import plots, ranking, ranking_md, stats
from veiqa.contracts import DEGENERATE
from veiqa.io import write_parquet

with step() as log:
    corr = pd.read_parquet(smk.input.corr)
    scores = pd.read_parquet(smk.input.collected)
    deg = ranking.degenerate_counts(scores, dict(smk.params.default_pri))
    write_parquet(deg, smk.output.degenerate, meta={"dataset": smk.wildcards.dataset}, contract=DEGENERATE)
    preds = pd.read_parquet(smk.input.predictions)
    nested, vei = (stats.nested_selection(preds, corr, measure=smk.params.measure, n_boot=smk.params.bootstrap,
                                          seed=smk.params.seed, candidates=ranking.candidate_arms(corr, c),
                                          candidate_set=c) for c in ranking.CANDIDATE_SETS)
    ranked = ranking.ranked_table(corr, deg, smk.params.measure, default_pri=dict(smk.params.default_pri),
                                  nested=nested)
    ranking_md.write_ranked(ranked, Path(smk.output.csv).with_suffix(""),
                            ranking.nested_summary(ranked, vei[1], smk.params.measure), smk.params.arms)
    plots.plot_grid(ranked, smk.output.plot)
    top = ranked[ranked.distortion == "all"].head(3)
    log.info("best arms (all distortions): %s", "; ".join(f"{r.arm} {r.srocc:.3f}" for r in top.itertuples()))
