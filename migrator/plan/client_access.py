"""What the client-access evidence means for the plan: clients left per 2010 server, old Outlook.

- :func:`clients_left`: the clients a 2010 server still has in ``client-evidence.json``,
  leaving out health and monitoring accounts and those ``plan.remaining_client_access``
  accepts. The decommission step of the server is gated on it
  (:mod:`migrator.plan.phases.decommission`).
- :func:`client_access_findings`: ``client-access.clients-left`` per server and
  ``client-access.outlook-too-old`` per user (with the user's mailbox move wave
  where the waves are known), and ``client-access.window-short`` per server whose
  logs cover fewer days than ``plan.log_days_wanted``: such evidence never clears
  the gate (clients that connect monthly may be missing).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable, Iterable, Mapping

from migrator.logs.client_evidence import (
    ClientEvidence,
    ClientSeen,
    OldOutlook,
    ServerClients,
    user_key,
)
from migrator.model import (
    ExchangeVersion,
    Finding,
    Inventory,
    Lifecycle,
    RemainingClientAccess,
    Server,
    ServerRole,
    Severity,
)
from migrator.plan.moves import MovePlan

LISTED_CLIENTS = 20
"""Clients named in a decommission step; the rest are counted."""


def days_wanted(inv: Inventory) -> int:
    """Days of logs every observation before a 2010 server's removal reads, at the least.

    ``plan.observation_days``, but never fewer than ``plan.log_days_wanted``: the
    evidence rule (``evidence.window-short``) warns that fewer days may miss the
    clients that connect monthly, so no removal is planned on fewer.
    """
    return max(inv.policy.observation_days, inv.policy.log_days_wanted)


Span = tuple[str, str] | None
"""(first, last) request of a server in the evidence (the logs' own text), or None: no record."""


def span_of(seen: ServerClients | None) -> Span:
    """The :data:`Span` of one server's evidence."""
    return None if seen is None else (seen.first_seen, seen.last_seen)


def days_covered(span: Span) -> int:
    """Calendar days from the first to the last request, both included (0: no record, or unreadable)."""
    if span is None:
        return 0
    try:
        first = dt.date.fromisoformat(span[0][:10])
        last = dt.date.fromisoformat(span[1][:10])
    except ValueError:
        return 0
    return max(0, (last - first).days + 1)


def window_short(inv: Inventory, span: Span) -> bool:
    """Whether a server's client-access logs cover fewer days than ``plan.log_days_wanted``
    (the same evidence rule as the SMTP logs' ``evidence.window-short``)."""
    return days_covered(span) < inv.policy.log_days_wanted


def window_text(span: Span) -> str:
    """``3 days (2023-01-05 to 2023-01-07)``, or that the evidence has no record of the server."""
    if span is None:
        return "no day (the evidence has no record of the server)"
    days = days_covered(span)
    return f"{days} day{'s' if days != 1 else ''} ({span[0][:10] or '?'} to {span[1][:10] or '?'})"


def serves_clients(server: Server) -> bool:
    """Whether a 2010 server runs Client Access (IIS and RPC Client Access logs); no roles listed: yes."""
    return not server.roles or ServerRole.CLIENT_ACCESS in server.roles


def _accepts(
    rule: RemainingClientAccess, server: str, protocol: str, user: str, client_ip: str
) -> bool:
    if rule.server and rule.server.lower() != server.lower():
        return False
    if rule.protocol and rule.protocol.lower() != protocol.lower():
        return False
    if rule.user and user_key(rule.user) != user_key(user):
        return False
    if rule.remote_range is not None:
        try:
            address = ipaddress.ip_address(client_ip.split("%", 1)[0])
        except ValueError:
            return False
        if not rule.remote_range.contains_address(address):
            return False
    return True


def accepted_by(
    inv: Inventory, server: str, protocol: str, client: ClientSeen
) -> RemainingClientAccess | None:
    """The ``plan.remaining_client_access`` entry that accepts a client, or None."""
    return next(
        (
            r
            for r in inv.policy.remaining_client_access
            if _accepts(r, server, protocol, client.user, client.client_ip)
        ),
        None,
    )


def clients_left(
    inv: Inventory, evidence: ClientEvidence, server: str
) -> tuple[tuple[str, ClientSeen], ...]:
    """(protocol, client) still connecting to a 2010 server: not monitoring, not accepted."""
    seen = evidence.server(server)
    if seen is None:
        return ()
    return tuple(
        (protocol, c)
        for protocol, c in seen.clients()
        if not c.monitoring and accepted_by(inv, seen.server, protocol, c) is None
    )


def describe(protocol: str, c: ClientSeen) -> str:
    """One client in one line: ``RPC/HTTP CONTOSO\\jdoe from 203.0.113.7 (MSRPC), 12 requests, last 2023-01-05``."""
    who = c.user or "anonymous"
    agent = f" ({c.user_agent})" if c.user_agent else ""
    via = f" through {c.via}" if c.via else ""
    return (
        f"{protocol} {who} from {c.client_ip or 'an unknown address'}{via}{agent}, "
        f"{c.requests} requests, last {c.last_seen[:10]}"
    )


def waves_by_user(inv: Inventory, moves: MovePlan | None) -> dict[str, int]:
    """User name part (sam, alias, SMTP local part) -> the wave its mailbox moves in."""
    if moves is None:
        return {}
    out: dict[str, int] = {}
    for a in moves.assignments:
        m = a.mailbox
        for name in (m.sam_account_name, m.alias, m.primary_smtp):
            if name:
                out.setdefault(user_key(name), a.wave)
    return out


def legacy_client_servers(inv: Inventory) -> tuple[Server, ...]:
    """The 2010 servers whose removal the client-access evidence gates, by name."""
    return tuple(
        sorted(
            (
                s
                for s in inv.servers
                if s.lifecycle is Lifecycle.LEGACY
                and s.version is ExchangeVersion.EX2010
                and serves_clients(s)
                and not s.is_edge
            ),
            key=lambda s: s.name.lower(),
        )
    )


def no_evidence_findings(inv: Inventory) -> list[Finding]:
    """Without ``client-evidence.json``: the client-access gate of each 2010 server has no log evidence.

    The plan still builds (the gate steps are marked blocked and ask for the scan);
    findings.txt says so, with the command that makes the evidence (review 3, F9).
    """
    servers = legacy_client_servers(inv)
    if not servers:
        return []
    names = ", ".join(s.name for s in servers)
    return [
        Finding(
            Severity.WARNING,
            "client-access.no-evidence",
            inv.root,
            f"no client-evidence.json was given, so the 2010 client-access decommission gate"
            f" has no log evidence: the removal of {names} stays blocked"
            f" (decommission.client-access.<server>) until a scan shows no client left",
            "copy the IIS logs (W3SVC1) and the RPC Client Access logs of each 2010 Client Access"
            " server and the HttpProxy logs of the 2016 servers, run 'migrator logs scan LOGDIR..."
            " --inventory INVENTORY -o INVENTORY' (client-evidence.json beside the inventory is"
            " read; or pass --client-evidence FILE) and plan again",
        )
    ]


RealClients = Callable[[str], tuple[str, Iterable[tuple[str, str, str, str]]] | None]
"""server name -> (its name in the evidence, (protocol, user, address, last seen) of every client
that is no monitoring account), or None when the evidence has no such server."""


def client_access_findings(
    inv: Inventory, evidence: ClientEvidence, moves: MovePlan | None = None
) -> list[Finding]:
    """Clients left per 2010 server and users with an Outlook older than the 2016 minimum."""

    def real(name: str) -> tuple[str, Iterable[tuple[str, str, str, str]]] | None:
        seen = evidence.server(name)
        if seen is None:
            return None
        return seen.server, (
            (p, c.user, c.client_ip, c.last_seen) for p, c in seen.clients() if not c.monitoring
        )

    return findings_of(
        inv,
        real,
        evidence.old_outlook,
        evidence.outlook_minimum,
        moves,
        lambda name: span_of(evidence.server(name)),
    )


def findings_of(
    inv: Inventory,
    real: RealClients,
    old_outlook: Iterable[OldOutlook],
    minimum: str,
    moves: MovePlan | None = None,
    span: Callable[[str], Span] | None = None,
) -> list[Finding]:
    """:func:`client_access_findings` from the clients of each server as rows (the scan reads
    them from DuckDB without building every client).

    ``span`` gives a server's first and last request (None: no record); with it, each 2010
    Client Access server whose logs cover fewer days than ``plan.log_days_wanted`` is a
    ``client-access.window-short`` warning (its removal stays blocked).
    """
    findings: list[Finding] = []
    rules = inv.policy.remaining_client_access
    keys: dict[str, str] = {}
    wanted = inv.policy.log_days_wanted
    for server in legacy_client_servers(inv):
        if span is None:
            break
        seen = span(server.name)
        if window_short(inv, seen):
            findings.append(
                Finding(
                    Severity.WARNING,
                    "client-access.window-short",
                    server.name,
                    f"the client-access logs of {server.name} cover {window_text(seen)};"
                    f" {wanted} days are wanted before its removal: clients that connect monthly"
                    f" may be missing, so the plan does not remove it on this evidence"
                    f" (decommission.client-access.{server.name} blocks the removal)",
                    f"keep {wanted} days of its IIS and RPC Client Access logs (and the 2016"
                    " HttpProxy logs), scan them with 'migrator logs scan' and re-plan",
                )
            )
    for server in legacy_client_servers(inv):
        found = real(server.name)
        if found is None:
            continue
        name, rows = found
        protocols: set[str] = set()
        users: set[str] = set()
        last = ""
        for protocol, user, client_ip, last_seen in rows:
            if any(_accepts(r, name, protocol, user, client_ip) for r in rules):
                continue
            protocols.add(protocol)
            key = keys.get(user)
            if key is None:
                key = keys[user] = user_key(user)
            users.add(key or client_ip)
            last = max(last, last_seen)
        if not users:
            continue
        findings.append(
            Finding(
                Severity.WARNING,
                "client-access.clients-left",
                server.name,
                f"{len(users)} clients still connect to {server.name} ({', '.join(sorted(protocols))};"
                f" last {last[:10]}): the plan does not remove it"
                f" (decommission.client-access.{server.name} blocks the removal)",
                "move their mailboxes and point them at the new namespace, scan the logs again"
                " (migrator logs scan) and re-plan; or accept a client under"
                " plan.remaining_client_access in inventory.yaml with the reason it may stay",
            )
        )
    waves = waves_by_user(inv, moves)
    for old in old_outlook:
        wave = waves.get(user_key(old.user))
        when = f" before its mailbox moves in wave {wave}" if wave is not None else ""
        findings.append(
            Finding(
                Severity.WARNING,
                "client-access.outlook-too-old",
                old.user,
                f"'{old.user}' uses Outlook {', '.join(old.builds)} (seen on"
                f" {', '.join(old.servers)}, last {old.last_seen[:10]}), older than"
                f" {minimum} (Outlook 2010 SP2), the oldest Exchange 2016 supports",
                f"update Outlook (2010 SP2 with KB2956191 and KB2965295, or later){when}",
            )
        )
    return findings


def wave_of(waves: Mapping[str, int], user: str) -> int | None:
    """The wave of a user as the logs name it, or None."""
    return waves.get(user_key(user))
