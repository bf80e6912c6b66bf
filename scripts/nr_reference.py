"""Regenerate tests/fixtures/nr_reference.json: the NR-IQA reference values the tests compare veiqa.nr with.

Needs GNU Octave with the image package (``apt-get install -y --no-install-recommends octave octave-image``), the
authors' MATLAB code in two folders (kept out of this repository):

* ``--niqe DIR``: the NIQE release (computequality.m, computefeature.m, estimateaggdparam.m, modelparameters.mat);
* ``--brisque DIR``: the BRISQUE release's brisque_feature.m, estimateggdparam.m, estimateaggdparam.m;

and, for the PIQE values, ``pypiqe`` importable (``--pypiqe DIR`` adds a folder holding it to the path), plus
``libsvm-official`` for the BRISQUE score. Octave lacks ``blkproc``/``nanmean``/``nancov``; minimal shims (zero
overlap; NaN-ignoring column mean; covariance of the complete rows) are written to a temporary folder.

Usage: .venv/bin/python scripts/nr_reference.py --niqe DIR --brisque DIR [--pypiqe DIR] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime
import json
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "datasets" / "tid2013_samples"
IMAGES = ("I01.BMP", "I03.BMP", "I04.BMP", "i01_01_5.bmp", "i03_01_1.bmp")

SHIMS = {
    "blkproc.m": """function out = blkproc(a, blk, ovl, fun)
if any(ovl ~= 0), error('shim: overlap unsupported'); end
out = [];
for i = 1:ceil(size(a,1)/blk(1))
  row = [];
  for j = 1:ceil(size(a,2)/blk(2))
    row = [row fun(a((i-1)*blk(1)+1:min(i*blk(1),end), (j-1)*blk(2)+1:min(j*blk(2),end)))];
  end
  out = [out; row];
end
""",
    "nanmean.m": "function m = nanmean(x)\nok = ~isnan(x); x(~ok) = 0; m = sum(x,1)./sum(ok,1);\n",
    "nancov.m": "function c = nancov(x)\nc = cov(x(~any(isnan(x),2),:));\n",
}


def octave(script: str, cwd: Path) -> str:
    res = subprocess.run(["octave-cli", "--no-gui", "--eval", script], capture_output=True, text=True, cwd=cwd)
    if res.returncode != 0 and not res.stdout:
        sys.exit(f"octave failed: {res.stderr}")
    return res.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--niqe", type=Path, required=True)
    ap.add_argument("--brisque", type=Path, required=True)
    ap.add_argument("--pypiqe", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=REPO / "tests" / "fixtures" / "nr_reference.json")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "workflow"))
    if args.pypiqe:
        sys.path.insert(0, str(args.pypiqe))
    from libsvm import svmutil
    from pypiqe import piqe as pypiqe

    from veiqa.io import read_image, sha256_file, write_bytes_atomic
    from veiqa.nr.features import matlab_gray
    from veiqa.nr.models import data_file, model_file

    files = ", ".join(f"'{f}'" for f in IMAGES)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, text in SHIMS.items():
            (tmp / name).write_text(text)
        head = f"pkg load image; addpath('{tmp}'); files = {{{files}}}; d = '{SAMPLES}';"
        niqe_out = octave(head + f"addpath('{args.niqe}'); load('{args.niqe}/modelparameters.mat');"
                          "for k = 1:numel(files), im = imread(fullfile(d, files{k}));"
                          "printf('%s %.12g\\n', files{k}, computequality(im,96,96,0,0,mu_prisparam,cov_prisparam));"
                          "end", tmp)
        brisque_out = octave(head + f"addpath('{args.brisque}');"
                             "for k = 1:numel(files), im = imread(fullfile(d, files{k}));"
                             "f = brisque_feature(double(rgb2gray(uint8(im))));"
                             "printf('%s', files{k}); printf(' %.12g', f); printf('\\n'); end", tmp)
        rng = np.random.default_rng(7)
        x = np.round(rng.random((13, 11)) * 255, 3)
        np.savetxt(tmp / "x.txt", x, fmt="%.3f")
        y = np.array(json.loads(octave(f"pkg load image; y = imresize(load('{tmp}/x.txt'), 0.5);"
                                       "printf('['); for i = 1:rows(y), printf('[%s]', strjoin(arrayfun("
                                       "@(v) sprintf('%.17g', v), y(i,:), 'UniformOutput', false), ','));"
                                       "if i < rows(y), printf(','); end, end, printf(']');", tmp)))
        version = octave("printf('%s %s', version(), pkg('describe', 'image'){1}.version);", tmp).split()

    svm = model_file("brisque", "brisque/models/svm.txt")
    norm = model_file("brisque", "brisque/models/normalize.pickle")
    lib = svmutil.svm_load_model(str(svm))
    with open(norm, "rb") as fh:
        ranges = pickle.load(fh)
    lo, hi = np.array(ranges["min_"]), np.array(ranges["max_"])
    niqe = {f: float(v) for f, v in (line.split() for line in niqe_out.splitlines() if line.strip())}
    feats, scores = {}, {}
    for line in brisque_out.splitlines():
        if not line.strip():
            continue
        name, *vals = line.split()
        feat = np.array([float(v) for v in vals])
        feats[name] = feat.tolist()
        nodes, _ = svmutil.gen_svm_nodearray([float(v) for v in -1 + 2 * (feat - lo) / (hi - lo)])
        scores[name] = svmutil.libsvm.svm_predict(lib, nodes)
    piqe = {}
    for name in IMAGES:
        grey = matlab_gray(read_image(SAMPLES / name)).astype(np.uint8)
        if grey.max() == 255:           # pypiqe rescales by the maximum, MATLAB does not
            piqe[name] = float(pypiqe(grey)[0])
    doc = {
        "provenance": {
            "images": "../shared/datasets/tid2013_samples (TID2013 reference images I01, I03, I04 and distorted "
                      "i01_01_5, i03_01_1)",
            "computed_with": f"GNU Octave {version[0]}, image package {version[1]}, {datetime.date.today()}",
            "generator": "scripts/nr_reference.py",
            "niqe": "the NIQE release's computequality(imread(f), 96, 96, 0, 0, mu_prisparam, cov_prisparam), "
                    "with shims for Octave's missing blkproc/nanmean/nancov",
            "brisque_features": "the BRISQUE release's brisque_feature.m on double(rgb2gray(uint8(imread(f)))) "
                                "as brisquescore.m does",
            "brisque_score": "those features scaled to [-1, 1] with the brisque package's normalize.pickle ranges "
                             "and predicted by libsvm svm_predict with its svm.txt",
            "brisque_model_sha256": {"svm.txt": sha256_file(svm), "normalize.pickle": sha256_file(norm)},
            "niqe_model_sha256": sha256_file(data_file("niqe_modelparameters.mat")),
            "imresize_half": "Octave imresize(x, 0.5) of numpy default_rng(7).random((13, 11)) * 255 rounded to "
                             "3 decimals",
            "piqe": "pypiqe (MIT; a transcription of MATLAB's piqe.m) on the MATLAB-rgb2gray uint8 grey image; "
                    "only images whose grey maximum is 255",
        },
        "niqe": niqe, "brisque_features": feats, "brisque": scores,
        "imresize_half": {"input": x.tolist(), "octave": y.tolist()}, "piqe": piqe,
    }
    write_bytes_atomic(args.out, json.dumps(doc, indent=1).encode())
    print(f"wrote {args.out}: NIQE {niqe}\nBRISQUE {scores}\nPIQE {piqe}")


if __name__ == "__main__":
    main()
