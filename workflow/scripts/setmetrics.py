from _veiqa import smk, step, torch_threads  # first: it puts veiqa on the import path
from veiqa import setmetrics, shards

with step() as log:
    torch_threads()
    sm = smk.params.sm
    manifest = shards.read_manifest(smk.input.manifest)
    kw = {"weights": sm["inception_weights"]} if sm["extractor"] == "inception_pytorch_fid" else {}
    extractor = setmetrics.as_extractor(sm["extractor"], **kw)
    df = setmetrics.set_metrics_for_levels(
        manifest, shards.dataset_root(smk.input.manifest), extractor, lpips_net=sm["lpips_net"],
        lpips_weights=sm["lpips_weights"], kid_subset_size=sm["kid_subset_size"], kid_n_subsets=sm["kid_subsets"],
        is_splits=sm["is_splits"], fid_min_n=sm["fid_min_n"])
    setmetrics.publish(df, smk.output.table, smk.output.csv, smk.output.plot,
                       meta={"dataset": smk.wildcards.dataset, "setmetrics": dict(sm)})
    log.info("%d distortion levels; LPIPS status: %s", len(df), df["lpips_status"].iloc[0])
