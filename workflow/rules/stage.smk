rule demo_source:
    """Build the demo dataset from scikit-image's photographs (proxy scores, not human opinions)."""
    output:
        scores="resources/{dataset}/source/scores.csv",
    params:
        references=lambda wc: CFG["datasets"][wc.dataset].get("references"),
    log:
        "logs/{dataset}/demo_source.log",
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "demo_source.py")


def stage_inputs(wildcards):
    ds = CFG["datasets"][wildcards.dataset]
    if ds["loader"] == "demo" and ds.get("source") in (None, "builtin"):
        return {"source": f"resources/{wildcards.dataset}/source/scores.csv"}
    return {}


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
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "stage.py")
