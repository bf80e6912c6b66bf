rule gradcam:
    """Grad-CAM maps of each distorted image and its PRI (one batched pass per shard; GPU where the cluster has one)."""
    input:
        rows=shard_input,
        weights=weight_stamp,
        pri=rules.pri.output.index,
    output:
        vei="results/{dataset}/vei/{distortion}/{pri}/{cam}/shard-{k}.parquet",
    params:
        cam=lambda wc: CAM_ARMS[wc.cam],
    # On GPU nodes 2 CPUs feed the GPU. CPU-only, one thread a job: jobs then run side by side and none waits for
    # two cores to come free at once (with 2, the cheap jobs kept both cores busy and Grad-CAM ran last).
    threads: 2 if CFG["cluster"]["gpus"] else 1
    priority: 2  # the Grad-CAM chain first (see rule pri)
    resources:
        gpu=1 if CFG["cluster"]["gpus"] else 0,
        mem_mb=6000,
        runtime=60,
    log:
        "logs/{dataset}/vei/{distortion}/{pri}/{cam}/shard-{k}.log",
    benchmark:
        "logs/{dataset}/benchmarks/vei/{distortion}/{pri}/{cam}/shard-{k}.tsv"
    conda:
        "../../envs/veiqa.yaml"
    script:
        str(SCRIPTS / "gradcam.py")
