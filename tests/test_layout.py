"""The import rules of DESIGN.md §3: edges → orchestrators → contexts → kernel, and doors only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fermion"
KERNEL = {"settings", "errors", "clock", "ids", "metrics", "logs", "ratelimit"}
EDGES = {"api", "cli", "console", "runtime"}
ORCHESTRATORS = {"pipeline", "privacy"}


def _unit(path: Path) -> str:
    """The top-level unit a file belongs to: a package folder or a top-level module."""
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return [name for name in found if name == "fermion" or name.startswith("fermion.")]


FILES = sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path: Path) -> None:
    unit = _unit(path)
    for module in _imports(path):
        parts = module.split(".")
        if len(parts) < 2 or parts[1] == "__init__":
            continue
        target = parts[1]
        if target == unit:
            continue
        if unit in KERNEL:
            assert target in KERNEL, f"kernel module {unit} imports {module}"
        if unit not in EDGES:
            assert target not in EDGES, f"{unit} is not an edge but imports the edge {module}"
        if unit not in EDGES | ORCHESTRATORS:
            assert target not in ORCHESTRATORS, f"context {unit} imports the orchestrator {module}"
        if target not in KERNEL and len(parts) > 2:
            pytest.fail(f"{path.relative_to(PACKAGE)} imports {module}: use the door `fermion.{target}`")


def test_every_context_door_declares_all() -> None:
    for init in PACKAGE.glob("*/__init__.py"):
        if init.parent.name in {"cli"}:
            continue
        tree = ast.parse(init.read_text())
        names = [
            t.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        ]
        assert "__all__" in names, f"{init.parent.name}/__init__.py must declare __all__"
