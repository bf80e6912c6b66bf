"""Throughput of the similarity measures on batches of heat-map pairs (map mode).

    .venv/bin/python scripts/bench_measures.py [--n 256] [--size 224] [--device cpu|cuda|all] [--repeat 1]

Prints pairs per second for each measure alone and for all measures together (one ``compute`` call, SSIM
and its terms sharing a pass).  Maps are smooth random non-negative fields (upsampled 7×7 noise, min-max
normalised), like Grad-CAM maps of a CNN's last layer.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
import veiqa.measures as M  # noqa: E402


def make_maps(n: int, size: int, device: str, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(n, 1, 7, 7, generator=g)
    b = (a + 0.3 * torch.rand(n, 1, 7, 7, generator=g)).clamp_min(0)
    a, b = M.prepare_maps(a, b, size=size)
    return a.to(device), b.to(device)


def timed(fn, device: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best


def bench(n: int, size: int, device: str, repeat: int) -> None:
    x, y = make_maps(n, size, device)
    print(f"\n{n} map pairs of {size}x{size}, 1 channel, float32, device={device}, threads={torch.get_num_threads()}")
    print(f"{'measure':<10} {'seconds':>9} {'pairs/s':>10}")
    if device.startswith("cuda"):  # warm-up (kernels, cuFFT plans)
        M.compute(x[:2], y[:2], mode="map", data_range=1.0)
    groups = ["psnr", "ssim", "ms_ssim", "gmsd", "ncc", "fsim", "nae", "vsi"]
    for name in groups:
        names = ["ssim", "ssim_l", "ssim_c", "ssim_s"] if name == "ssim" else [name]
        s = timed(lambda: M.compute(x, y, names, mode="map", data_range=1.0), device, repeat)
        label = "ssim+lcs" if name == "ssim" else name
        print(f"{label:<10} {s:9.3f} {n / s:10.1f}")
    s = timed(lambda: M.compute(x, y, None, mode="map", data_range=1.0), device, repeat)
    print(f"{'ALL':<10} {s:9.3f} {n / s:10.1f}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=256, help="number of map pairs (default 256)")
    p.add_argument("--size", type=int, default=224, help="map side after upsampling (default 224)")
    p.add_argument("--device", default="all", help="cpu, cuda, or all (cpu, plus cuda when available)")
    p.add_argument("--repeat", type=int, default=1, help="repetitions; the best time is reported")
    a = p.parse_args(argv)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) if a.device == "all" else [a.device]
    for d in devices:
        bench(a.n, a.size, d, a.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
