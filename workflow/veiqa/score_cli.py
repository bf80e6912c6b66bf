"""``veiqa score``: the no-reference VEI score of single images, from the command line.

For each image: make its pseudo-reference (the schema's default strength, or ``--pri-param``), compute both Grad-CAM maps
with one backbone (loaded once for all images), compare them with the chosen measures (PSNR by default, as the
paper), and, where a fitted mapping is given (a ``fits.parquet`` of the workflow's aggregation, or five βs), print the
mapped quality too. An image that cannot be read is reported on stderr and the others are still scored; the exit
status is then 1. Every value comes with a status saying why it is missing or special (``identical``, ``zero_map``,
``too_small`` for a measure's window, ``too_small_for_network`` for an image smaller than the network's stride).
Progress goes to stderr (a bar on a terminal, a line every few seconds otherwise); stdout holds only the result.
Each step is the workflow job's own (:mod:`veiqa.scoring`): the PRI job's ``make_pri``, the Grad-CAM job's batch step
(``veiqa.gradcam.explain_batch``), the measures job's ``vei_table``.

Every setting that a workflow arm's label carries is a flag (backbone, weights and seed, resolution, explanation
method ``--cam``, layer, target class, normalisation, comparison size, precision, PRI strength and codec); a flag not
given takes the schema's default (``workflow/schemas/config.schema.yaml``, the workflow's default arm; a
config.yaml of your own is not read). The arm label of the settings is printed (``# arm …``; JSON ``arm``), so one
image can be rescored exactly as a ranked arm of a run.

``--mapping fits.parquet`` selects exactly one fit: the paper protocol's fit on all images (fold −1) of the
distortion, the measure, the arm (the printed label, with ``@<PRI label>`` for a ``--pri-param`` other than the
default; or named with ``--arm``) and, where the file holds several, the ``--dataset``. When none or several match, the candidates are listed and nothing is scored. (A fits.parquet
names arms at its run's default PRI strength without ``@``; this command takes the schema's default as that one, so
for a run whose default strength differed, name the arm with ``--arm``.)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from .contracts import FIT_OK
from .pri import DISTORTIONS, PRI_METHODS

#: The PRI methods a setting can choose among (``--pri-codec``): those of the distortions that have several.
_CODECS = tuple(dict.fromkeys(m for d in DISTORTIONS.values() if len(d.pri) > 1 for m in d.pri))
#: vei_table's per-batch progress is the workflow's; here the per-image progress on stderr says it.
_QUIET = logging.getLogger("veiqa.score_cli.quiet")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def add_parser(sub) -> None:
    p = sub.add_parser("score", help="no-reference VEI score of images (Ahmed et al. 2024)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--distortion", required=True, choices=list(DISTORTIONS),
                   help="the distortion the images suffer from (selects the pseudo-reference)")
    p.add_argument("--backbone", default=None, help="backbone name (default: the schema's first backbone)")
    p.add_argument("--weights", default=None, help="'pretrained', 'random' or a weight file (default: the schema's)")
    p.add_argument("--seed", type=int, default=None, help="seed for --weights random (required with it)")
    p.add_argument("--measure", action="append", dest="measures", metavar="NAME",
                   help="measure between the two heat maps (repeatable; default psnr)")
    p.add_argument("--pri-param", type=float, default=None,
                   help="PRI strength, the value of the distortion's PRI key ("
                        + ", ".join(f"{c}: " + " or ".join(PRI_METHODS[m].param for m in d.pri)
                                    for c, d in DISTORTIONS.items())
                        + "); default: the schema's (the workflow's default PRI arm)")
    p.add_argument("--pri-codec", choices=_CODECS, default=None,
                   help="the PRI method of a distortion that has several ("
                        + ", ".join(f"{c}: " + " or ".join(f"{m} ({PRI_METHODS[m].param})" for m in d.pri)
                                    for c, d in DISTORTIONS.items() if len(d.pri) > 1)
                        + "); default: the schema's")
    p.add_argument("--cam", default=None, metavar="METHOD",
                   help="explanation method, a name of veiqa.gradcam.METHODS (listed in docs/explanation-methods.md; "
                        "a wrong name lists them); default: the schema's (gradcam, the paper's)")
    p.add_argument("--target", default=None, help="class explained: own_top1, shared_top1 or topk:K; "
                                                  "default: the schema's")
    p.add_argument("--layer", default=None,
                   help="target layer: 'last' or module names joined by '+' (their maps averaged); default: the "
                        "schema's")
    p.add_argument("--normalize", choices=("minmax", "none"), default=None,
                   help="normalisation of each map before comparison; default: the schema's")
    p.add_argument("--resolution", choices=("network", "native"), default=None,
                   help="Grad-CAM input: the network's size or the image's own; default: the schema's")
    p.add_argument("--size", type=int, default=None,
                   help="side the maps are upsampled to before comparison (0: layer size); default: the schema's "
                        "compare.size")
    p.add_argument("--amp", action="store_true", help="mixed precision (the arm label's -amp); default float32")
    p.add_argument("--mapping", default=None,
                   help="fits.parquet from the workflow (paper protocol, same distortion/measure/arm), "
                        "or five comma-separated betas b1,b2,b3,b4,b5")
    p.add_argument("--dataset", default=None, help="with --mapping fits.parquet: the dataset whose fit to use")
    p.add_argument("--arm", default=None, help="with --mapping fits.parquet: the arm label whose fit to use "
                                               "(default: the label of this command's settings, printed)")
    p.add_argument("--heatmap", default=None, metavar="DIR", help="save the image/PRI/heat-map picture per image here")
    p.add_argument("--device", default="auto")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def _defaults() -> dict:
    """The workflow's defaults: the schema's (``workflow/schemas/config.schema.yaml``), as a config naming nothing."""
    from .config import load_schema, validate

    return validate({"datasets": {"x": {"loader": "demo"}}}, load_schema())


def _default_pri_params(distortion: str, value: float | None, codec: str | None = None) -> dict:
    """The schema's default PRI of ``distortion``, with ``value`` as its strength and, for jp2k, ``codec``."""
    from .config import pri_arms
    from .io import VeiqaError

    params = dict(next(iter(pri_arms(_defaults(), distortion).values())))
    methods = DISTORTIONS[distortion].pri
    if codec is not None:
        if codec not in methods or len(methods) == 1:
            several = [d for d, s in DISTORTIONS.items() if codec in s.pri and len(s.pri) > 1]
            raise VeiqaError(f"--pri-codec {codec} applies to --distortion {' or '.join(several)} only")
        if codec != params["codec"]:
            if value is None:
                raise VeiqaError(f"--pri-codec {codec} needs --pri-param (its {PRI_METHODS[codec].param})")
            params = {"codec": codec, PRI_METHODS[codec].param: None}
    if value is not None:
        method = PRI_METHODS[params.get("codec", methods[0])]
        params[method.param] = method.kind(value)
    return params


