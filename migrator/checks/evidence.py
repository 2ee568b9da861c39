"""Checks that compare protocol-log evidence with the inventory (and the planned relay ranges).

The rules (docs/logs.md explains them to users):

- ``evidence.range-unused``: a RemoteIPRanges entry of a 2010 relay connector no
  client was seen from in the window: a candidate to drop, never dropped silently.
- ``evidence.no-sessions``: a 2010 relay connector with no session at all
  (logging not Verbose, or truly unused).
- ``evidence.relay-will-break`` (error): a client relayed to external recipients
  without authenticating through a 2010 connector, and the plan would not give
  its address relay rights on the new servers.
- ``evidence.internal-only``: a client of a relay connector that only sends to
  accepted domains: it could use Default Frontend and needs no relay rights.
- ``evidence.relay-refused``: recipients refused with 5.7.54 (or 5.7.1 on 2010):
  those clients are already broken.
- ``evidence.window-short``: a server's logs cover fewer days than
  ``policy.log_days_wanted``.
- ``evidence.one-address``: one address carries most sessions of a relay
  connector: a source-NATing load balancer may hide the real clients.
- ``evidence.client-left``: a client that is not an Exchange server and not
  accepted under ``plan.remaining_clients`` uses a non-relay connector of a
  2010 server (Default, internal-only): the server is removed only once no
  such client is left (``decommission.observe-clients`` reads the logs again).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from migrator.iprange import IPRange
from migrator.logs.evidence import ClientEvidence, Evidence, domain_is_accepted
from migrator.model import (
    ExchangeVersion,
    Finding,
    Inventory,
    Lifecycle,
    ReceiveConnector,
    Severity,
)
from migrator.relay_rights import is_relay_connector

ONE_ADDRESS_SHARE = 0.5
"""Share of a relay connector's sessions above which one address is suspicious."""
ONE_ADDRESS_MIN_SESSIONS = 10
"""Sessions a connector needs before the one-address rule speaks."""


def legacy_relay_connectors(inventory: Inventory) -> tuple[ReceiveConnector, ...]:
    """The relay connectors on 2010 (legacy) servers, in identity order."""
    legacy = {
        s.name.lower()
        for s in inventory.servers
        if s.lifecycle is Lifecycle.LEGACY and s.version is ExchangeVersion.EX2010
    }
    return tuple(
        sorted(
            (
                c
                for c in inventory.receive_connectors
                if c.server.lower() in legacy
                and is_relay_connector(c, inventory.permissions_for(c.identity))
            ),
            key=lambda c: c.identity.lower(),
        )
    )


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _covered(address: str, ranges: Sequence[IPRange]) -> bool:
    addr = _address(address)
    return addr is not None and any(r.contains_address(addr) for r in ranges)


def _external_anonymous(client: ClientEvidence, accepted: tuple[str, ...]) -> int:
    """External recipients accepted without authentication, split by the inventory's domains."""
    n = 0
    for d in client.rcpt_domains:
        if d.domain == "(other)":
            n += d.accepted - d.accepted_authenticated  # unknown: count as external (the safe side)
        elif not domain_is_accepted(d.domain, accepted):
            n += d.accepted - d.accepted_authenticated
    return n


def _external_any(client: ClientEvidence, accepted: tuple[str, ...]) -> int:
    return sum(
        d.accepted + d.refused
        for d in client.rcpt_domains
        if d.domain == "(other)" or not domain_is_accepted(d.domain, accepted)
    )


def _internal_any(client: ClientEvidence, accepted: tuple[str, ...]) -> bool:
    return any(
        d.accepted and d.domain != "(other)" and domain_is_accepted(d.domain, accepted)
        for d in client.rcpt_domains
    )


def _clients_left(
    inventory: Inventory,
    evidence: Evidence,
    relay_ids: Mapping[str, ReceiveConnector],
    legacy_servers: set[str],
) -> list[Finding]:
    """Non-Exchange clients of the other connectors of a 2010 server (the relay ones have their own rules)."""
    own = [IPRange.parse(str(a)) for srv in inventory.servers for a in srv.ip_addresses]
    out: list[Finding] = []
    for ce in evidence.connectors:
        server = ce.server.lower()
        if server not in legacy_servers or ce.connector.lower() in relay_ids:
            continue
        accepted = [
            rc.remote_range
            for rc in inventory.policy.remaining_clients
            if not rc.server or rc.server.lower() == server
        ]
        for cl in ce.clients:
            addr = _address(cl.address)
            if addr is None or addr.is_loopback or _covered(cl.address, (*own, *accepted)):
                continue
            out.append(
                Finding(
                    Severity.WARNING,
                    "evidence.client-left",
                    f"{ce.connector}, client {cl.address}",
                    f"'{cl.address}' is no Exchange server and still uses '{ce.connector}'"
                    f" ({cl.sessions} sessions, last {cl.last_seen[:10]}): {ce.server} is removed"
                    " only once its logs show no such client",
                    "point the client at the new servers (the SMTP alias), or accept it under"
                    " plan.remaining_clients in inventory.yaml with the reason it may stay",
                )
            )
    return out


