"""The CAS array's RPC/TCP name leaves DNS only once no database names it (review 3, F9)."""

from __future__ import annotations

import functools
from pathlib import Path

from powershell_check import check_script

from migrator.inventory import load_inventory
from migrator.pipeline import build_plan
from migrator.plan.steps import MigrationPlan, RunsIn
from migrator.render.runbooks import helper

CONTOSO = Path(__file__).resolve().parent.parent / "inventories" / "contoso"
UNUSED = "decommission.cas-array-unused.CAS-LON"
RETIRE = "decommission.cas-array-name.CAS-LON"


@functools.cache
def contoso_plan() -> MigrationPlan:
    return build_plan(load_inventory(CONTOSO))


def test_a_read_back_of_every_database_comes_right_before_the_dns_removal() -> None:
    plan = contoso_plan()
    check = plan.step(UNUSED)
    assert check.runs_in is RunsIn.EMS_NEW and check.action is not None
    assert check.action.kind == "decommission.cas-array-unused"
    assert check.action.params == {"fqdn": "outlook.contoso.com"}
    assert "PFProxy-*" in check.instructions
    assert plan.step(RETIRE).prerequisites == (UNUSED,)
    # after the removal of what names the array: the 2010 databases of EX10-02 (RpcClientAccessServer
    # outlook.contoso.com in the inventory) and the public folder proxy mailboxes' databases
    for pre in (
        "decommission.databases.EX10-02",
        "public-folders.remove-databases",
        "public-folders.hybrid.modern",
        "decommission.client-access.EX10-01",
    ):
        assert pre in check.prerequisites, pre
        assert plan.schedule[pre].finish <= plan.schedule[UNUSED].start
    assert "decommission.databases.EX10-03" not in check.prerequisites  # names EX10-03.contoso.com
    assert plan.schedule[UNUSED].finish <= plan.schedule[RETIRE].start


def test_the_helper_stops_while_a_database_names_the_array() -> None:
    text = helper().data.decode("utf-8-sig").replace("\r\n", "\n")
    body = text[text.index("function Assert-ArrayNameUnused") :]
    body = body[: body.index("\nfunction ", 1)]
    assert "$legacy = @{ 'IncludePreExchange2013' = $true }" in body
    assert "[string]$_.RpcClientAccessServer -eq $Fqdn" in body
    assert "throw ('Mailbox databases still name '" in body
    assert check_script(body, ps2=False, safety=True) == []
