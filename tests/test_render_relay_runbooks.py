"""Relay runbooks: valid PowerShell for their shell, Windows encoding, deterministic, golden.

Regenerate the golden files with ``MIGRATOR_REGEN_GOLDEN=1 pytest tests/test_render_relay_runbooks.py``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
from pathlib import Path

import pytest
from golden_files import check_golden
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from powershell_check import (
    check_helper,
    check_script,
    function_definitions,
    helper_calls,
    unknown_commands,
)
from relay_sample import sample_inventory, sample_plan

from migrator.model import RelayMethod
from migrator.plan.relay_steps import relay_rollback_steps, relay_steps
from migrator.plan.steps import Owner, Phase, RunsIn, Step
from migrator.render.runbooks import (
    _FRAME_CALLS,
    HELPER_NAME,
    RunbookContext,
    _calls_in,
    helper,
    helper_functions,
    helper_path,
    write_runbooks,
)

GOLDEN = Path(__file__).parent / "golden" / "relay"
CONTEXT = RunbookContext(
    organisation="Fabrikam", plan_date="2026-01-05", domain_controller="dc01.fabrikam.test"
)
# Commands the relay runbooks call that cmdlets.json does not document (all PowerShell 2.0 built-ins;
# Get-CimInstance, Get-WmiObject: the move waves' log volume check, Assert-LogVolumeRoom).
EXPECTED_UNDOCUMENTED = {
    "ConvertFrom-Csv",
    "Get-ChildItem",
    "Get-CimInstance",
    "Get-WmiObject",
    "New-Object",
    "Out-Null",
    "Read-Host",
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
        "EX10-01-after-soak.ps1",
        "EX10-01-decommission.ps1",
        "EX10-01-rollback.ps1",
        "EX16-01-rollback.ps1",
        "EX16-01.ps1",
        "EX16-02-rollback.ps1",
        "EX16-02.ps1",
        "smtp-fabrikam-test-rollback.ps1",
        "smtp-fabrikam-test.ps1",
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
    assert "Name = 'Relay Scanner\u2019\u2019s ''Relay'''" in text


def test_decommission_gates(rendered: dict[str, bytes]) -> None:
    text = rendered["EX10-01-decommission.ps1"].decode("utf-8-sig")
    assert "[int]$ObservationDays = 14" in text
    assert text.index("Test-RunStep -Id 'relay.observe.EX10-01'") < text.index(
        "Test-RunStep -Id 'relay.disable-old.EX10-01.relay-apps'"
    )
    # The soak check and the removal are in their own runbook, run once the soak is over.
    assert "relay.soak." not in text and "relay.remove-old." not in text
    after = rendered["EX10-01-after-soak.ps1"].decode("utf-8-sig")
    assert "[switch]$ConfirmObserved" in after
    assert after.index("Test-RunStep -Id 'relay.soak.EX10-01'") < after.index(
        "Test-RunStep -Id 'relay.remove-old.EX10-01.relay-apps'"
    )
    # The helper refuses to remove without the switch; the runbook passes it through.
    assert "Remove-RelayConnector @step -ConfirmObserved:$ConfirmObserved" in after
    assert "RequireDisabled = $true" in after
    assert "SoakDays = 33" in after
    assert "TransportRole" not in after + text


def _body(name: str) -> str:
    text = helper().data.decode("utf-8-sig")
    fn = function_definitions(text)[name.lower()]
    return fn.node.text.decode("utf-8") if fn.node.text is not None else ""


def test_soak_is_counted_from_the_disable() -> None:
    """Neither the soak check nor the removal passes while a connector was disabled less than the soak ago.

    The disable time is the connector's WhenChangedUTC; the check reads it before any log, and reads the
    logs only from the earliest disable on.
    """
    start = _body("Get-SoakStart")
    assert "[datetime]$Connector.WhenChangedUTC" in start
    assert "$ends = $disabled.AddDays($SoakDays)" in start
    assert "if ((Get-Date) -lt $ends) {" in start and "throw (" in start
    check = _body("Assert-NoRefusal")
    assert check.index("Get-SoakStart -Connector $connector") < check.index("Get-ChildItem")
    assert "$since = (Get-Date).AddDays(-$SoakDays)" not in check
    assert "[datetime]$_.DateTime -ge $since" in check
    remove = _body("Remove-RelayConnector")
    assert remove.index("Get-SoakStart -Connector $found[0]") < remove.index(
        "$PSCmdlet.ShouldProcess"
    )


def test_an_internal_only_connector_is_removed_only_after_the_relay_connectors() -> None:
    """Rollback (review B2): with -GoneFirst the helper refuses while one of those connectors is there."""
    remove = _body("Remove-RelayConnector")
    assert "[string[]]$GoneFirst = @()" in remove
    guard = remove.index("foreach ($first in $GoneFirst) {")
    assert guard < remove.index("$PSCmdlet.ShouldProcess")
    assert "Find-ReceiveConnector -Server $Server -Name $first" in remove[guard:]


def test_rollback_removes_only_marked_connectors(rendered: dict[str, bytes]) -> None:
    text = rendered["EX16-01-rollback.ps1"].decode("utf-8-sig")
    # Undo-RelayConnector: Remove-RelayConnector once the clients are back (review 4, R2)
    assert text.count("Undo-RelayConnector @step") == 2
    assert text.count("Revoke-RelayPermission @step") == 1
    # Each removal names the Comment marker the helper requires before it removes anything.
    assert text.count("Comment = 'Created by migrator from EX10-01\\Relay Apps'") == 2
    assert "RequireDisabled" not in text


@pytest.mark.parametrize(
    "name",
    [
        "EX10-01-after-soak.ps1",
        "EX10-01-decommission.ps1",
        "EX10-01-rollback.ps1",
        "EX16-01-rollback.ps1",
        "EX16-01.ps1",
        "EX16-02-rollback.ps1",
        "EX16-02.ps1",
    ],
)
def test_golden(rendered: dict[str, bytes], name: str) -> None:
    check_golden(GOLDEN / name, rendered[name])


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


# --------------------------------------------------------------------------- the helper file


def _write(out: Path) -> list[Path]:
    inv = sample_inventory()
    plan = sample_plan(inv)
    return write_runbooks(relay_steps(inv, plan) + relay_rollback_steps(inv, plan), out, CONTEXT)


def test_helper_is_written_once_beside_the_runbooks(tmp_path: Path) -> None:
    """One helper in the runbooks' folder: every function they call, with what those call, and nothing else."""
    paths = _write(tmp_path)
    written = tmp_path / "runbooks" / "20-relay" / HELPER_NAME
    assert written not in paths
    assert sorted(p.name for p in (tmp_path / "runbooks").rglob(HELPER_NAME)) == [HELPER_NAME]
    data = written.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\n" not in data.replace(b"\r\n", b"")
    assert re.search(rb"^# Version: " + re.escape(helper().version.encode()) + rb"\r$", data, re.M)
    text = data.decode("utf-8-sig")
    defs = function_definitions(text)
    called: set[str] = set()
    ps2: set[str] = set()
    for p in paths:
        calls = helper_calls(p.read_bytes().decode("utf-8-sig"))
        called |= calls
        ps2 |= calls if _is_2010(p.name) else set()
    assert called <= set(defs)
    assert (
        "set-relayconnector" in defs and "set-batchuser" not in defs and "new-movewave" not in defs
    )
    full = function_definitions(helper().data.decode("utf-8-sig"))
    for name, f in defs.items():
        assert f.node.text == full[name].node.text, name
    assert check_helper(text, ps2_functions=ps2) == []


