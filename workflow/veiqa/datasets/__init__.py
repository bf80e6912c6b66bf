"""Dataset loaders for the IQA databases veiqa evaluates on, and staging into ``manifest.parquet``.

``LOADERS[name](root, score_file=None)`` reads one release's own folder layout and score file and returns its
candidate table (columns :data:`CANDIDATE_COLUMNS`, documented in :mod:`veiqa.datasets._common`);
:func:`stage` turns a release folder or archive into ``manifest.parquet`` and ``rejected.parquet``.

=========  ==================  ===========================  ======================  =================
name       database            score file                   score                   fixed image size
=========  ==================  ===========================  ======================  =================
live       LIVE Release 2      dmos_realigned.mat/dmos.mat  DMOS 0..100, lower     none (varies)
csiq       CSIQ                csiq.beta.xlsx/csiq_label    DMOS 0..1, lower        512x512
tid2013    TID2013             mos_with_names.txt           MOS 0..9, higher        512x384
siqad      SIQAD               sccdmos.txt                  DMOS 0..100, lower      none (varies)
kadid10k   KADID-10k           dmos.csv                     MOS 1..5, higher        512x384
demo       veiqa demo set      scores.csv                   proxy 0..1, higher      none
=========  ==================  ===========================  ======================  =================
"""

from __future__ import annotations

from ._common import CANDIDATE_COLUMNS, PAPER_DISTORTIONS, Loader
from .loaders import LOADERS
from .staging import (
    MANIFEST_COLUMNS,
    REASONS,
    REJECTED_COLUMNS,
    extract_archive,
    find_root,
    probe_image,
    read_manifest,
    stage,
)


__all__ = [
    "LOADERS",
    "Loader",
    "CANDIDATE_COLUMNS",
    "MANIFEST_COLUMNS",
    "REJECTED_COLUMNS",
    "REASONS",
    "PAPER_DISTORTIONS",
    "stage",
    "read_manifest",
    "extract_archive",
    "find_root",
    "probe_image",
]
