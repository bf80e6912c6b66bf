"""Write the pairs of tests/fixtures/matlab_reference.json as PNG files for the Octave run (run_reference.m).

    .venv/bin/python scripts/matlab_reference/make_pairs.py OUTDIR [TID2013_SAMPLES_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from matlab_pairs import build  # noqa: E402


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0])
    tid = Path(argv[1]) if len(argv) > 1 else ROOT.parent / "shared" / "datasets" / "tid2013_samples"
    out.mkdir(parents=True, exist_ok=True)
    for name, (a, b) in build(tid).items():
        Image.fromarray(a).save(out / f"{name}_ref.png")
        Image.fromarray(b).save(out / f"{name}_dist.png")
        print(name, a.shape)
    return 0


if __name__ == "__main__":
    sys.exit(main())
