"""The house as the README draws it: no import cycle between the project's modules, a pure core
that imports no database, HTTP or outside-service library, and routes only under billing/http.

Read from the source with `ast` (every import, also those inside functions), so nothing is run."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("billing", "invoices", "nav_reporting", "proration", "schemas")
# The pure core: rules and renderers of frozen records (README, "Where things live").
PURE = ("billing.domain", "proration", "billing.money", "invoices.vat", "invoices.documents",
        "invoices.taxnumbers", "nav_reporting.xml")
# What the pure core may also lean on: the XSDs and the request models (static files, pydantic).
PURE_SUPPORT = PURE + ("nav_reporting.schemas", "schemas")
ADAPTER_LIBRARIES = ("sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn", "httpx", "requests",
                     "stripe", "zeep", "psycopg", "smtplib", "reportlab")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    found = {"service": ROOT / "service.py"}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The project modules (and outside top-level libraries) a file imports."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in known else base)
    return targets


def _graph() -> dict[str, set[str]]:
    sources = _sources()
    known = set(sources)
    graph = {}
    for name, path in sources.items():
        edges = set()
        for target in _imports(path, name, known):
            # `import billing.cycle.run` names the module; a package's face counts as its module
            while target and target not in known and "." in target:
                target = target.rpartition(".")[0]
            if target in known and target != name:
                edges.add(target)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read():
    graph = _graph()
    assert len(graph) > 60
    assert "billing.cycle.run" in graph["billing.http.clock"]
    assert "billing.http.app" in graph["service"]


def test_no_import_cycle():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _transitive(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_pure_core_imports_no_adapter():
    sources = _sources()
    known = set(sources)
    graph = _graph()
    pure = [name for name in sources if any(name == p or name.startswith(p + ".") for p in PURE)]
    assert len(pure) >= 8
    for name in pure:
        reached = {name} | _transitive(graph, name)
        beyond = sorted(r for r in reached if not any(r == p or r.startswith(p + ".") for p in PURE_SUPPORT))
        assert beyond == [], f"{name} reaches {beyond}"
        libraries = {t.split(".")[0] for r in reached for t in _imports(sources[r], r, known)}
        assert not libraries & set(ADAPTER_LIBRARIES), f"{name} uses {sorted(libraries & set(ADAPTER_LIBRARIES))}"


def test_routes_live_only_in_billing_http():
    outside = []
    for name, path in _sources().items():
        text = path.read_text()
        if not name.startswith("billing.http") and any(f"@app.{verb}(" in text for verb in
                                                       ("get", "post", "put", "patch", "delete")):
            outside.append(name)
    assert outside == []
