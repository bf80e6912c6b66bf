rule comparisons:
    """Paired comparisons between arms (veiqa.comparisons): every VEI arm against the pixel-PRI control, the
    random-weights control and the best NR method, per distortion, for each protocol, Holm-corrected per table."""
    input:
        collected=rules.collect.output[0],
        folds=rules.correlations.output.folds,
    output:
        csv=[
            report(
                f"results/{{dataset}}/tables/{p}/comparisons.csv",
                caption="../report/comparisons.rst",
                category="Tables",
                subcategory=p,
                labels={"dataset": "{dataset}", "protocol": p, "table": "paired comparisons"},
            )
            for p in PROTOCOLS
        ],
        md=[f"results/{{dataset}}/tables/{p}/comparisons.md" for p in PROTOCOLS],
    log:
        "logs/{dataset}/comparisons.log",
    benchmark:
        "logs/{dataset}/benchmarks/comparisons.tsv"
    conda:
        "../../envs/veiqa.yaml"
    threads: 2  # distortions in 2 processes (same result for any count)
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        protocols=PROTOCOLS,
        default_pri={d: next(iter(vc.pri_arms(CFG, d))) for d in vc.DISTORTIONS},
        measure=CFG["aggregate"]["table_measure"],
        bootstrap=CFG["aggregate"]["bootstrap"],
        seed=CFG["aggregate"]["seed"],
        logistic=CFG["aggregate"]["logistic"],
    script:
        str(SCRIPTS / "comparisons.py")
