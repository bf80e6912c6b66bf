import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))

import veiqa.config as vc
from veiqa.shards import read_shard_index, shard_file
from veiqa.ranking_md import arm_settings
from veiqa.stamps import fingerprint

try:
    CFG = vc.load(config, base_dir=Path.cwd(), schema_path=vc.SCHEMA_PATH)
except vc.ConfigError as e:
    raise WorkflowError(f"{e}\n(see workflow/veiqa/schemas/config.schema.yaml for every key and its allowed values)")

if workflow.is_main_process:
    # The one thing done while parsing: Snakemake checks its locks right after building the DAG, before any
    # handler runs, so locks left by a killed run (its recorded owner is gone) are removed here. It only reads
    # unless such locks exist; -n, --lint and --unlock leave everything as it is when no run was killed.
    from veiqa.smk import clear_stale_locks

    clear_stale_locks(".", log=lambda m: print(m, file=sys.stderr))


onstart:
    # A real run (never -n) that holds the locks: record this process as their owner, and remove the
    # temporaries of killed jobs (their writing process is gone, veiqa.io).
    from veiqa.io import remove_stale_temporaries
    from veiqa.smk import record_lock_owner

    record_lock_owner(".")
    remove_stale_temporaries(["results", "resources"], log=lambda m: print(m, file=sys.stderr))


config.setdefault("datasets", CFG["datasets"])  # the demo when no configuration names a dataset (the report reads it)
DATASETS = list(CFG["datasets"])
CAM_ARMS = vc.cam_arms(CFG)
SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"


wildcard_constraints:
    dataset=r"[A-Za-z0-9_.-]+",
    distortion="|".join(vc.DISTORTIONS),  # the registry veiqa.pri.DISTORTIONS
    pri=r"[^/]+",
    cam=r"[^/]+",
    k=r"\d+",


def dataset_cfg(wildcards):
    return CFG["datasets"][wildcards.dataset]


def shards_of(dataset):
    """(distortion, k) of every shard, from the `shard_index` checkpoint's list (which wrote the shard files whose
    rows changed: veiqa.shards.write_shard_index); reading it writes nothing."""
    return read_shard_index(checkpoints.shard_index.get(dataset=dataset).output.index)


def shard_input(wildcards):
    """The rows of one shard: an input that changes only when those images change, not when scores or other
    distortions do."""
    shards_of(wildcards.dataset)  # after the shard_index checkpoint, which writes the file
    return str(shard_file(f"resources/{wildcards.dataset}", wildcards.distortion, wildcards.k))


STAMP_CACHE = Path(".snakemake/veiqa/stamps")


def source_path(wildcards):
    """A real dataset's source (folder or archive), as the configuration names it."""
    return str(Path(CFG["datasets"][wildcards.dataset]["source"]).expanduser())


def source_fingerprint(wildcards):
    """The digest of a source's checksum list (veiqa.stamps; reads only): a parameter of rule source_stamp, so the
    stamp is rewritten when the content changed, and editing a score file or replacing an image re-stages."""
    return fingerprint(source_path(wildcards), STAMP_CACHE / f"source-{wildcards.dataset}.json")


def weight_file(cam):
    """The weight file an arm loads, when the configuration names one by path (None: packaged or random weights)."""
    from veiqa.backbones import weight_file_for

    return weight_file_for(cam)


def weight_path(wildcards):
    return str(weight_file(CAM_ARMS[wildcards.cam]))


def weight_fingerprint(wildcards):
    """The digest of an arm's weight file (reads only): a parameter of rule weight_stamp."""
    return fingerprint(weight_path(wildcards), STAMP_CACHE / f"weights-{wildcards.cam}.json")


def weight_stamp(wildcards):
    """A replaced weight file reruns that arm's Grad-CAM: its stamp (rule weight_stamp) is an input of the job."""
    if weight_file(CAM_ARMS[wildcards.cam]) is None:
        return []
    return f"resources/weights/{wildcards.cam}.sha256"


def pri_params(wildcards):
    return vc.pri_arms(CFG, wildcards.distortion)[wildcards.pri]


def measure_shards(dataset):
    """Every measure shard of a dataset: each VEI arm, and the pixel-PRI control when configured (the paths are
    the rules' own outputs)."""
    outs = [(rules.measures_vei.output[0], cam) for cam in CAM_ARMS]
    outs += [(rules.measures_image.output[0], None)] if CFG["pixel_control"] else []
    return [
        out.format(dataset=dataset, distortion=d, pri=p, k=k, cam=cam)
        for d, k in shards_of(dataset)
        for p in vc.pri_arms(CFG, d)
        for out, cam in outs
    ]


def control_shards(dataset):
    """The NR-method and FR-ceiling shards of a dataset (rules/controls.smk; they do not depend on the PRI)."""
    outs = ([rules.nr_methods.output[0]] if CFG["nr_methods"] else []) + (
        [rules.fr_ceiling.output[0]] if CFG["fr_ceiling"] else []
    )
    return [o.format(dataset=dataset, distortion=d, k=k) for d, k in shards_of(dataset) for o in outs]


def all_targets(wildcards):
    out = []
    for ds in DATASETS:
        out += [f"results/{ds}/tables/{p}/{t}.{ext}" for p in PROTOCOLS for t in TABLES for ext in ("csv", "md")]
        out += [f"results/{ds}/tables/{p}/table6_{p}.{ext}" for p in PROTOCOLS for ext in ("csv", "md")]
        out += [f"results/{ds}/tables/{p}/comparisons.{ext}" for p in PROTOCOLS for ext in ("csv", "md")]
        out.append(f"results/{ds}/plots/scatter")
        out += [f"results/{ds}/tables/ranked_arms.csv", f"results/{ds}/plots/grid_srocc.png"]
        if CFG["setmetrics"]["enabled"]:
            out += [f"results/{ds}/tables/setmetrics.csv", f"results/{ds}/plots/setmetrics.png"]
        out += [f"results/{ds}/plots/figure2-{arm}.png" for arm in CAM_ARMS]
    out.append("results/summary.rst")  # the report's front page (rules/report.smk)
    return out


def stage_inputs(wildcards):
    ds = CFG["datasets"][wildcards.dataset]
    if ds["loader"] == "demo" and ds.get("source") in (None, "builtin"):
        return {"source": f"resources/{wildcards.dataset}/source/scores.csv"}
    return {"stamp": f"resources/{wildcards.dataset}/source.sha256"}


def figure2_inputs(wildcards):
    arm = wildcards.cam
    shards = shards_of(wildcards.dataset)
    return {
        "manifest": f"resources/{wildcards.dataset}/manifest.parquet",
        "vei": [
            f"results/{wildcards.dataset}/vei/{d}/{next(iter(vc.pri_arms(CFG, d)))}/{arm}/shard-{k}.parquet"
            for d, k in shards
        ],
        "pri": [
            f"results/{wildcards.dataset}/pri/{d}/{next(iter(vc.pri_arms(CFG, d)))}/shard-{k}.parquet"
            for d, k in shards
        ],
    }