def settings(args) -> dict:
    """Every setting of the workflow's arm label, from the flags or, where a flag is not given, the schema's
    default; and ``arm``, the label the workflow gives them (a workflow run's table names this label; with a
    ``--pri-param`` other than the default, a run whose default strength differed names it otherwise) (:func:`veiqa.config.arm_label`, with ``@<PRI label>``
    when the PRI differs from the default's), so one image can be rescored exactly as a ranked arm."""
    from .config import arm_label, as_list, pri_arms
    from .gradcam import normalize_config

    d = _defaults()
    g, b0 = d["gradcam"], d["backbones"][0]
    backbone = {"name": args.backbone or b0["name"], "weights": args.weights or b0.get("weights", "pretrained"),
                "seed": args.seed}
    s = {
        "backbone": backbone["name"], "weights": backbone["weights"], "seed": args.seed,
        "resolution": args.resolution or as_list(g["resolution"])[0],
        "method": args.cam or as_list(g["method"])[0],
        "layer": args.layer or as_list(g["layer"])[0],
        "target": args.target or as_list(g["target"])[0],
        "normalize": args.normalize or as_list(g["normalize"])[0],
        "size": d["compare"]["size"] if args.size is None else args.size,
        "amp": bool(args.amp or g["amp"]),
        "pri": _default_pri_params(args.distortion, args.pri_param, args.pri_codec),
    }
    if s["size"] < 0:
        from .io import VeiqaError

        raise VeiqaError(f"--size: {s['size']} must be >= 0")
    normalize_config(engine_config(s))  # the engine's own checks (method, target, normalize), naming the bad setting
    label = arm_label(backbone, s["resolution"], s["layer"], s["target"], s["normalize"], amp=s["amp"],
                      method=s["method"])
    pri = next(iter(pri_arms({"pri": {args.distortion: s["pri"]}}, args.distortion)))
    if pri != next(iter(pri_arms(d, args.distortion))):
        label += "@" + pri
    s["arm"] = label
    return s


