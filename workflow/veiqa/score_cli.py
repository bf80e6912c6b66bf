"""``veiqa score``: the no-reference VEI score of single images, from the command line.

For each image: make its pseudo-reference (the config's defaults, or ``--pri-param``), compute both Grad-CAM maps
with one backbone (loaded once for all images), compare them with the chosen measures (PSNR by default, as the
paper), and, where a fitted mapping is given (a ``fits.parquet`` of the workflow's aggregation, or five βs), print the
mapped quality too. An image that cannot be read is reported on stderr and the others are still scored; the exit
status is then 1. Every value comes with a status saying why it is missing or special (``identical``, ``zero_map``,
``too_small`` for a measure's window, ``too_small_for_network`` for an image smaller than the network's stride).
Progress goes to stderr (a bar on a terminal, a line every few seconds otherwise); stdout holds only the result.

``--mapping fits.parquet`` selects exactly one fit: the paper protocol's fit on all images (fold −1) of the
distortion, the measure, the arm (built from ``--backbone``, ``--weights``, ``--resolution`` and, for a
``--pri-param`` other than the default, ``@<PRI label>``; or named with ``--arm``) and, where the file holds several,
the ``--dataset``. When none or several match, the candidates are listed and nothing is scored. (A fits.parquet
names arms at its run's default PRI strength without ``@``; this command takes the schema's default as that one, so
for a run whose default strength differed, name the arm with ``--arm``.)
"""

from __future__ import annotations

import argparse
import io as _io
import json
import logging
import sys
from pathlib import Path

import numpy as np

DISTORTIONS = ("gb", "wn", "jpeg", "jp2k")
#: vei_table's per-batch progress is the workflow's; here the per-image progress on stderr says it.
_QUIET = logging.getLogger("veiqa.score_cli.quiet")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def add_parser(sub) -> None:
    p = sub.add_parser("score", help="no-reference VEI score of images (Ahmed et al. 2024)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--distortion", required=True, choices=DISTORTIONS,
                   help="the distortion the images suffer from (selects the pseudo-reference)")
    p.add_argument("--backbone", default="efficientnet_lite0", help="backbone name (default efficientnet_lite0)")
    p.add_argument("--weights", default="pretrained", help="'pretrained', 'random' or a weight file")
    p.add_argument("--seed", type=int, default=None, help="seed for --weights random (required with it)")
    p.add_argument("--measure", action="append", dest="measures", metavar="NAME",
                   help="measure between the two heat maps (repeatable; default psnr)")
    p.add_argument("--pri-param", type=float, default=None,
                   help="PRI strength (gb: filter size, wn: noise variance on [0,1], jpeg: quality, jp2k: its codec's quality "
                        "or ratio); default: config.yaml's")
    p.add_argument("--resolution", choices=("network", "native"), default=None,
                   help="Grad-CAM input: the network's size or the image's own (default: config.yaml's)")
    p.add_argument("--size", type=int, default=224, help="side the maps are upsampled to before comparison")
    p.add_argument("--mapping", default=None,
                   help="fits.parquet from the workflow (paper protocol, same distortion/measure/arm), "
                        "or five comma-separated betas b1,b2,b3,b4,b5")
    p.add_argument("--dataset", default=None, help="with --mapping fits.parquet: the dataset whose fit to use")
    p.add_argument("--arm", default=None, help="with --mapping fits.parquet: the arm label whose fit to use "
                                               "(default: built from --backbone/--weights/--resolution/--pri-param)")
    p.add_argument("--heatmap", default=None, metavar="DIR", help="save the image/PRI/heat-map picture per image here")
    p.add_argument("--device", default="auto")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def _defaults() -> dict:
    from .config import load_schema, validate

    return validate({"datasets": {"x": {"loader": "demo"}}}, load_schema())


def _default_target() -> str:
    """config.yaml's Grad-CAM target class (the first of a grid), so the score matches the workflow's default arm."""
    from .config import as_list

    return as_list(_defaults()["gradcam"]["target"])[0]


def _default_pri_params(distortion: str, value: float | None) -> dict:
    from .config import pri_arms

    params = dict(next(iter(pri_arms(_defaults(), distortion).values())))
    if value is not None:
        key = next(k for k in params if k != "codec")
        params[key] = int(value) if key in ("size", "quality") else float(value)
    return params


