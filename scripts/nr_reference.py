"""Regenerate tests/fixtures/nr_reference.json: the NR-IQA reference values the tests compare veiqa.nr with.

Needs GNU Octave with the image package (``apt-get install -y --no-install-recommends octave octave-image``) and the
authors' MATLAB code in folders kept out of this repository. Each section is regenerated only when its source is given;
the others are kept from the existing fixture:

* ``--niqe DIR``: the NIQE release (computequality.m, computefeature.m, estimateaggdparam.m, modelparameters.mat);
  also regenerates the ``imresize_half`` reference (Octave's ``imresize(x, 0.5)``);
* ``--brisque DIR``: the BRISQUE release's ``MATLAB/`` folder (github.com/utlive/BRISQUE at
  2e2a5ac04cd4b73ac0f5867de5b974581fa2d4d2: brisquescore.m, brisque_feature.m, estimateggdparam.m,
  estimateaggdparam.m, allmodel, allrange). The features come from ``brisque_feature.m``, the score from
  ``brisquescore.m`` itself, run in a scratch folder holding ``allmodel`` and ``allrange``; its
  ``system('svm-scale ...')``/``system('svm-predict -b 1 ...')`` calls need libsvm's binaries on PATH
  (``apt-get install libsvm-tools``). ``allmodel``/``allrange`` must be byte-identical to veiqa's shipped copies;
* ``--pypiqe DIR``: a folder holding ``pypiqe`` (PIQE values).

Octave lacks ``blkproc``/``nanmean``/``nancov``; minimal shims (zero overlap; NaN-ignoring column mean; covariance of
the complete rows) are written to a temporary folder.

Usage: .venv/bin/python scripts/nr_reference.py [--niqe DIR] [--brisque DIR] [--pypiqe DIR] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
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


FLAT_PATCH = ("I04.BMP through MATLAB rgb2gray (uint8), then rows 1..200 and columns 1..260 set to 128: a quarter of "
              "the image in constant 7x7 windows, four whole flat 96x96 NIQE blocks")


def flat_patch_image() -> np.ndarray:
    from veiqa.io import read_image
    from veiqa.nr.features import matlab_gray

    grey = matlab_gray(read_image(SAMPLES / "I04.BMP")).astype(np.uint8)
    grey[:200, :260] = 128
    return grey


def octave(script: str, cwd: Path) -> str:
    res = subprocess.run(["octave-cli", "--no-gui", "--eval", script], capture_output=True, text=True, cwd=cwd)
    if res.returncode != 0 and not res.stdout:
        sys.exit(f"octave failed: {res.stderr}")
    return res.stdout


def octave_version(tmp: Path) -> str:
    v = octave("pkg load image; printf('%s %s', version(), pkg('describe', 'image'){1}.version);", tmp).split()
    return f"GNU Octave {v[0]}, image package {v[1]}"


def niqe_section(niqe_dir: Path, head: str, tmp: Path) -> dict:
    out = octave(head + f"addpath('{niqe_dir}'); load('{niqe_dir}/modelparameters.mat');"
                 "for k = 1:numel(files), im = imread(fullfile(d, files{k}));"
                 "printf('%s %.12g\\n', files{k}, computequality(im,96,96,0,0,mu_prisparam,cov_prisparam));"
                 "end", tmp)
    rng = np.random.default_rng(7)
    x = np.round(rng.random((13, 11)) * 255, 3)
    np.savetxt(tmp / "x.txt", x, fmt="%.3f")
    y = np.array(json.loads(octave(f"pkg load image; y = imresize(load('{tmp}/x.txt'), 0.5);"
                                   "printf('['); for i = 1:rows(y), printf('[%s]', strjoin(arrayfun("
                                   "@(v) sprintf('%.17g', v), y(i,:), 'UniformOutput', false), ','));"
                                   "if i < rows(y), printf(','); end, end, printf(']');", tmp)))
    niqe = {f: float(v) for f, v in (line.split() for line in out.splitlines() if line.strip())}
    flat = octave(head + f"addpath('{niqe_dir}'); load('{niqe_dir}/modelparameters.mat');"
                  f"im = imread('{tmp}/flat_patch.png');"
                  "printf('FLAT %.12g\\n', computequality(im,96,96,0,0,mu_prisparam,cov_prisparam));", tmp)
    return {"niqe": niqe, "imresize_half": {"input": x.tolist(), "octave": y.tolist()},
            "niqe_flat_patch": _flat_value(flat)}


def _flat_value(out: str) -> float:
    lines = [ln for ln in out.splitlines() if ln.startswith("FLAT ")]
    if len(lines) != 1:
        sys.exit(f"Octave did not score the flat-patch image; it printed:\n{out}")
    return float(lines[0].split()[1])


def brisque_section(release: Path, head: str, tmp: Path) -> dict:
    from veiqa.io import sha256_file
    from veiqa.nr.brisque import MODEL_FILE, RANGE_FILE
    from veiqa.nr.models import data_file

    for theirs, ours in (("allmodel", MODEL_FILE), ("allrange", RANGE_FILE)):
        if sha256_file(release / theirs) != sha256_file(data_file(ours)):
            sys.exit(f"{release / theirs}: not byte-identical to veiqa's {data_file(ours)}")
    if not (shutil.which("svm-scale") and shutil.which("svm-predict")):
        sys.exit("brisquescore.m calls svm-scale and svm-predict: put libsvm's binaries on PATH (libsvm-tools)")
    run = tmp / "brisque_run"                   # brisquescore.m writes test_ind, output, dump in its folder
    run.mkdir()
    for name in ("allmodel", "allrange"):
        shutil.copyfile(release / name, run / name)
    out = octave(head + f"addpath('{release}');"
                 "for k = 1:numel(files), im = imread(fullfile(d, files{k}));"
                 "f = brisque_feature(double(rgb2gray(uint8(im)))); s = brisquescore(im);"
                 "printf('ROW %s %.17g', files{k}, s); printf(' %.12g', f); printf('\\n'); end", run)
    feats, scores = {}, {}
    for line in out.splitlines():
        if line.startswith("ROW "):
            _, name, score, *vals = line.split()
            scores[name] = float(score)
            feats[name] = [float(v) for v in vals]
    if sorted(scores) != sorted(IMAGES):
        sys.exit(f"brisquescore.m did not score every image; Octave printed:\n{out}")
    flat = octave(head + f"addpath('{release}'); printf('FLAT %.17g\\n', brisquescore(imread('{tmp}/flat_patch.png')));",
                  run)
    return {"brisque_features": feats, "brisque": scores, "brisque_flat_patch": _flat_value(flat),
            "brisque_libsvm": f"svm-scale/svm-predict at {shutil.which('svm-predict')} "
                              f"({_package_version('libsvm-tools')})"}


def _package_version(pkg: str) -> str:
    res = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}", pkg], capture_output=True, text=True)
    return res.stdout.strip() or "version unknown"


def piqe_section() -> dict:
    from pypiqe import piqe as pypiqe

    from veiqa.io import read_image
    from veiqa.nr.features import matlab_gray

    piqe = {}
    for name in IMAGES:
        grey = matlab_gray(read_image(SAMPLES / name)).astype(np.uint8)
        if grey.max() == 255:           # pypiqe rescales by the maximum, MATLAB does not
            piqe[name] = float(pypiqe(grey)[0])
    return {"piqe": piqe}


PROVENANCE = {
    "images": "../shared/datasets/tid2013_samples (TID2013 reference images I01, I03, I04 and distorted "
              "i01_01_5, i03_01_1)",
    "generator": "scripts/nr_reference.py",
    "niqe": "the NIQE release's computequality(imread(f), 96, 96, 0, 0, mu_prisparam, cov_prisparam), "
            "with shims for Octave's missing blkproc/nanmean/nancov (release .m files as redistributed in "
            "github.com/Maclory/SPSR metrics/MetricEvaluation/utils/niqe/, commit 97db4ccf7714889b5939490aa6d850f5fdf2a4a4)",
    "brisque_features": "the BRISQUE release's brisque_feature.m on double(rgb2gray(uint8(imread(f)))) "
                        "as brisquescore.m does",
    "brisque_score": "the BRISQUE release's brisquescore(imread(f)) itself (github.com/utlive/BRISQUE "
                     "2e2a5ac04cd4b73ac0f5867de5b974581fa2d4d2, MATLAB/), which writes test_ind with fprintf('%f') "
                     "and runs libsvm's binaries 'svm-scale -r allrange' and 'svm-predict -b 1 ... allmodel' on the "
                     "release's allrange/allmodel; libsvm >= 3.23 prints the prediction with %.17g",
    "imresize_half": "Octave imresize(x, 0.5) of numpy default_rng(7).random((13, 11)) * 255 rounded to "
                     "3 decimals",
    "flat_patch": "niqe_flat_patch / brisque_flat_patch: the same release calls on " + FLAT_PATCH,
    "piqe": "pypiqe (MIT; a transcription of MATLAB's piqe.m) on the MATLAB-rgb2gray uint8 grey image; "
            "only images whose grey maximum is 255",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--niqe", type=Path, default=None)
    ap.add_argument("--brisque", type=Path, default=None)
    ap.add_argument("--pypiqe", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=REPO / "tests" / "fixtures" / "nr_reference.json")
    args = ap.parse_args()
    if not (args.niqe or args.brisque or args.pypiqe):
        ap.error("nothing to regenerate: give --niqe, --brisque and/or --pypiqe")
    sys.path.insert(0, str(REPO / "workflow"))
    if args.pypiqe:
        sys.path.insert(0, str(args.pypiqe))
    from veiqa.io import sha256_file, write_bytes_atomic
    from veiqa.nr.models import data_file

    doc = json.loads(args.out.read_text()) if args.out.is_file() else {"provenance": {}}
    prov = doc["provenance"]
    files = ", ".join(f"'{f}'" for f in IMAGES)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, text in SHIMS.items():
            (tmp / name).write_text(text)
        head = f"pkg load image; addpath('{tmp}'); files = {{{files}}}; d = '{SAMPLES}';"
        stamp = f"{octave_version(tmp)}, {datetime.date.today()}"
        from PIL import Image

        Image.fromarray(flat_patch_image()).save(tmp / "flat_patch.png")
        if args.niqe:
            doc.update(niqe_section(args.niqe, head, tmp))
            prov["niqe_computed_with"] = stamp
            prov["niqe_model_sha256"] = sha256_file(data_file("niqe_modelparameters.mat"))
        if args.brisque:
            sec = brisque_section(args.brisque, head, tmp)
            prov["brisque_computed_with"] = f"{stamp}, {sec.pop('brisque_libsvm')}"
            prov["brisque_model_sha256"] = {n: sha256_file(args.brisque / n) for n in ("allmodel", "allrange")}
            doc.update(sec)
    if args.pypiqe:
        doc.update(piqe_section())
    for key in ("niqe", "brisque_features", "brisque_score", "imresize_half", "piqe", "images", "generator",
                "flat_patch"):
        prov[key] = PROVENANCE[key]
    if "computed_with" in prov:                 # the single stamp of the first, all-sections run
        prov.setdefault("niqe_computed_with", prov["computed_with"])
        prov.setdefault("brisque_computed_with", prov["computed_with"])
        del prov["computed_with"]
    doc = {"provenance": prov, **{k: v for k, v in doc.items() if k != "provenance"}}
    write_bytes_atomic(args.out, json.dumps(doc, indent=1).encode())
    print(f"wrote {args.out}: " + "; ".join(f"{k} {doc[k]}" for k in ("niqe", "brisque", "piqe") if k in doc))


if __name__ == "__main__":
    main()
