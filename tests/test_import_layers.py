"""The package's import graph, read from the source with ``ast`` (every ``import`` counts, those inside functions
too): the core never imports the jobs, the command line or the configuration, and no two modules import each other
round a cycle."""
import ast
from pathlib import Path

from conftest import REPO

PKG = REPO / "workflow" / "veiqa"

#: The core: what a measure, a PRI, a Grad-CAM pass, a network, an NR method, a statistic or a set metric is.
CORE = ("veiqa.measures", "veiqa.pri", "veiqa.gradcam", "veiqa.backbones", "veiqa.nr", "veiqa.stats",
        "veiqa.setmetrics")
#: Jobs, command line and configuration: what drives the core, never what the core reads.
DRIVERS = ("veiqa.cli", "veiqa.score_cli", "veiqa.config", "veiqa.smk", "veiqa.demo", "veiqa.weights",
           "veiqa.pairs", "veiqa.controls", "veiqa.shards", "veiqa.ranking", "veiqa.tables", "veiqa.table6",
           "veiqa.plots", "veiqa.setmetrics.driver", "veiqa.setmetrics.report")
#: Cycles left for their owners to break; remove an entry when its cycle is gone (the test then keeps it gone).
KNOWN_CYCLES: set[frozenset] = set()


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    mods = {module_name(p): p for p in PKG.rglob("*.py")}
    graph = {m: set() for m in mods}
    for m, p in mods.items():
        pkg = m if p.name == "__init__.py" else m.rpartition(".")[0]
        for node in ast.walk(ast.parse(p.read_text(), str(p))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" for a in node.names]
            for t in targets:
                while t and t not in mods:  # `from .x import name`: the module is x (or x.name when a module)
                    t = t.rpartition(".")[0]
                if t and t != m and t.startswith("veiqa"):
                    graph[m].add(t)
    return graph


def is_under(m: str, prefixes) -> bool:
    return any(m == p or m.startswith(p + ".") for p in prefixes)


def test_the_graph_sees_known_edges():
    g = import_graph()
    assert g["veiqa.images"] == {"veiqa.errors"} and "veiqa.images" in g["veiqa.io"]  # top-level imports
    assert "veiqa.controls" in g["veiqa.collect"] and "veiqa.pairs" in g["veiqa.controls"]  # inside functions
    assert "veiqa.measures" in g["veiqa.pairs"]  # `from . import measures as M`
    assert "veiqa.nr.models" in g["veiqa.nr.niqe"] and "veiqa.io" in g["veiqa.nr"]  # `from .x` and `from ..x`


def test_core_never_imports_jobs_cli_or_config():
    g = import_graph()
    bad = sorted((m, t) for m, ts in g.items() if is_under(m, CORE) and not is_under(m, DRIVERS)
                 for t in ts if is_under(t, DRIVERS) and not is_under(t, CORE))
    assert not bad, bad


def strongly_connected(g: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the components of more than one module are the cycles."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            out.append(comp)

    for v in g:
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


def test_strongly_connected_finds_a_cycle_worked_by_hand():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert strongly_connected(g) == [{"a", "b", "c"}]


def test_no_import_cycles():
    found = {frozenset(c) for c in strongly_connected(import_graph())}
    assert not sorted(map(sorted, found - KNOWN_CYCLES))
    assert not sorted(map(sorted, KNOWN_CYCLES - found)), "a known cycle is gone: remove it from KNOWN_CYCLES"