def _fit_arm(args, resolution: str) -> str:
    """The arm label the workflow gives this command's settings (veiqa.config.arm_label), with ``@<PRI label>``
    when ``--pri-param`` differs from the default strength."""
    from .config import arm_label, pri_arms

    if args.arm:
        return args.arm
    label = arm_label({"name": args.backbone, "weights": args.weights, "seed": args.seed}, resolution, "last",
                      _default_target(), "minmax")
    if args.pri_param is not None:
        pri = next(iter(pri_arms({"pri": {args.distortion: _default_pri_params(args.distortion, args.pri_param)}},
                                 args.distortion)))
        if pri != next(iter(pri_arms(_defaults(), args.distortion))):
            label += "@" + pri
    return label


def _betas(mapping: str | None, distortion: str, measure: str, arm: str, dataset: str | None) -> list[float] | None:
    """Five betas given on the command line, or the one paper-protocol fit of ``fits.parquet`` for (dataset,
    distortion, measure, arm); a :class:`VeiqaError` listing the candidates when none or several match."""
    from .io import VeiqaError

    if mapping is None:
        return None
    if "," in mapping:
        try:
            vals = [float(v) for v in mapping.split(",")]
        except ValueError as e:
            raise VeiqaError(f"--mapping: five comma-separated numbers expected ({e})") from e
        if len(vals) != 5:
            raise VeiqaError(f"--mapping: five betas expected, got {len(vals)}")
        return vals
    import pandas as pd

    path = Path(mapping)
    if not path.is_file():
        raise VeiqaError(f"{path}: mapping file not found")
    try:
        fits = pd.read_parquet(path)
    except Exception as e:  # noqa: BLE001 - any reader failure is a bad file
        raise VeiqaError(f"{path}: not a fits.parquet ({e})") from e
    need = {"dataset", "distortion", "measure", "arm", "pair_kind", "protocol", "fold", "fit_status",
            "b1", "b2", "b3", "b4", "b5"}
    if need - set(fits.columns):
        raise VeiqaError(f"{path}: not a fits.parquet of the workflow (missing columns {sorted(need - set(fits.columns))})")
    pool = fits[(fits["protocol"] == "paper") & (fits["fold"] == -1) & (fits["pair_kind"] == "vei")
                & (fits["distortion"] == distortion) & (fits["measure"] == measure)]
    sel = pool[(pool["arm"] == arm) & ((pool["dataset"] == dataset) if dataset else True)]

    def listing(df) -> str:
        rows = [f"dataset={d} arm={a} ({s})" for d, a, s in
                df[["dataset", "arm", "fit_status"]].drop_duplicates().itertuples(index=False)]
        return "\n  ".join(rows) if rows else "(none)"

    where = f"distortion {distortion}, measure {measure}, arm {arm}" + (f", dataset {dataset}" if dataset else "")
    if len(sel) == 0:
        raise VeiqaError(f"{path}: no paper-protocol fit for {where}; fits of this distortion and measure "
                         f"(choose with --arm/--dataset, or match --backbone/--weights/--resolution/--pri-param):"
                         f"\n  {listing(pool)}")
    if len(sel) > 1:
        raise VeiqaError(f"{path}: {len(sel)} fits for {where}; choose one with --dataset:\n  {listing(sel)}")
    row = sel.iloc[0]
    if row["fit_status"] != "ok":
        raise VeiqaError(f"{path}: the fit for {where}, dataset {row['dataset']} failed "
                         f"({row.get('fit_message', '') or row['fit_status']}); it cannot map scores")
    return [float(row[b]) for b in ("b1", "b2", "b3", "b4", "b5")]


