rule demo_source:
    """Build the demo dataset from scikit-image's photographs (proxy scores, not human opinions)."""
    output:
        scores="resources/{dataset}/source/scores.csv",
    params:
        references=lambda wc: CFG["datasets"][wc.dataset].get("references"),
    threads: 2
    log:
        "logs/{dataset}/demo_source.log",
    benchmark:
        "logs/{dataset}/benchmarks/demo_source.tsv"
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "demo_source.py")


def stage_inputs(wildcards):
    ds = CFG["datasets"][wildcards.dataset]
    if ds["loader"] == "demo" and ds.get("source") in (None, "builtin"):
        return {"source": f"resources/{wildcards.dataset}/source/scores.csv"}
    return {"stamp": source_stamp(wildcards.dataset)}


checkpoint stage:
    """Read a release's layout and score file, open every image, write the manifest and the rejects."""
    input:
        unpack(stage_inputs),
    output:
        manifest="resources/{dataset}/manifest.parquet",
        rejected="resources/{dataset}/rejected.parquet",
    params:
        dataset=dataset_cfg,
        distortions=CFG["distortions"],
    threads: 2
    log:
        "logs/{dataset}/stage.log",
    benchmark:
        "logs/{dataset}/benchmarks/stage.tsv"
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "stage.py")
