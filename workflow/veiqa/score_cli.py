"""``veiqa score``: the no-reference VEI score of single images, from the command line.

For each image: make its pseudo-reference (the config's defaults, or ``--pri-param``), compute both Grad-CAM maps
with one backbone (loaded once for all images), compare them with the chosen measures (PSNR by default, as the
paper), and, where a fitted mapping is given (a ``fits.parquet`` of the workflow's aggregation, or five βs), print the
mapped quality too. An image that cannot be read is reported on stderr and the others are still scored; the exit
status is then 1.
"""

from __future__ import annotations

import argparse
import io as _io
import json
import sys
from pathlib import Path

import numpy as np

DISTORTIONS = ("gb", "wn", "jpeg", "jp2k")


def add_parser(sub) -> None:
    p = sub.add_parser("score", help="no-reference VEI score of images (Ahmed et al. 2024)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--distortion", required=True, choices=DISTORTIONS,
                   help="the distortion the images suffer from (selects the pseudo-reference)")
    p.add_argument("--backbone", default="efficientnet_lite0", help="backbone name (default efficientnet_lite0)")
    p.add_argument("--weights", default="pretrained", help="'pretrained', 'random' or a weight file")
    p.add_argument("--seed", type=int, default=0, help="seed for --weights random")
    p.add_argument("--measure", action="append", dest="measures", metavar="NAME",
                   help="measure between the two heat maps (repeatable; default psnr)")
    p.add_argument("--pri-param", type=float, default=None,
                   help="PRI strength (gb: filter size, wn: noise variance on [0,1], jpeg: quality, jp2k: its codec's quality "
                        "or ratio); default: config.yaml's")
    p.add_argument("--resolution", choices=("network", "native"), default=None,
                   help="Grad-CAM input: the network's size or the image's own (default: config.yaml's)")
    p.add_argument("--size", type=int, default=224, help="side the maps are upsampled to before comparison")
    p.add_argument("--mapping", default=None,
                   help="fits.parquet from the workflow (paper protocol, same distortion/measure/backbone), "
                        "or five comma-separated betas b1,b2,b3,b4,b5")
    p.add_argument("--heatmap", default=None, metavar="DIR", help="save the image/PRI/heat-map picture per image here")
    p.add_argument("--device", default="auto")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=run)


def _defaults() -> dict:
    from .config import load_schema, validate

    return validate({"datasets": {"x": {"loader": "demo"}}}, load_schema())


def _default_pri_params(distortion: str, value: float | None) -> dict:
    from .config import pri_arms

    params = dict(next(iter(pri_arms(_defaults(), distortion).values())))
    if value is not None:
        key = next(k for k in params if k != "codec")
        params[key] = int(value) if key in ("size", "quality") else float(value)
    return params


def _betas(mapping: str, distortion: str, measure: str, arm_prefix: str) -> list[float] | None:
    from .io import VeiqaError

    if mapping is None:
        return None
    if "," in mapping:
        vals = [float(v) for v in mapping.split(",")]
        if len(vals) != 5:
            raise VeiqaError(f"--mapping: five betas expected, got {len(vals)}")
        return vals
    import pandas as pd

    path = Path(mapping)
    if not path.is_file():
        raise VeiqaError(f"{path}: mapping file not found")
    fits = pd.read_parquet(path)
    sel = fits[(fits["protocol"] == "paper") & (fits["distortion"] == distortion) & (fits["measure"] == measure)
               & (fits["pair_kind"] == "vei") & fits["arm"].astype(str).str.startswith(arm_prefix)
               & (fits["fit_status"] == "ok")]
    if sel.empty:
        return None
    return [float(sel.iloc[0][b]) for b in ("b1", "b2", "b3", "b4", "b5")]


def run(args) -> int:
    from . import measures as M
    from .backbones import load_backbone
    from .gradcam import gradcam, to_input
    from .io import ImageError, VeiqaError, read_image
    from .pri import make_pri
    from .stats import logistic5

    names = args.measures or ["psnr"]
    unknown = [n for n in names if n not in M.MEASURES]
    if unknown:
        print(f"veiqa score: unknown measure(s) {unknown}; known: {', '.join(M.MEASURES)}", file=sys.stderr)
        return 2
    from .config import as_list

    resolution = args.resolution or as_list(_defaults()["gradcam"]["resolution"])[0]
    try:
        params = _default_pri_params(args.distortion, args.pri_param)
        bb = load_backbone(args.backbone, weights=args.weights, seed=args.seed, device=args.device)
        arm_prefix = f"{args.backbone}-{'pretrained' if args.weights == 'pretrained' else ''}"
        betas = {m: _betas(args.mapping, args.distortion, m, arm_prefix) for m in names}
    except VeiqaError as e:
        print(f"veiqa score: {e}", file=sys.stderr)
        return 2
    results, failed = [], 0
    for path in args.images:
        try:
            img = read_image(path)
        except ImageError as e:
            print(f"veiqa score: {e}", file=sys.stderr)
            failed += 1
            continue
        from PIL import Image

        data, _ = make_pri(img, args.distortion, params, Path(path).stem)
        pri = np.asarray(Image.open(_io.BytesIO(data)).convert("RGB"))
        size = None if resolution == "native" else tuple(bb.input_size)
        x = to_input(img, *bb.normalize, size)[None]
        y = to_input(pri, *bb.normalize, size)[None]
        out = gradcam(bb, x, y, target=as_list(_defaults()["gradcam"]["target"])[0], normalize="minmax")
        a, b = M.prepare_maps(out["cam_dist"][:, None].double(), out["cam_pri"][:, None].double(),
                              size=args.size or None, normalize="minmax")
        values, statuses = M.compute(a, b, names, mode="map", data_range=1.0)
        rec = {"image": str(path), "class": int(out["target_class"][0]),
               "class_prob": round(float(out["target_prob_dist"][0]), 6), "measures": {}}
        for m in names:
            v = float(values[m][0])
            entry = {"value": None if np.isnan(v) else v, "status": statuses[m][0]}
            if betas.get(m) is not None and not np.isnan(v):
                entry["mapped"] = float(logistic5(np.array([v]), *betas[m])[0])
            rec["measures"][m] = entry
        results.append(rec)
        if args.heatmap:
            from .plots import figure2

            Path(args.heatmap).mkdir(parents=True, exist_ok=True)
            figure2([(Path(path).stem, img, pri, out["cam_dist"][0].numpy(), out["cam_pri"][0].numpy())],
                    Path(args.heatmap) / f"{Path(path).stem}_heatmap.png")
    if args.format == "json":
        print(json.dumps({"backbone": bb.label, "weights_sha256": bb.weights_sha256, "distortion": args.distortion,
                          "pri": params, "resolution": resolution, "results": results}, indent=2))
    else:
        print(f"# backbone {bb.label} ({bb.weights}), distortion {args.distortion}, PRI {params}, "
              f"resolution {resolution}")
        head = ["image", "class", "p"] + [h for m in names for h in ([m] + ([f"{m}_mapped"] if betas.get(m) else []))]
        print("\t".join(head))
        for r in results:
            cells = [r["image"], str(r["class"]), f"{r['class_prob']:.3f}"]
            for m in names:
                e = r["measures"][m]
                cells.append("nan" if e["value"] is None else f"{e['value']:.4f}")
                if betas.get(m):
                    cells.append(f"{e['mapped']:.4f}" if "mapped" in e else "nan")
            print("\t".join(cells))
    return 1 if failed else 0
