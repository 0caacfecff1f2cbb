"""The code's layout rules (README "Where code lives"), checked on every module's imports.

- A service package imports ``mesh``, ``formats`` and ``planning``, never another service.
- ``formats`` imports nothing of the project but itself; ``planning`` only ``formats``;
  ``mesh`` only itself; the entry scripts' packages (``puller``, ``supervision``) only
  ``mesh`` and ``formats``.
- ``bench/`` does not import ``tests/``; one test module does not import another.
- No module outside tests is over 500 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

SERVICES = {"snapshot_service", "condition_service", "qplan_service", "forecast_service", "web"}
LIBRARIES = {"mesh", "formats", "planning"}
ENTRY_PACKAGES = {"puller", "supervision"}
PROJECT = (
    SERVICES
    | LIBRARIES
    | ENTRY_PACKAGES
    | {"pull_raw", "run_all", "tests", "bench", "data", "harness"}
)
ALLOWED = {
    **{service: {service, "mesh", "formats", "planning"} for service in SERVICES},
    "formats": {"formats"},
    "planning": {"planning", "formats"},
    "mesh": {"mesh"},
    "harness": {"harness", "mesh"},  # it reaches the services as a mesh client does
    **{package: {package, "mesh", "formats"} for package in ENTRY_PACKAGES},
    "pull_raw": {"puller", "mesh", "formats"},
    "run_all": {"supervision", "mesh", "formats"},
}
MAX_LINES = 500


def _modules(top: str) -> list[Path]:
    path = ROOT / top
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)


def _imported(path: Path) -> set[str]:
    """The top-level project packages a module imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _tops(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names} & PROJECT


def _where(top: str) -> list[Path]:
    name = f"{top}.py" if (ROOT / f"{top}.py").is_file() else top
    return _modules(name) if (ROOT / name).exists() else []


@pytest.mark.parametrize("top", sorted(ALLOWED))
def test_each_package_imports_only_what_it_may(top: str) -> None:
    wrong = {}
    for path in _where(top):
        extra = _tops(_imported(path)) - ALLOWED[top]
        if extra:
            wrong[str(path.relative_to(ROOT))] = sorted(extra)
    assert not wrong, f"imports across the layout rules: {wrong}"


def test_bench_does_not_import_tests() -> None:
    wrong = [str(p.relative_to(ROOT)) for p in _modules("bench") if "tests" in _tops(_imported(p))]
    assert not wrong, f"bench modules importing tests/: {wrong}"


def test_no_test_module_imports_another() -> None:
    wrong = {}
    for path in _modules("tests"):
        others = {
            name
            for name in _imported(path)
            if name.startswith("tests.") and name.split(".")[-1].startswith("test_")
        }
        if others:
            wrong[str(path.relative_to(ROOT))] = sorted(others)
    assert not wrong, f"test modules importing test modules: {wrong}"


def test_modules_can_be_read_in_one_sitting() -> None:
    long = {}
    for top in sorted((SERVICES | LIBRARIES | ENTRY_PACKAGES) | {"pull_raw", "run_all", "bench"}):
        for path in _where(top):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                long[str(path.relative_to(ROOT))] = lines
    assert not long, f"modules over {MAX_LINES} lines: {long}"
