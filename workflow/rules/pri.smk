rule pri:
    """Pseudo-reference images of one shard: each distorted image degraded once more."""
    input:
        manifest="resources/{dataset}/manifest.parquet",
    output:
        index="results/{dataset}/pri/{distortion}/{pri}/shard-{k}.parquet",
    params:
        pri=pri_params,
        shard_size=CFG["shard_size"],
        image_dir=lambda wc: f"results/{wc.dataset}/pri/{wc.distortion}/{wc.pri}/images",
    log:
        "logs/{dataset}/pri/{distortion}/{pri}/shard-{k}.log",
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "pri.py")