def evidence_findings(
    inventory: Inventory,
    evidence: Evidence,
    planned_relay_ranges_by_source: Mapping[str, Sequence[IPRange]] | None = None,
) -> list[Finding]:
    """Findings from the evidence, sorted errors first.

    ``planned_relay_ranges_by_source`` maps a 2010 connector identity to the
    ranges the plan gives relay rights on the new servers; without it the
    plan is assumed to carry each relay connector's RemoteIPRanges unchanged.
    """
    accepted = tuple(d.domain_name.lower() for d in inventory.accepted_domains)
    planned = {k.lower(): tuple(v) for k, v in (planned_relay_ranges_by_source or {}).items()}
    relay = legacy_relay_connectors(inventory)
    relay_ids = {c.identity.lower(): c for c in relay}
    legacy_servers = {s.name.lower() for s in inventory.legacy_servers}
    findings: list[Finding] = []

    for w in evidence.servers:
        if w.days_covered < inventory.policy.log_days_wanted:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "evidence.window-short",
                    w.server,
                    f"protocol logs of '{w.server}' cover {w.days_covered} days"
                    f" ({w.first_seen[:10]} to {w.last_seen[:10]}); {inventory.policy.log_days_wanted} were wanted",
                    "raise ReceiveProtocolLogMaxAge and ReceiveProtocolLogMaxDirectorySize with"
                    " Set-TransportServer, wait, and scan again; clients that send monthly may be missing",
                )
            )

    wanted = inventory.policy.log_days_wanted
    for rc in relay:
        ev = evidence.connector(rc.identity)
        window = evidence.window(rc.server)
        days = f"{window.days_covered} days of logs" if window else "the logs scanned"
        short = window is None or window.days_covered < wanted
        if ev is None or ev.sessions == 0:
            logging = (
                "; its ProtocolLoggingLevel is not Verbose, so no evidence could be written"
                if rc.protocol_logging_level.lower() != "verbose"
                else ""
            )
            findings.append(
                Finding(
                    Severity.WARNING,
                    "evidence.no-sessions",
                    rc.identity,
                    f"no session on relay connector '{rc.identity}' in {days}{logging}",
                    "set -ProtocolLoggingLevel Verbose on the connector and collect logs before"
                    " deciding; nothing is dropped automatically",
                )
            )
            continue
        for rng in rc.remote_ip_ranges:
            if not any(_covered(c.address, (rng,)) for c in ev.clients):
                findings.append(
                    Finding(
                        Severity.WARNING,
                        "evidence.range-unused",
                        rc.identity,
                        f"no client from '{rng}' used '{rc.identity}' in {days}, fewer than the"
                        f" {wanted} wanted: not a candidate to drop yet (clients that send monthly"
                        " may be missing)"
                        if short
                        else f"no client from '{rng}' used '{rc.identity}' in {days}; candidate to drop",
                        f"scan {wanted} days of logs before deciding (evidence.window-short);"
                        " the plan keeps the range"
                        if short
                        else "confirm with the application owners, then remove it with a relay"
                        " override (remove_ranges); the plan keeps it until you do",
                    )
                )

    for ce in evidence.connectors:
        if ce.server.lower() not in legacy_servers:
            continue
        source = relay_ids.get(ce.connector.lower())
        seen = evidence.window(ce.server)
        caveat = (
            f"; but the logs cover {seen.days_covered if seen else 0} days, fewer than the"
            f" {wanted} wanted: confirm over {wanted} days before dropping anything"
            if seen is None or seen.days_covered < wanted
            else ""
        )
        if ce.connector.lower() in planned:
            allowed: tuple[IPRange, ...] = planned[ce.connector.lower()]
        elif planned_relay_ranges_by_source is not None or source is None:
            allowed = ()
        else:
            allowed = source.remote_ip_ranges
        for cl in ce.clients:
            ext = _external_anonymous(cl, accepted)
            if ext > 0 and not _covered(cl.address, allowed):
                findings.append(
                    Finding(
                        Severity.ERROR,
                        "evidence.relay-will-break",
                        f"{ce.connector}, client {cl.address}",
                        f"'{cl.address}' relayed {ext} recipients to external domains without"
                        f" authenticating through '{ce.connector}' (last {cl.last_seen[:10]}),"
                        " but the plan gives this address no relay rights on the new servers",
                        "add the address to the relay connector's ranges (relay override"
                        " add_ranges) or move the client to authenticated submission on port 587",
                    )
                )
            elif (
                source is not None
                and cl.sessions > 0
                and cl.authenticated_sessions == cl.sessions
                and _external_any(cl, accepted) > 0
            ):
                # Authenticated relay: the client logs in, so it needs no relay connector.
                findings.append(
                    Finding(
                        Severity.INFO,
                        "evidence.authenticated",
                        f"{ce.connector}, client {cl.address}",
                        f"'{cl.address}' authenticated in all {cl.sessions} sessions through relay"
                        f" connector '{ce.connector}' before sending to external domains:"
                        " authenticated relay",
                        "point it at Client Frontend on port 587 (SMTP AUTH with STARTTLS) on the"
                        " new servers; it needs no custom relay connector, and its address can then"
                        " be dropped from the relay ranges (relay override remove_ranges)" + caveat,
                    )
                )
            elif (
                source is not None
                and _external_any(cl, accepted) == 0
                and _internal_any(cl, accepted)
            ):
                findings.append(
                    Finding(
                        Severity.INFO,
                        "evidence.internal-only",
                        f"{ce.connector}, client {cl.address}",
                        f"'{cl.address}' sent only to accepted domains through relay connector"
                        f" '{ce.connector}' ({cl.sessions} sessions)",
                        "it can use Default Frontend on the new servers and needs no relay rights"
                        + caveat,
                    )
                )
            refused = cl.relay_refused_5_7_54 + cl.relay_refused_5_7_1
            if refused:
                codes = []
                if cl.relay_refused_5_7_54:
                    codes.append(f"{cl.relay_refused_5_7_54} with 550 5.7.54")
                if cl.relay_refused_5_7_1:
                    codes.append(f"{cl.relay_refused_5_7_1} with 550 5.7.1 Unable to relay")
                findings.append(
                    Finding(
                        Severity.WARNING,
                        "evidence.relay-refused",
                        f"{ce.connector}, client {cl.address}",
                        f"'{cl.address}' had {refused} recipients refused as relay"
                        f" ({', '.join(codes)}): this client is already broken",
                        "decide whether it should relay; if so, add its address to a relay connector",
                    )
                )
    # Refusals on new servers too (Default Frontend answering 5.7.54).
    for ce in evidence.connectors:
        if ce.server.lower() in legacy_servers:
            continue
        for cl in ce.clients:
            refused = cl.relay_refused_5_7_54 + cl.relay_refused_5_7_1
            if refused:
                findings.append(
                    Finding(
                        Severity.WARNING,
                        "evidence.relay-refused",
                        f"{ce.connector}, client {cl.address}",
                        f"'{cl.address}' had {refused} recipients refused as relay on"
                        f" '{ce.connector}' (550 5.7.54): this client is already broken",
                        "decide whether it should relay; if so, add its address to a relay connector",
                    )
                )

    findings += _clients_left(inventory, evidence, relay_ids, legacy_servers)

    snat = {
        str(a)
        for lb in inventory.load_balancers
        if lb.source_nat
        for a in (lb.snat_addresses or lb.virtual_addresses)
    }
    for rc in relay:
        ev = evidence.connector(rc.identity)
        if ev is None or ev.sessions < ONE_ADDRESS_MIN_SESSIONS or not ev.clients:
            continue
        top = ev.clients[0]
        share = top.sessions / ev.sessions
        if share > ONE_ADDRESS_SHARE:
            why = (
                "it is a source-NATing load balancer address in the inventory"
                if top.address in snat
                else f"it announced {len(top.ehlo_names)} different EHLO names"
                if len(top.ehlo_names) > 1
                else "check whether a load balancer or NAT device sits in front"
            )
            findings.append(
                Finding(
                    Severity.WARNING,
                    "evidence.one-address",
                    rc.identity,
                    f"'{top.address}' carries {share:.0%} of the {ev.sessions} sessions on"
                    f" '{rc.identity}'; {why}: a source-NATing load balancer hides the real clients",
                    "take the client list from the load balancer's logs, or let it preserve"
                    " the client address, before trusting these figures",
                )
            )
    return sorted(set(findings), key=Finding.sort_key)
