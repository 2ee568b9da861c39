"""Review 5's N4 and N7 (the lead's part), on the contoso plan built in memory."""

from __future__ import annotations

import functools
from pathlib import Path

from migrator.inventory import load_inventory
from migrator.pipeline import build_plan
from migrator.plan.steps import MigrationPlan

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"


@functools.cache
def _plan() -> MigrationPlan:
    return build_plan(load_inventory(CONTOSO))


def _step(step_id: str):  # type: ignore[no-untyped-def]
    return next(s for s in _plan().steps if s.id == step_id)


def test_the_hybrid_receive_path_changes_no_rule_when_the_internet_smtp_rule_carries_exchange_online() -> (
    None
):
    """Before: it asked the network admin to change 'the rule that delivers Exchange Online's SMTP' on the
    mail-flow night, while relay.nat.fw-lon-smtp-in moves that very rule on a night of its own."""
    step = _step("hybrid.receive-path.EX16-01")
    assert step.title == "confirm the inbound path from Exchange Online (port 25) for EX16-01"
    assert "NAT rule FW-LON-SMTP-IN (203.0.113.25)" in step.instructions
    assert "Do not add or change a rule here" in step.instructions
    assert step.reversible is False
    assert any(s.id == "relay.nat.fw-lon-smtp-in" for s in _plan().steps)


def test_the_nat_rollback_says_it_moves_exchange_online_s_inbound_mail_too(
    contoso_plan: Path,
) -> None:
    """Before: pointing FW-LON-SMTP-IN back at EX10-01 (review 4, R2) said nothing of the inbound mail it carries."""
    text = (contoso_plan / "runbooks" / "20-relay" / "network-rollback.ps1").read_text("utf-8-sig")
    region = text[text.index("# region STEP relay.rollback.nat.fw-lon-smtp-in;") :]
    assert (
        "all mail Exchange Online (and the Internet) delivers to on-premises recipients" in region
    )
    assert "otherwise fix forward" in region
