"""Fixtures shared by the test modules.

``contoso_plan`` / ``contoso_output``: contoso planned ONCE per test session (per worker under
``pytest -n``), as the README does it (from the repository, naming ``inventories/contoso``), so
the outputs are the bytes the golden files pin. Many modules only read that folder; planning it
once for all of them instead of once per module or per test saves a contoso plan each.

The folder is READ-ONLY for the tests that use it: a test that changes a plan folder (re-plans,
marks the workbook, kills a run) plans into its own ``tmp_path`` or copies this one first. The
fixture checks at the end of the session that no file in it changed, so a test that writes into
it by mistake fails instead of silently changing what the others read.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from migrator.pipeline import PlanOutput, plan_folder

ROOT = Path(__file__).resolve().parent.parent


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def _contoso_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, PlanOutput]]:
    out = tmp_path_factory.mktemp("contoso") / "plan"
    here = Path.cwd()
    os.chdir(ROOT)
    try:
        result = plan_folder(Path("inventories/contoso"), out)
    finally:
        os.chdir(here)
    assert result.plan is not None, [str(f.message) for f in result.analysis.errors]
    before = _digest(out)
    yield out, result
    assert _digest(out) == before, "a test changed the shared contoso plan folder (read-only)"


@pytest.fixture(scope="session")
def contoso_plan(_contoso_run: tuple[Path, PlanOutput]) -> Path:
    """The shared contoso plan folder (read-only; see the module docstring)."""
    return _contoso_run[0]


@pytest.fixture(scope="session")
def contoso_output(_contoso_run: tuple[Path, PlanOutput]) -> PlanOutput:
    """What ``plan_folder`` returned for :func:`contoso_plan` (its plan and analysis)."""
    return _contoso_run[1]
