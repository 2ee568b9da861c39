"""Relay checks: each check triggered by a small inventory built in code, with the exact finding."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress

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

from migrator.checks.relay import check_relay, check_versions, overlaps
from migrator.iprange import IPRange
from migrator.model import (
    AcceptedDomain,
    AcceptedDomainType,
    Binding,
    Certificate,
    ExchangeVersion,
    Finding,
    Inventory,
    Lifecycle,
    LoadBalancer,
    NatRule,
    Server,
    Severity,
    TransportRole,
)
from migrator.plan.relay import RelayPlan, plan_relay
from migrator.versions import parse_build

E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
FE = TransportRole.FRONTEND
OPEN_FIX = (
    "keep only the clients' own (private) addresses in RemoteIPRanges (override remove_ranges for "
    "the plan, Set-ReceiveConnector -RemoteIPRanges on the live connector); declare public space "
    "the organisation owns under relay.public_ranges"
)


def found(inv: Inventory, code: str, plan: RelayPlan | None = None) -> list[Finding]:
    """The plan's and the checks' findings with one code."""
    p = plan if plan is not None else plan_relay(inv)
    return [f for f in (*p.findings, *check_relay(inv, p)) if f.code == code]


def test_base_inventory_with_a_private_relay_has_no_error() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    inv = inventory([c], [g], host_names=())
    plan = plan_relay(inv)
    findings = [*plan.findings, *check_relay(inv, plan)]
    assert [f for f in findings if f.severity is E] == []
    assert [f.code for f in findings] == ["version.out-of-support"]


# --------------------------------------------------------------------------- open relay


def test_open_relay_whole_internet() -> None:
    c, g = relay("EX10-01", "Relay Bad", [ALL4])
    assert found(inventory([c], [g]), "relay.open-relay") == [
        Finding(
            E,
            "relay.open-relay",
            "EX10-01\\Relay Bad",
            "anonymous relay connector accepts mail for any recipient from the whole Internet "
            "('0.0.0.0/0'): an open relay",
            OPEN_FIX,
        ),
        Finding(
            E,
            "relay.open-relay",
            "EX16-01\\Relay Bad",
            "planned anonymous relay connector would accept mail for any recipient from the whole "
            "Internet ('0.0.0.0/0'): an open relay",
            OPEN_FIX,
        ),
    ]


def test_open_relay_undeclared_public_address() -> None:
    c, g = relay("EX10-01", "Relay Pub", ["10.1.20.0/24", "198.51.100.7"])
    got = found(inventory([c], [g]), "relay.open-relay")
    assert got[0] == Finding(
        E,
        "relay.open-relay",
        "EX10-01\\Relay Pub",
        "anonymous relay connector accepts mail for any recipient from public addresses the "
        "organisation has not declared as its own ('198.51.100.7'): an open relay",
        OPEN_FIX,
    )
    assert [f.where for f in got] == ["EX10-01\\Relay Pub", "EX16-01\\Relay Pub"]


def test_declared_public_space_is_no_open_relay() -> None:
    c, g = relay("EX10-01", "Relay Pub", ["10.1.20.0/24", "198.51.100.7"])
    inv = inventory([c], [g], policy=with_policy(public_ranges=(IPRange.parse("198.51.100.0/28"),)))
    assert found(inv, "relay.open-relay") == []
    assert found(inv, "relay.range.undeclared") == []


def test_open_relay_externally_secured_with_public_ranges() -> None:
    c = connector(
        "EX10-01",
        "Ext",
        ["0.0.0.0/1"],
        groups=("ExchangeServers",),
        auth=("Tls", "ExternalAuthoritative"),
    )
    got = found(inventory([c]), "relay.open-relay")
    assert got[0] == Finding(
        E,
        "relay.open-relay",
        "EX10-01\\Ext",
        "externally secured relay connector accepts mail for any recipient from public addresses "
        "the organisation has not declared as its own ('1.0.0.0-9.255.255.255', "
        "'11.0.0.0-100.63.255.255', '100.128.0.0-126.255.255.255'): an open relay; "
        "senders are also treated as Exchange servers, so anti-spam and size limits are bypassed",
        OPEN_FIX,
    )
    assert got[1].where == "EX16-01\\Relay Ext"
    assert got[1].message.startswith("planned externally secured relay connector would accept")


def test_open_relay_anonymous_grant_on_default_connector() -> None:
    inv = inventory([], [grant("EX10-01\\Default EX10-01", "Everyone")])
    assert found(inv, "relay.open-relay") == [
        Finding(
            E,
            "relay.open-relay",
            "EX10-01\\Default EX10-01",
            "Ms-Exch-SMTP-Accept-Any-Recipient is granted to Everyone on default connector "
            "'EX10-01\\Default EX10-01', which accepts every address: an open relay (the classic "
            "wrong fix for 550 5.7.54)",
            "Get-ReceiveConnector -Identity 'EX10-01\\Default EX10-01' | Remove-ADPermission -User "
            "'Everyone' -ExtendedRights 'Ms-Exch-SMTP-Accept-Any-Recipient'; give relay clients a "
            "dedicated relay connector restricted to their addresses",
        )
    ]


def test_normal_grants_on_default_connectors_are_no_finding() -> None:
    perms = [
        grant("EX10-01\\Default EX10-01", "NT AUTHORITY\\Authenticated Users"),
        grant("EX16-01\\Default Frontend EX16-01", "MS Exchange\\Externally Secured Servers"),
        grant("EX16-01\\Default Frontend EX16-01", "NT AUTHORITY\\ANONYMOUS LOGON", deny=True),
    ]
    assert found(inventory([], perms), "relay.open-relay") == []


def test_anonymous_grant_on_new_default_frontend_is_open_relay() -> None:
    got = found(inventory([], [grant("EX16-01\\Default Frontend EX16-01")]), "relay.open-relay")
    assert [(f.where, f.severity) for f in got] == [("EX16-01\\Default Frontend EX16-01", E)]
    assert "open relay" in got[0].message


def test_open_relay_nat_inside_address_in_relay_range() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.0.0/16"])
    nat = NatRule("FW-IN", ipaddress.ip_address("198.51.100.25"), ipaddress.ip_address("10.1.1.5"))
    got = found(inventory([c], [g], nat_rules=(nat,)), "relay.open-relay")
    assert got[1] == Finding(
        E,
        "relay.open-relay",
        "EX16-01\\Relay Apps",
        "firewall rule 'FW-IN' source-NATs Internet SMTP to '10.1.1.5', which is inside relay "
        "range '10.1.0.0/16' of the planned anonymous relay connector: an open relay to the Internet",
        "take '10.1.1.5' out of the relay ranges (override remove_ranges), or make the firewall "
        "deliver Internet SMTP without source NAT",
    )
    assert got[0].where == "EX10-01\\Relay Apps"


def test_nat_without_source_nat_is_no_finding() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.0.0/16"])
    nat = NatRule("FW-IN", None, ipaddress.ip_address("10.1.1.5"), source_nat=False)
    assert found(inventory([c], [g], nat_rules=(nat,)), "relay.open-relay") == []


def test_open_relay_accepted_domain_star() -> None:
    inv = inventory(
        accepted_domains=(AcceptedDomain("All", "*", AcceptedDomainType.INTERNAL_RELAY),)
    )
    assert found(inv, "relay.open-relay") == [
        Finding(
            E,
            "relay.open-relay",
            "accepted domain 'All'",
            "accepted domain 'All' is '*' (InternalRelay): Exchange accepts mail for every domain "
            "from anyone, an open relay",
            "Remove-AcceptedDomain -Identity 'All'; relay clients need a relay connector, not a "
            "'*' accepted domain",
        )
    ]


def test_removing_the_public_range_by_override_clears_the_planned_connector() -> None:
    from migrator.model import RelayOverride

    c, g = relay("EX10-01", "Relay Pub", ["10.1.20.0/24", "198.51.100.7"])
    policy = with_policy(
        overrides=(
            RelayOverride("EX10-01\\Relay Pub", remove_ranges=(IPRange.parse("198.51.100.7"),)),
        )
    )
    got = found(inventory([c], [g], policy=policy), "relay.open-relay")
    assert [f.where for f in got] == ["EX10-01\\Relay Pub"]  # the live 2010 connector still is one


# --------------------------------------------------------------------------- load balancer


def test_source_nat_load_balancer() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.0.0/16"])
    lb = LoadBalancer("LB1", (ipaddress.ip_address("10.1.0.50"),), True, ("EX16-01",))
    assert found(inventory([c], [g], load_balancers=(lb,)), "relay.load-balancer.snat") == [
        Finding(
            E,
            "relay.load-balancer.snat",
            "load balancer 'LB1'",
            "load balancer 'LB1' source-NATs SMTP to EX16-01: every relay client appears as "
            "'10.1.0.50', so per-client RemoteIPRanges mean nothing; '10.1.0.50' is inside relay "
            "range '10.1.0.0/16' of 'EX10-01\\Relay Apps', so every client that reaches the load "
            "balancer can relay",
            "switch the SMTP (port 25) service to transparent mode so clients keep their addresses, "
            "or let relay clients reach the servers directly (a DNS name that points at the "
            "servers, not the virtual address)",
        )
    ]


def test_transparent_load_balancer_is_fine() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    lb = LoadBalancer("LB1", (ipaddress.ip_address("10.1.0.50"),), False, ("EX16-01",))
    assert found(inventory([c], [g], load_balancers=(lb,)), "relay.load-balancer.snat") == []


# --------------------------------------------------------------------------- conflicts


def test_conflict_identical_ranges_with_existing_connector() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    e = connector("EX16-01", "Scanners", ["10.1.20.0/24"], role=FE)
    inv = inventory([c, e], [g])
    assert found(inv, "relay.conflict.identical") == [
        Finding(
            E,
            "relay.conflict.identical",
            "EX16-01\\Relay Apps",
            "'EX16-01\\Relay Apps' and 'EX16-01\\Scanners' have identical remote IP ranges "
            "('10.1.20.0/24') on 0.0.0.0:25: each connector must be a unique combination of "
            "binding and ranges",
            "merge the two connectors, or give one of them different ranges (override "
            "add_ranges/remove_ranges, or name the existing one in an override to adopt it)",
        )
    ]
    assert found(inv, "relay.shadow.tie") == []


def test_conflict_partial_overlap() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    e = connector("EX16-01", "Scanners", ["10.1.20.128-10.1.21.10"], role=FE)
    assert found(inventory([c, e], [g]), "relay.conflict.overlap") == [
        Finding(
            E,
            "relay.conflict.overlap",
            "EX16-01\\Relay Apps",
            "ranges of 'EX16-01\\Scanners' and 'EX16-01\\Relay Apps' overlap on 0.0.0.0:25 "
            "without one containing the other ('10.1.20.0/24' and '10.1.20.128-10.1.21.10'): which "
            "connector takes '10.1.20.128/25' is not defined",
            "change the ranges so that one contains the other or they do not meet (override "
            "add_ranges/remove_ranges)",
        )
    ]


def test_conflict_between_two_planned_connectors() -> None:
    a, ga = relay("EX10-01", "Relay A", ["10.1.20.0/24"])
    b, gb = relay("EX10-01", "Relay B", ["10.1.20.200-10.1.21.20"])
    got = found(inventory([a, b], [ga, gb]), "relay.conflict.overlap")
    assert [f.where for f in got] == ["EX16-01\\Relay B"]


def test_nested_ranges_are_no_conflict() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    e = connector("EX16-01", "Printer", ["10.1.20.15"], role=FE)
    inv = inventory([c, e], [g])
    assert found(inv, "relay.conflict.overlap") == []
    assert found(inv, "relay.conflict.identical") == []


def test_conflict_relay_on_hub_transport_and_role_on_one_binding() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    e = connector("EX16-01", "Old Relay", ["10.1.30.0/24"], role=TransportRole.HUB)
    inv = inventory([c, e], [g, grant(e.identity)])
    assert found(inv, "relay.conflict.hub") == [
        Finding(
            E,
            "relay.conflict.hub",
            "EX16-01\\Old Relay",
            "relay connector 'EX16-01\\Old Relay' is on the Hub Transport service: relay belongs on "
            "Front End Transport, port 25 (clients are not meant to connect to the Hub service)",
            "create it with -TransportRole FrontendTransport bound to 0.0.0.0:25",
        )
    ]
    role = found(inv, "relay.conflict.role")
    assert role[0] == Finding(
        E,
        "relay.conflict.role",
        "EX16-01\\Old Relay",
        "'EX16-01\\Default Frontend EX16-01' (FrontendTransport) and 'EX16-01\\Old Relay' "
        "(HubTransport) both listen on 0.0.0.0:25: connectors of different transport roles must "
        "not share an IP:port (ReceiveConnectorRoleConflictException; cumulative-update setup can fail)",
        "keep relay on FrontendTransport port 25 and Hub connectors on 2525; never copy a 2010 "
        "HubTransport connector on port 25 as HubTransport",
    )
    assert [f.where for f in role] == ["EX16-01\\Old Relay", "EX16-01\\Relay Apps"]


def test_role_conflict_on_a_specific_address_against_any() -> None:
    e = connector(
        "EX16-01",
        "Copied Hub",
        ["10.1.30.0/24"],
        role=TransportRole.HUB,
        bindings=("10.1.0.20:25",),
    )
    got = found(inventory([e]), "relay.conflict.role")
    assert len(got) == 1
    assert "both listen on 10.1.0.20:25" in got[0].message


def test_planned_relay_on_hub_or_default_port_is_an_error() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    inv = inventory([c], [g])
    plan = plan_relay(inv)
    bad = dataclasses.replace(
        plan.connectors[0],
        transport_role=TransportRole.HUB,
        bindings=(Binding.parse("0.0.0.0:2525"),),
    )
    broken = dataclasses.replace(plan, connectors=(bad,))
    assert [f.where for f in found(inv, "relay.conflict.hub", broken)] == ["EX16-01\\Relay Apps"]
    assert found(inv, "relay.conflict.port", broken) == [
        Finding(
            E,
            "relay.conflict.port",
            "EX16-01\\Relay Apps",
            "relay connector 'EX16-01\\Relay Apps' listens on port 2525, which belongs to a default "
            "connector (2525 Hub, 465 Client Proxy, 587 Client Frontend, 717 Outbound Proxy)",
            "bind relay connectors to port 25 on Front End Transport",
        )
    ]


def test_existing_relay_on_port_587() -> None:
    e = connector("EX16-01", "Relay 587", ["10.1.30.0/24"], role=FE, bindings=("0.0.0.0:587",))
    got = found(inventory([e], [grant(e.identity)]), "relay.conflict.port")
    assert [(f.where, f.severity) for f in got] == [("EX16-01\\Relay 587", E)]


# --------------------------------------------------------------------------- shadowing


def test_shadow_captured_and_moved_lose_relay() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    e = connector("EX16-01", "Printer", ["10.1.20.15"], role=FE)
    inv = inventory([c, e], [g])
    assert found(inv, "relay.shadow.captured") == [
        Finding(
            W,
            "relay.shadow.captured",
            "EX16-01\\Relay Apps",
            "the more specific 'EX16-01\\Printer' (existing, FrontendTransport) takes '10.1.20.15' "
            "out of the ranges of 'EX16-01\\Relay Apps': those clients cannot relay",
            "intended where those clients should not relay; otherwise remove the narrower entries "
            "from the other connector",
        )
    ]
    assert found(inv, "relay.shadow.moved") == [
        Finding(
            W,
            "relay.shadow.moved",
            "EX10-01\\Relay Apps",
            "on EX16-01, client addresses '10.1.20.15' move from 'EX10-01\\Relay Apps' (anonymous "
            "relay, relay) to 'EX16-01\\Printer' (existing, FrontendTransport, no relay): these "
            "clients lose relay",
            "check with `migrator relay which ADDRESS`; adjust ranges with an override if the move "
            "is not intended",
        )
    ]


def test_internal_connector_inside_a_relay_range_is_carried_and_nobody_gains_relay() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    internal = connector("EX10-01", "Internal App", ["10.1.20.15"])
    inv = inventory([c, internal], [g])
    assert found(inv, "relay.shadow.moved") == []
    assert found(inv, "relay.shadow.gains-relay") == []
    assert [(p.identity, p.relay) for p in plan_relay(inv).internal] == [
        ("EX16-01\\Internal App", False)
    ]


def test_a_client_gaining_relay_is_an_error() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    partner = connector("EX10-01", "Partner", ["10.1.20.15"], groups=("Partners",))
    assert found(inventory([c, partner], [g]), "relay.shadow.gains-relay") == [
        Finding(
            E,
            "relay.shadow.gains-relay",
            "EX10-01\\Partner",
            "on EX16-01, client addresses '10.1.20.15' move from 'EX10-01\\Partner' "
            "(partner/TLS, no relay) to 'EX16-01\\Relay Apps' (planned anonymous "
            "relay, relay): these clients gain relay, which the 2010 organisation never granted them",
            "keep those clients off the relay connector (override remove_ranges, or a connector "
            "that takes them with AnonymousUsers only); if they should relay, say so with "
            "add_ranges in the relay connector's override",
        )
    ]


def test_shadow_tie_between_equally_specific_entries() -> None:
    c, g = relay("EX10-01", "Relay Two", ["10.1.20.15", "10.1.40.0/24"])
    e = connector("EX16-01", "Printer", ["10.1.20.15"], role=FE)
    assert found(inventory([c, e], [g]), "relay.shadow.tie") == [
        Finding(
            W,
            "relay.shadow.tie",
            "EX16-01\\Relay Two",
            "'EX16-01\\Printer' and 'EX16-01\\Relay Two' both list '10.1.20.15' with the same "
            "specificity: which one takes those clients is not defined",
            "keep each client address in one connector only",
        )
    ]


# --------------------------------------------------------------------------- other


def test_exchange_server_address_in_relay_range() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.0.0/16"])
    got = found(inventory([c], [g]), "relay.range.exchange-server")
    assert got[1] == Finding(
        W,
        "relay.range.exchange-server",
        "EX16-01\\Relay Apps",
        "relay ranges of the planned anonymous relay connector contain Exchange servers' own "
        "addresses: '10.1.0.10' (EX10-01), '10.1.0.20' (EX16-01); mail between servers would land "
        "on it as anonymous",
        "remove the servers' addresses from the relay ranges (override remove_ranges)",
    )
    assert got[0].where == "EX10-01\\Relay Apps"


def test_range_outside_rfc1918_and_declared_space() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24", "169.254.10.0/24"])
    assert found(inventory([c], [g]), "relay.range.undeclared") == [
        Finding(
            W,
            "relay.range.undeclared",
            "EX16-01\\Relay Apps",
            "relay ranges include '169.254.10.0/24', outside RFC 1918 and the organisation's "
            "declared space (loopback, link-local or shared address space)",
            "check these clients; declare the space under relay.public_ranges if it is the "
            "organisation's, or remove it",
        )
    ]


def test_single_address_without_host_name() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.15", "10.1.20.16"])
    inv = inventory([c], [g], host_names=(("10.1.20.15", "scan01.contoso.test"),))
    assert found(inv, "relay.range.no-host") == [
        Finding(
            INFO,
            "relay.range.no-host",
            "EX10-01\\Relay Apps",
            "single addresses without a host name in the inventory: '10.1.20.16'",
            "name them under hosts: in inventory.yaml so the relay tests and the log evidence can "
            "say which client each one is",
        )
    ]


def test_disabled_connector_is_not_migrated() -> None:
    c, g = relay("EX10-01", "Relay Off", ["10.1.20.0/24"], enabled=False)
    inv = inventory([c], [g])
    assert plan_relay(inv).connectors == ()
    assert found(inv, "relay.disabled") == [
        Finding(
            INFO,
            "relay.disabled",
            "EX10-01\\Relay Off",
            "'EX10-01\\Relay Off' is disabled on 2010 and is not migrated",
            "set migrate: true in an override for it if its clients still need it",
        )
    ]


def test_specific_bindings_are_not_copied() -> None:
    c, g = relay(
        "EX10-01", "Relay Apps", ["10.1.20.0/24"], bindings=("10.1.0.11:25", "10.1.0.11:2526")
    )
    inv = inventory([c], [g])
    assert found(inv, "relay.binding.specific") == [
        Finding(
            INFO,
            "relay.binding.specific",
            "EX10-01\\Relay Apps",
            "2010 bindings to specific addresses ('10.1.0.11:25', '10.1.0.11:2526') are not copied: "
            "the new connector listens on 0.0.0.0:25 (and [::]:25 where the server has IPv6), since "
            "a binding to an address the new server does not own can stop the Transport service "
            "from starting",
            "point the clients that used that address at the new server or the SMTP alias",
        )
    ]
    assert found(inv, "relay.binding.port") == [
        Finding(
            W,
            "relay.binding.port",
            "EX10-01\\Relay Apps",
            "the 2010 connector listens on port 2526; the new connector listens on port 25",
            "reconfigure those clients to port 25 when they move to the new servers",
        )
    ]
    assert [str(b) for b in plan_relay(inv).connectors[0].bindings] == ["0.0.0.0:25"]


def test_certificate_missing_for_a_service_name() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"], fqdn="smtp.contoso.test")
    assert found(inventory([c], [g]), "relay.certificate.missing") == [
        Finding(
            W,
            "relay.certificate.missing",
            "EX16-01\\Relay Apps",
            "the connector announces 'smtp.contoso.test' (the 2010 connector's Fqdn) but no "
            "certificate on EX16-01 in the inventory names it: clients that use STARTTLS and check "
            "the name will fail",
            "install a certificate whose names include 'smtp.contoso.test' on EX16-01 and re-run the "
            "plan, which then sets TlsCertificateName",
        )
    ]


def test_certificate_named_with_tls_certificate_name() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"], fqdn="smtp.contoso.test")
    cert = Certificate(
        "EX16-01",
        "AB12",
        "CN=mail.contoso.test, O=Contoso",
        "CN=Contoso Issuing CA 1, DC=contoso, DC=test",
        ("mail.contoso.test", "smtp.contoso.test"),
        dt.date(2027, 5, 1),
        ("SMTP", "IIS"),
    )
    inv = inventory([c], [g], certificates=(cert,))
    tls = "<I>CN=Contoso Issuing CA 1, DC=contoso, DC=test<S>CN=mail.contoso.test, O=Contoso"
    assert plan_relay(inv).connectors[0].tls_certificate_name == tls
    assert found(inv, "relay.certificate.by-name") == [
        Finding(
            INFO,
            "relay.certificate.by-name",
            "EX16-01\\Relay Apps",
            "2010 chose the certificate by the connector's Fqdn 'smtp.contoso.test'; on EX16-01 the "
            f"connector names it with TlsCertificateName '{tls}'",
        )
    ]
    assert found(inv, "relay.certificate.missing") == []


def test_server_fqdn_needs_no_certificate_name() -> None:
    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"], fqdn="ex10-01.contoso.test")
    inv = inventory([c], [g])
    p = plan_relay(inv).connectors[0]
    assert (p.fqdn, p.tls_certificate_name) == ("ex16-01.contoso.test", "")
    assert found(inv, "relay.certificate.missing") == []


def test_plan_never_touches_default_frontend() -> None:
    c, g = relay("EX10-01", "Apps", ["10.1.20.0/24"])
    inv = inventory([c], [g])
    plan = plan_relay(inv)
    bad = dataclasses.replace(plan.connectors[0], name="Default Frontend EX16-01")
    assert found(inv, "relay.default-connector", dataclasses.replace(plan, connectors=(bad,))) == [
        Finding(
            E,
            "relay.default-connector",
            "EX16-01\\Default Frontend EX16-01",
            "the plan would change default connector 'EX16-01\\Default Frontend EX16-01'; Default "
            "Frontend's settings (TlsDomainCapabilities set by the HCW, the [::]:25 binding) are "
            "never touched",
            "give the relay connector another name (override name)",
        )
    ]
    # a name pattern that hits a default connector's name is renamed by the planner instead
    renamed = plan_relay(
        inventory([c], [g], policy=with_policy(relay_name_pattern="Default Frontend {server}"))
    )
    assert [p.name for p in renamed.connectors] == ["Default Frontend EX16-01 2"]


def test_default_frontend_without_ipv6_binding_on_an_ipv6_server() -> None:
    servers = (
        server("EX10-01", ips=("10.1.0.10",)),
        server("EX16-01", "2016", ips=("10.1.0.20", "fd00::20")),
    )
    inv = inventory(servers=servers)
    inv = dataclasses.replace(
        inv,
        receive_connectors=tuple(
            dataclasses.replace(x, bindings=(Binding.parse("0.0.0.0:25"),))
            if x.name == "Default Frontend EX16-01"
            else x
            for x in inv.receive_connectors
        ),
    )
    assert found(inv, "relay.default-frontend.ipv6") == [
        Finding(
            W,
            "relay.default-frontend.ipv6",
            "EX16-01\\Default Frontend EX16-01",
            "'EX16-01\\Default Frontend EX16-01' has no [::]:25 binding: the Hybrid Configuration "
            "Wizard fails with HCW8010 without it",
            "Set-ReceiveConnector -Identity 'EX16-01\\Default Frontend EX16-01' -Bindings with "
            "[::]:25 added; the relay runbook leaves Default Frontend alone",
        )
    ]


# --------------------------------------------------------------------------- versions


def test_2019_or_se_target_while_2010_remains() -> None:
    servers = (server("EX10-01"), server("EX19-01", "2019"), server("SE-01", "SE"))
    got = [f for f in check_versions(inventory(servers=servers)) if f.code == "version.coexistence"]
    assert got == [
        Finding(
            E,
            "version.coexistence",
            "EX19-01",
            "Exchange 2019 cannot coexist with Exchange 2010 ('EX10-01' remain): the move must go "
            "through Exchange 2016",
            "add Exchange 2016, move everything, remove all Exchange 2010 servers, then add Exchange 2019",
        ),
        Finding(
            E,
            "version.coexistence",
            "SE-01",
            "Exchange SE cannot coexist with Exchange 2010 ('EX10-01' remain): the move must go "
            "through Exchange 2016",
            "add Exchange 2016, move everything, remove all Exchange 2010 servers, then add Exchange SE",
        ),
    ]


def test_se_target_once_2010_is_gone_is_fine() -> None:
    servers = (server("EX16-01", "2016", lifecycle=Lifecycle.LEGACY), server("SE-01", "SE"))
    assert check_versions(inventory(servers=servers)) == []


def test_2016_target_is_out_of_support() -> None:
    assert check_versions(inventory()) == [
        Finding(
            W,
            "version.out-of-support",
            "EX16-01",
            "Exchange 2016 is out of support since 14 October 2025: a time-boxed hop on the way to "
            "Exchange SE, not a destination",
            "plan the onward move to Exchange SE (2019 CU14/CU15 upgrades in place; 2016 needs new SE "
            "servers) once Exchange 2010 is gone",
        )
    ]


def test_2010_below_sp3_ru11() -> None:
    servers = (server("EX10-01", build="14.3.248.2"), server("EX16-01", "2016"))
    got = [f for f in check_versions(inventory(servers=servers)) if f.code == "version.2010-build"]
    assert got == [
        Finding(
            E,
            "version.2010-build",
            "EX10-01",
            "EX10-01 runs Exchange 2010 build '14.3.248.2', below Exchange 2010 SP3 Update Rollup 11 "
            "(14.3.266.2), the oldest that can coexist with Exchange 2016",
            "install the latest Exchange 2010 SP3 update rollup on EX10-01 before adding Exchange 2016",
        )
    ]


def test_2010_at_ru11_passes_and_unknown_build_warns() -> None:
    ok = (server("EX10-01", build="14.3.266.2"), server("EX16-01", "2016"))
    assert [f.code for f in check_versions(inventory(servers=ok))] == ["version.out-of-support"]
    unknown = Server("EX10-09", ExchangeVersion.EX2010, Lifecycle.LEGACY, build="")
    got = [
        f
        for f in check_versions(inventory(servers=(unknown,)))
        if f.code.startswith("version.2010")
    ]
    assert [(f.code, f.severity) for f in got] == [("version.2010-build-unknown", W)]


def test_parse_build_forms() -> None:
    assert parse_build("14.3.513.0") == (14, 3, 513, 0)
    assert parse_build("Version 14.3 (Build 123.4)") == (14, 3, 123, 4)
    assert parse_build("unknown") is None


# --------------------------------------------------------------------------- the sweep


def _brute_pairs(group: list[tuple[str, list[IPRange]]]) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    joined = []
    for name, ranges in group:
        merged: list[list[int]] = []
        for r in sorted(ranges, key=lambda r: (r.first, r.last)):
            if merged and r.first <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], r.last)
            else:
                merged.append([r.first, r.last])
        joined.append((name, merged))
    for i, (na, ra) in enumerate(joined):
        for nb, rb in joined[i + 1 :]:
            for a0, a1 in ra:
                for b0, b1 in rb:
                    inter = max(a0, b0) <= min(a1, b1)
                    nested = (a0 <= b0 and b1 <= a1) or (b0 <= a0 and a1 <= b1)
                    if inter and not nested:
                        pairs.add((na, nb))
    return pairs


_RANGES = st.lists(
    st.tuples(st.integers(0, 60), st.integers(0, 20)).map(lambda t: IPRange(4, t[0], t[0] + t[1])),
    min_size=1,
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_RANGES, min_size=2, max_size=4))
def test_overlap_sweep_finds_exactly_the_crossing_pairs(groups: list[list[IPRange]]) -> None:
    group = [(f"S\\C{i}", g) for i, g in enumerate(groups)]
    got = overlaps(Binding.parse("0.0.0.0:25"), group)
    names = {(f.message.split("'")[1], f.message.split("'")[3]) for f in got}
    assert names == _brute_pairs(group)


def test_addresses_added_by_override_do_not_warn_as_moved() -> None:
    from migrator.model import RelayOverride

    c, g = relay("EX10-01", "Relay Apps", ["10.1.20.0/24"])
    o = RelayOverride("Relay Apps", add_ranges=(IPRange.parse("10.1.22.7"),))
    inv = inventory([c], [g], policy=with_policy(overrides=(o,)))
    assert found(inv, "relay.shadow.moved") == []
    assert [str(r) for r in plan_relay(inv).connectors[0].remote_ip_ranges] == [
        "10.1.20.0/24",
        "10.1.22.7",
    ]


def test_role_check_stays_linear_with_many_connectors() -> None:
    conns, perms = [], []
    for i in range(600):
        c, g = relay("EX10-01", f"Relay {i:03d}", [f"10.{i // 250}.{i % 250}.0/24"])
        conns.append(c)
        perms.append(g)
    hub = connector("EX16-01", "Copied Hub", ["192.168.9.0/24"], role=TransportRole.HUB)
    got = found(inventory([*conns, hub], perms), "relay.conflict.role")
    assert len(got) == 601  # every Front End connector on 0.0.0.0:25 against the one Hub connector
    assert {f.message.count("'EX16-01\\Copied Hub' (HubTransport)") for f in got} == {1}
