"""The documentation names only what exists: every ``--flag`` in README.md and docs/*.md is one that the command it
belongs to accepts (``veiqa`` and its subcommands from their own argparse parsers, the scripts from their
``add_argument`` calls, Snakemake from a short list of its flags), every dotted configuration key (``gradcam.layer``)
is a key of the schema, docs/configuration.md is what scripts/gen_config_docs.py writes from the schema and
docs/tables.md what scripts/gen_tables_docs.py writes from veiqa.contracts."""

import argparse
import ast
import re
import subprocess
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import gen_config_docs  # noqa: E402

from veiqa.cli import build_parser  # noqa: E402
from veiqa.config import load_schema  # noqa: E402

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

#: Snakemake's own flags that the documentation may use (its --help has hundreds; these are checked by hand).
SNAKEMAKE_FLAGS = {"--cores", "--jobs", "--configfile", "--config", "--profile", "--directory", "--report", "--unlock",
                   "--rerun-incomplete", "--dry-run", "--lint", "--executor", "--sdm", "--default-resources",
                   "--set-resources", "--quiet"}
#: Other programs' flags the pages name: sbatch's.
OTHER_FLAGS = {"--gpus"}

FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
FILE_NAME = re.compile(r"\.(py|sh|png|md|csv|parquet|ya?ml|smk|tsv|mat|txt|json|html|pth|zip|rst)$")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
DOTTED = re.compile(r"^([a-z_][a-z0-9_]*)((?:\.[A-Za-z0-9_<>\[\]-]+)+)")


def _parser_flags(p: argparse.ArgumentParser) -> set[str]:
    flags = {s for a in p._actions for s in a.option_strings}
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for sub in a.choices.values():
                flags |= _parser_flags(sub)
    return flags


def _script_flags(path) -> set[str]:
    """The flags a script's argparse parser defines: the string literals of its add_argument calls."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            out |= {a.value for a in node.args if isinstance(a, ast.Constant) and str(a.value).startswith("--")}
    return out


def known_flags() -> dict[str, set[str]]:
    """The flags of each command the pages use, by the command's name as it appears there."""
    flags = {"veiqa": _parser_flags(build_parser()), "snakemake": SNAKEMAKE_FLAGS}
    for s in (REPO / "scripts").glob("*.py"):
        flags[f"scripts/{s.name}"] = _script_flags(s)
    for sh in (REPO / "scripts").rglob("*.sh"):  # the flags a shell script tests for: "--x" or a case pattern --x)
        text = sh.read_text()
        flags[sh.relative_to(REPO).as_posix()] = {f for f in FLAG.findall(text) if f'"{f}"' in text or f"{f})" in text}
    return flags


def snippets(text: str) -> list[str]:
    """Inline code spans and the lines of fenced blocks (where the commands are written)."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            out.append(line.split("  #")[0])
        else:
            out += CODE_SPAN.findall(line)
    return out


def schema_keys() -> set[str]:
    schema = load_schema()
    return {k for k, _ in gen_config_docs.keys(schema, schema.get("definitions", {}))}


def test_flag_check_sees_the_commands():
    f = known_flags()
    assert {"--distortion", "--mapping", "--method", "--measure"} <= f["veiqa"]
    assert "--cores" in f["scripts/bench_pipeline.py"] and "--fetch" in f["scripts/gpu_check.sh"]
    assert {"gradcam.layer", "backbones[].name", "pri.gb.size", "cluster.gpus"} <= schema_keys()


def bad_flags(text: str, flags: dict[str, set[str]]) -> list[str]:
    bad = []
    every = set().union(*flags.values()) | OTHER_FLAGS
    for snip in snippets(text):
        used = FLAG.findall(snip)
        if not used:
            continue
        cmd = next((c for c in flags if c.startswith("scripts/") and c in snip), None)
        if cmd is None and "snakemake" in snip:
            cmd = "snakemake"
        if cmd is None and re.search(r"(^|[\s/])veiqa(\s|$)", snip):
            cmd = "veiqa"
        allowed = flags[cmd] if cmd else every
        bad += [f"{f} (in `{snip.strip()}`)" for f in used if f not in allowed]
    return bad


def bad_keys(text: str, keys: set[str]) -> list[str]:
    tops = {k for k in keys if "." not in k and "[" not in k}
    bad = []
    for snip in snippets(text):
        for tok in re.split(r"[\s,;()]+", snip):
            m = DOTTED.match(tok)
            if FILE_NAME.search(tok) or not m or m.group(1) not in tops or m.group(1) == "datasets":
                continue  # not a config key (a file name, a module), or a dataset entry under a name of one's own
            key = m.group(1) + re.sub(r"\[\d*\]", "[]", m.group(2)).rstrip(".")
            if key not in keys:
                bad.append(f"{key} (in `{snip.strip()}`)")
    return bad


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_name_only_existing_flags_and_keys(page):
    text = page.read_text()
    assert not bad_flags(text, known_flags()), bad_flags(text, known_flags())
    assert not bad_keys(text, schema_keys()), bad_keys(text, schema_keys())


def test_the_checks_catch_a_made_up_flag_and_key():
    flags, keys = known_flags(), schema_keys()
    assert bad_flags("run `veiqa score x.png --distortion wn --colour red`", flags) == [
        "--colour (in `veiqa score x.png --distortion wn --colour red`)"]
    assert bad_flags("```bash\nsnakemake --cores 2 --turbo\n```", flags) == [
        "--turbo (in `snakemake --cores 2 --turbo`)"]
    assert bad_keys("set `gradcam.layers: last` or `cluster.gpus=true`", keys) == [
        "gradcam.layers (in `gradcam.layers: last`)"]
    assert bad_keys("`config.yaml`, `veiqa.io`, `results/x.parquet`", keys) == []


def test_configuration_page_is_generated_from_the_schema():
    page = REPO / "docs" / "configuration.md"
    assert page.read_text() == gen_config_docs.render(load_schema()), "run python scripts/gen_config_docs.py"
    p = subprocess.run([sys.executable, str(REPO / "scripts" / "gen_config_docs.py"), "--check"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_tables_page_is_generated_from_the_contracts():
    from veiqa.contracts import tables_markdown

    assert (REPO / "docs" / "tables.md").read_text() == tables_markdown(), "run python scripts/gen_tables_docs.py"
    p = subprocess.run([sys.executable, str(REPO / "scripts" / "gen_tables_docs.py"), "--check"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
