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


rule source_stamp:
    """The checksum list of a real dataset's source, rewritten when its content changed (the digest parameter, read
    while the DAG is built, changes then: Snakemake's params trigger), so that only a real change re-stages."""
    output:
        stamp="resources/{dataset}/source.sha256",
    log:
        "logs/{dataset}/source_stamp.log",
    benchmark:
        "logs/{dataset}/benchmarks/source_stamp.tsv"
    conda:
        "../../envs/veiqa.yaml"
    params:
        source=source_path,
        content=source_fingerprint,
        cache=lambda wc: str(STAMP_CACHE / f"source-{wc.dataset}.json"),
    script:
        str(SCRIPTS / "stamp.py")


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
        manifest=rules.stage.output.manifest,
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


rule weight_stamp:
    """The checksum of a weight file an arm loads (rule gradcam's input), rewritten when its content changed, as
    rule source_stamp does for a source: replacing the file reruns that arm's Grad-CAM, touching it does not."""
    output:
        stamp="resources/weights/{cam}.sha256",
    log:
        "logs/weights/{cam}.log",
    benchmark:
        "logs/weights/benchmarks/{cam}.tsv"
    conda:
        "../../envs/veiqa.yaml"
    params:
        source=weight_path,
        content=weight_fingerprint,
        cache=lambda wc: str(STAMP_CACHE / f"weights-{wc.cam}.json"),
    script:
        str(SCRIPTS / "stamp.py")
