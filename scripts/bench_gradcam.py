"""Benchmark the batched Grad-CAM stage against a bare forward+backward pass of the same network.

Prints, for a backbone and batch size on the current device:
  * Grad-CAM pairs/s from decoded tensors (``veiqa.gradcam.gradcam`` on a batch of N distorted images + N PRIs);
  * Grad-CAM pairs/s end to end from image files on disk (``veiqa.gradcam.run_shard``: decode, resize, Grad-CAM,
    Parquet);
  * the bare rate: the same 2N-image batch through the same network with parameters requiring grad (as in training)
    and an input requiring grad, forward + backward of the summed top-1 logits (gradients for all parameters and
    the input), counted in pairs/s (N pairs per 2N-image batch);
  * the ratio Grad-CAM / bare (target on CPU: >= 0.8);
  * each explanation method of ``veiqa.gradcam.METHODS`` (``--methods``, default all; Grad-CAM++, XGrad-CAM,
    LayerCAM and HiResCAM from the same forward + backward as Grad-CAM, Eigen-CAM from the forward alone plus one
    SVD per image): its pairs/s on the same batch and the ratio to Grad-CAM (``--methods-only`` prints only these);
  * pytorch-grad-cam 1.5.7 (``pytorch_grad_cam.GradCAM``, the test suite's reference) on the same 2N images, the
    same layer and the same classes: its pairs/s and the ratio veiqa / pytorch-grad-cam.

Runs on ``--device cuda`` unchanged (for a GPU session); the end-to-end figure then decodes in ``--workers``
DataLoader processes with pinned memory.

Usage: .venv/bin/python scripts/bench_gradcam.py [--backbone efficientnet_lite0] [--batch 8] [--threads 2]
       [--device cuda] [--workers 4] [--files 256] [--methods gradcam,eigencam] [--methods-only]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import skimage.data
import torch
from PIL import Image

from veiqa.backbones import load_backbone, resolve_device
from veiqa.gradcam import METHODS, gradcam, run_shard, to_input


def timed(fn, reps: int) -> float:
    """Median seconds per call over ``reps`` calls after one warm-up call."""
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="efficientnet_lite0")
    ap.add_argument("--weights", default="pretrained", help='"pretrained", "random" (seed 0) or a path')
    ap.add_argument("--batch", type=int, default=8, help="pairs per batch")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (this machine has 2 cores)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--amp", action="store_true", help="bf16 autocast (default float32, TF32 off)")
    ap.add_argument("--files", type=int, default=32, help="pairs written to disk for the end-to-end figure")
    ap.add_argument("--workers", type=int, default=1, help="DataLoader workers for run_shard")
    ap.add_argument("--methods", default=",".join(METHODS), help="explanation methods timed beside Grad-CAM")
    ap.add_argument("--methods-only", action="store_true", help="time only the explanation methods")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    bb = load_backbone(args.backbone, weights=args.weights, seed=0, device=dev)
    n = args.batch
    photos = [skimage.data.chelsea(), skimage.data.coffee(), skimage.data.astronaut(), skimage.data.rocket()]
    rng = np.random.default_rng(0)
    dist = [photos[i % len(photos)] for i in range(n)]
    pri = [np.clip(im.astype(np.int16) + rng.normal(0, 10, im.shape).round(), 0, 255).astype(np.uint8) for im in dist]
    xd = torch.stack([to_input(im, *bb.normalize, bb.input_size) for im in dist]).to(dev)
    xp = torch.stack([to_input(im, *bb.normalize, bb.input_size) for im in pri]).to(dev)

    t_cam = timed(lambda: gradcam(bb, xd, xp, amp=args.amp), args.reps)
    head = (f"backbone {bb.label}  device {dev}  threads {torch.get_num_threads()}  batch {n} pairs "
            f"({2 * n} images at {bb.input_size[0]}x{bb.input_size[1]})  amp {args.amp}")
    # the methods in turns (one call of each per round, after one warm-up each), so that the load of a shared
    # machine falls on all of them alike; the ratio is to Grad-CAM timed in the same rounds
    names = list(dict.fromkeys(["gradcam"] + args.methods.split(",")))
    calls = {m: (lambda m=m: gradcam(bb, xd, xp, amp=args.amp, cam=m)) for m in names}
    for f in calls.values():
        f()
    ts: dict[str, list[float]] = {m: [] for m in names}
    for _ in range(args.reps):
        for m, f in calls.items():
            t0 = time.perf_counter()
            f()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            ts[m].append(time.perf_counter() - t0)
    med = {m: statistics.median(v) for m, v in ts.items()}
    method_lines = [f"method {m:<10} (decoded tensors)  : {n / t:8.2f} pairs/s  ({1000 * t:.1f} ms/batch, "
                    f"{med['gradcam'] / t:.2f} x Grad-CAM's rate)" for m, t in med.items()]
    if args.methods_only:
        print(head)
        print("\n".join(method_lines))
        return

    model = copy.deepcopy(bb.model).requires_grad_(True)  # "bare": as in training, all params require grad
    x = torch.cat([xd, xp])

    def bare():
        xi = x.detach().requires_grad_(True)
        ctx = torch.autocast(dev.type, dtype=torch.bfloat16) if args.amp else torch.enable_grad()
        with ctx:
            y = model(xi)
        y = y.float()
        y.gather(1, y.detach().argmax(1, keepdim=True)).sum().backward()
        model.zero_grad(set_to_none=True)

    t_bare = timed(bare, args.reps)

    def bare_input():  # stricter: frozen parameters, backward to the input only (no weight gradients)
        xi = x.detach().requires_grad_(True)
        y = bb.model(xi).float()
        torch.autograd.grad(y.gather(1, y.detach().argmax(1, keepdim=True)).sum(), xi)

    t_bare_in = timed(bare_input, args.reps)
    with torch.inference_mode():
        t_fwd = timed(lambda: bb.model(x), args.reps)

    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    pgc_model = copy.deepcopy(bb.model).requires_grad_(True)  # pytorch-grad-cam backpropagates through the net
    out = gradcam(bb, xd, xp)
    targets = [ClassifierOutputTarget(int(c)) for c in torch.cat([out["target_class"], out["target_class_pri"]])]
    with GradCAM(model=pgc_model, target_layers=[dict(pgc_model.named_modules())[bb.target_layer]]) as pgc:
        t_pgc = timed(lambda: pgc(input_tensor=x, targets=targets), args.reps)

    # end to end from files: PNGs of the photos at their native sizes, decoded + resized in the DataLoader
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = []
        for i in range(args.files):
            Image.fromarray(dist[i % n]).save(root / f"d{i}.png")
            Image.fromarray(pri[i % n]).save(root / f"p{i}.png")
            rows.append({"image_id": f"i{i}", "path": f"d{i}.png", "pri_path": f"p{i}.png"})
        pairs = pd.DataFrame(rows)
        cfg = {"name": args.backbone, "weights": args.weights, "seed": 0, "batch_size": n,
               "num_workers": args.workers, "amp": args.amp}
        run_shard(pairs.iloc[:n], cfg, root / "warm.parquet", device=str(dev), root=root, backbone=bb)
        t = time.perf_counter()
        run_shard(pairs, cfg, root / "shard.parquet", device=str(dev), root=root, backbone=bb)
        t_e2e = time.perf_counter() - t

    cam_rate, bare_rate, e2e_rate = n / t_cam, n / t_bare, args.files / t_e2e
    print(head)
    print(f"grad-cam stage (decoded tensors): {cam_rate:8.2f} pairs/s  ({1000 * t_cam:.1f} ms/batch)")
    print(f"bare forward+backward           : {bare_rate:8.2f} pairs/s  ({1000 * t_bare:.1f} ms/batch)")
    print(f"ratio grad-cam / bare           : {cam_rate / bare_rate:8.2f}  (target >= 0.80)")
    print(f"bare fwd+bwd to input (frozen)  : {n / t_bare_in:8.2f} pairs/s  -> ratio {t_bare_in / t_cam:.2f}")
    print(f"forward only (inference mode)   : {n / t_fwd:8.2f} pairs/s  -> ratio {t_fwd / t_cam:.2f}")
    print(f"pytorch-grad-cam 1.5.7 GradCAM  : {n / t_pgc:8.2f} pairs/s  -> veiqa / pytorch-grad-cam "
          f"{t_pgc / t_cam:.2f}")
    print(f"end to end via run_shard        : {e2e_rate:8.2f} pairs/s  ({args.files} pairs from PNG files, "
          f"{args.workers} decode worker(s))")
    print("\n".join(method_lines))


if __name__ == "__main__":
    main()
