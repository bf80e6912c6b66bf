"""The preamble every workflow script shares: ``veiqa`` on the import path, the Snakemake object, the step's logger.

Snakemake puts a script's own folder on ``sys.path``, so ``from _veiqa import smk, step`` works in each script.
Nothing heavy is imported here: a script that needs no torch never loads it (start-up of every job).
"""

import contextlib
import sys
from pathlib import Path

import __main__

_WORKFLOW = str(Path(__file__).resolve().parents[1])
# First, even when already on the path: Snakemake's preamble appends the main process's sys.path, after the
# site-packages, where an editable install of another checkout would otherwise provide ``veiqa``.
while _WORKFLOW in sys.path:
    sys.path.remove(_WORKFLOW)
sys.path.insert(0, _WORKFLOW)

from veiqa.smk import quick_exit, step as _step  # noqa: E402

smk = __main__.snakemake  # injected by Snakemake's script preamble


@contextlib.contextmanager
def step():
    """``with step() as log:`` — the rule's logger; a user-facing error becomes one clear line and a failed job.

    The ``with`` block is the whole script: when it ends without an error the job's process exits at once
    (:func:`veiqa.smk.quick_exit`: logs and streams flushed, every output already written atomically), skipping
    the interpreter's teardown of torch and timm, which took 0.4–1.6 s of every such job."""
    with _step(smk, smk.rule) as log:
        yield log
    quick_exit()


def torch_threads():
    """Import torch, limited to the job's ``threads:``; returns the module."""
    import torch

    torch.set_num_threads(max(1, smk.threads))
    return torch
