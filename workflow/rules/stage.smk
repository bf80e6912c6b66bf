rule demo_source:
    """Build the demo dataset from scikit-image's photographs (proxy scores, not human opinions)."""
    output:
        scores="resources/{dataset}/source/scores.csv",
    log:
        "logs/{dataset}/demo_source.log",
    benchmark:
        "logs/{dataset}/benchmarks/demo_source.tsv"
    conda:
        "../../envs/veiqa.yaml"
    threads: 2
    params:
        references=lambda wc: CFG["datasets"][wc.dataset].get("references"),
    script:
        str(SCRIPTS / "demo_source.py")


rule stage:
    """Read a release's layout and score file, open every image, write the manifest and the rejects."""
    input:
        unpack(stage_inputs),
    output:
        manifest="resources/{dataset}/manifest.parquet",
        rejected="resources/{dataset}/rejected.parquet",
    log:
        "logs/{dataset}/stage.log",
    benchmark:
        "logs/{dataset}/benchmarks/stage.tsv"
    conda:
        "../../envs/veiqa.yaml"
    threads: 2
    params:
        dataset=dataset_cfg,
        distortions=CFG["distortions"],
    script:
        str(SCRIPTS / "stage.py")


checkpoint shard_index:
    """Split the manifest into shards of `shard_size` images: write each shard's rows file whose content changed (an
    unchanged shard keeps its file, so its jobs do not rerun) and the list of shards the DAG reads."""
    input:
        manifest="resources/{dataset}/manifest.parquet",
    output:
        index="resources/{dataset}/shards/index.json",
    log:
        "logs/{dataset}/shard_index.log",
    benchmark:
        "logs/{dataset}/benchmarks/shard_index.tsv"
    conda:
        "../../envs/veiqa.yaml"
    params:
        size=CFG["shard_size"],
    script:
        str(SCRIPTS / "shard_index.py")