def test_every_runbook_checks_version_and_hash_before_dot_sourcing(
    tmp_path: Path,
) -> None:
    paths = _write(tmp_path)
    data_of_helper = (tmp_path / "runbooks" / "20-relay" / HELPER_NAME).read_bytes()
    sha256 = hashlib.sha256(data_of_helper).hexdigest().upper()
    for path in paths:
        name = path.name
        text = path.read_bytes().decode("utf-8-sig")
        version = text.index(f"if ($helperVersion -ne '{helper().version}')")
        digest = text.index(f"if ($helperHash -ne '{sha256}')")
        dot = text.index("\r\n. $helper\r\n")
        first = text.index("Test-RunStep")
        assert version < digest < dot < first, name
        # .NET's SHA256 class (PowerShell 2.0), never Get-FileHash (4.0+); dot-sourced, never imported.
        assert "[System.Security.Cryptography.SHA256]::Create().ComputeHash($helperBytes)" in text
        assert "Get-FileHash" not in text and "Import-Module" not in text
        assert "-ChildPath 'Migrator.Runbook.ps1'" in text, name


def test_helper_path_is_relative_to_each_runbook() -> None:
    """Each folder has its own helper: a runbook dot-sources the one beside it."""
    assert helper_path("runbooks/20-relay/EX16-01.ps1") == "Migrator.Runbook.ps1"
    assert helper_path("runbooks/x.ps1") == "Migrator.Runbook.ps1"


