"""The package's shape (issue 19): stages that import only earlier stages, no import cycle, and
no module over 450 lines.

Every import counts: at the top, inside functions, and under ``TYPE_CHECKING``. The stages, in
the order of the data flow, are :data:`STAGES`; a module may import its own stage and earlier
ones. ``tunestats/__init__.py`` (the public API) comes after ``run``: the consumers (batch,
Beam, the emulator, the command line) may use it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "tunestats"

STAGES = (
    "io",
    "formats",
    "media",
    "tokenizers",
    "config",
    "counting",
    "job",
    "present",
    "run",
    "",  # tunestats/__init__.py: the public API (compute, Options, Stats ...)
    "batch",
    "beam",
    "emulator",
    "cli",
    "__main__",
)
MAX_LINES = 450


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> set[str]:
    """The tunestats modules that module ``name`` imports, anywhere in it."""
    tree = ast.parse(MODULES[name].read_text("utf-8"))
    package = name if _is_package(name) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("tunestats"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("tunestats"):
                continue
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _stage(name: str) -> int:
    parts = name.split(".")
    return STAGES.index(parts[1] if len(parts) > 1 else "")


def test_no_module_imports_a_later_stage():
    later = [
        f"{name} imports {other} ({STAGES[_stage(other)]} comes after {STAGES[_stage(name)]})"
        for name, imported in GRAPH.items()
        for other in sorted(imported)
        if _stage(other) > _stage(name)
    ]
    assert later == []


def test_no_import_cycle():
    # Tarjan's strongly connected components: any with two or more modules is a cycle. A
    # package that imports its own modules (to re-export them) is not one: the edge from a
    # module to its own package's __init__ is left out when the package imports that module.
    def edges(name: str) -> set[str]:
        own = name.rpartition(".")[0]
        return {o for o in GRAPH[name] if not (o == own and name in GRAPH[o])}

    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in MODULES:
        if name not in index:
            visit(name)
    assert cycles == []


def test_every_stage_package_says_what_it_takes_and_hands_on():
    for stage in STAGES:
        init = ROOT / stage / "__init__.py"
        if not init.exists():
            continue
        doc = ast.get_docstring(ast.parse(init.read_text("utf-8"))) or ""
        assert len(doc) > 80 and "TODO" not in doc, f"{stage}/__init__.py needs its docstring"


def test_no_module_over_the_limit():
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text("utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_guards_see_what_they_guard():
    # A later-stage import inside a function would be caught: the graph holds function-level
    # imports (present.view imports present.html only inside write_page).
    assert "tunestats.present.html" in GRAPH["tunestats.present.view"]
    assert set(STAGES) >= {n.split(".")[1] for n in MODULES if n.count(".")}
