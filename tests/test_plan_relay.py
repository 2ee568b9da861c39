"""Relay mapping: classification with reasons, names, ranges, targets, methods, overrides, the match engine."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from relay_builders import (
    ALL4,
    connector,
    grant,
    inventory,
    relay,
    server,
    with_policy,
)

from migrator.iprange import IPRange
from migrator.model import (
    ADPermission,
    Binding,
    Finding,
    ReceiveConnector,
    RelayMethod,
    RelayOverride,
    Severity,
    TransportRole,
)
from migrator.plan.connector_match import MatchConnector, partition, take, which, winner_at
from migrator.plan.relay import (
    MAX_NAME,
    ConnectorKind,
    fit_name,
    plan_relay,
    size_note,
    subtract,
)


def kinds(
    inv_connectors: list[ReceiveConnector], perms: Sequence[ADPermission] = ()
) -> dict[str, tuple[ConnectorKind, bool, str]]:
    """Name -> (kind, migrate, reason) of every classified connector."""
    plan = plan_relay(inventory(inv_connectors, perms))
    return {c.connector.name: (c.kind, c.migrate, c.reason) for c in plan.classifications}


# --------------------------------------------------------------------------- classification


def test_every_kind_is_classified_with_the_deciding_property() -> None:
    anon, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    ext = connector(
        "EX10-01",
        "Ext MFP",
        ["10.1.30.5"],
        groups=("ExchangeServers",),
        auth=("Tls", "ExternalAuthoritative"),
    )
    internal = connector("EX10-01", "Internal App", ["10.1.40.0/24"])
    auth = connector(
        "EX10-01",
        "Auth Apps",
        ["10.1.50.0/24"],
        groups=("ExchangeUsers",),
        auth=("Tls", "BasicAuth"),
    )
    partner = connector("EX10-01", "Partner", ["192.0.2.0/24"], groups=("Partners",))
    off, g_off = relay("EX10-01", "Old Relay", ["10.1.60.0/24"], enabled=False)
    other = connector("EX10-01", "Weird", ["10.1.70.0/24"], groups=())
    got = kinds([anon, ext, internal, auth, partner, off, other], [g, g_off])
    assert got == {
        "Default EX10-01": (
            ConnectorKind.DEFAULT,
            False,
            "name 'Default EX10-01' is a connector Exchange setup creates",
        ),
        "Client EX10-01": (
            ConnectorKind.DEFAULT,
            False,
            "name 'Client EX10-01' is a connector Exchange setup creates",
        ),
        "Relay Apps": (
            ConnectorKind.ANONYMOUS_RELAY,
            True,
            "Ms-Exch-SMTP-Accept-Any-Recipient granted to NT AUTHORITY\\ANONYMOUS LOGON "
            "(PermissionGroups AnonymousUsers)",
        ),
        "Ext MFP": (
            ConnectorKind.EXTERNALLY_SECURED,
            True,
            "AuthMechanism ExternalAuthoritative with PermissionGroups ExchangeServers",
        ),
        "Internal App": (
            ConnectorKind.INTERNAL_APP,
            False,
            "PermissionGroups AnonymousUsers without Ms-Exch-SMTP-Accept-Any-Recipient: accepts "
            "mail for accepted domains only",
        ),
        "Auth Apps": (
            ConnectorKind.AUTHENTICATED,
            False,
            "PermissionGroups ExchangeUsers with SMTP AUTH: clients log in and belong on Client "
            "Frontend (port 587), no custom connector needed",
        ),
        "Partner": (
            ConnectorKind.PARTNER,
            False,
            "PermissionGroups Partners: a partner/domain-secured TLS connector",
        ),
        "Old Relay": (
            ConnectorKind.DISABLED,
            False,
            "Enabled is False (otherwise: anonymous relay; Ms-Exch-SMTP-Accept-Any-Recipient granted "
            "to NT AUTHORITY\\ANONYMOUS LOGON (PermissionGroups AnonymousUsers))",
        ),
        "Weird": (ConnectorKind.OTHER, False, "PermissionGroups None: neither relay nor default"),
    }


def test_a_deny_cancels_the_relay_grant() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    got = kinds([c], [g, grant(c.identity, deny=True)])
    assert got["Relay Apps"][0] is ConnectorKind.INTERNAL_APP
    by_sid = kinds([c], [g, grant(c.identity, "S-1-5-7", deny=True)])
    assert by_sid["Relay Apps"][0] is ConnectorKind.INTERNAL_APP


def test_connectors_on_targets_are_not_classified() -> None:
    plan = plan_relay(inventory())
    assert {c.connector.server for c in plan.classifications} == {"EX10-01"}


# --------------------------------------------------------------------------- the planned connector


def test_planned_connector_fields() -> None:
    c, g = relay(
        "EX10-01",
        "Scanners",
        ["10.1.20.0/24", "10.1.20.15", "10.1.9.9", "10.1.20.0/25", "10.1.9.9"],
        size=10 * 1024 * 1024,
    )
    plan = plan_relay(inventory([c], [g]))
    (p,) = plan.connectors
    assert p.identity == "EX16-01\\Relay Scanners"
    assert p.source_identity == "EX10-01\\Scanners"
    assert [str(b) for b in p.bindings] == ["0.0.0.0:25"]
    assert [str(r) for r in p.remote_ip_ranges] == ["10.1.9.9", "10.1.20.0/24"]
    assert p.method is RelayMethod.ANONYMOUS
    assert p.transport_role is TransportRole.FRONTEND
    assert p.fqdn == "ex16-01.contoso.test"
    assert p.max_message_size_bytes == 10 * 1024 * 1024
    assert p.tls_certificate_name == ""
    assert p.comment == "Created by migrator from EX10-01\\Scanners"
    assert p.method_reason.startswith("the policy default; anonymous relay")
    assert "size limits (connector and organisation) and anti-spam still apply" in p.method_reason


def test_ipv6_binding_only_where_the_target_has_ipv6() -> None:
    c, g = relay(
        "EX10-01",
        "Relay Apps",
        ["10.1.20.0/24", "fd00:1::/64"],
        bindings=("0.0.0.0:25", "[::]:25"),
    )
    old = server("EX10-01", ips=("10.1.0.10", "fd00::10"))
    six = (old, server("EX16-01", "2016", ips=("10.1.0.20", "fd00::20")))
    p6 = plan_relay(inventory([c], [g], servers=six)).connectors[0]
    assert [str(b) for b in p6.bindings] == ["0.0.0.0:25", "[::]:25"]
    plan4 = plan_relay(
        inventory([c], [g], servers=(old, server("EX16-01", "2016", ips=("10.1.0.20",))))
    )
    assert [str(b) for b in plan4.connectors[0].bindings] == ["0.0.0.0:25"]
    assert [f.code for f in plan4.findings] == ["relay.ipv6.no-binding"]
    assert plan4.findings[0].severity is Severity.WARNING


def test_link_local_ipv6_with_zone_is_dropped_and_flagged() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24", "fe80::39bd:88f7:6969:d223%11"])
    plan = plan_relay(inventory([c], [g]))
    assert [str(r) for r in plan.connectors[0].remote_ip_ranges] == ["10.1.20.0/24"]
    assert plan.findings == (
        Finding(
            Severity.WARNING,
            "relay.range.zone-dropped",
            "EX10-01\\Relay Apps",
            "'fe80::39bd:88f7:6969:d223%11' is bound to interface 11 of EX10-01 and is not carried over",
            "add the client's global or unique-local address with add_ranges in an override",
        ),
    )


def test_externally_secured_is_kept_like_for_like_with_the_reason() -> None:
    ext = connector(
        "EX10-01",
        "Ext MFP",
        ["10.1.30.5"],
        groups=("ExchangeServers",),
        auth=("Tls", "ExternalAuthoritative"),
    )
    p = plan_relay(inventory([ext])).connectors[0]
    assert p.method is RelayMethod.EXTERNALLY_SECURED
    assert p.method_reason.startswith("kept externally secured as on 2010")
    assert "size limits and anti-spam are bypassed" in p.method_reason


def test_policy_method_applies_to_anonymous_sources() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    inv = inventory([c], [g], policy=with_policy(relay_method=RelayMethod.EXTERNALLY_SECURED))
    p = plan_relay(inv).connectors[0]
    assert p.method is RelayMethod.EXTERNALLY_SECURED
    assert p.method_reason.startswith("the policy (relay.method)")


# --------------------------------------------------------------------------- names


def test_names_follow_the_pattern_without_doubling_words() -> None:
    a, ga = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    b, gb = relay("EX10-01", "Scanners", ["10.1.21.0/24"])
    names = [p.name for p in plan_relay(inventory([a, b], [ga, gb])).connectors]
    assert names == ["Relay Apps", "Relay Scanners"]
    custom = inventory([b], [gb], policy=with_policy(relay_name_pattern="{server} relay {name}"))
    assert [p.name for p in plan_relay(custom).connectors] == ["EX16-01 relay Scanners"]


def test_long_names_are_shortened_deterministically() -> None:
    long = "Relay " + "x" * 80
    short = fit_name(long)
    assert len(short) == MAX_NAME
    assert short == fit_name(long)
    assert short.startswith("Relay xxx") and short[-7] == "~"
    assert fit_name("Relay " + "x" * 79) != short  # another name, another hash
    assert fit_name("Relay Apps") == "Relay Apps"
    c, g = relay("EX10-01", long[:64], ["10.1.20.0/24"])
    plan = plan_relay(inventory([c], [g], policy=with_policy(relay_name_pattern="New {name}")))
    assert len(plan.connectors[0].name) == MAX_NAME
    assert [f.code for f in plan.findings] == ["relay.name.shortened"]


def test_names_are_unique_per_server() -> None:
    a, ga = relay("EX10-01", "Apps", ["10.1.20.0/24"])
    b, gb = relay("EX10-01", "Scanners", ["10.1.21.0/24"])
    ext = connector(
        "EX10-01",
        "MFP",
        ["10.1.22.5"],
        groups=("ExchangeServers",),
        auth=("ExternalAuthoritative",),
    )
    plan = plan_relay(
        inventory([a, b, ext], [ga, gb], policy=with_policy(relay_name_pattern="Relay"))
    )
    assert [
        (p.source_identity, p.name)
        for p in sorted(plan.connectors, key=lambda p: p.source_identity)
    ] == [
        ("EX10-01\\Apps", "Relay"),
        ("EX10-01\\MFP", "Relay 2"),
        ("EX10-01\\Scanners", "Relay 3"),
    ]
    assert [f.code for f in plan.findings] == ["relay.name.renamed", "relay.name.renamed"]


def test_existing_frontend_connector_of_the_same_name_is_adopted() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    there = connector("EX16-01", "Relay Apps", ["10.1.20.0/25"], role=TransportRole.FRONTEND)
    plan = plan_relay(inventory([c, there], [g]))
    (p,) = plan.connectors
    assert (p.name, p.adopts_existing) == ("Relay Apps", True)
    assert [f.code for f in plan.findings] == ["relay.name.adopts-existing"]


def test_existing_hub_connector_of_the_same_name_forces_a_new_name() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    there = connector(
        "EX16-01",
        "Relay Apps",
        ["10.1.20.0/25"],
        role=TransportRole.HUB,
        bindings=("0.0.0.0:2525",),
    )
    plan = plan_relay(inventory([c, there], [g]))
    assert [p.name for p in plan.connectors] == ["Relay Apps 2"]
    assert plan.findings[0].message == (
        "'Relay Apps' is already taken on EX16-01; the new connector is named 'Relay Apps 2'"
    )


def test_same_connector_on_two_legacy_servers_merges_on_the_target() -> None:
    a, ga = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    b, gb = relay("EX10-02", "Relay Apps", ["10.1.20.0/24", "10.1.21.7"])
    servers = (server("EX10-01"), server("EX10-02"), server("EX16-01", "2016"))
    plan = plan_relay(inventory([a, b], [ga, gb], servers=servers))
    (p,) = plan.connectors
    assert p.source_identity == "EX10-01\\Relay Apps"
    assert p.merged_from == ("EX10-02\\Relay Apps",)
    assert [str(r) for r in p.remote_ip_ranges] == ["10.1.20.0/24", "10.1.21.7"]


# --------------------------------------------------------------------------- targets and overrides


def test_targets_from_site_policy_fallback_and_missing() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    servers = (server("EX10-01"), server("EX16-01", "2016"), server("EX16-02", "2016"))
    both = with_policy(targets_by_site=(("hq", ("EX16-02", "EX16-01")),))
    plan = plan_relay(inventory([c], [g], servers=servers, policy=both))
    assert [p.server for p in plan.connectors] == ["EX16-01", "EX16-02"]
    fallback = plan_relay(
        inventory([c], [g], servers=servers, policy=with_policy(targets_by_site=()))
    )
    assert [p.server for p in fallback.connectors] == ["EX16-01", "EX16-02"]
    assert [f.code for f in fallback.findings] == ["relay.target.same-site"]
    elsewhere = (server("EX10-01"), server("EX16-09", "2016", site="Branch"))
    none = plan_relay(
        inventory([c], [g], servers=elsewhere, policy=with_policy(targets_by_site=()))
    )
    assert none.connectors == ()
    assert none.findings == (
        Finding(
            Severity.ERROR,
            "relay.target.none",
            "EX10-01\\Relay Apps",
            "no target server is planned to serve relay connector 'EX10-01\\Relay Apps' (site 'HQ')",
            "add relay.targets for the site in inventory.yaml, or targets in an override for this connector",
        ),
    )


def test_unknown_or_legacy_target_is_an_error() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    policy = with_policy(targets_by_site=(("HQ", ("EX16-01", "EX99", "EX10-01")),))
    plan = plan_relay(inventory([c], [g], policy=policy))
    assert [p.server for p in plan.connectors] == ["EX16-01"]
    assert [(f.code, f.message) for f in plan.findings] == [
        ("relay.target.invalid", "target server 'EX10-01' is not a target server"),
        ("relay.target.invalid", "target server 'EX99' is not in the inventory"),
    ]


def test_override_changes_method_targets_name_and_ranges() -> None:
    c, g = relay("EX10-01", "Scanners", ["10.1.20.0/24", "10.1.9.9"])
    servers = (server("EX10-01"), server("EX16-01", "2016"), server("EX16-02", "2016"))
    o = RelayOverride(
        "EX10-01\\Scanners",
        method=RelayMethod.EXTERNALLY_SECURED,
        target_servers=("EX16-02",),
        name="Relay MFP",
        add_ranges=(IPRange.parse("10.1.5.0/24"),),
        remove_ranges=(
            IPRange.parse("10.1.9.9"),
            IPRange.parse("10.1.20.128/25"),
            IPRange.parse("10.7.7.7"),
        ),
    )
    plan = plan_relay(inventory([c], [g], servers=servers, policy=with_policy(overrides=(o,))))
    (p,) = plan.connectors
    assert (p.server, p.name, p.method) == ("EX16-02", "Relay MFP", RelayMethod.EXTERNALLY_SECURED)
    assert [str(r) for r in p.remote_ip_ranges] == ["10.1.5.0/24", "10.1.20.0/25"]
    assert p.method_reason.startswith("set by the override for EX10-01\\Scanners")
    assert [(f.code, f.message) for f in plan.findings] == [
        (
            "relay.override.remove-unused",
            "remove_ranges entry '10.7.7.7' is not in the connector's ranges",
        )
    ]


def test_override_migrate_true_for_disabled_false_for_relay_and_unmatched() -> None:
    off, g1 = relay("EX10-01", "Old Relay", ["10.1.60.0/24"], enabled=False)
    on, g2 = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    overrides = (
        RelayOverride("Old Relay", migrate=True),
        RelayOverride("EX10-01\\Relay Apps", migrate=False),
        RelayOverride("EX10-01\\Nope"),
    )
    plan = plan_relay(inventory([off, on], [g1, g2], policy=with_policy(overrides=overrides)))
    assert [p.source_identity for p in plan.connectors] == ["EX10-01\\Old Relay"]
    by_name = {c.connector.name: c for c in plan.classifications}
    assert by_name["Old Relay"].kind is ConnectorKind.ANONYMOUS_RELAY
    assert by_name["Old Relay"].reason.endswith(
        "disabled on 2010, migrated because the override asks"
    )
    assert by_name["Relay Apps"].migrate is False
    assert [f.code for f in plan.findings] == ["relay.override.unmatched"]


def test_removing_every_range_is_an_error_not_an_all_addresses_connector() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.5"])
    o = RelayOverride("Relay Apps", remove_ranges=(IPRange.parse("10.1.20.0/24"),))
    plan = plan_relay(inventory([c], [g], policy=with_policy(overrides=(o,))))
    assert plan.connectors == ()
    assert [f.code for f in plan.findings] == ["relay.range.empty"]


def test_subtract_splits_ranges() -> None:
    left, used = subtract([IPRange.parse("10.0.0.0/24")], [IPRange.parse("10.0.0.100")])
    assert [str(r) for r in left] == ["10.0.0.0-10.0.0.99", "10.0.0.101-10.0.0.255"]
    assert used == {IPRange.parse("10.0.0.100")}


def test_size_note_mentions_2016_default_and_org_limit() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"], size=10 * 1024 * 1024)
    inv = inventory([c], [g])
    p = plan_relay(inv).connectors[0]
    assert size_note(p, inv.transport_config) == (
        "carries the 2010 value 10 MB (10,485,760 bytes), the 2010 default, instead of the 2016 "
        "default 36 MB (37,748,736 bytes); the organisation limit 10 MB (10,485,760 bytes) still "
        "applies to anonymous relay: messages above 10 MB (10,485,760 bytes) are refused"
    )


def test_plan_is_deterministic() -> None:
    conns = []
    perms = []
    for i in range(30, 0, -1):
        c, g = relay("EX10-01", f"Relay {i:02d}", [f"10.2.{i}.0/24", f"10.3.{i}.7"])
        conns.append(c)
        perms.append(g)
    a = plan_relay(inventory(conns, perms))
    b = plan_relay(inventory(list(reversed(conns)), list(reversed(perms))))
    assert a == b


# --------------------------------------------------------------------------- match engine


def test_which_before_and_after() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    internal = connector("EX10-01", "Internal App", ["10.1.20.15"])
    inv = inventory([c, internal], [g])
    (ans,) = which(inv, plan_relay(inv), ipaddress.ip_address("10.1.20.15"))
    assert ans.target == "EX16-01"
    # the internal-only connector is carried over, so the client stays off the relay connector
    assert ans.after is not None and ans.after.identity == "EX16-01\\Internal App"
    assert not ans.after.relays
    assert [(legacy, w.identity if w else None) for legacy, w, _e in ans.before] == [
        ("EX10-01", "EX10-01\\Internal App")
    ]
    (outside,) = which(inv, plan_relay(inv), ipaddress.ip_address("10.9.9.9"))
    assert (
        outside.after is not None and outside.after.identity == "EX16-01\\Default Frontend EX16-01"
    )


def test_specific_binding_beats_any_binding_at_equal_range() -> None:
    any_c = MatchConnector("S\\Any", (Binding.parse("0.0.0.0:25"),), (IPRange.parse(ALL4),), False)
    spec = MatchConnector("S\\Spec", (Binding.parse("10.0.0.1:25"),), (IPRange.parse(ALL4),), False)
    w, _e, tie = take([any_c, spec], ipaddress.ip_address("10.5.5.5"))
    assert (w, tie) == (spec, None)


_ENTRY = st.tuples(st.integers(0, 40), st.integers(0, 15)).map(
    lambda t: IPRange(4, t[0], t[0] + t[1])
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_ENTRY, min_size=1, max_size=4), min_size=1, max_size=4))
def test_partition_agrees_with_take_everywhere(groups: list[list[IPRange]]) -> None:
    conns = [
        MatchConnector(f"S\\C{i}", (Binding.parse("0.0.0.0:25"),), tuple(g), False)
        for i, g in enumerate(groups)
    ]
    segs = partition(conns, 4)
    assert segs[0].first == 0 and segs[-1].last == (1 << 32) - 1
    for addr in range(0, 60):
        w, entry, _tie = take(conns, ipaddress.IPv4Address(addr))
        seg = winner_at(segs, addr)
        assert seg is not None
        got = conns[seg.winner] if seg.winner is not None else None
        assert got == w
        assert (seg.entry.size if seg.entry else None) == (entry.size if entry else None)


# --------------------------------------------------------------------------- the bundled example and the CLI

CONTOSO = __import__("pathlib").Path(__file__).parent.parent / "inventories" / "contoso"


def test_contoso_plans_without_errors() -> None:
    from migrator.inventory import load_inventory
    from migrator.plan.relay_checks import check_relay

    inv = load_inventory(CONTOSO)
    plan = plan_relay(inv)
    findings = [*plan.findings, *check_relay(inv, plan)]
    assert [f for f in findings if f.severity is Severity.ERROR] == []
    # smtp.contoso.com reaches both new servers: each carries every relay connector, and the
    # internal-only connector where CRM would take it. Relay IPv6 Apps only has IPv6 ranges on a
    # 0.0.0.0:25 connector of a server without IPv6: it relayed for nobody, so it is not carried.
    assert [f.where for f in plan.findings if f.code == "relay.ipv6.unreachable-on-2010"] == [
        "EX10-01\\Relay IPv6 Apps"
    ]
    assert {p.identity for p in plan.connectors} == {
        "EX16-01\\Relay Apps EX16-01",
        "EX16-01\\Relay MFP Scanners",
        "EX16-01\\Relay Legacy CRM EX16-01",
        "EX16-02\\Relay Apps EX16-02",
        "EX16-02\\Relay MFP Scanners",
        "EX16-02\\Relay Legacy CRM EX16-02",
    }
    assert {p.identity for p in plan.internal} == {
        "EX16-01\\Internal Mail Apps EX16-01",
        "EX16-02\\Internal Mail Apps EX16-02",
    }


def test_cli_relay_which() -> None:
    from typer.testing import CliRunner

    from migrator.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["relay", "which", "10.1.20.15", str(CONTOSO)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:3] == [
        "EX16-01:",
        "  after:  'EX16-01\\Relay Apps EX16-01' (planned anonymous relay; may relay) via '10.1.20.15'",
        "  before: on EX10-01: 'EX10-01\\Relay Apps' (anonymous relay; may relay) via '10.1.20.15'",
    ]
    bad = runner.invoke(app, ["relay", "which", "10.1.300.1", str(CONTOSO)])
    assert bad.exit_code == 2
    assert "'10.1.300.1' is not an IP address" in bad.output


def test_override_cannot_turn_a_non_relay_connector_into_a_relay_without_a_method() -> None:
    internal = connector("EX10-01", "Internal App", ["10.1.40.0/24"])
    off_internal = connector("EX10-01", "Old Internal", ["10.1.41.0/24"], enabled=False)
    overrides = (
        RelayOverride("Internal App", migrate=True),
        RelayOverride("Old Internal", migrate=True),
    )
    plan = plan_relay(inventory([internal, off_internal], policy=with_policy(overrides=overrides)))
    assert plan.connectors == ()
    assert [(f.code, f.where) for f in plan.findings] == [
        ("relay.override.not-migrated", "EX10-01\\Internal App"),
        ("relay.override.not-migrated", "EX10-01\\Old Internal"),
    ]
    with_method = (RelayOverride("Internal App", migrate=True, method=RelayMethod.ANONYMOUS),)
    plan2 = plan_relay(inventory([internal], policy=with_policy(overrides=with_method)))
    assert [p.source_identity for p in plan2.connectors] == ["EX10-01\\Internal App"]


def test_ranges_by_source_counts_every_merged_2010_connector() -> None:
    """One answer for plan --evidence and logs scan: merged sources get the planned ranges too."""
    from migrator.iprange import IPRange
    from migrator.model import Binding, RelayMethod
    from migrator.plan.relay import PlannedConnector, RelayPlan

    rng = (IPRange.parse("10.1.20.0/28"),)
    pc = PlannedConnector(
        server="EX16-01",
        name="Relay Apps",
        source_identity="EX10-01\\Relay Apps",
        bindings=(Binding.parse("0.0.0.0:25"),),
        remote_ip_ranges=rng,
        method=RelayMethod.ANONYMOUS,
        fqdn="EX16-01.contoso.com",
        max_message_size_bytes=None,
        tls_certificate_name="",
        merged_from=("EX10-02\\Relay Apps",),
    )
    plan = RelayPlan(classifications=(), connectors=(pc,), findings=())
    assert plan.ranges_by_source() == {"EX10-01\\Relay Apps": rng, "EX10-02\\Relay Apps": rng}


@pytest.mark.parametrize(
    ("bindings", "old_ips"),
    [
        (("0.0.0.0:25",), ("10.1.0.10", "fd00::10")),  # no IPv6 binding
        (("0.0.0.0:25", "[::]:25"), ("10.1.0.10",)),  # no IPv6 address on the old server
        (("0.0.0.0:25", "[::]:25"), ("10.1.0.10", "fe80::10")),  # link-local only
    ],
)
def test_ipv6_ranges_no_client_could_reach_are_not_carried_over(
    bindings: tuple[str, ...], old_ips: tuple[str, ...]
) -> None:
    """Review M6: no plan grants relay the old organisation did not grant in practice. An IPv6 range of
    a connector no IPv6 client could reach relayed for nobody: the new connector (which binds [::]:25
    on a server with IPv6) must not relay for it; a warning says so, and an override can add it."""
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24", "fd00:1::/64"], bindings=bindings)
    servers = (
        server("EX10-01", ips=old_ips),
        server("EX16-01", "2016", ips=("10.1.0.20", "fd00::20")),
    )
    plan = plan_relay(inventory([c], [g], servers=servers))
    (p,) = plan.connectors
    assert [str(r) for r in p.remote_ip_ranges] == ["10.1.20.0/24"]
    found = [f for f in plan.findings if f.code == "relay.ipv6.unreachable-on-2010"]
    assert len(found) == 1 and found[0].severity is Severity.WARNING
    assert "fd00:1::/64" in found[0].message
    # only IPv6 ranges: nothing relayed in practice, nothing is migrated (and no error)
    c6, g6 = relay("EX10-01", "Relay V6", ["fd00:1::/64"], bindings=bindings)
    only6 = plan_relay(inventory([c6], [g6], servers=servers))
    assert not only6.connectors
    assert not [f for f in only6.findings if f.severity is Severity.ERROR]