def test_helper_passes_the_validator_with_2010_functions_on_powershell_2(
    rendered: dict[str, bytes],
) -> None:
    text = helper().data.decode("utf-8-sig")
    ps2 = set()
    for name, data in rendered.items():
        if _is_2010(name):
            ps2 |= helper_calls(data.decode("utf-8-sig"))
    assert {"set-connectorenabled", "remove-relayconnector", "assert-relayunused"} <= ps2
    assert check_helper(text, ps2_functions=ps2) == []
    assert set(unknown_commands(text)) <= EXPECTED_UNDOCUMENTED


def test_every_changing_helper_function_supports_should_process() -> None:
    """-WhatIf reaches a change only through ShouldProcess in an advanced function that declares it."""
    text = helper().data.decode("utf-8-sig")
    defs = function_definitions(text)
    changing = {
        name
        for name, f in defs.items()
        if re.search(r"\$PSCmdlet\.ShouldProcess\(", text[f.node.start_byte : f.node.end_byte])
    }
    assert changing >= {
        "set-relayconnector",
        "grant-relaypermission",
        "revoke-relaypermission",
        "remove-relayconnector",
        "set-connectorenabled",
    }
    assert all(defs[n].supports_should_process for n in changing)


def _lines_of(text: str, start: str, end: str) -> int:
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(start))
    last = next(i for i in range(first, len(lines)) if lines[i] == end)
    return last - first + 1


def test_preamble_and_relay_create_step_are_short(rendered: dict[str, bytes]) -> None:
    for name, data in rendered.items():
        text = data.decode("utf-8-sig")
        # From the line after param(...) to `try {` inclusive.
        assert _lines_of(text, "Set-StrictMode", "try {") <= 15, name
    text = rendered["EX16-01.ps1"].decode("utf-8-sig")
    for marker in re.findall(r"    # region STEP relay\.create\.\S+", text):
        assert _lines_of(text, marker, "    }") <= 20, marker


def test_every_helper_function_is_called_by_a_step_template_or_another_function() -> None:
    """No dead code in what an admin has to review."""
    text = helper().data.decode("utf-8-sig")
    defs = function_definitions(text)
    templates = Path(__file__).resolve().parent.parent / "templates" / "powershell"
    callers = "\n".join(p.read_text("utf-8") for p in templates.rglob("*.j2"))
    raw = text.encode("utf-8")
    for f in defs.values():
        others = (raw[: f.node.start_byte] + raw[f.node.end_byte :]).decode("utf-8")
        pattern = re.compile(r"(?<![\w-])" + re.escape(f.name) + r"(?![\w-])", re.I)
        assert pattern.search(callers) or pattern.search(others), f"{f.name} is never called"


