"""Imports run one way: load -> model -> checks -> plan -> tracking -> render (STYLE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "migrator"

FORBIDDEN = {
    "checks": ("migrator.plan", "migrator.tracking", "migrator.render", "migrator.pipeline"),
    "plan": ("migrator.tracking", "migrator.render", "migrator.pipeline"),
    "tracking": ("migrator.render", "migrator.pipeline"),
    "render": ("migrator.pipeline", "migrator.cli"),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_import_against_the_direction(layer: str) -> None:
    wrong = sorted(
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in (PACKAGE / layer).rglob("*.py")
        for name in _imports(path)
        if name.startswith(FORBIDDEN[layer])
    )
    assert wrong == []
