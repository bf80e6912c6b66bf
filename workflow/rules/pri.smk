rule pri:
    """Pseudo-reference images of one shard: each distorted image degraded once more."""
    input:
        rows=shard_input,
    output:
        index="results/{dataset}/pri/{distortion}/{pri}/shard-{k}.parquet",
    params:
        pri=pri_params,
        image_dir=lambda wc: f"results/{wc.dataset}/pri/{wc.distortion}/{wc.pri}/images",
    priority: 2  # the Grad-CAM chain first: the baselines fill the cores while it runs (bench_pipeline.py)
    log:
        "logs/{dataset}/pri/{distortion}/{pri}/shard-{k}.log",
    benchmark:
        "logs/{dataset}/benchmarks/pri/{distortion}/{pri}/shard-{k}.tsv"
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "pri.py")
