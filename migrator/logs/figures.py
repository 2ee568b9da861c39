"""The per client figures of the SMTP scan and the relay evidence built from them.

The kernel (:mod:`migrator.logs.kernel`) counts into its own tables; the driver
(:mod:`migrator.logs.smtp`) turns them into :class:`ClientTally` objects, one per
(connector, client address), and :func:`build_evidence` makes the
:class:`~migrator.logs.evidence.Evidence` from them: recipients split by the
accepted domains, the window of days per server, the warnings about capped
figures. The caps keep memory bounded whatever the input size.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass, field

from migrator.logs.evidence import (
    ClientEvidence,
    ConnectorEvidence,
    DomainCount,
    Evidence,
    FileRecord,
    ScanMetadata,
    ServerWindow,
    SkippedFile,
    domain_is_accepted,
)
from migrator.logs.sources import natural_key

MAX_NAMES = 50
"""Distinct EHLO names / MAIL FROM domains kept per client."""
MAX_DOMAINS = 500
"""Distinct RCPT TO domains kept per client."""
MAX_CLIENTS_PER_CONNECTOR = 50_000
"""Distinct client addresses kept per connector; further ones fold into ``(other)``."""
MAX_WARNINGS = 200
"""Warnings kept in the evidence file; the rest are counted."""
OTHER = "(other)"
"""The name figures past a cap are counted under."""


@dataclass
class DomainTally:
    """Recipients of one client to one domain."""

    accepted: int = 0
    accepted_authenticated: int = 0
    refused: int = 0
    relay_refused: int = 0


@dataclass
class ClientTally:
    """Mutable per (connector, client) figures; merged across threads."""

    sessions: int = 0
    incomplete_sessions: int = 0
    messages: int = 0
    first_seen: str = ""
    last_seen: str = ""
    ehlo: dict[str, int] = field(default_factory=dict)
    mail_from: dict[str, int] = field(default_factory=dict)
    rcpt: dict[str, DomainTally] = field(default_factory=dict)
    refused_571: int = 0
    refused_5754: int = 0
    authenticated_sessions: int = 0
    tls_sessions: int = 0
    truncated: bool = False

    def merge(self, other: ClientTally) -> None:
        self.sessions += other.sessions
        self.incomplete_sessions += other.incomplete_sessions
        self.messages += other.messages
        self.first_seen = _min_ts(self.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)
        for name, n in other.ehlo.items():
            self.truncated |= _bump(self.ehlo, name, n, MAX_NAMES)
        for name, n in other.mail_from.items():
            self.truncated |= _bump(self.mail_from, name, n, MAX_NAMES)
        for dom, t in other.rcpt.items():
            mine = self.rcpt.get(dom)
            if mine is None:
                if len(self.rcpt) >= MAX_DOMAINS:
                    self.truncated = True
                    mine = self.rcpt.setdefault(OTHER, DomainTally())
                else:
                    mine = self.rcpt[dom] = DomainTally()
            mine.accepted += t.accepted
            mine.accepted_authenticated += t.accepted_authenticated
            mine.refused += t.refused
            mine.relay_refused += t.relay_refused
        self.refused_571 += other.refused_571
        self.refused_5754 += other.refused_5754
        self.authenticated_sessions += other.authenticated_sessions
        self.tls_sessions += other.tls_sessions
        self.truncated |= other.truncated


def _min_ts(a: str, b: str) -> str:
    if not a:
        return b
    if not b:
        return a
    return min(a, b)


def _bump(d: dict[str, int], key: str, n: int, cap: int) -> bool:
    if key in d:
        d[key] += n
        return False
    if len(d) >= cap:
        d[OTHER] = d.get(OTHER, 0) + n
        return True
    d[key] = n
    return False


# --------------------------------------------------------------------------- sessions


def server_of(connector: str) -> str:
    """``EX16-01\\Default Frontend EX16-01`` -> ``EX16-01`` (empty when there is no server part)."""
    return connector.split("\\", 1)[0] if "\\" in connector else ""


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
"""What ``ipaddress.IPv4Address`` accepts (no leading zeros): the common case, without it."""


def ip_version(address: str) -> int:
    if _DOTTED_QUAD.fullmatch(address):
        return 4
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).version
    except ValueError:
        return 0


def build_evidence(
    tallies: dict[tuple[str, str], ClientTally],
    clients_per_connector: dict[str, int],
    days: dict[str, set[str]],
    versions: dict[str, set[str]],
    accepted: tuple[str, ...],
    read: list[FileRecord],
    skipped: list[SkippedFile],
    lines: int,
    warnings: list[str],
) -> Evidence:
    """The evidence from the per client tallies, with the warnings about capped figures."""
    warnings = list(warnings)
    for (connector, client), t in sorted(tallies.items()):
        if t.truncated:
            warnings.append(
                f"{connector}, client {client}: more than {MAX_NAMES} EHLO names or MAIL FROM domains,"
                f" or more than {MAX_DOMAINS} recipient domains; the rest are counted as '{OTHER}'"
            )
    for connector, n in sorted(clients_per_connector.items()):
        if n > MAX_CLIENTS_PER_CONNECTOR:
            warnings.append(
                f"{connector}: more than {MAX_CLIENTS_PER_CONNECTOR} client addresses; the rest are"
                f" counted together as '{OTHER}'"
            )
    if len(warnings) > MAX_WARNINGS:
        extra = len(warnings) - MAX_WARNINGS
        warnings = [*warnings[:MAX_WARNINGS], f"{extra} more warnings not listed"]
    by_connector: dict[str, list[ClientEvidence]] = {}
    is_accepted: dict[str, bool] = {}
    for (connector, client), t in tallies.items():
        doms = []
        internal = external = external_anon = 0
        for dom, d in sorted(t.rcpt.items()):
            inside: bool | None = None
            if accepted and dom != OTHER:
                inside = is_accepted.get(dom)
                if inside is None:
                    inside = is_accepted[dom] = domain_is_accepted(dom, accepted)
                if inside:
                    internal += d.accepted
                else:
                    external += d.accepted
                    external_anon += d.accepted - d.accepted_authenticated
            doms.append(
                DomainCount(
                    dom, d.accepted, d.accepted_authenticated, d.refused, d.relay_refused, inside
                )
            )
        by_connector.setdefault(connector, []).append(
            ClientEvidence(
                address=client,
                ip_version=ip_version(client),
                sessions=t.sessions,
                incomplete_sessions=t.incomplete_sessions,
                messages=t.messages,
                first_seen=t.first_seen,
                last_seen=t.last_seen,
                ehlo_names=tuple(sorted(t.ehlo)),
                mail_from_domains=tuple(sorted(t.mail_from)),
                rcpt_domains=tuple(doms),
                internal_recipients=internal,
                external_recipients=external,
                external_recipients_anonymous=external_anon,
                relay_refused_5_7_1=t.refused_571,
                relay_refused_5_7_54=t.refused_5754,
                authenticated_sessions=t.authenticated_sessions,
                tls_sessions=t.tls_sessions,
                capped=t.truncated,
            )
        )
    connectors = []
    spans: dict[str, tuple[str, str]] = {}
    for connector, clients in sorted(by_connector.items(), key=lambda kv: kv[0].lower()):
        clients.sort(key=lambda c: (-c.sessions, c.ip_version, c.address))
        first = min(c.first_seen for c in clients)
        last = max(c.last_seen for c in clients)
        server = server_of(connector)
        f0, l0 = spans.get(server, ("", ""))
        spans[server] = (_min_ts(f0, first), max(l0, last))
        connectors.append(
            ConnectorEvidence(
                connector=connector,
                server=server,
                sessions=sum(c.sessions for c in clients),
                messages=sum(c.messages for c in clients),
                first_seen=first,
                last_seen=last,
                clients=tuple(clients),
            )
        )
    servers = []
    for server, (first, last) in sorted(spans.items(), key=lambda kv: kv[0].lower()):
        try:
            covered = (
                dt.date.fromisoformat(last[:10]) - dt.date.fromisoformat(first[:10])
            ).days + 1
        except ValueError:
            covered = len(days.get(server, ()))
        servers.append(
            ServerWindow(
                server=server,
                first_seen=first,
                last_seen=last,
                days_covered=covered,
                days_with_data=len(days.get(server, ())),
                versions=tuple(sorted(versions.get(server, ()))),
            )
        )
    scan = ScanMetadata(
        files_read=tuple(read),
        files_skipped=tuple(sorted(skipped, key=lambda s: natural_key(s.path))),
        lines=lines,
        sessions=sum(c.sessions for c in connectors),
        accepted_domains=accepted,
        warnings=tuple(warnings),
    )
    return Evidence(scan, tuple(servers), tuple(connectors))
