# NR-IQA methods and the FR ceiling (veiqa.controls), sharded like the measures. Neither depends on the PRI, so
# their paths have no PRI folder and a PRI change does not rerun them; `collect` labels them with each distortion's
# default PRI strength (veiqa.collect.shard_labels).


rule nr_methods:
    """NIQE, BRISQUE, PIQE (the configured `nr_methods`) on each distorted image of a shard, long format."""
    input:
        rows=shard_input,
    output:
        "results/{dataset}/controls/{distortion}/nr/shard-{k}.parquet",
    params:
        methods=CFG["nr_methods"],
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
    log:
        "logs/{dataset}/controls/{distortion}/nr/shard-{k}.log",
    benchmark:
        "logs/{dataset}/benchmarks/controls/{distortion}/nr/shard-{k}.tsv",
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "nr_methods.py")


rule fr_ceiling:
    """The FR ceiling: the configured measures between each distorted image of a shard and its pristine reference."""
    input:
        rows=shard_input,
    output:
        "results/{dataset}/controls/{distortion}/fr-ceiling/shard-{k}.parquet",
    params:
        measures=CFG["measures"],
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    log:
        "logs/{dataset}/controls/{distortion}/fr-ceiling/shard-{k}.log",
    benchmark:
        "logs/{dataset}/benchmarks/controls/{distortion}/fr-ceiling/shard-{k}.tsv",
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "fr_ceiling.py")
