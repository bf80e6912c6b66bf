SUMMARY_PROTOCOL = "content_separated"


rule summary:
    """The report's front page (workflow/report/workflow.rst includes it): what was run, and each dataset's Table 6
    with the paired-test verdicts, as the run wrote them."""
    input:
        manifests=expand(rules.stage.output.manifest, dataset=DATASETS),
        rejected=expand(rules.stage.output.rejected, dataset=DATASETS),
        table6=expand(
            "results/{dataset}/tables/{p}/table6_{p}.csv",
            dataset=DATASETS,
            p=SUMMARY_PROTOCOL,
        ),
        table6_md=expand(
            "results/{dataset}/tables/{p}/table6_{p}.md",
            dataset=DATASETS,
            p=SUMMARY_PROTOCOL,
        ),
    output:
        report(
            "results/summary.rst",
            caption="../report/summary.rst",
            category="Summary",
            labels={"page": "what was run, Table 6"},
        ),
    log:
        "logs/summary.log",
    benchmark:
        "logs/benchmarks/summary.tsv"
    conda:
        "../../envs/veiqa.yaml"
    params:
        datasets=DATASETS,
        loaders=[CFG["datasets"][ds]["loader"] for ds in DATASETS],
        protocol=SUMMARY_PROTOCOL,
        settings={
            "preset": CFG.get("preset"),
            "distortions": CFG["distortions"],
            "arms": list(CAM_ARMS),
            "random_arms": sum(vc.is_control(c) for c in CAM_ARMS.values()),
            "measures": CFG["measures"],
            "table_measure": CFG["aggregate"]["table_measure"],
            "pixel_control": CFG["pixel_control"],
            "nr_methods": CFG["nr_methods"],
            "fr_ceiling": CFG["fr_ceiling"],
            "folds": CFG["aggregate"]["folds"],
            "bootstrap": CFG["aggregate"]["bootstrap"],
        },
    script:
        str(SCRIPTS / "summary.py")