def engine_config(st: dict) -> dict:
    """The Grad-CAM engine config of :func:`settings` (the keys a value of :func:`veiqa.config.cam_arms` has, the
    layer read by :func:`veiqa.config.layer_list`)."""
    from .config import layer_list

    return {"name": st["backbone"], "weights": st["weights"], "seed": st["seed"], "resolution": st["resolution"],
            "method": st["method"], "layer": layer_list(st["layer"]), "target": st["target"],
            "normalize": st["normalize"], "amp": st["amp"]}


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
                         f"(choose with --arm/--dataset, or match the settings --backbone, --weights, --cam, ...):"
                         f"\n  {listing(pool)}")
    if len(sel) > 1:
        raise VeiqaError(f"{path}: {len(sel)} fits for {where}; choose one with --dataset:\n  {listing(sel)}")
    row = sel.iloc[0]
    if row["fit_status"] != FIT_OK:
        raise VeiqaError(f"{path}: the fit for {where}, dataset {row['dataset']} failed "
                         f"({row.get('fit_message', '') or row['fit_status']}); it cannot map scores")
    return [float(row[b]) for b in ("b1", "b2", "b3", "b4", "b5")]


def _score_one(bb, path, img, args, st, names, betas) -> dict:
    """One image: PRI, both maps and the measures, each by the workflow's own step (:func:`veiqa.scoring.score_image`),
    and the mapped values."""
    from .scoring import score_image
    from .stats import logistic5

    stem = Path(path).stem
    sc = score_image(bb, img, stem, args.distortion, st["pri"], engine_config(st), names, st["size"], st["arm"],
                     log=_QUIET)
    v = sc.vei
    rec = {"image": str(path), "class": int(v["target_class"]), "class_prob": round(float(v["target_prob_dist"]), 6),
           "pri_identical": sc.pri_identical, "map_size": [int(v["map_h"]), int(v["map_w"])],
           "measures": {}}
    for m in names:
        val = float(sc.measures.loc[m, "value"])
        entry = {"value": None if np.isnan(val) else val, "status": str(sc.measures.loc[m, "status"])}
        if betas.get(m) is not None and not np.isnan(val):
            entry["mapped"] = float(logistic5(np.array([val]), *betas[m])[0])
        rec["measures"][m] = entry
    if args.heatmap:
        from .plots import figure2

        Path(args.heatmap).mkdir(parents=True, exist_ok=True)
        figure2([(stem, img, sc.pri, *sc.maps())], Path(args.heatmap) / f"{stem}_heatmap.png")
    return rec


def run(args) -> int:
    from . import measures as M
    from .backbones import load_backbone
    from .gradcam import resolve_layers
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
    try:
        st = settings(args)
        fit_arm = args.arm or st["arm"]
        betas = {m: _betas(args.mapping, args.distortion, m, fit_arm, args.dataset) for m in names}
        bb = load_backbone(st["backbone"], weights=st["weights"], seed=st["seed"], device=args.device)
        resolve_layers(bb, engine_config(st)["layer"])
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
            results.append(_score_one(bb, path, img, args, st, names, betas))
        progress.update()
    params, resolution, arm = st["pri"], st["resolution"], st["arm"]
    if args.format == "json":
        print(json.dumps({"backbone": bb.label, "weights_sha256": bb.weights_sha256, "distortion": args.distortion,
                          "pri": params, "resolution": resolution, "arm": arm,
                          "settings": {k: st[k] for k in ("method", "layer", "target", "normalize", "size", "amp")},
                          **({"fit_arm": fit_arm} if fit_arm != arm else {}), "results": results}, indent=2))
    else:
        print(f"# backbone {bb.label} ({bb.weights}), distortion {args.distortion}, PRI {params}, "
              f"resolution {resolution}")
        print(f"# arm {arm}" + (f" (mapping from arm {fit_arm})" if fit_arm != arm else ""))
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
