"""The preamble every workflow script shares: ``veiqa`` on the import path, the Snakemake object, the step's logger.

Snakemake puts a script's own folder on ``sys.path``, so ``from _veiqa import smk, step`` works in each script.
Nothing heavy is imported here: a script that needs no torch never loads it (start-up of every job).
"""

import contextlib
import sys
from pathlib import Path

import __main__

# The script's real path: Snakemake's preamble sets the script's __file__ to it, while this module may be imported
# from Snakemake's source cache (a copy of the scripts folder without the package), and the path entries Snakemake
# adds come after any installed veiqa (an editable install of another checkout). So this workflow's package is put
# first, even when it is already on the path further down.
_WORKFLOW = str(Path(getattr(__main__, "__file__", None) or __file__).resolve().parents[1])
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