def _score_one(bb, path, img, args, params, resolution, names, betas, arm) -> dict:
    """One image: PRI, both Grad-CAM maps, the measures (through veiqa.pairs.vei_table, as the workflow), the
    mapped values."""
    import pandas as pd
    from PIL import Image

    from .gradcam import gradcam, to_input
    from .pairs import vei_table
    from .pri import make_pri
    from .stats import logistic5

    data, _ = make_pri(img, args.distortion, params, Path(path).stem)
    pri = np.asarray(Image.open(_io.BytesIO(data)).convert("RGB"))
    size = None if resolution == "native" else tuple(bb.input_size)
    x = to_input(img, *bb.normalize, size)[None]
    y = to_input(pri, *bb.normalize, size)[None]
    out = gradcam(bb, x, y, target=_default_target(), normalize="minmax")
    h, w = out["cam_dist"].shape[-2:]
    vei = pd.DataFrame({"image_id": [str(path)], "map_h": [h], "map_w": [w], "error": [""],
                        "cam_dist": [out["cam_dist"][0].float().numpy().ravel()],
                        "cam_pri": [out["cam_pri"][0].float().numpy().ravel()]})
    table = vei_table(vei, names, args.size, "minmax", arm, log=_QUIET).set_index("measure")
    rec = {"image": str(path), "class": int(out["target_class"][0]),
           "class_prob": round(float(out["target_prob_dist"][0]), 6), "pri_identical": bool(np.array_equal(img, pri)),
           "map_size": [int(h), int(w)], "measures": {}}
    for m in names:
        v = float(table.loc[m, "value"])
        entry = {"value": None if np.isnan(v) else v, "status": str(table.loc[m, "status"])}
        if betas.get(m) is not None and not np.isnan(v):
            entry["mapped"] = float(logistic5(np.array([v]), *betas[m])[0])
        rec["measures"][m] = entry
    if args.heatmap:
        from .plots import figure2

        Path(args.heatmap).mkdir(parents=True, exist_ok=True)
        figure2([(Path(path).stem, img, pri, out["cam_dist"][0].numpy(), out["cam_pri"][0].numpy())],
                Path(args.heatmap) / f"{Path(path).stem}_heatmap.png")
    return rec


def run(args) -> int:
    from . import measures as M
    from .backbones import load_backbone
    from .config import as_list
    from .io import ImageError, VeiqaError, read_image
    from .progress import Progress

    names = args.measures or ["psnr"]
    unknown = [n for n in names if n not in M.MEASURES]
    if unknown:
        print(f"veiqa score: unknown measure(s) {unknown}; known: {', '.join(M.MEASURES)}", file=sys.stderr)
        return 2
    if args.weights == "random" and args.seed is None:
        print("veiqa score: --weights random needs --seed N (the random-weights control's seed; there is no default)",
              file=sys.stderr)
        return 2
    resolution = args.resolution or as_list(_defaults()["gradcam"]["resolution"])[0]
    try:
        params = _default_pri_params(args.distortion, args.pri_param)
        arm = _fit_arm(args, resolution)
        betas = {m: _betas(args.mapping, args.distortion, m, arm, args.dataset) for m in names}
        bb = load_backbone(args.backbone, weights=args.weights, seed=args.seed, device=args.device)
    except VeiqaError as e:
        print(f"veiqa score: {e}", file=sys.stderr)
        return 2
    results, failed = [], 0
    progress = Progress(len(args.images), "images", "veiqa score", interval=5.0, enabled=not args.quiet)
    for path in args.images:
        try:
            img = read_image(path)
        except ImageError as e:
            print(f"veiqa score: {e}", file=sys.stderr)
            failed += 1
        else:
            results.append(_score_one(bb, path, img, args, params, resolution, names, betas, arm))
        progress.update()
    if args.format == "json":
        print(json.dumps({"backbone": bb.label, "weights_sha256": bb.weights_sha256, "distortion": args.distortion,
                          "pri": params, "resolution": resolution, "arm": arm, "results": results}, indent=2))
    else:
        print(f"# backbone {bb.label} ({bb.weights}), distortion {args.distortion}, PRI {params}, "
              f"resolution {resolution}")
        head = ["image", "class", "p", "pri_identical"]
        for m in names:
            head += [m] + ([f"{m}_mapped"] if betas.get(m) else []) + [f"{m}_status"]
        print("\t".join(head))
        for r in results:
            cells = [r["image"], str(r["class"]), f"{r['class_prob']:.3f}", "yes" if r["pri_identical"] else "no"]
            for m in names:
                e = r["measures"][m]
                cells.append("nan" if e["value"] is None else f"{e['value']:.4f}")
                if betas.get(m):
                    cells.append(f"{e['mapped']:.4f}" if "mapped" in e else "nan")
                cells.append(e["status"])
            print("\t".join(cells))
    return 1 if failed else 0
