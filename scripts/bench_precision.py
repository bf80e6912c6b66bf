"""How much mixed precision moves the VEI score: bf16 autocast vs float32 vs a float64 reference.

Over the demo's ten photographs, blurred (Gaussian blur σ 2 px) and their PRIs (the paper's 3×3 mean filter), with
each image's own top-1 class (``own_top1``), at the network's input size, prints:
  * VEI-PSNR (the PSNR between the min-max maps of image and PRI, upsampled bilinearly to 224, as the workflow
    compares them) in float32 and under bf16 autocast (``amp: true``; on CPU the CPU autocast stands in for the GPU
    one): the change |ΔPSNR| mean and max over the photos;
  * each float32 map against its own bf16 map: PSNR mean and min (how far apart the same image's two maps are);
  * float32 against the same network in float64 (Grad-CAM written out here: forward hook, autograd to the layer):
    max |Δmap| / map peak, and the VEI-PSNR change mean/max.

Usage: .venv/bin/python scripts/bench_precision.py [--backbone efficientnet_lite0] [--device cpu|cuda] [--threads 2]
"""

from __future__ import annotations

import argparse
import copy

import numpy as np
import skimage.data
import skimage.filters
import torch
from skimage.metrics import peak_signal_noise_ratio

from veiqa import demo, pri
from veiqa.backbones import load_backbone, resolve_device
from veiqa.gradcam import gradcam, to_input
from veiqa.measures import prepare_maps

def photos() -> list[np.ndarray]:
    """The demo's ten reference photographs (veiqa.demo), uint8 RGB."""
    return [demo.load_reference(name) for name in demo.REFERENCES]


def upsampled(a: torch.Tensor) -> np.ndarray:
    """Map (h×w) → min-max'd 224×224 float64, as the workflow prepares VEIs for the measures."""
    m, _ = prepare_maps(a[None, None].double(), a[None, None].double(), size=224, normalize="minmax")
    return m[0, 0].cpu().numpy()


def vei_psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(peak_signal_noise_ratio(upsampled(a), upsampled(b), data_range=1.0))


def cam64(model: torch.nn.Module, layer: str, x: torch.Tensor, cls: int) -> torch.Tensor:
    """Grad-CAM in float64 from the definition (raw ReLU'd map at the layer's resolution)."""
    store = {}
    h = dict(model.named_modules())[layer].register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    with torch.enable_grad():
        xi = x.double().requires_grad_(True)
        y = model(xi)
        h.remove()
        g = torch.autograd.grad(y[0, cls], store["a"])[0]
    return torch.relu((g.mean((2, 3), keepdim=True) * store["a"]).sum(1))[0].detach()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="efficientnet_lite0")
    ap.add_argument("--weights", default="pretrained")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--blur", type=float, default=2.0, help="Gaussian blur sigma (px) of the 'distorted' photos")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    bb = load_backbone(args.backbone, weights=args.weights, seed=0, device=dev)
    m64 = copy.deepcopy(bb.model).double()
    d_amp, own_amp, d64, rel64, flips = [], [], [], [], 0
    for im in photos():
        dist = (skimage.filters.gaussian(im, sigma=args.blur, channel_axis=-1) * 255).round().astype(np.uint8)
        ref = pri.mean_filter(dist, 3)
        xd = to_input(dist, *bb.normalize, bb.input_size)[None].to(dev)
        xp = to_input(ref, *bb.normalize, bb.input_size)[None].to(dev)
        f32 = gradcam(bb, xd, xp, target="own_top1", normalize="none")
        b16 = gradcam(bb, xd, xp, target="own_top1", normalize="none", amp=True)
        flips += sum(int(f32[c][0]) != int(b16[c][0]) for c in ("target_class", "target_class_pri"))
        p32 = vei_psnr(f32["cam_dist"][0], f32["cam_pri"][0])
        d_amp.append(abs(vei_psnr(b16["cam_dist"][0], b16["cam_pri"][0]) - p32))
        own_amp += [vei_psnr(f32[k][0], b16[k][0]) for k in ("cam_dist", "cam_pri")]
        maps64 = [cam64(m64, bb.target_layer, x, int(f32[c][0])).float().cpu()
                  for x, c in ((xd, "target_class"), (xp, "target_class_pri"))]
        rel64 += [float((f32[k][0] - m).abs().max() / m.max().clamp_min(1e-30))
                  for k, m in zip(("cam_dist", "cam_pri"), maps64)]
        d64.append(abs(vei_psnr(maps64[0], maps64[1]) - p32))
    own = np.array(own_amp)
    print(f"backbone {bb.label}  device {dev}  input {bb.input_size[0]}x{bb.input_size[1]}  {len(d_amp)} photos "
          f"(blur sigma {args.blur} px, PRI 3x3 mean), target own_top1")
    print(f"VEI-PSNR change, bf16 autocast vs float32 : mean {np.mean(d_amp):.4f} dB  max {np.max(d_amp):.4f} dB")
    print(f"{'top-1 class changed by bf16 autocast':<42}: {flips} of {2 * len(d_amp)} images")
    print(f"float32 map vs its own bf16 map, PSNR     : mean {np.mean(own[np.isfinite(own)]):.2f} dB  "
          f"min {own.min():.2f} dB")
    print(f"float32 vs float64, max |dmap| / peak     : mean {np.mean(rel64):.2e}  max {np.max(rel64):.2e}")
    print(f"VEI-PSNR change, float32 vs float64       : mean {np.mean(d64):.2e} dB  max {np.max(d64):.2e} dB")


if __name__ == "__main__":
    main()
