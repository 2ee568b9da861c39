"""Evidence findings against an inventory built in Python (and planned relay ranges)."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

import pytest

from migrator.checks.evidence import evidence_findings
from migrator.iprange import IPRange
from migrator.logs.evidence import ClientEvidence, ConnectorEvidence, DomainCount, Evidence
from migrator.logs.smtp import scan_logs
from migrator.model import (
    AcceptedDomain,
    AcceptedDomainType,
    ADPermission,
    Binding,
    ExchangeVersion,
    Inventory,
    Lifecycle,
    LoadBalancer,
    Policy,
    ReceiveConnector,
    RemainingClient,
    Server,
    Severity,
)

DATA = Path(__file__).parent / "data" / "logs"
ANY = "Ms-Exch-SMTP-Accept-Any-Recipient"


def relay_connector(
    name: str, ranges: tuple[str, ...], logging: str = "Verbose"
) -> ReceiveConnector:
    return ReceiveConnector(
        server="EX10-01",
        name=name,
        bindings=(Binding.parse("0.0.0.0:25"),),
        remote_ip_ranges=tuple(IPRange.parse(r) for r in ranges),
        permission_groups=("AnonymousUsers",),
        protocol_logging_level=logging,
    )


def inventory(**extra: object) -> Inventory:
    apps = relay_connector("Relay Apps", ("10.1.1.50", "10.1.1.99", "2001:db8::5"))
    printers = relay_connector("Relay Printers", ("10.1.2.0/24",), logging="None")
    default = ReceiveConnector(
        server="EX10-01",
        name="Default EX10-01",
        bindings=(Binding.parse("0.0.0.0:25"),),
        remote_ip_ranges=(IPRange.parse("0.0.0.0-255.255.255.255"),),
        permission_groups=("ExchangeUsers", "ExchangeServers"),
    )
    base = Inventory(
        organisation="Contoso",
        servers=(
            Server("EX10-01", ExchangeVersion.EX2010, Lifecycle.LEGACY),
            Server("EX16-01", ExchangeVersion.EX2016, Lifecycle.TARGET),
        ),
        receive_connectors=(apps, printers, default),
        ad_permissions=tuple(
            ADPermission(c.identity, "NT AUTHORITY\\ANONYMOUS LOGON", extended_rights=(ANY,))
            for c in (apps, printers)
        ),
        accepted_domains=(
            AcceptedDomain(
                "Contoso", "contoso.com", AcceptedDomainType.AUTHORITATIVE, default=True
            ),
            AcceptedDomain("Contoso subdomains", "*.contoso.com", AcceptedDomainType.AUTHORITATIVE),
        ),
        policy=Policy(log_days_wanted=30),
    )
    return dataclasses.replace(base, **extra)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def evidence() -> Evidence:
    return scan_logs([DATA], ("contoso.com", "*.contoso.com"), workers=1)


def codes(findings: list, code: str) -> list[tuple[Severity, str, str]]:  # type: ignore[type-arg]
    return [(f.severity, f.where, f.message) for f in findings if f.code == code]


def test_window_shorter_than_wanted_names_the_server(evidence: Evidence) -> None:
    got = codes(evidence_findings(inventory(), evidence), "evidence.window-short")
    assert got == [
        (
            Severity.WARNING,
            "EX10-01",
            "protocol logs of 'EX10-01' cover 4 days (2023-01-02 to 2023-01-05); 30 were wanted",
        ),
        (
            Severity.WARNING,
            "EX16-01",
            "protocol logs of 'EX16-01' cover 2 days (2023-01-03 to 2023-01-04); 30 were wanted",
        ),
    ]
    quiet = inventory(policy=Policy(log_days_wanted=2))
    assert [
        w for s, w, _ in codes(evidence_findings(quiet, evidence), "evidence.window-short")
    ] == []


def test_unused_range_is_a_candidate_never_dropped(evidence: Evidence) -> None:
    enough = inventory(policy=Policy(log_days_wanted=4))
    got = [
        (f.severity, f.where, f.message, f.fix)
        for f in evidence_findings(enough, evidence)
        if f.code == "evidence.range-unused"
    ]
    assert got == [
        (
            Severity.WARNING,
            "EX10-01\\Relay Apps",
            "no client from '10.1.1.99' used 'EX10-01\\Relay Apps' in 4 days of logs; candidate to drop",
            "confirm with the application owners, then remove it with a relay override"
            " (remove_ranges); the plan keeps it until you do",
        )
    ]


def test_unused_range_in_a_short_window_is_no_candidate_yet(evidence: Evidence) -> None:
    """evidence.window-short warns that monthly clients may be missing: no drop is suggested then."""
    got = [
        (f.severity, f.where, f.message, f.fix)
        for f in evidence_findings(inventory(), evidence)
        if f.code == "evidence.range-unused"
    ]
    assert got == [
        (
            Severity.WARNING,
            "EX10-01\\Relay Apps",
            "no client from '10.1.1.99' used 'EX10-01\\Relay Apps' in 4 days of logs, fewer than"
            " the 30 wanted: not a candidate to drop yet (clients that send monthly may be missing)",
            "scan 30 days of logs before deciding (evidence.window-short); the plan keeps the range",
        )
    ]


def test_relay_connector_without_logging_says_so(evidence: Evidence) -> None:
    (f,) = codes(evidence_findings(inventory(), evidence), "evidence.no-sessions")
    assert f[1] == "EX10-01\\Relay Printers"
    assert "ProtocolLoggingLevel is not Verbose" in f[2]


def test_client_relaying_outside_the_planned_ranges_will_break(evidence: Evidence) -> None:
    inv = inventory()
    assert codes(evidence_findings(inv, evidence), "evidence.relay-will-break") == []
    planned = {"EX10-01\\Relay Apps": (IPRange.parse("10.1.1.99"),)}
    got = codes(evidence_findings(inv, evidence, planned), "evidence.relay-will-break")
    # 2001:db8::5 relayed too, but authenticated: its rights do not come from its address.
    assert got == [
        (
            Severity.ERROR,
            "EX10-01\\Relay Apps, client 10.1.1.50",
            "'10.1.1.50' relayed 2 recipients to external domains without authenticating through"
            " 'EX10-01\\Relay Apps' (last 2023-01-05), but the plan gives this address no relay"
            " rights on the new servers",
        )
    ]
    findings = evidence_findings(inv, evidence, planned)
    assert findings[0].severity is Severity.ERROR  # errors sort first


def test_refused_relays_are_reported_as_already_broken(evidence: Evidence) -> None:
    got = codes(evidence_findings(inventory(), evidence), "evidence.relay-refused")
    assert [(w, "5.7.54" in m, "5.7.1" in m) for _, w, m in got] == [
        ("EX10-01\\Default EX10-01, client 10.1.1.60", False, True),
        ("EX16-01\\Default Frontend EX16-01, client 10.1.1.70", True, False),
    ]


def _client(
    address: str, sessions: int, domains: tuple[DomainCount, ...], ehlo: tuple[str, ...] = ()
) -> ClientEvidence:
    return ClientEvidence(
        address=address,
        ip_version=4,
        sessions=sessions,
        incomplete_sessions=0,
        messages=sessions,
        first_seen="2023-01-01T00:00:00.000Z",
        last_seen="2023-01-30T00:00:00.000Z",
        ehlo_names=ehlo,
        mail_from_domains=("contoso.com",),
        rcpt_domains=domains,
        internal_recipients=0,
        external_recipients=0,
        external_recipients_anonymous=0,
        relay_refused_5_7_1=0,
        relay_refused_5_7_54=0,
        authenticated_sessions=0,
        tls_sessions=0,
    )


def _one_connector(*clients: ClientEvidence) -> Evidence:
    base = scan_logs([DATA], workers=1)
    ce = ConnectorEvidence(
        "EX10-01\\Relay Apps",
        "EX10-01",
        sum(c.sessions for c in clients),
        0,
        "2023-01-01T00:00:00.000Z",
        "2023-01-30T00:00:00.000Z",
        clients,
    )
    return dataclasses.replace(base, connectors=(ce,))


def test_internal_only_client_could_use_default_frontend() -> None:
    ev = _one_connector(_client("10.1.1.50", 3, (DomainCount("hr.contoso.com", 5, 0, 0, 0, None),)))
    (f,) = codes(evidence_findings(inventory(), ev), "evidence.internal-only")
    assert f[0] is Severity.INFO and f[1] == "EX10-01\\Relay Apps, client 10.1.1.50"
    # The logs cover 4 days of the 30 wanted: the advice waits for the whole window.
    fixes = {
        days: next(
            x.fix
            for x in evidence_findings(inventory(policy=Policy(log_days_wanted=days)), ev)
            if x.code == "evidence.internal-only"
        )
        for days in (4, 30)
    }
    assert fixes == {
        4: "it can use Default Frontend on the new servers and needs no relay rights",
        30: "it can use Default Frontend on the new servers and needs no relay rights; but the"
        " logs cover 4 days, fewer than the 30 wanted: confirm over 30 days before dropping"
        " anything",
    }


def test_one_address_with_most_sessions_suggests_snat() -> None:
    lb_addr = "10.1.1.50"
    ev = _one_connector(
        _client(lb_addr, 90, (DomainCount("gmail.com", 90, 0, 0, 0, None),), ("a", "b", "c")),
        _client("10.1.1.99", 10, (DomainCount("gmail.com", 10, 0, 0, 0, None),)),
    )
    (f,) = codes(evidence_findings(inventory(), ev), "evidence.one-address")
    assert f[2].startswith(
        "'10.1.1.50' carries 90% of the 100 sessions on 'EX10-01\\Relay Apps'; it announced 3"
    )
    import ipaddress

    lb = LoadBalancer("lb1", (ipaddress.ip_address(lb_addr),), source_nat=True)
    (f2,) = codes(evidence_findings(inventory(load_balancers=(lb,)), ev), "evidence.one-address")
    assert "source-NATing load balancer address in the inventory" in f2[2]


def test_client_that_always_authenticates_is_authenticated_relay() -> None:
    authed = dataclasses.replace(
        _client("10.1.1.77", 4, (DomainCount("fabrikam.example", 6, 6, 0, 0, None),)),
        authenticated_sessions=4,
    )
    found = evidence_findings(inventory(), _one_connector(authed))
    (f,) = codes(found, "evidence.authenticated")
    assert f[0] is Severity.INFO and f[1] == "EX10-01\\Relay Apps, client 10.1.1.77"
    assert "authenticated relay" in f[2]
    # It logs in, so losing the anonymous relay range does not break it.
    assert codes(found, "evidence.relay-will-break") == []


def test_client_that_authenticates_only_sometimes_is_not_authenticated_relay() -> None:
    mixed = dataclasses.replace(
        _client("10.1.1.78", 4, (DomainCount("fabrikam.example", 6, 3, 0, 0, None),)),
        authenticated_sessions=2,
    )
    assert (
        codes(evidence_findings(inventory(), _one_connector(mixed)), "evidence.authenticated") == []
    )


def test_a_non_exchange_client_of_a_2010_default_connector_is_reported(
    evidence: Evidence,
) -> None:
    """Issue 13 item 5: not only relay connectors: every client left on a 2010 server counts."""
    got = codes(evidence_findings(inventory(), evidence), "evidence.client-left")
    assert got == [
        (
            Severity.WARNING,
            "EX10-01\\Default EX10-01, client 10.1.1.60",
            "'10.1.1.60' is no Exchange server and still uses 'EX10-01\\Default EX10-01'"
            " (1 sessions, last 2023-01-02): EX10-01 is removed only once its logs show no such"
            " client",
        )
    ]
    accepted = inventory(
        policy=Policy(
            log_days_wanted=30,
            remaining_clients=(RemainingClient(IPRange.parse("10.1.1.0/24"), "EX10-01", "probe"),),
        )
    )
    assert codes(evidence_findings(accepted, evidence), "evidence.client-left") == []
    exchange = inventory(
        servers=(
            Server(
                "EX10-01",
                ExchangeVersion.EX2010,
                Lifecycle.LEGACY,
                ip_addresses=(ipaddress.ip_address("10.1.1.60"),),
            ),
            Server("EX16-01", ExchangeVersion.EX2016, Lifecycle.TARGET),
        )
    )
    assert codes(evidence_findings(exchange, evidence), "evidence.client-left") == []
