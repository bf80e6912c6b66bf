"""Speed of the similarity measures: image pairs per size, FSIM/VSI against piq, heat-map batches, the demo's pixel-PRI control.

    .venv/bin/python scripts/bench_measures.py [--part images,piq,maps,demo] [--sizes 256,512,1024] [--repeat 3]
        [--demo DIR] [--workflow PATH] [--device cpu|cuda]

Prints figures only (no pass/fail):

* ``images``: per-pair seconds of each measure and of the 11 default measures together on RGB pairs in [0, 255]
  (smooth random images with noise, like a distorted/PRI pair) at each size, batched as ``measure_table`` does
  (float32, image mode), and the per-pixel cost relative to the smallest size (1.0 = linear scaling);
* ``piq``: FSIMc and VSI of veiqa vs piq 0.8.0 on the same float32 pairs, per size, with the ratio veiqa/piq
  (< 1: veiqa faster);
* ``maps``: pairs per second of every measure on 224×224 Grad-CAM-like heat maps (map mode);
* ``demo``: ``veiqa.measures.measure_table`` over the images of a ``veiqa demo`` dataset (distorted image vs its
  pristine reference as a stand-in for the PRI), grouped by size as ``veiqa.pairs.image_table`` groups them:
  the measure part of the ``measures_image`` rule.

``--workflow PATH`` imports veiqa from another checkout's ``workflow/`` folder (e.g. an older commit extracted
with ``git archive``) to print before/after figures with the same script; parts that need measures the older
code lacks are skipped.  Timings are the best of ``--repeat`` runs; the thread count is torch's.  ``--clock cpu``
reports process CPU seconds (summed over threads), steadier than wall time on a machine shared with other jobs.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_11 = ["psnr", "ssim", "ssim_l", "ssim_c", "ssim_s", "ms_ssim", "gmsd", "ncc", "fsim", "nae", "vsi"]


CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter


def timed(fn, device: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = clock()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, clock() - t)
    return best


def image_pairs(n: int, size: int, device: str, seed: int = 0):
    """n RGB pairs in [0, 255], 8-bit valued: a smooth random image and a noisy, slightly blurred copy."""
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 3, size // 16, size // 16, generator=g)
    x = F.interpolate(base, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1) * 255
    y = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, 1) + 8 * torch.randn(x.shape, generator=g)
    return x.round().to(device), y.clamp(0, 255).round().to(device)


def bench_images(M, sizes, repeat: int, device: str) -> None:
    names = [m for m in DEFAULT_11 if m in M.MEASURES]
    print(f"\n== image pairs, RGB, float32, image mode, device={device}, threads={torch.get_num_threads()}")
    print("per-pair seconds (batched); 'ALL 11' = one compute() call with the 11 default measures")
    singles = ["psnr", "ssim+lcs", "ms_ssim", "gmsd", "ncc", "nae", "fsim", "vsi"]
    print(f"{'size':>6} {'pairs':>5} " + " ".join(f"{s:>9}" for s in singles) + f" {'ALL 11':>9} {'per-px':>7}")
    base = None
    for size in sizes:
        n = max(1, (4 * 512 * 512) // (size * size))
        x, y = image_pairs(n, size, device)
        M.compute(x[:1], y[:1], names, mode="image")  # warm-up (filter caches, allocator)
        row = []
        for s in singles:
            sel = ["ssim", "ssim_l", "ssim_c", "ssim_s"] if s == "ssim+lcs" else [s]
            row.append(timed(lambda: M.compute(x, y, sel, mode="image"), device, repeat) / n)
        all_ = timed(lambda: M.compute(x, y, names, mode="image"), device, repeat) / n
        per_px = all_ / (size * size)
        base = base or per_px
        print(f"{size:>6} {n:>5} " + " ".join(f"{v:9.4f}" for v in row) + f" {all_:9.4f} {per_px / base:7.2f}")


def bench_piq(M, sizes, repeat: int, device: str) -> None:
    try:
        import piq
    except ImportError:
        print("\n== piq not installed: FSIM/VSI comparison skipped")
        return
    print(f"\n== FSIMc and VSI, veiqa vs piq {getattr(piq, '__version__', '?')} (same float32 RGB pairs, data_range 255)")
    print(f"{'size':>6} {'pairs':>5} {'fsim veiqa':>11} {'fsim piq':>9} {'ratio':>6} {'vsi veiqa':>10} {'vsi piq':>8} {'ratio':>6}")
    for size in sizes:
        n = max(1, (2 * 512 * 512) // (size * size))
        x, y = image_pairs(n, size, device, seed=1)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            f_v = timed(lambda: M.fsim(x, y, 255.0), device, repeat) / n
            f_p = timed(lambda: piq.fsim(x, y, data_range=255.0, reduction="none"), device, repeat) / n
            v_v = timed(lambda: M.vsi(x, y, 255.0), device, repeat) / n
            v_p = timed(lambda: piq.vsi(x, y, data_range=255.0, reduction="none"), device, repeat) / n
        print(f"{size:>6} {n:>5} {f_v:11.4f} {f_p:9.4f} {f_v / f_p:6.2f} {v_v:10.4f} {v_p:8.4f} {v_v / v_p:6.2f}")


def bench_maps(M, repeat: int, device: str, n: int = 128, size: int = 224) -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.rand(n, 1, 7, 7, generator=g)
    b = (a + 0.3 * torch.rand(n, 1, 7, 7, generator=g)).clamp_min(0)
    x, y = M.prepare_maps(a, b, size=size)
    x, y = x.to(device), y.to(device)
    print(f"\n== {n} heat-map pairs {size}x{size}, 1 channel, float32, map mode, device={device}")
    print(f"{'measure':<10} {'seconds':>9} {'pairs/s':>10}")
    M.compute(x[:2], y[:2], mode="map", data_range=1.0)
    for name in ["psnr", "ssim", "ms_ssim", "gmsd", "ncc", "fsim", "nae", "vsi"]:
        names = ["ssim", "ssim_l", "ssim_c", "ssim_s"] if name == "ssim" else [name]
        s = timed(lambda: M.compute(x, y, names, mode="map", data_range=1.0), device, repeat)
        print(f"{'ssim+lcs' if name == 'ssim' else name:<10} {s:9.3f} {n / s:10.1f}")
    names = [m for m in DEFAULT_11 if m in M.MEASURES]
    s = timed(lambda: M.compute(x, y, names, mode="map", data_range=1.0), device, repeat)
    print(f"{'ALL 11':<10} {s:9.3f} {n / s:10.1f}")


def bench_demo(M, demo: Path, repeat: int) -> None:
    import numpy as np

    from veiqa.io import read_image

    refs = {p.stem: p for p in (demo / "reference").iterdir()}
    groups: dict[tuple, list] = {}
    for p in sorted((demo / "distorted").iterdir()):
        x = read_image(p)
        y = read_image(refs[p.name.split("__")[0]])
        groups.setdefault(x.shape, []).append((p.name, x, y))
    names = [m for m in DEFAULT_11 if m in M.MEASURES]
    total_pairs = sum(len(v) for v in groups.values())

    def run():
        for items in groups.values():
            x = torch.from_numpy(np.stack([i[1] for i in items])).permute(0, 3, 1, 2).double()
            y = torch.from_numpy(np.stack([i[2] for i in items])).permute(0, 3, 1, 2).double()
            M.measure_table([i[0] for i in items], x, y, names, mode="image")

    s = timed(run, "cpu", repeat)
    print(f"\n== demo pixel-PRI control: measure_table on {total_pairs} image pairs of {demo} ({len(groups)} sizes), "
          f"11 measures, threads={torch.get_num_threads()}")
    print(f"total {s:.2f} s, {s / total_pairs * 1000:.1f} ms/pair")


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", default="images,piq,maps", help="comma list of images, piq, maps, demo")
    p.add_argument("--sizes", default="256,512,1024", help="image sides (default 256,512,1024)")
    p.add_argument("--repeat", type=int, default=2, help="repetitions; the best time is reported")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--demo", type=Path, help="a `veiqa demo` folder (for --part demo)")
    p.add_argument("--workflow", type=Path, default=ROOT / "workflow", help="folder holding the veiqa package")
    p.add_argument("--clock", choices=list(CLOCK), default="wall",
                   help="wall: elapsed seconds; cpu: process CPU seconds (all threads; steadier on a shared machine)")
    a = p.parse_args(argv)
    global clock
    clock = CLOCK[a.clock]
    sys.path.insert(0, str(a.workflow))
    import veiqa.measures as M

    print(f"veiqa.measures from {Path(M.__file__).parent}; clock: {a.clock}; load average: {_load()}")
    parts = a.part.split(",")
    sizes = [int(s) for s in a.sizes.split(",")]
    if "images" in parts:
        bench_images(M, sizes, a.repeat, a.device)
    if "piq" in parts:
        bench_piq(M, sizes, a.repeat, a.device)
    if "maps" in parts:
        bench_maps(M, a.repeat, a.device)
    if "demo" in parts:
        if a.demo is None:
            p.error("--part demo needs --demo DIR (write one with `veiqa demo DIR`)")
        bench_demo(M, a.demo, a.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
