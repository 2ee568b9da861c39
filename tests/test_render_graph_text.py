"""DOT and Mermaid text of the plan graph, and ``migrator graph``.

Regenerate the golden files with ``MIGRATOR_REGEN_GOLDEN=1 pytest tests/test_render_graph_text.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_plan_phases import make_inventory
from test_render_plan_json import _golden
from typer.testing import CliRunner

from migrator.cli import app
from migrator.errors import MigratorError
from migrator.inventory import load_inventory
from migrator.pipeline import build_plan
from migrator.render import graph_text
from migrator.render.graph_text import render_dot, render_mermaid, render_png

ROOT = Path(__file__).resolve().parent.parent


def test_dot_has_phase_clusters_and_a_red_critical_path() -> None:
    plan = build_plan(make_inventory())
    dot = render_dot(plan)
    assert dot.startswith('digraph "migration plan" {')
    for phase in ("prepare", "servers", "relay", "hybrid", "mx", "decommission", "onward"):
        assert f'subgraph "cluster_{phase}"' in dot
    path = plan.critical_path
    assert f'"{path[0]}" -> "{path[1]}" [color="#cc0000", penwidth=2];' in dot
    edges = sum(len(s.prerequisites) for s in plan.steps)
    assert dot.count(" -> ") == edges


def test_dot_escapes_quotes() -> None:
    plan = build_plan(make_inventory(organisation='Con"toso\\'))
    assert 'label="Con\\"toso\\\\: migration plan' in render_dot(plan)


def test_mermaid_highlights_the_critical_path() -> None:
    plan = build_plan(make_inventory())
    text = render_mermaid(plan)
    assert text.startswith("flowchart LR\n")
    assert '  subgraph mx["50 mx"]' in text
    assert "classDef critical" in text
    assert text.count("linkStyle ") == len(plan.critical_path) - 1


def test_png_without_graphviz_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph_text.shutil, "which", lambda name: None)
    with pytest.raises(MigratorError, match="apt-get install graphviz"):
        render_png("digraph {}")


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")
def test_png_with_graphviz() -> None:
    assert render_png("digraph { a -> b }").startswith(b"\x89PNG")


def test_contoso_graph_golden() -> None:
    plan = build_plan(load_inventory(ROOT / "inventories" / "contoso"))
    _golden("contoso.graph.dot", render_dot(plan).encode("utf-8"))
    _golden("contoso.graph.mmd", render_mermaid(plan).encode("utf-8"))


def test_cli_graph_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "g.mmd"
    result = CliRunner().invoke(
        app, ["graph", str(ROOT / "inventories" / "contoso"), "--format", "mermaid", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("flowchart LR")


def test_cli_graph_bad_start_date() -> None:
    from migrator.cli.commands_graph import _date

    with pytest.raises(
        MigratorError, match="--start: '2026-13-01' is not a date; expected YYYY-MM-DD"
    ):
        _date("2026-13-01")
