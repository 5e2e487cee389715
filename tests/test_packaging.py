"""`pip install ".[test]"` then `pytest` collects and runs: the test extra lists every package the tests import."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib")  # Python >= 3.11


def imported_top_level_modules(paths) -> set[str]:
    """Every module imported anywhere in these files (at the top or inside a function), by its first name."""
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def test_the_test_extra_installs_everything_the_tests_import():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {requirement_name(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    declared.add(project["name"])
    files = sorted((ROOT / "tests").glob("*.py")) + [ROOT / "conftest.py"]
    local = {p.stem for p in (ROOT / "tests").glob("*.py")}
    third_party = imported_top_level_modules(files) - set(sys.stdlib_module_names) - local - {"dlbook"}
    distributions = importlib.metadata.packages_distributions()
    missing = {}
    for module in sorted(third_party):
        names = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not names & declared:
            missing[module] = sorted(names)
    assert not missing, f"imported by the tests but not installed by pip install '.[test]': {missing}"


def test_the_test_extra_is_declared_with_lower_bounds():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["optional-dependencies"]["test"]:
        assert ">=" in requirement, requirement


def test_the_installed_toolchain_is_the_pinned_one():
    """make and CI install with -c constraints.txt: every pinned package is installed at its pin."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name] = version
    assert {"jupyter-book", "myst-nb", "Sphinx", "sphinx-exercise"} <= pins.keys()
    wrong = {name: (version, importlib.metadata.version(name)) for name, version in pins.items()
             if importlib.metadata.version(name) != version}
    assert not wrong, f"installed versions differ from constraints.txt (pinned, installed): {wrong}"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "-c constraints.txt" in makefile
