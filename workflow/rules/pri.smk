rule pri:
    """Pseudo-reference images of one shard: each distorted image degraded once more."""
    input:
        rows=shard_input,
    output:
        index="results/{dataset}/pri/{distortion}/{pri}/shard-{k}.parquet",
    log:
        "logs/{dataset}/pri/{distortion}/{pri}/shard-{k}.log",
    benchmark:
        "logs/{dataset}/benchmarks/pri/{distortion}/{pri}/shard-{k}.tsv"
    priority: 2  # the Grad-CAM chain first: the NR methods and FR ceiling fill the cores while it runs (bench_pipeline.py)
    conda:
        "../../envs/veiqa.yaml"
    params:
        pri=pri_params,
        image_dir=lambda wc: f"results/{wc.dataset}/pri/{wc.distortion}/{wc.pri}/images",
    script:
        str(SCRIPTS / "pri.py")
