"""The package's layers, read from its source: which packages may import which, and no import
cycles between modules (module-level imports; a module importing its own parent package is
how Python packages work, not a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"
#: The numerical core: it knows nothing of YAML, run folders or the terminal.
CORE = ("_numba", "integrate", "optimize", "optim", "interpolate", "models", "data")
#: ``targets`` (choosing cpu, parallel or cuda) serves both: the APIs take ``target=``.
SHELL = ("cli", "config", "runs", "sweeps", "sweep", "experiments")
KERNEL_FAMILIES = ("integrate", "optimize", "optim")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """The workbench modules ``path`` imports (``from x import y`` counts as x and x.y)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # imports under `if TYPE_CHECKING:` and the like still count
        nodes = [n for stmt in tree.body for n in ast.walk(stmt) if not _in_function(stmt)]
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return {m for m in found if m == "workbench" or m.startswith("workbench.")}


def _in_function(stmt) -> bool:
    return isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize("family", KERNEL_FAMILIES)
def test_the_kernel_families_import_nothing_from_one_another(family):
    others = {f"workbench.{f}" for f in KERNEL_FAMILIES if f != family}
    for module, path in MODULES.items():
        if _package_of(module) != family:
            continue
        bad = {
            m for m in _imports(path, False) if any(m == o or m.startswith(o + ".") for o in others)
        }
        assert not bad, f"{module} imports {sorted(bad)}"


def test_the_core_imports_nothing_of_the_shell():
    shell = {f"workbench.{s}" for s in SHELL}
    for module, path in MODULES.items():
        if _package_of(module) not in CORE:
            continue
        bad = {
            m for m in _imports(path, False) if any(m == s or m.startswith(s + ".") for s in shell)
        }
        assert not bad, f"{module} imports {sorted(bad)}"


def test_no_import_cycles_between_modules():
    graph = {}
    for module, path in MODULES.items():
        edges = set()
        for m in _imports(path, top_level_only=True):
            while m not in MODULES and "." in m:  # `from pkg import name`: the module pkg
                m = m.rsplit(".", 1)[0]
            if m in MODULES and m != module and not module.startswith(m + "."):
                edges.add(m)
        graph[module] = edges
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
