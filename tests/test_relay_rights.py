"""The one "is this a relay connector" rule (migrator/relay_rights.py), used by the checks and the plan."""

from __future__ import annotations

from relay_builders import connector, grant, inventory

import migrator.checks.evidence as evidence
import migrator.plan.phases._common as common
import migrator.plan.relay as relay_planner
from migrator.plan.phases._common import estate
from migrator.plan.relay import PermissionIndex, plan_relay
from migrator.relay_rights import anonymous_relay_grants, is_relay_connector


def _sample():  # type: ignore[no-untyped-def]
    """One connector of each case the two old rules disagreed on, plus the plain ones."""
    anon = connector("EX10-01", "Anon", ("10.1.20.0/24",))
    everyone = connector("EX10-01", "Everyone", ("10.1.21.0/24",))
    explicit = connector("EX10-01", "Explicit", ("10.1.22.0/24",), groups=("ExchangeUsers",))
    denied = connector("EX10-01", "Denied", ("10.1.23.0/24",))
    external = connector(
        "EX10-01",
        "Scanners",
        ("10.1.24.0/24",),
        groups=("ExchangeServers",),
        auth=("Tls", "ExternalAuthoritative"),
    )
    internal = connector("EX10-01", "Internal", ("10.1.25.0/24",))
    perms = [
        grant(anon.identity),
        grant(everyone.identity, "Everyone"),
        grant(explicit.identity),  # a grant without PermissionGroups AnonymousUsers
        grant(denied.identity),
        grant(denied.identity, deny=True),  # cancelled by a Deny
    ]
    return inventory([anon, everyone, explicit, denied, external, internal], perms)


def test_checks_and_plan_use_the_one_rule() -> None:
    # Before: evidence.py and phases/_common.py each had their own rule.
    assert not hasattr(evidence, "ANONYMOUS")
    assert not hasattr(common, "ACCEPT_ANY_RECIPIENT")
    assert evidence.is_relay_connector is is_relay_connector
    assert common.is_relay_connector is is_relay_connector


def test_the_evidence_check_and_the_prepare_phase_see_the_same_relay_connectors() -> None:
    inv = _sample()
    from_checks = [c.identity for c in evidence.legacy_relay_connectors(inv)]
    from_plan = [c.identity for c in estate(inv).relay_connectors]
    assert (
        sorted(from_checks)
        == sorted(from_plan)
        == sorted(["EX10-01\\Anon", "EX10-01\\Everyone", "EX10-01\\Explicit", "EX10-01\\Scanners"])
    )


def test_the_relay_planner_classifies_by_the_same_grants() -> None:
    inv = _sample()
    index = PermissionIndex(inv.ad_permissions)
    for c in inv.receive_connectors:
        assert index.anonymous_relay_grants(c.identity) == anonymous_relay_grants(
            inv.permissions_for(c.identity)
        )
    migrated = {cl.connector.identity for cl in plan_relay(inv).classifications if cl.migrate}
    assert migrated == {c.identity for c in estate(inv).relay_connectors}
    assert not hasattr(relay_planner, "_trustee_key")
