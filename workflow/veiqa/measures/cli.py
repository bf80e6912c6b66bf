"""``veiqa measure REFERENCE DISTORTED``: every similarity measure for a pair of image files (image mode)."""

from __future__ import annotations

import argparse
import json
import math
import sys

from . import MEASURES
from ._common import GREY_MODES


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``measure`` subcommand on an argparse subparsers object (sets ``func=run``)."""
    p = subparsers.add_parser(
        "measure",
        help="compare two image files with the full-reference similarity measures",
        description="Print the similarity measures of DISTORTED against REFERENCE (image mode: RGB in [0, 255], "
        "each measure with its reference implementation's conventions; docs/measures.md). ncc is NK = sum(xy)/sum(x^2) with REFERENCE as x; pcc is Pearson's r.",
    )
    p.add_argument("reference", help="reference image file")
    p.add_argument("distorted", help="distorted image file (same size as the reference)")
    p.add_argument(
        "--measure",
        dest="measures",
        action="append",
        choices=list(MEASURES),
        metavar="NAME",
        help=f"measure to compute (repeatable; default: all of {', '.join(MEASURES)})",
    )
    p.add_argument(
        "--grey",
        choices=GREY_MODES,
        default="rgb2gray",
        help="grey conversion for SSIM, its terms, MS-SSIM and GMSD: rgb2gray (MATLAB's rounded 8-bit rgb2gray, as "
        "their reference codes are run; default), luma (unrounded 0.299R+0.587G+0.114B), channels (per channel)",
    )
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Compute and print; returns 0, or 2 (message on stderr naming the file) for unreadable or mismatched images."""
    import torch

    from ..io import VeiqaError, read_image
    from . import compute

    try:
        ref = read_image(args.reference)
        dist = read_image(args.distorted)
    except VeiqaError as e:
        print(f"veiqa measure: error: {e}", file=sys.stderr)
        return 2
    if ref.shape != dist.shape:
        print(
            f"veiqa measure: error: {args.distorted}: size {dist.shape[1]}x{dist.shape[0]} differs from "
            f"{args.reference}: {ref.shape[1]}x{ref.shape[0]}",
            file=sys.stderr,
        )
        return 2
    names = args.measures or list(MEASURES)
    to_t = lambda a: torch.from_numpy(a.copy()).permute(2, 0, 1).unsqueeze(0).double()  # noqa: E731
    values, statuses = compute(to_t(ref), to_t(dist), names, mode="image", data_range=255.0, grey=args.grey)
    rows = []
    for n in names:
        v = float(values[n][0])
        rows.append({"measure": n, "value": None if math.isnan(v) else v, "status": statuses[n][0],
                     "higher_is_better": MEASURES[n].higher_is_better})
    if args.format == "json":
        print(json.dumps({"reference": str(args.reference), "distorted": str(args.distorted),
                          "size": [int(ref.shape[1]), int(ref.shape[0])], "measures": rows}, indent=2))
    else:
        print(f"reference: {args.reference}\ndistorted: {args.distorted}")
        w = max(10, *(len(n) for n in names))
        print(f"{'measure':<{w}} {'value':>12}  {'better':<7} status")
        for r in rows:
            val = "nan" if r["value"] is None else f"{r['value']:.6g}"
            print(f"{r['measure']:<{w}} {val:>12}  {'higher' if r['higher_is_better'] else 'lower':<7} {r['status']}")
    return 0


def main(argv=None) -> int:
    """Stand-alone entry ``python -m veiqa.measures.cli`` (the same subcommand as ``veiqa measure``, which
    veiqa.cli registers through :func:`add_parser`)."""
    parser = argparse.ArgumentParser(prog="veiqa")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
