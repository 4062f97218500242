"""The house's layering, read from the source: no import circles among the project's modules (an import
inside a function or under TYPE_CHECKING counts: it is an arrow all the same), `points` never imports `web`,
`rules` imports neither, and a domain module never imports the operations layer (points/ops: jobs, dispatch,
backup, demo, …) — operations call the domain, not the other way round. The shared language (the modules at
the top of `points/`) and `points/infra` import no area of the domain."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.pure  # no server, no database: the embedded leg runs it

AREAS = ("ledger", "shop", "people", "reports", "cases", "tasks", "areas")
# At the top of points/ but not the shared language: the operations commands, piccolo's registration, and the
# previous release's job paths (points/jobs.py) — each may reach into the areas.
ENTRY_POINTS = ("points.__main__", "points.jobs", "points.piccolo_app")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    paths = [*ROOT.glob("points/**/*.py"), *ROOT.glob("web/**/*.py"), *ROOT.glob("rules/**/*.py"),
             ROOT / "app.py", ROOT / "worker.py"]
    return {module_name(p): p for p in paths if "piccolo_migrations" not in p.parts}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports, wherever the import stands in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {target for target in targets if target in known and target != name}
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports(name, path, set(modules)) for name, path in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_the_checker_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles(graph):
    assert circles(graph) == []


def test_points_never_imports_web_and_rules_neither(graph):
    wrong = [f"{m} → {t}" for m, targets in graph.items() for t in targets
             if (m.startswith("points") and t.startswith("web"))
             or (m.startswith("rules") and t.startswith(("points", "web")))]
    assert wrong == []


def area_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else "shared"


def test_the_domain_never_imports_operations(graph):
    wrong = [f"{m} → {t}" for m, targets in graph.items() for t in targets
             if m.startswith("points.") and area_of(m) in AREAS and t.startswith("points.ops")]
    assert wrong == []


def test_the_shared_language_and_infrastructure_import_no_area(graph):
    lower = [m for m in graph if m.startswith("points") and m not in ENTRY_POINTS
             and (m == "points" or area_of(m) in ("shared", "infra"))]
    assert len(lower) > 10
    wrong = [f"{m} → {t}" for m in lower for t in graph[m]
             if t.startswith("points.") and area_of(t) in (*AREAS, "ops")]
    assert wrong == []


def test_the_areas_are_packages():
    """Area modules live in their package; the top of points/ holds the shared language and entry points."""
    top = {p.stem for p in (ROOT / "points").glob("*.py")}
    assert top <= {"__init__", "__main__", "jobs", "piccolo_app", "vocabulary", "errors", "clock", "scope",
                   "idempotency", "tables", "audit", "privacy", "wording"}, sorted(top)
    for area in (*AREAS, "ops", "infra"):
        assert (ROOT / "points" / area / "__init__.py").exists()


# What reading the calendar looks like in a test module: the clock read, local days and months, the pinned
# instant, the task helpers (times around now).
READS_CALENDAR = re.compile(r"clock\.now\(|local_date\(|month_of\(|JIFEN_TEST_CLOCK|\btaskwork\b")


def test_every_module_that_reads_the_calendar_is_marked():
    """`./dev test` runs the `calendar` tests again with the clock pinned; a module that reads the clock is
    marked `calendar`, or `not_calendar` with the reason its outcome does not depend on the day: none is
    forgotten."""
    unmarked = [p.name for p in sorted((ROOT / "tests").glob("test_*.py")) if p.name != "test_structure.py"
                and READS_CALENDAR.search(text := p.read_text(encoding="utf-8"))
                and not re.search(r"pytest\.mark\.(calendar|not_calendar  # \w)", text)]
    assert unmarked == []
