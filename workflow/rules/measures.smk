rule measures_vei:
    """Similarity of each pair of heat maps, every configured measure, long format."""
    input:
        vei=rules.gradcam.output.vei,
        pri=rules.pri.output.index,
    output:
        "results/{dataset}/measures/{distortion}/{pri}/{cam}/shard-{k}.parquet",
    log:
        "logs/{dataset}/measures/{distortion}/{pri}/{cam}/shard-{k}.log",
    benchmark:
        "logs/{dataset}/benchmarks/measures/{distortion}/{pri}/{cam}/shard-{k}.tsv"
    wildcard_constraints:
        cam=r"(?!image/)[^/]+",
    priority: 1  # after Grad-CAM, before the NR methods and FR ceiling (see rule pri)
    conda:
        "../../envs/veiqa.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        measures=CFG["measures"],
        size=CFG["compare"]["size"],
        normalize=lambda wc: CAM_ARMS[wc.cam]["normalize"],
    script:
        str(SCRIPTS / "measures_vei.py")


rule measures_image:
    """The pixel-PRI control: the same measures on the raw distorted image and its PRI."""
    input:
        rows=shard_input,
        pri=rules.pri.output.index,
    output:
        "results/{dataset}/measures/{distortion}/{pri}/image/shard-{k}.parquet",
    log:
        "logs/{dataset}/measures/{distortion}/{pri}/image/shard-{k}.log",
    benchmark:
        "logs/{dataset}/benchmarks/measures/{distortion}/{pri}/image/shard-{k}.tsv"
    conda:
        "../../envs/veiqa.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        measures=CFG["measures"],
    script:
        str(SCRIPTS / "measures_image.py")
