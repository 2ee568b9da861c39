"""A small relay inventory and its relay plan, built in code, for the relay step and runbook tests.

The plan is written out by hand (not by ``plan_relay``) so these tests pin the
steps and runbooks for a known mapping: one anonymous and one externally
secured connector, a name with a typographic quote, IPv6 on one server.
"""

from __future__ import annotations

import ipaddress

from migrator.iprange import IPRange
from migrator.model import (
    Binding,
    ExchangeVersion,
    Inventory,
    Lifecycle,
    Policy,
    ReceiveConnector,
    RelayMethod,
    Server,
)
from migrator.plan.relay import Classification, ConnectorKind, PlannedConnector, RelayPlan

ANY4 = Binding.parse("0.0.0.0:25")
ANY6 = Binding.parse("[::]:25")


def sample_inventory(*, smtp_alias: str = "smtp.fabrikam.test") -> Inventory:
    """Two 2010 relay connectors on EX10-01; targets EX16-01 (IPv6) and EX16-02."""
    servers = (
        Server(
            "EX10-01",
            ExchangeVersion.EX2010,
            Lifecycle.LEGACY,
            site="HQ",
            fqdn="ex10-01.fabrikam.test",
            ip_addresses=(ipaddress.ip_address("10.1.0.10"),),
        ),
        Server(
            "EX16-01",
            ExchangeVersion.EX2016,
            Lifecycle.TARGET,
            site="HQ",
            fqdn="ex16-01.fabrikam.test",
            ip_addresses=(ipaddress.ip_address("10.1.0.20"), ipaddress.ip_address("fd00::20")),
        ),
        Server(
            "EX16-02",
            ExchangeVersion.EX2016,
            Lifecycle.TARGET,
            site="HQ",
            fqdn="ex16-02.fabrikam.test",
            ip_addresses=(ipaddress.ip_address("10.1.0.21"),),
        ),
    )
    connectors = (
        ReceiveConnector(
            "EX10-01",
            "Relay Apps",
            (ANY4,),
            (IPRange.parse("10.1.5.0/24"), IPRange.parse("10.1.6.7"), IPRange.parse("fd00:5::/64")),
            permission_groups=("AnonymousUsers",),
            max_message_size_bytes=10 * 1024 * 1024,
        ),
        ReceiveConnector(
            "EX10-01",
            "Scanner\u2019s 'Relay'",
            (ANY4,),
            (IPRange.parse("10.1.9.1-10.1.9.20"),),
            auth_mechanism=("Tls", "ExternalAuthoritative"),
            permission_groups=("ExchangeServers",),
        ),
    )
    return Inventory(
        organisation="Fabrikam",
        servers=servers,
        receive_connectors=connectors,
        policy=Policy(
            smtp_alias=smtp_alias, observation_days=14, domain_controller="dc01.fabrikam.test"
        ),
        host_names=(("10.1.6.7", "erp01"),),
    )


def sample_plan(inventory: Inventory) -> RelayPlan:
    """The relay plan for :func:`sample_inventory`: each 2010 connector on both targets."""
    apps, scanner = inventory.receive_connectors
    planned = []
    for server in ("EX16-01", "EX16-02"):
        bindings = (ANY4, ANY6) if server == "EX16-01" else (ANY4,)
        fqdn = f"{server.lower()}.fabrikam.test"
        planned.append(
            PlannedConnector(
                server=server,
                name="Relay Relay Apps",
                source_identity=apps.identity,
                bindings=bindings,
                remote_ip_ranges=apps.remote_ip_ranges,
                method=RelayMethod.ANONYMOUS,
                fqdn=fqdn,
                max_message_size_bytes=10 * 1024 * 1024,
                tls_certificate_name="",
            )
        )
        planned.append(
            PlannedConnector(
                server=server,
                name="Relay Scanner\u2019s 'Relay'",
                source_identity=scanner.identity,
                bindings=bindings,
                remote_ip_ranges=scanner.remote_ip_ranges,
                method=RelayMethod.EXTERNALLY_SECURED,
                fqdn=fqdn,
                max_message_size_bytes=None,
                tls_certificate_name="<I>CN=Fabrikam CA<S>CN=ex16.fabrikam.test",
            )
        )
    return RelayPlan(
        classifications=(
            Classification(
                apps, ConnectorKind.ANONYMOUS_RELAY, "AnonymousUsers + Accept-Any-Recipient", True
            ),
            Classification(
                scanner, ConnectorKind.EXTERNALLY_SECURED, "ExternalAuthoritative", True
            ),
        ),
        connectors=tuple(planned),
        findings=(),
    )
