"""The package's house: every module on a floor, imports only down or sideways, no import circle.

Read from the source (``import`` statements at the top of a module and inside its
functions alike), so a lazy import that hides a circle from Python still counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "dlbook"

#: Each module's floor. A module imports modules on its own floor or below, never above.
FLOORS = {
    # ground: argument checks and plain facts every module may need
    "dlbook.validation": 0,
    "dlbook.precision": 0,
    # the runtime: which device, the global random state
    "dlbook.device": 1,
    "dlbook.reproducibility": 1,
    # the concepts the chapters teach (need only the ground floor)
    **{f"dlbook.{m}": 2 for m in (
        "activations", "augment", "autograd", "generalization", "gradients", "layers", "losses",
        "models", "optim", "passes", "regularization", "schedules",
        "data", "data.sources", "data.splits", "data.batches",
    )},
    # the training loop, and the searches that train
    "dlbook.train": 3,
    "dlbook.tuning": 4,
    # what a chapter page calls: its helpers, then statistics and claims
    "dlbook.pages": 5,
    "dlbook.claims": 6,
    # building the book and the command line
    "dlbook.build": 7,
    "dlbook": 8,
    "dlbook.__main__": 9,
}


def module_name(path: Path) -> str:
    parts = ("dlbook", *path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1]) if parts[-1] == "__init__" else ".".join(parts)


def dlbook_imports(path: Path) -> set[str]:
    """The dlbook modules ``path`` imports (``from dlbook import x`` counts as ``dlbook.x`` when x is a module)."""
    modules = set(FLOORS)
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("dlbook")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dlbook") and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names} & modules
            found |= subs or {node.module}
    return found - {module_name(path)}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return {module_name(p): dlbook_imports(p) for p in sorted(SRC.rglob("*.py"))}


def test_every_module_has_a_floor(graph):
    assert set(graph) == set(FLOORS), f"modules without a floor: {set(graph) - set(FLOORS)}; gone: {set(FLOORS) - set(graph)}"


def test_no_module_imports_upward(graph):
    assert not upward_imports(graph), f"imports that run up a floor: {upward_imports(graph)}"


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` as a path ``[a, b, ..., a]``, or ``None`` (depth-first search)."""
    done: set[str] = set()

    def visit(path: list[str]) -> list[str] | None:
        for nxt in sorted(graph.get(path[-1], ())):
            if nxt in path:
                return path[path.index(nxt):] + [nxt]
            if nxt not in done:
                circle = visit(path + [nxt])
                if circle:
                    return circle
        done.add(path[-1])
        return None

    for start in sorted(graph):
        if start not in done:
            circle = visit([start])
            if circle:
                return circle
    return None


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return [(a, b) for a, targets in sorted(graph.items()) for b in sorted(targets) if FLOORS[b] > FLOORS[a]]


def test_there_is_no_import_circle(graph):
    assert find_circle(graph) is None, "import circle: " + " -> ".join(find_circle(graph))


def test_the_checks_see_a_circle_and_an_upward_import():
    """Both rules can fail: a made-up graph with a circle and an upward import is caught."""
    bad = {"dlbook.losses": {"dlbook.train"}, "dlbook.train": {"dlbook.losses"}}
    assert find_circle(bad) == ["dlbook.losses", "dlbook.train", "dlbook.losses"]
    assert upward_imports(bad) == [("dlbook.losses", "dlbook.train")]
    assert find_circle({"dlbook.train": {"dlbook.losses"}, "dlbook.losses": set()}) is None
