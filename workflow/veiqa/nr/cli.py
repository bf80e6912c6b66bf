"""``veiqa nr``: standard no-reference IQA scores (NIQE, BRISQUE, PIQE) of single images.

Lower is better for all three. An image that cannot be read, or that a method cannot score (e.g. smaller than its
blocks), is reported on stderr and the others are still scored; the exit status is then 1. Progress goes to stderr,
results to stdout (a tab-separated table, or JSON ``{"results": [{"image": ..., "scores": {...}}]}``).
"""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub) -> None:
    from . import METHODS

    p = sub.add_parser("nr", help="NIQE / BRISQUE / PIQE scores of images (lower = better)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--method", action="append", dest="methods", choices=METHODS, metavar="METHOD",
                   help=f"method to run (repeatable; one of {', '.join(METHODS)}; default all)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=run)


def _score_file(path: str, methods: list[str]) -> tuple[dict | None, int]:
    """(record, number of failures) for one image file; failures are reported on stderr."""
    from ..io import VeiqaError, read_image
    from . import score

    try:
        img = read_image(path)
    except VeiqaError as e:
        print(f"veiqa nr: {e}", file=sys.stderr)
        return None, 1
    rec, failed = {"image": str(path), "scores": {}}, 0
    for m in methods:
        try:
            rec["scores"][m] = score(img, m)
        except VeiqaError as e:
            print(f"veiqa nr: {path}: {m}: {e}", file=sys.stderr)
            rec["scores"][m] = None
            rec.setdefault("errors", {})[m] = str(e)
            failed += 1
    return rec, failed


def run(args) -> int:
    from . import METHODS

    methods = list(dict.fromkeys(args.methods or METHODS))
    results, failed = [], 0
    for i, path in enumerate(args.images, 1):
        print(f"veiqa nr: [{i}/{len(args.images)}] {path}", file=sys.stderr)
        rec, n_failed = _score_file(path, methods)
        failed += n_failed
        if rec is not None:
            results.append(rec)
    if args.format == "json":
        print(json.dumps({"methods": methods, "lower_is_better": True, "results": results}, indent=2))
    else:
        print("\t".join(["image"] + methods))
        for r in results:
            print("\t".join([r["image"]] + ["nan" if r["scores"][m] is None else f"{r['scores'][m]:.4f}"
                                            for m in methods]))
    return 1 if failed else 0
