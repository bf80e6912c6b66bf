"""veiqa's BRISQUE against the release's scoring run through libsvm's own binaries, on the shared TID2013 samples.

For each image: ``veiqa.nr`` BRISQUE (the release model, numpy); the release's brisquescore.m steps done with libsvm's
binaries on the release's files (``test_ind`` written with ``%f`` as brisquescore.m does, ``svm-scale -r allrange``,
``svm-predict -b 1 ... allmodel``) from veiqa's features and from the features of brisque_feature.m under Octave
(tests/fixtures/nr_reference.json); and brisquescore.m itself under Octave (the fixture's ``brisque``).
Needs ``svm-scale``/``svm-predict`` on PATH (Debian: apt-get install libsvm-tools).

Usage: PYTHONPATH=workflow .venv/bin/python scripts/nr_brisque_check.py [IMAGE ...]
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from veiqa import nr  # noqa: E402
from veiqa.io import read_image  # noqa: E402
from veiqa.nr import brisque as B  # noqa: E402
from veiqa.nr.models import data_file  # noqa: E402

SAMPLES = REPO.parent / "shared" / "datasets" / "tid2013_samples"
FIXTURE = json.loads((REPO / "tests" / "fixtures" / "nr_reference.json").read_text())


def release_binaries(feat: np.ndarray) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "test_ind").write_text("1 " + "".join("%d:%f " % (k, v) for k, v in enumerate(feat, 1)) + "\n")
        scaled = subprocess.run(["svm-scale", "-r", str(data_file(B.RANGE_FILE)), str(tmp / "test_ind")],
                                capture_output=True, text=True, check=True).stdout
        (tmp / "test_ind_scaled").write_text(scaled)
        subprocess.run(["svm-predict", "-b", "1", str(tmp / "test_ind_scaled"), str(data_file(B.MODEL_FILE)),
                        str(tmp / "output")], capture_output=True, text=True, check=True)
        return float((tmp / "output").read_text().split()[0])


def main() -> None:
    if not (shutil.which("svm-scale") and shutil.which("svm-predict")):
        sys.exit("svm-scale/svm-predict not on PATH (apt-get install libsvm-tools)")
    paths = [Path(p) for p in sys.argv[1:]] or sorted(SAMPLES.iterdir(), key=lambda p: p.name.lower())
    print("image\tveiqa\tlibsvm binaries (veiqa features)\tlibsvm binaries (Octave features)\t"
          "brisquescore.m (Octave)\tmax |diff|")
    for p in paths:
        img = read_image(p)
        ours = nr.score(img, "brisque")
        row = [ours, release_binaries(B.features(img))]
        oct_feat = FIXTURE["brisque_features"].get(p.name)
        row.append(release_binaries(np.array(oct_feat)) if oct_feat else float("nan"))
        row.append(FIXTURE["brisque"].get(p.name, float("nan")))
        diff = max(abs(v - ours) for v in row[1:] if np.isfinite(v))
        print(p.name + "\t" + "\t".join(f"{v:.6f}" for v in row) + f"\t{diff:.1e}")


if __name__ == "__main__":
    main()
