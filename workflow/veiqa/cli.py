"""The ``veiqa`` command: ``veiqa measure`` (full-reference measures of an image pair), ``veiqa score`` (the
no-reference VEI score of images), ``veiqa demo`` (write the demo dataset),
``veiqa weights`` (which network weights are here). The workflow itself runs through
``snakemake``; these are the pieces a person calls by hand."""

from __future__ import annotations

import argparse
import sys


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="write the built-in demo dataset to a folder")
    p.add_argument("out", help="folder to write")

    def run(args) -> int:
        from . import demo

        demo.build(args.out)
        print(f"demo dataset written to {args.out} (scores are proxies: {demo.PROXY})")
        return 0

    p.set_defaults(func=run)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="veiqa", description=__doc__)
    parser.add_argument("--version", action="version", version=f"veiqa {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    from .measures import cli as measure_cli

    measure_cli.add_parser(sub)
    try:
        from . import score_cli
    except ImportError:  # pragma: no cover - only while the package is partially installed
        score_cli = None
    if score_cli is not None:
        score_cli.add_parser(sub)
    _add_demo(sub)
    from . import weights

    weights.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
