"""The floor plan of chalicelib (its picture in words: chalicelib/__init__.py), checked on the import
graph that ``ast`` reads from the source: imports inside functions included, and ``lazy("...")``
names too (the routes and handlers import their services through chalicelib.lazy).

A module may import its own package and any lower floor, never a higher one nor a sibling package
on its floor; there is no import cycle between modules; the pure floors (domain, engines) import no
AWS, HTTP or web framework; and no module is over 400 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "chalicelib"

# The floors, lowest first. The key is a module's package under chalicelib (or the top-level
# module's own name); a module may import a strictly lower floor, or its own package.
FLOORS: dict[str, int] = {
    "errors": 0, "lazy": 0, "web": 0,  # leaves: the error types, lazy imports, the dashboard's files
    "domain": 1,  # what things are: pure rules, money, records, plans, messages
    "engines": 2,  # numbers: forecasts, spikes, insights (numpy)
    "config": 3,  # settings: pure reads of the environment
    "aws": 4, "structured_log": 4,  # AWS clients, logging
    "store": 5, "adapters": 5, "providers": 5,  # tables; outside services we send to; provider APIs
    "services": 6,  # use cases
    "api": 7,  # HTTP: routes, validation, error mapping
    "handlers": 8, "tools": 8,  # Lambda handler bodies; repair commands
}
PURE = ("domain", "engines")
IMPURE_PACKAGES = ("boto3", "botocore", "pynamodb", "httpx", "chalice", "stripe", "aws_encryption_sdk")
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path, module: str) -> list[str]:
    """Every name the module imports: statements anywhere (functions too) and ``lazy("...")``."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names += [base] + [f"{base}.{a.name}" for a in node.names]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "lazy"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names.append(node.args[0].value)
    return names


def graph() -> dict[str, set[str]]:
    """chalicelib module -> the chalicelib modules it imports (the package itself not counted)."""
    files = {module_name(p): p for p in ROOT.rglob("*.py") if "vendor" not in p.parts}
    out: dict[str, set[str]] = {}
    for module, path in files.items():
        deps = set()
        for name in imported_names(path, module):
            while name and name not in files:
                name = name.rpartition(".")[0]
            if name and name not in (module, ROOT.name):
                deps.add(name)
        out[module] = deps
    return out


def external_imports(path: Path) -> set[str]:
    return {n.split(".")[0] for n in imported_names(path, module_name(path)) if not n.startswith(ROOT.name)}


def floor_of(module: str) -> str:
    return module.split(".")[1]


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in g.get(v, ()):
                found.append(sorted(component))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


def test_every_package_has_a_floor():
    assert {floor_of(m) for m in graph() if m != ROOT.name} - set(FLOORS) == set()


def test_imports_point_down_the_floors():
    breaches = []
    for module, deps in graph().items():
        if module == ROOT.name:
            continue
        here = floor_of(module)
        for dep in deps:
            there = floor_of(dep)
            if here not in FLOORS or there not in FLOORS:
                continue  # test_every_package_has_a_floor names it
            if there != here and FLOORS[there] >= FLOORS[here]:
                breaches.append(f"{module} ({here}: {FLOORS[here]}) imports {dep} ({there}: {FLOORS[there]})")
    assert breaches == []


def test_no_import_cycle_in_chalicelib():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}}) == [["a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("floor", PURE)
def test_pure_floors_import_no_aws_http_or_web_framework(floor):
    impure = {str(p.relative_to(ROOT.parent)): sorted(external_imports(p) & set(IMPURE_PACKAGES))
              for p in (ROOT / floor).rglob("*.py")}
    assert {k: v for k, v in impure.items() if v} == {}


def test_the_floor_rules_see_imports_inside_functions_and_lazy_names(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    import boto3\n    from chalicelib.services import sync\n"
                      "svc = lazy('chalicelib.services.alerts')\n")
    names = imported_names(source, "chalicelib.domain.m")
    assert {"boto3", "chalicelib.services.sync", "chalicelib.services.alerts"} <= set(names)


def test_no_module_over_400_lines():
    long = {str(p.relative_to(ROOT.parent)): n for p in ROOT.rglob("*.py")
            if "vendor" not in p.parts and (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
