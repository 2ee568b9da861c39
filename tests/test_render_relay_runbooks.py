"""Relay runbooks: valid PowerShell for their shell, Windows encoding, deterministic, golden.

Regenerate the golden files with ``MIGRATOR_REGEN_GOLDEN=1 pytest tests/test_render_relay_runbooks.py``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from powershell_check import check_script, unknown_commands
from relay_sample import sample_inventory, sample_plan

from migrator.model import RelayMethod
from migrator.plan.relay_steps import relay_rollback_steps, relay_steps
from migrator.render.runbooks import RunbookContext, write_runbooks

GOLDEN = Path(__file__).parent / "golden" / "relay"
CONTEXT = RunbookContext(
    organisation="Fabrikam", plan_date="2026-01-05", domain_controller="dc01.fabrikam.test"
)
# Commands the relay runbooks call that cmdlets.json does not document (all PowerShell 2.0 built-ins).
EXPECTED_UNDOCUMENTED = {
    "ConvertFrom-Csv",
    "Get-ChildItem",
    "New-Object",
    "Out-Null",
    "Sort-Object",
}


def _render(out: Path) -> dict[str, bytes]:
    inv = sample_inventory()
    plan = sample_plan(inv)
    paths = write_runbooks(relay_steps(inv, plan) + relay_rollback_steps(inv, plan), out, CONTEXT)
    return {p.name: p.read_bytes() for p in paths}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return _render(tmp_path_factory.mktemp("relay"))


def _is_2010(name: str) -> bool:
    return name.startswith("EX10-")


def test_expected_runbooks(rendered: dict[str, bytes]) -> None:
    assert sorted(rendered) == [
        "EX10-01-decommission.ps1",
        "EX10-01-rollback.ps1",
        "EX16-01-rollback.ps1",
        "EX16-01.ps1",
        "EX16-02-rollback.ps1",
        "EX16-02.ps1",
    ]


def test_every_runbook_passes_the_validator(rendered: dict[str, bytes]) -> None:
    for name, data in rendered.items():
        text = data.decode("utf-8-sig")
        assert check_script(text, ps2=_is_2010(name)) == [], name
        assert set(unknown_commands(text)) <= EXPECTED_UNDOCUMENTED, name


def test_windows_encoding(rendered: dict[str, bytes]) -> None:
    for name, data in rendered.items():
        assert data.startswith(b"\xef\xbb\xbf"), name
        body = data[3:]
        assert b"\r\n" in body
        assert b"\n" not in body.replace(b"\r\n", b""), f"{name} has a bare LF"
        assert b"\r" not in body.replace(b"\r\n", b""), f"{name} has a bare CR"


def test_two_renders_are_byte_identical(rendered: dict[str, bytes], tmp_path: Path) -> None:
    assert _render(tmp_path) == rendered


def test_names_with_quotes_are_quoted(rendered: dict[str, bytes]) -> None:
    text = rendered["EX16-01.ps1"].decode("utf-8-sig")
    # U+2019 and ' are both doubled inside single-quoted literals.
    assert "-Name 'Relay Scanner\u2019\u2019s ''Relay'''" in text


def test_decommission_gates(rendered: dict[str, bytes]) -> None:
    text = rendered["EX10-01-decommission.ps1"].decode("utf-8-sig")
    assert "[switch]$ConfirmObserved" in text
    assert "[int]$ObservationDays = 14" in text
    assert (
        text.index("Test-RunStep 'relay.observe.EX10-01'")
        < text.index("Test-RunStep 'relay.disable-old.EX10-01.relay-apps'")
        < text.index("Test-RunStep 'relay.remove-old.EX10-01.relay-apps'")
    )
    assert "if (-not $ConfirmObserved)" in text
    assert "-TransportRole" not in text


def test_rollback_removes_only_marked_connectors(rendered: dict[str, bytes]) -> None:
    text = rendered["EX16-01-rollback.ps1"].decode("utf-8-sig")
    assert text.count("Remove-ReceiveConnector -Identity") == 2
    assert text.count("Remove-ADPermission -Identity") == 1
    assert "-ne 'Created by migrator from EX10-01\\Relay Apps'" in text
    assert "Get-ReceiveConnector -Server 'EX16-01'" in text


@pytest.mark.parametrize(
    "name",
    [
        "EX10-01-decommission.ps1",
        "EX10-01-rollback.ps1",
        "EX16-01-rollback.ps1",
        "EX16-01.ps1",
        "EX16-02-rollback.ps1",
        "EX16-02.ps1",
    ],
)
def test_golden(rendered: dict[str, bytes], name: str) -> None:
    golden = GOLDEN / name
    if os.environ.get("MIGRATOR_REGEN_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(rendered[name])
    assert golden.exists(), f"{golden} is missing: run with MIGRATOR_REGEN_GOLDEN=1"
    assert rendered[name] == golden.read_bytes(), f"{name} differs from its golden file"


NAMES = st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip() != "")


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(NAMES, NAMES)
def test_any_connector_name_gives_valid_runbooks(
    tmp_path: Path, old_name: str, new_name: str
) -> None:
    inv = sample_inventory()
    plan = sample_plan(inv)
    apps = dataclasses.replace(inv.receive_connectors[0], name=old_name)
    inv = dataclasses.replace(inv, receive_connectors=(apps,))
    connectors = tuple(
        dataclasses.replace(pc, name=new_name, source_identity=apps.identity)
        for pc in plan.connectors
        if pc.method is RelayMethod.ANONYMOUS
    )
    plan = dataclasses.replace(plan, connectors=connectors)
    out = tmp_path / "x"
    steps = relay_steps(inv, plan) + relay_rollback_steps(inv, plan)
    for path in write_runbooks(steps, out, CONTEXT):
        text = path.read_text(encoding="utf-8-sig")
        assert check_script(text, ps2=_is_2010(path.name)) == [], (path.name, new_name)
    shutil.rmtree(out)
