"""Small relay inventories built in code, for the relay plan, check, report and CLI tests (helpers, not tests).

The base organisation: one Exchange 2010 server ``EX10-01`` (site HQ,
10.1.0.10, SP3 RU32) with its two default connectors, one Exchange 2016
target ``EX16-01`` (site HQ, 10.1.0.20, no IPv6) with its default
connectors, and a policy that sends HQ's relay to EX16-01. Each test adds the
one thing it is about.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable
from typing import Any

from migrator.iprange import IPRange
from migrator.model import (
    ADPermission,
    Binding,
    ExchangeVersion,
    Inventory,
    Lifecycle,
    Policy,
    ReceiveConnector,
    Server,
    TransportRole,
)

ANON = "NT AUTHORITY\\ANONYMOUS LOGON"
ANY_RECIPIENT = "Ms-Exch-SMTP-Accept-Any-Recipient"
ALL4 = "0.0.0.0-255.255.255.255"
ALL6 = "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"


def server(
    name: str,
    version: str = "2010",
    *,
    site: str = "HQ",
    ips: Iterable[str] = (),
    build: str = "",
    fqdn: str | None = None,
    lifecycle: Lifecycle | None = None,
) -> Server:
    """A server; 2010 ones are legacy, others target, unless ``lifecycle`` says otherwise."""
    v = ExchangeVersion(version)
    life = lifecycle or (Lifecycle.LEGACY if v is ExchangeVersion.EX2010 else Lifecycle.TARGET)
    return Server(
        name,
        v,
        life,
        site=site,
        fqdn=f"{name.lower()}.contoso.test" if fqdn is None else fqdn,
        build=build or ("14.3.513.0" if v is ExchangeVersion.EX2010 else ""),
        ip_addresses=tuple(ipaddress.ip_address(a) for a in ips),
    )


def connector(
    srv: str,
    name: str,
    ranges: Iterable[str] = (ALL4,),
    *,
    bindings: Iterable[str] = ("0.0.0.0:25",),
    groups: Iterable[str] = ("AnonymousUsers",),
    auth: Iterable[str] = ("Tls",),
    role: TransportRole | None = None,
    enabled: bool = True,
    fqdn: str = "",
    size: int | None = None,
) -> ReceiveConnector:
    """A receive connector with ranges and bindings given as text."""
    return ReceiveConnector(
        srv,
        name,
        tuple(Binding.parse(b) for b in bindings),
        tuple(IPRange.parse(r) for r in ranges),
        auth_mechanism=tuple(auth),
        permission_groups=tuple(groups),
        transport_role=role,
        enabled=enabled,
        fqdn=fqdn,
        max_message_size_bytes=size,
    )


def grant(identity: str, user: str = ANON, *, deny: bool = False) -> ADPermission:
    """Ms-Exch-SMTP-Accept-Any-Recipient for ``user`` on a connector."""
    return ADPermission(identity, user, (ANY_RECIPIENT,), ("ExtendedRight",), deny=deny)


def relay(
    srv: str, name: str, ranges: Iterable[str], **kw: Any
) -> tuple[ReceiveConnector, ADPermission]:
    """An anonymous relay connector and its AD permission."""
    c = connector(srv, name, ranges, **kw)
    return c, grant(c.identity)


BASE_SERVERS = (
    server("EX10-01", ips=("10.1.0.10",)),
    server("EX16-01", "2016", ips=("10.1.0.20",)),
)
BASE_CONNECTORS = (
    connector(
        "EX10-01",
        "Default EX10-01",
        (ALL4, ALL6),
        bindings=("0.0.0.0:25", "[::]:25"),
        groups=("ExchangeUsers", "ExchangeServers", "ExchangeLegacyServers"),
        auth=("Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer"),
    ),
    connector(
        "EX10-01",
        "Client EX10-01",
        (ALL4, ALL6),
        bindings=("0.0.0.0:587",),
        groups=("ExchangeUsers",),
        auth=("Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS"),
    ),
    connector(
        "EX16-01",
        "Default Frontend EX16-01",
        (ALL4, ALL6),
        bindings=("0.0.0.0:25", "[::]:25"),
        groups=("AnonymousUsers", "ExchangeServers", "ExchangeLegacyServers"),
        auth=("Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer"),
        role=TransportRole.FRONTEND,
    ),
    connector(
        "EX16-01",
        "Default EX16-01",
        (ALL4, ALL6),
        bindings=("0.0.0.0:2525", "[::]:2525"),
        groups=("ExchangeUsers", "ExchangeServers", "ExchangeLegacyServers"),
        auth=("Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer"),
        role=TransportRole.HUB,
    ),
    connector(
        "EX16-01",
        "Client Frontend EX16-01",
        (ALL4, ALL6),
        bindings=("0.0.0.0:587", "[::]:587"),
        groups=("ExchangeUsers",),
        auth=("Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS"),
        role=TransportRole.FRONTEND,
    ),
)
BASE_POLICY = Policy(targets_by_site=(("HQ", ("EX16-01",)),))


def inventory(
    connectors: Iterable[ReceiveConnector] = (),
    permissions: Iterable[ADPermission] = (),
    *,
    servers: Iterable[Server] | None = None,
    policy: Policy | None = None,
    **fields: Any,
) -> Inventory:
    """The base organisation plus ``connectors``/``permissions``; other Inventory fields by keyword."""
    return Inventory(
        "Contoso Test",
        servers=tuple(servers) if servers is not None else BASE_SERVERS,
        receive_connectors=BASE_CONNECTORS + tuple(connectors),
        ad_permissions=tuple(permissions),
        policy=policy or BASE_POLICY,
        **fields,
    )


def with_policy(**changes: Any) -> Policy:
    """The base policy with some fields changed."""
    return dataclasses.replace(BASE_POLICY, **changes)
