rule collect:
    """All similarity values of a dataset joined with its scores: the long table of the statistics."""
    input:
        manifest="resources/{dataset}/manifest.parquet",
        measures=lambda wc: measure_shards(wc.dataset),
    output:
        "results/{dataset}/scores.parquet",
    log:
        "logs/{dataset}/collect.log",
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "collect.py")
