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


def _add_unavailable(sub, name: str, error: ImportError) -> None:
    """Register ``name`` as a subcommand whose module failed to import: any call prints the import error and
    exits 1 (rather than argparse's "invalid choice", which hides the cause)."""
    p = sub.add_parser(name, help=f"(unavailable: {error})", add_help=False, prefix_chars="\0")
    p.add_argument("args", nargs="*")

    def run(args) -> int:
        print(f"veiqa {name}: unavailable, its module failed to import: {type(error).__name__}: {error}",
              file=sys.stderr)
        return 1

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
    except ImportError as e:  # a broken install: the subcommand stays, and says why it cannot run
        _add_unavailable(sub, "score", e)
    else:
        score_cli.add_parser(sub)
    from .nr import cli as nr_cli

    nr_cli.add_parser(sub)
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
