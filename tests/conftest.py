import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"
sys.path.insert(0, str(REPO / "workflow"))
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (the real score files and TID2013 samples live there)")
    return SHARED


@pytest.fixture(scope="session")
def tid_pair(shared_datasets):
    d = shared_datasets / "tid2013_samples"
    return d / "I01.BMP", d / "i01_01_5.bmp"
