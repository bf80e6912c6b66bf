rule setmetrics:
    """FID and KID of each distortion level's images against the pristine references, IS of each set, mean LPIPS."""
    input:
        manifest=rules.stage.output.manifest,
    output:
        table="results/{dataset}/setmetrics.parquet",
        csv=report(
            "results/{dataset}/tables/setmetrics.csv",
            caption="../report/setmetrics.rst",
            category="Set-level metrics",
            labels={"dataset": "{dataset}", "table": "FID/KID/IS/LPIPS per level"},
        ),
        md="results/{dataset}/tables/setmetrics.md",
        plot=report(
            "results/{dataset}/plots/setmetrics.png",
            caption="../report/setmetrics.rst",
            category="Set-level metrics",
            labels={"dataset": "{dataset}", "plot": "FID/KID/IS/LPIPS per level"},
        ),
    params:
        sm=CFG["setmetrics"],
    threads: 1  # packs beside the shard jobs (a 2-thread job waits for two cores free at once; it ran last, alone)
    resources:
        mem_mb=6000,
        runtime=60,
    log:
        "logs/{dataset}/setmetrics.log",
    benchmark:
        "logs/{dataset}/benchmarks/setmetrics.tsv"
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "setmetrics.py")
