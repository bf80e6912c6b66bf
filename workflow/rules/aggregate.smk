rule collect:
    """All similarity values of a dataset joined with its scores: the long table of the statistics."""
    input:
        manifest=rules.stage.output.manifest,
        measures=lambda wc: measure_shards(wc.dataset),
        controls=lambda wc: control_shards(wc.dataset),
    output:
        "results/{dataset}/collected.parquet",
    params:
        default_pri={d: next(iter(vc.pri_arms(CFG, d))) for d in vc.DISTORTIONS},
        arms={label: arm.columns() for label, arm in vc.run_arms(CFG).items()},
    log:
        "logs/{dataset}/collect.log",
    benchmark:
        "logs/{dataset}/benchmarks/collect.tsv"
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "collect.py")


rule correlations:
    """Logistic mapping and PLCC/SROCC/KROCC/RMSE per distortion × arm × measure, under both protocols."""
    input:
        rules.collect.output[0],
    output:
        corr="results/{dataset}/stats/corr.parquet",
        fits="results/{dataset}/stats/fits.parquet",
        folds="results/{dataset}/stats/folds.parquet",
        predictions="results/{dataset}/stats/predictions.parquet",
    params:
        default_pri={d: next(iter(vc.pri_arms(CFG, d))) for d in vc.DISTORTIONS},
        folds=CFG["aggregate"]["folds"],
        bootstrap=CFG["aggregate"]["bootstrap"],
        seed=CFG["aggregate"]["seed"],
        logistic=CFG["aggregate"]["logistic"],
        permutations=CFG["aggregate"]["permutations"],
    threads: 2  # groups in 2 processes (same result for any count); not 4: a SLURM job asks cpus_per_task = threads
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        "logs/{dataset}/correlations.log",
    benchmark:
        "logs/{dataset}/benchmarks/correlations.tsv"
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "correlations.py")


TABLES = ["table3_per_distortion", "table4_per_backbone", "table5_per_measure"]
PROTOCOLS = ["paper", "content_separated"]


rule tables:
    """The paper's Tables 3-5 (VEI method beside the pixel-PRI control), CSV and Markdown, for both protocols."""
    input:
        corr=rules.correlations.output.corr,
    output:
        csv=[
            report(
                f"results/{{dataset}}/tables/{p}/{t}.csv",
                caption="../report/tables.rst",
                category="Tables",
                subcategory=p,
                labels={"dataset": "{dataset}", "protocol": p, "table": t},
            )
            for p in PROTOCOLS
            for t in TABLES
        ],
        md=[f"results/{{dataset}}/tables/{p}/{t}.md" for p in PROTOCOLS for t in TABLES],
    params:
        measure=CFG["aggregate"]["table_measure"],
        main_arm=vc.main_arm(CFG),
    log:
        "logs/{dataset}/tables.log",
    benchmark:
        "logs/{dataset}/benchmarks/tables.tsv"
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "tables.py")


rule table6:
    """The paper's Table 6: the VEI method beside NIQE, BRISQUE, PIQE, the pixel-PRI control, the random-weights
    control and the FR ceiling, per distortion, PLCC and SROCC with intervals, for both protocols, and the pooled
    row without identical pairs (a sensitivity check, recomputed here)."""
    input:
        corr=rules.correlations.output.corr,
        comparisons=[f"results/{{dataset}}/tables/{p}/comparisons.csv" for p in PROTOCOLS],
        collected=rules.collect.output[0],
        folds=rules.correlations.output.folds,
    output:
        csv=[
            report(
                f"results/{{dataset}}/tables/{p}/table6_{p}.csv",
                caption="../report/table6.rst",
                category="Tables",
                subcategory=p,
                labels={"dataset": "{dataset}", "protocol": p, "table": "table6_controls"},
            )
            for p in PROTOCOLS
        ],
        md=[f"results/{{dataset}}/tables/{p}/table6_{p}.md" for p in PROTOCOLS],
    params:
        protocols=PROTOCOLS,
        measure=CFG["aggregate"]["table_measure"],
        loader=lambda wc: CFG["datasets"][wc.dataset]["loader"],
        default_pri={d: next(iter(vc.pri_arms(CFG, d))) for d in vc.DISTORTIONS},
        bootstrap=CFG["aggregate"]["bootstrap"],
        seed=CFG["aggregate"]["seed"],
        logistic=CFG["aggregate"]["logistic"],
        permutations=CFG["aggregate"]["permutations"],
    log:
        "logs/{dataset}/table6.log",
    benchmark:
        "logs/{dataset}/benchmarks/table6.tsv",
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "table6.py")


rule rank_arms:
    """Every arm (backbones, weights, grid settings, PRI strengths, the pixel-PRI control) ranked by SROCC under the
    content-separated protocol, with degenerate-pair counts, and a picture of SROCC across the grid."""
    input:
        corr=rules.correlations.output.corr,
        collected=rules.collect.output[0],
        predictions=rules.correlations.output.predictions,
    output:
        csv=report(
            "results/{dataset}/tables/ranked_arms.csv",
            caption="../report/ranked.rst",
            category="Ablation",
            labels={"dataset": "{dataset}", "table": "ranked arms"},
        ),
        md="results/{dataset}/tables/ranked_arms.md",
        degenerate="results/{dataset}/stats/degenerate.parquet",
        plot=report(
            "results/{dataset}/plots/grid_srocc.png",
            caption="../report/ranked.rst",
            category="Ablation",
            labels={"dataset": "{dataset}", "plot": "SROCC across the grid"},
        ),
    params:
        default_pri={d: next(iter(vc.pri_arms(CFG, d))) for d in vc.DISTORTIONS},
        arms={label: arm_settings(cam) for label, cam in CAM_ARMS.items()},  # the legend of ranked_arms.md
        measure=CFG["aggregate"]["table_measure"],
        bootstrap=CFG["aggregate"]["bootstrap"],
        seed=CFG["aggregate"]["seed"],
    log:
        "logs/{dataset}/rank_arms.log",
    benchmark:
        "logs/{dataset}/benchmarks/rank_arms.tsv"
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "rank_arms.py")


rule scatter_plots:
    """Objective score against MOS/DMOS with the fitted logistic, per arm and measure."""
    input:
        collected=rules.collect.output[0],
        fits=rules.correlations.output.fits,
    output:
        report(
            directory("results/{dataset}/plots/scatter"),
            patterns=["{name}.png"],
            caption="../report/scatter.rst",
            category="Scatter plots",
            labels={"dataset": "{dataset}", "plot": "{name}"},
        ),
    threads: 2  # plots drawn by 2 processes (same files)
    log:
        "logs/{dataset}/scatter_plots.log",
    benchmark:
        "logs/{dataset}/benchmarks/scatter_plots.tsv"
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "scatter_plots.py")


rule figure2:
    """The paper's Figure 2: distorted image, its PRI and their two heat maps, for a sample per distortion."""
    input:
        unpack(figure2_inputs),
    output:
        report(
            "results/{dataset}/plots/figure2-{cam}.png",
            caption="../report/figure2.rst",
            category="Heat maps",
            labels={"dataset": "{dataset}", "arm": "{cam}"},
        ),
    params:
        samples=CFG["aggregate"]["figure_samples"],
    log:
        "logs/{dataset}/figure2-{cam}.log",
    benchmark:
        "logs/{dataset}/benchmarks/figure2-{cam}.tsv"
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "figure2.py")
