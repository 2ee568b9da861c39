"""-WhatIf of every runbook lists the same changes as the inline scripts did before the helper file.

``tests/data/runbooks-before-helper/`` is a frozen copy of the contoso and relay
sample runbooks as migrator wrote them before the helper file existed (every
step's code inline). :func:`runbook_changes.changes` reads both shapes: the
ShouldProcess messages (what ``-WhatIf`` prints) and the changing cmdlet calls
inside each gate, with their parameters and values, following calls into the
helper. Both must be the same, step by step. Changes of the plan itself since
the freeze would show here too: then refreeze from the commit before the change
of shape, not from the new output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from golden_files import HELPER_HASH_PLACEHOLDER, normalise
from powershell_check import check_helper, helper_calls
from relay_sample import sample_inventory, sample_plan
from runbook_changes import (
    FROZEN_STEPS,
    Change,
    changes,
    steps_document,
    steps_from_document,
)

from migrator.plan.relay_steps import relay_rollback_steps, relay_steps
from migrator.plan.steps import Step
from migrator.render.runbooks import RunbookContext, helper, write_runbooks

ROOT = Path(__file__).resolve().parent.parent
BEFORE = Path(__file__).parent / "data" / "runbooks-before-helper"


def _render_frozen(name: str, out: Path) -> Path:
    """Render the frozen steps in one call per context (a folder's helper holds what all its runbooks call)."""
    doc = json.loads((BEFORE / name / FROZEN_STEPS).read_text(encoding="utf-8"))
    calls: list[tuple[RunbookContext, list[Step]]] = []
    for context, steps in steps_from_document(doc):
        same = [c for c in calls if c[0] == context]
        if same:
            same[0][1].extend(steps)
        else:
            calls.append((context, list(steps)))
    for context, steps in calls:
        write_runbooks(steps, out, context)
    return out / "runbooks"


@pytest.fixture(scope="module")
def contoso(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """contoso's runbooks rendered now from the steps frozen with the old output."""
    return _render_frozen("contoso", tmp_path_factory.mktemp("contoso"))


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _render_frozen("relay", tmp_path_factory.mktemp("relay")) / "20-relay"


def test_frozen_steps_load_back_whole() -> None:
    """The frozen steps come back as the same steps (the comparison renders exactly what was frozen).

    They were frozen from ``contoso_write_calls`` on the commit before the helper
    and reproduce ``runbooks-before-helper`` byte for byte with that commit's
    renderer. The comparison renders them, not today's plan, so a later planner
    change does not touch it; refreeze only together with the old runbooks.
    """
    for name in ("contoso", "relay"):
        doc = json.loads((BEFORE / name / FROZEN_STEPS).read_text(encoding="utf-8"))
        calls = steps_from_document(doc)
        assert json.loads(json.dumps(steps_document(calls))) == doc
        assert sum(len(steps) for _, steps in calls) > 20


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8-sig")


def _compare(before: Path, now: Path) -> list[str]:
    old_files = sorted(p.relative_to(before).as_posix() for p in before.rglob("*.ps1"))
    assert old_files
    new_files = sorted(
        p.relative_to(now).as_posix()
        for p in now.rglob("*.ps1")
        if p.name != "Migrator.Runbook.ps1"
    )
    assert old_files == new_files
    problems: list[str] = []
    for rel in old_files:
        old = changes(_read(before / rel))
        # Through the helper of the runbook's own folder: what it dot-sources is all it can call.
        new = changes(_read(now / rel), _read((now / rel).parent / "Migrator.Runbook.ps1"))
        if old != new:
            problems.append(_diff(rel, old, new))
    return problems


def _diff(rel: str, old: list[Change], new: list[Change]) -> str:
    gone = [str(c) for c in old if c not in new]
    added = [str(c) for c in new if c not in old]
    return f"{rel}:\n  only before: {gone}\n  only now: {added}"


def test_contoso_runbooks_make_the_same_changes_as_before(contoso: Path) -> None:
    assert _compare(BEFORE / "contoso", contoso) == []


def test_relay_sample_runbooks_make_the_same_changes_as_before(relay: Path) -> None:
    assert _compare(BEFORE / "relay", relay) == []


def test_the_comparison_sees_changes_and_their_values(contoso: Path) -> None:
    """Not vacuous: the frozen scripts hold changes with concrete values, and a different value differs."""
    text = _read(BEFORE / "contoso" / "20-relay" / "EX16-02.ps1")
    found = changes(text)
    creates = [c for c in found if c.what == "New-ReceiveConnector"]
    assert len(creates) == 1
    assert ("remoteipranges", "@(10.2.50.0/24, 10.2.51.20-10.2.51.29, 10.2.52.10)") in creates[
        0
    ].args
    messages = {dict(c.args)["action"] for c in found if c.what == "ShouldProcess"}
    assert "Set Fqdn to EX16-02.contoso.com" in messages
    new = _read(contoso / "20-relay" / "EX16-02.ps1")
    tampered = new.replace("'10.2.52.10')", "'10.2.52.11')")
    assert tampered != new
    assert changes(tampered, helper().data.decode("utf-8-sig")) != found
    # Every kind of change the plan makes is seen somewhere.
    every = {c.what for p in (BEFORE / "contoso").rglob("*.ps1") for c in changes(_read(p))}
    assert every >= {
        "ShouldProcess",
        "New-ReceiveConnector",
        "Set-ReceiveConnector",
        "Add-ADPermission",
        "Remove-ADPermission",
        "Remove-ReceiveConnector",
        "Set-SendConnector",
        "Set-TransportServer",
        "Set-ADUser",
        "Move-ADObject",
        "Update-MgUser",
        "Start-ADSyncSyncCycle",
    }
    assert not any(w.startswith("UNGATED") for w in every)


def test_contoso_runbooks_fit_the_line_budget(contoso: Path) -> None:
    """Issue 16: at most 4,000 lines of runbooks for contoso (its plan as of the issue), preamble at most 15."""
    runbooks = [p for p in contoso.rglob("*.ps1") if p.name != "Migrator.Runbook.ps1"]
    # 50 at issue 16; issue 13 (frozen with it) drops partner.contoso.net's MX runbook and spf.ps1
    # and adds 40-identity/ems.ps1 (remote mailboxes)
    assert len(runbooks) == 49
    total = sum(len(_read(p).splitlines()) for p in runbooks)
    assert total <= 4000, total
    for p in runbooks:
        lines = _read(p).splitlines()
        strict = next(i for i, line in enumerate(lines) if line.startswith("Set-StrictMode"))
        assert lines.index("try {") - strict + 1 <= 15, p


def test_helper_passes_the_validator_for_every_contoso_shell(contoso: Path) -> None:
    """The functions contoso's 2010 runbooks call, and what they call, run on Exchange 2010 and PowerShell 2.0."""
    ps2: set[str] = set()
    for p in contoso.rglob("*.ps1"):
        text = _read(p)
        if "Exchange 2010 Management Shell runs PowerShell 2.0" in text:
            ps2 |= helper_calls(text)
    assert {"set-protocolloglimit", "set-connectorlogging", "assert-relayunused"} <= ps2
    assert check_helper(helper().data.decode("utf-8-sig"), ps2_functions=ps2) == []


def test_runbooks_do_not_change_when_only_the_helper_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Editing a helper function changes one golden file: the runbooks differ only in the pinned hash."""
    from migrator.render import runbooks as rb

    inv = sample_inventory()
    plan = sample_plan(inv)
    steps = relay_steps(inv, plan) + relay_rollback_steps(inv, plan)
    context = RunbookContext("Fabrikam", "2026-01-05", "dc01.fabrikam.test")
    before = {
        p.name: normalise(p.name, p.read_bytes())
        for p in write_runbooks(steps, tmp_path / "a", context)
    }
    edited = rb.Helper(helper().data + b"# edited\r\n", helper().version, "0" * 64)
    monkeypatch.setattr(rb, "helper", lambda: edited)
    monkeypatch.setattr(rb, "folder_helper", lambda names: edited)
    after_paths = write_runbooks(steps, tmp_path / "b", context)
    assert (
        tmp_path / "b" / "runbooks" / "20-relay" / "Migrator.Runbook.ps1"
    ).read_bytes() == edited.data
    after = {
        p.name: p.read_bytes().replace(b"0" * 64, HELPER_HASH_PLACEHOLDER) for p in after_paths
    }
    assert after == before
