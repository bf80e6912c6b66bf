"""Glue for the scripts the Snakemake rules call: logging to the rule's log file, and error reporting."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path


def logger_for(smk, name: str = "veiqa") -> logging.Logger:
    """A logger writing to the rule's ``log:`` file (and stderr)."""
    log = logging.getLogger(name)
    log.setLevel(logging.INFO)
    log.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    if smk.log:
        Path(smk.log[0]).parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(smk.log[0], mode="w")
        fh.setFormatter(fmt)
        log.addHandler(fh)
    sh = logging.StreamHandler(sys.stderr)
    sh.setFormatter(fmt)
    log.addHandler(sh)
    log.propagate = False
    return log


@contextlib.contextmanager
def step(smk, name: str):
    """Run a step with its logger; a user-facing error is logged as one clear line and the job fails."""
    from .io import VeiqaError, config_hash, set_run_context

    log = logger_for(smk, name)
    params = {k: v for k, v in smk.params.items()} if hasattr(smk.params, "items") else {}
    set_run_context(rule=name, params_hash=config_hash(params), config_hash=config_hash(dict(smk.config)))
    try:
        yield log
    except VeiqaError as e:
        log.error("%s", e)
        raise SystemExit(f"veiqa: {e}")
    except Exception:
        log.exception("%s failed", name)
        raise
