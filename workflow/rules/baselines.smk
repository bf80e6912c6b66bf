# NR-IQA baselines and the FR ceiling (veiqa.baselines), sharded like the measures. Neither depends on the PRI, so
# their paths have no PRI folder and a PRI change does not rerun them; `collect` labels them with each distortion's
# default PRI strength (veiqa.baselines.shard_labels).


rule nr_baselines:
    """NIQE, BRISQUE, PIQE (the configured `baselines`) on each distorted image of a shard, long format."""
    input:
        rows=shard_input,
    output:
        "results/{dataset}/baselines/{distortion}/nr/shard-{k}.parquet",
    params:
        methods=CFG["baselines"],
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
    log:
        "logs/{dataset}/baselines/{distortion}/nr/shard-{k}.log",
    benchmark:
        "logs/{dataset}/benchmarks/baselines/{distortion}/nr/shard-{k}.tsv",
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "nr_baselines.py")


rule fr_ceiling:
    """The FR ceiling: the configured measures between each distorted image of a shard and its pristine reference."""
    input:
        rows=shard_input,
    output:
        "results/{dataset}/baselines/{distortion}/fr-ceiling/shard-{k}.parquet",
    params:
        measures=CFG["measures"],
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    log:
        "logs/{dataset}/baselines/{distortion}/fr-ceiling/shard-{k}.log",
    benchmark:
        "logs/{dataset}/benchmarks/baselines/{distortion}/fr-ceiling/shard-{k}.tsv",
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "fr_ceiling.py")
