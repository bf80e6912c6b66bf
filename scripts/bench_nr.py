"""Per-image cost of the NR-IQA methods (veiqa.nr) on a 512×384 RGB image, beside one Grad-CAM pair.

Prints, for each of NIQE, BRISQUE, PIQE: the median milliseconds per image (after a warm-up call that loads the model
files), and images/s; then the median milliseconds of one Grad-CAM pair (image + PRI, batch of one, the backbone at
its network input size) with the same number of threads, so the NR methods' share of a run is visible.

Usage: .venv/bin/python scripts/bench_nr.py [--reps 5] [--threads 1] [--backbone efficientnet_lite0] [--no-gradcam]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def timed(fn, reps: int) -> float:
    """Median seconds per call over ``reps`` calls after one warm-up call."""
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--backbone", default="efficientnet_lite0")
    ap.add_argument("--no-gradcam", action="store_true", help="skip the Grad-CAM comparison")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import skimage.data
    from PIL import Image

    from veiqa import nr

    img = np.asarray(Image.fromarray(skimage.data.astronaut()).resize((512, 384), Image.BICUBIC))
    print(f"image {img.shape[1]}x{img.shape[0]} RGB uint8, {args.threads} thread(s), median of {args.reps}")
    for m in nr.METHODS:
        t = timed(lambda: nr.score(img, m), args.reps)
        print(f"{m:8s} {1000 * t:8.1f} ms/image  {1 / t:7.1f} images/s")
    if args.no_gradcam:
        return
    import torch

    from veiqa.backbones import load_backbone
    from veiqa.gradcam import gradcam, to_input

    torch.set_num_threads(args.threads)
    bb = load_backbone(args.backbone, weights="pretrained", seed=0, device="cpu")
    pri = np.clip(img.astype(np.int16) + np.random.default_rng(0).normal(0, 10, img.shape).round(), 0, 255)
    x = to_input(img, *bb.normalize, bb.input_size)[None]
    y = to_input(pri.astype(np.uint8), *bb.normalize, bb.input_size)[None]
    t = timed(lambda: gradcam(bb, x, y), args.reps)
    print(f"gradcam  {1000 * t:8.1f} ms/pair   ({bb.label}, CPU, batch 1, {tuple(bb.input_size)} input)")


if __name__ == "__main__":
    main()