def test_the_frame_templates_call_only_the_helper_functions_declared_for_them() -> None:
    """A runbook's helper holds _FRAME_CALLS and the functions its step bodies write (issue 18): a call
    added to the frame (runbook.ps1.j2, steps.ps1.j2) must be declared there, or its helper would miss it."""
    templates = Path(__file__).resolve().parent.parent / "templates" / "powershell"
    found: set[str] = set()
    for name in ("runbook.ps1.j2", "steps.ps1.j2"):
        text = re.sub(r"\{#.*?#\}", "", (templates / name).read_text("utf-8"), flags=re.S)
        found |= _calls_in(text, helper_functions())
    assert found == set(_FRAME_CALLS)


def test_a_function_only_named_in_a_comment_or_instruction_is_not_in_the_helper(
    tmp_path: Path,
) -> None:
    """Only what the step bodies write calls a function: a title, an instruction or a comment naming one
    does not put it in the folder's helper (issue 18); a manual step's stop does."""
    step = Step(
        id="relay.note.x",
        phase=Phase.RELAY,
        title="Run Set-RelayConnector by hand",
        target="EX16-01",
        owner=Owner.EXCHANGE_ADMIN,
        runs_in=RunsIn.EMS_NEW,
        duration_minutes=5,
        verification="Set-RelayConnector read it back",
        instructions="Call Set-RelayConnector yourself.",
        runbook="runbooks/20-relay/x.ps1",
    )
    write_runbooks([step], tmp_path, RunbookContext("Contoso", "2026-01-01"))
    text = (tmp_path / "runbooks" / "20-relay" / HELPER_NAME).read_text("utf-8-sig")
    assert "function Stop-AtManualStep {" in text and "function Test-RunStep {" in text
    assert "function Set-RelayConnector {" not in text


def test_enabling_a_connector_the_rollback_recreates_works_under_whatif() -> None:
    """Review M4: under -WhatIf the recreate only says what it would do, so the enable after it finds nothing;
    that is reported, not thrown. A real run still requires exactly one connector."""
    enable = _body("Set-ConnectorEnabled")
    whatif = enable.index("if ($WhatIfPreference -and $Enabled -and $found.Count -eq 0) {")
    assert whatif < enable.index("Assert-OneConnector -Identity $identity -Found $found")
    assert "return" in enable[whatif : enable.index("Assert-OneConnector")]


def test_the_front_end_soak_reads_and_requires_only_front_end_connectors() -> None:
    """Review M7: Hub Transport connectors log to the Hub folder the Front End soak does not read."""
    soak = _body("Assert-FrontEndSoakClean")
    assert "Assert-NoRefusal " in soak and " -FrontEndOnly " in soak
    check = _body("Assert-NoRefusal")
    assert "[switch]$FrontEndOnly" in check
    assert "(-not $FrontEndOnly) -or ([string]$_.TransportRole -eq 'FrontendTransport')" in check
    logging = _body("Set-AllConnectorLogging")
    assert "(-not $FrontEndOnly) -or ([string]$_.TransportRole -eq 'FrontendTransport')" in logging


def test_a_mistyped_from_or_only_stops_the_runbook_before_anything_runs(
    rendered: dict[str, bytes],
) -> None:
    """Review m9: -From or -Only naming no step of the runbook ran nothing and ended as if all went well.

    Each runbook hands the helper its step ids; the helper throws before the transcript starts.
    """
    start = _body("Start-Runbook")
    assert "foreach ($id in @(@($From) + @($Only))) {" in start
    assert "-not ($Steps -contains $id)" in start and "throw (" in start
    assert start.index("throw (") < start.index("Start-Transcript")
    for name, data in rendered.items():
        text = data.decode("utf-8-sig")
        ids = re.findall(r"Test-RunStep -Id '((?:[^']|'')*)'", text)
        call = next(line for line in text.splitlines() if line.startswith("Start-Runbook "))
        listed = re.findall(
            r"'((?:[^']|'')*)'", call[call.index("-Steps @(") : call.index(") -From")]
        )
        assert listed == ids, name
