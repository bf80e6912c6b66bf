from _veiqa import smk, step, torch_threads  # first: it puts veiqa on the import path
from pathlib import Path

from veiqa import plots, setmetrics, shards, tables
from veiqa.io import write_parquet

with step() as log:
    torch_threads()
    sm = smk.params.sm
    manifest = shards.read_manifest(smk.input.manifest)
    kw = {"weights": sm["inception_weights"]} if sm["extractor"] == "inception" else {}
    extractor = setmetrics.as_extractor(sm["extractor"], **kw)
    df = setmetrics.set_metrics_for_levels(
        manifest, shards.dataset_root(smk.input.manifest), extractor, lpips_net=sm["lpips_net"],
        lpips_weights=sm["lpips_weights"], kid_subset_size=sm["kid_subset_size"], kid_n_subsets=sm["kid_subsets"],
        is_splits=sm["is_splits"])
    write_parquet(df, smk.output.table, meta={"dataset": smk.wildcards.dataset, "setmetrics": dict(sm)})
    caption = (f"Set-level metrics per distortion and level, extractor {df['extractor'].iloc[0]}; FID/KID against the "
               "pristine references (comparable only for the same extractor).")
    cols = ["distortion", "level", "n_images", "n_refs", "fid", "fid_sqrtm_imag_max", "kid_mean", "kid_std", "is_mean",
            "is_ref_mean", "lpips_mean"]
    tables.write_table(df[cols], Path(smk.output.csv).with_suffix(""), caption=caption + (
        "" if df["lpips_status"].iloc[0] == "ok" else f" LPIPS: {df['lpips_status'].iloc[0]}"))
    plots.plot_levels(df, smk.output.plot)
    log.info("%d distortion levels; LPIPS status: %s", len(df), df["lpips_status"].iloc[0])
