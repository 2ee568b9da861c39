"""``relay-evidence.json``: what the SMTP Receive protocol logs showed, per connector and client.

The file is written by ``migrator logs scan`` and read by the plan
(:func:`load_evidence`). Its format is documented in ``docs/logs.md``; the
``format`` key carries a version so a later reader can refuse what it does not
know. Output is deterministic: lists are sorted and no clock is read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from migrator.errors import InventoryError, Problem
from migrator.fileio import write_text

FORMAT = "migrator.relay-evidence/1"
"""Value of the ``format`` key this module writes and reads."""


def domain_is_accepted(domain: str, accepted: tuple[str, ...]) -> bool:
    """Whether a recipient domain falls in the accepted domains (``*.x`` matches subdomains of x)."""
    d = domain.lower().rstrip(".")
    for a in accepted:
        a = a.lower().rstrip(".")
        if a == "*":
            return True
        if a.startswith("*."):
            if d.endswith(a[1:]):
                return True
        elif d == a:
            return True
    return False


@dataclass(frozen=True)
class DomainCount:
    """Recipients of one RCPT TO domain sent by one client."""

    domain: str
    """Recipient domain, lower case (``(other)`` gathers domains past the cap)."""
    accepted: int
    """RCPT TO answered 2xx."""
    accepted_authenticated: int
    """Of those, in sessions where the client had authenticated."""
    refused: int
    """RCPT TO answered 4xx/5xx."""
    relay_refused: int
    """Of those, refused as relay (``550 5.7.1 Unable to relay`` or ``550 5.7.54``)."""
    internal: bool | None
    """True for an accepted domain, False for external, None when no accepted domains were given."""


@dataclass(frozen=True)
class ClientEvidence:
    """What one client address did through one connector."""

    address: str
    """Client IP address (IPv4 or IPv6, no port)."""
    ip_version: int
    """4 or 6 (0 for the ``(other)`` bucket or an unparsable endpoint)."""
    sessions: int
    """Sessions (connections)."""
    incomplete_sessions: int
    """Sessions whose start or end was not in the logs read."""
    messages: int
    """Messages accepted (DATA or BDAT LAST answered 2xx)."""
    first_seen: str
    """Earliest event, as the log writes it (UTC)."""
    last_seen: str
    """Latest event."""
    ehlo_names: tuple[str, ...]
    """EHLO/HELO names, sorted."""
    mail_from_domains: tuple[str, ...]
    """MAIL FROM domains, sorted."""
    rcpt_domains: tuple[DomainCount, ...]
    """Recipient domains with counts, sorted by domain."""
    internal_recipients: int
    """Recipients accepted in accepted domains."""
    external_recipients: int
    """Recipients accepted outside the accepted domains: relay that succeeded."""
    external_recipients_anonymous: int
    """Of those, in sessions without authentication (the ones that need relay rights by address)."""
    relay_refused_5_7_1: int
    """RCPT refused with ``550 5.7.1 Unable to relay`` (Exchange 2010)."""
    relay_refused_5_7_54: int
    """RCPT refused with ``550 5.7.54`` (Exchange 2013 and later)."""
    authenticated_sessions: int
    """Sessions in which the client authenticated (AUTH, X-EXPS)."""
    tls_sessions: int
    """Sessions that negotiated TLS (STARTTLS, X-ANONYMOUSTLS)."""
    capped: bool = False
    """True when a per client list reached its cap (the rest is counted as ``(other)``)."""


@dataclass(frozen=True)
class ConnectorEvidence:
    """Figures for one receive connector id as the logs name it."""

    connector: str
    """Connector id, ``SERVER\\Name``."""
    server: str
    """Server part of the id."""
    sessions: int
    """Sessions on the connector."""
    messages: int
    """Messages accepted."""
    first_seen: str
    """Earliest event."""
    last_seen: str
    """Latest event."""
    clients: tuple[ClientEvidence, ...]
    """Clients, most sessions first, then by address."""


@dataclass(frozen=True)
class ServerWindow:
    """How much evidence one server's logs hold."""

    server: str
    """Server name (from the connector ids)."""
    first_seen: str
    """Earliest event."""
    last_seen: str
    """Latest event."""
    days_covered: int
    """Calendar days from the first to the last event, both included."""
    days_with_data: int
    """Days that have at least one event."""
    versions: tuple[str, ...]
    """``#Version`` values of its files (14.x is Exchange 2010, 15.x is 2013 and later)."""


@dataclass(frozen=True)
class FileRecord:
    """A log file that was read."""

    path: str
    """Path (``archive.zip!member`` for a zip member)."""
    lines: int
    """Data lines counted."""
    bytes_read: int
    """Uncompressed bytes read."""
    versions: tuple[str, ...]
    """``#Version`` values seen."""


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not counted, and why (every log scan: discovery, SMTP, client access)."""

    path: str
    """Path (``archive.zip!member`` for a zip member)."""
    reason: str
    """Why it was skipped (no such file, unreadable, send log, not a known log type...)."""


@dataclass(frozen=True)
class ScanMetadata:
    """How the evidence was gathered."""

    files_read: tuple[FileRecord, ...] = ()
    """Receive logs read."""
    files_skipped: tuple[SkippedFile, ...] = ()
    """Files skipped (send logs, unreadable files...)."""
    lines: int = 0
    """Data lines counted."""
    sessions: int = 0
    """Sessions rebuilt."""
    accepted_domains: tuple[str, ...] = ()
    """Accepted domains used to split recipients (empty: not split)."""
    warnings: tuple[str, ...] = ()
    """Problems met while reading (cut lines, malformed records, caps reached)."""


@dataclass(frozen=True)
class Evidence:
    """The whole relay-evidence file."""

    scan: ScanMetadata
    """How it was gathered."""
    servers: tuple[ServerWindow, ...]
    """Window of evidence per server."""
    connectors: tuple[ConnectorEvidence, ...]
    """Per connector and per client figures."""

    def connector(self, identity: str) -> ConnectorEvidence | None:
        """The connector with that id (case-insensitive), or None."""
        low = identity.lower()
        for c in self.connectors:
            if c.connector.lower() == low:
                return c
        return None

    def window(self, server: str) -> ServerWindow | None:
        """The evidence window of one server (case-insensitive), or None."""
        low = server.lower()
        for w in self.servers:
            if w.server.lower() == low:
                return w
        return None


# --------------------------------------------------------------------------- JSON


def evidence_to_json(evidence: Evidence) -> str:
    """The JSON text of an evidence file (sorted keys, two-space indent, final newline)."""
    doc = {"format": FORMAT, **asdict(evidence)}
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_evidence(evidence: Evidence, path: Path) -> None:
    """Write ``relay-evidence.json`` atomically (UTF-8, LF)."""
    write_text(path, evidence_to_json(evidence))


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def bad(self, where: str, message: str) -> None:
        self.problems.append(Problem(f"{self.file}, key '{where}'", message))

    def get(
        self, obj: Any, key: str, where: str, kind: type | tuple[type, ...], default: Any = None
    ) -> Any:
        if not isinstance(obj, dict) or key not in obj:
            if default is not None:
                return default
            self.bad(f"{where}.{key}".lstrip("."), "is missing")
            return _empty(kind)
        value = obj[key]
        ok = isinstance(value, kind) and not (kind in (int, (int,)) and isinstance(value, bool))
        if value is None and kind == (bool, type(None)):
            ok = True
        if not ok:
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            self.bad(f"{where}.{key}".lstrip("."), f"'{value}' is not {_article(names)}")
            return _empty(kind)
        return value

    def strings(self, obj: Any, key: str, where: str) -> tuple[str, ...]:
        items = self.get(obj, key, where, list)
        out = []
        for i, v in enumerate(items):
            if isinstance(v, str):
                out.append(v)
            else:
                self.bad(f"{where}.{key}[{i}]".lstrip("."), f"'{v}' is not a string")
        return tuple(out)


def _article(name: str) -> str:
    return {"int": "a whole number", "str": "a string", "list": "a list", "dict": "an object"}.get(
        name, name
    )


def _empty(kind: type | tuple[type, ...]) -> Any:
    k = kind[0] if isinstance(kind, tuple) else kind
    return k() if k is not type(None) else None


def load_evidence(path: Path) -> Evidence:
    """Read a ``relay-evidence.json``; raise :class:`InventoryError` listing every problem."""
    name = str(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InventoryError([Problem(name, f"cannot be read: {exc.strerror or exc}")]) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InventoryError([Problem(name, f"is not valid JSON: {exc}")]) from exc
    r = _Reader(name)
    if not isinstance(doc, dict):
        raise InventoryError(
            [Problem(name, "is not a JSON object; expected a relay-evidence file")]
        )
    fmt = doc.get("format")
    if fmt != FORMAT:
        raise InventoryError(
            [
                Problem(
                    f"{name}, key 'format'", f"'{fmt}' is not a known format; expected '{FORMAT}'"
                )
            ]
        )
    s = r.get(doc, "scan", "", dict)
    scan = ScanMetadata(
        files_read=tuple(
            FileRecord(
                r.get(f, "path", f"scan.files_read[{i}]", str),
                r.get(f, "lines", f"scan.files_read[{i}]", int),
                r.get(f, "bytes_read", f"scan.files_read[{i}]", int),
                r.strings(f, "versions", f"scan.files_read[{i}]"),
            )
            for i, f in enumerate(r.get(s, "files_read", "scan", list))
        ),
        files_skipped=tuple(
            SkippedFile(
                r.get(f, "path", f"scan.files_skipped[{i}]", str),
                r.get(f, "reason", f"scan.files_skipped[{i}]", str),
            )
            for i, f in enumerate(r.get(s, "files_skipped", "scan", list))
        ),
        lines=r.get(s, "lines", "scan", int),
        sessions=r.get(s, "sessions", "scan", int),
        accepted_domains=r.strings(s, "accepted_domains", "scan"),
        warnings=r.strings(s, "warnings", "scan"),
    )
    servers = tuple(
        ServerWindow(
            r.get(w, "server", f"servers[{i}]", str),
            r.get(w, "first_seen", f"servers[{i}]", str),
            r.get(w, "last_seen", f"servers[{i}]", str),
            r.get(w, "days_covered", f"servers[{i}]", int),
            r.get(w, "days_with_data", f"servers[{i}]", int),
            r.strings(w, "versions", f"servers[{i}]"),
        )
        for i, w in enumerate(r.get(doc, "servers", "", list))
    )
    connectors = []
    for i, c in enumerate(r.get(doc, "connectors", "", list)):
        at = f"connectors[{i}]"
        clients = []
        for j, cl in enumerate(r.get(c, "clients", at, list)):
            cat = f"{at}.clients[{j}]"
            doms = tuple(
                DomainCount(
                    r.get(d, "domain", f"{cat}.rcpt_domains[{k}]", str),
                    r.get(d, "accepted", f"{cat}.rcpt_domains[{k}]", int),
                    r.get(d, "accepted_authenticated", f"{cat}.rcpt_domains[{k}]", int),
                    r.get(d, "refused", f"{cat}.rcpt_domains[{k}]", int),
                    r.get(d, "relay_refused", f"{cat}.rcpt_domains[{k}]", int),
                    d.get("internal")
                    if isinstance(d, dict) and isinstance(d.get("internal"), bool)
                    else None,
                )
                for k, d in enumerate(r.get(cl, "rcpt_domains", cat, list))
            )
            clients.append(
                ClientEvidence(
                    address=r.get(cl, "address", cat, str),
                    ip_version=r.get(cl, "ip_version", cat, int),
                    sessions=r.get(cl, "sessions", cat, int),
                    incomplete_sessions=r.get(cl, "incomplete_sessions", cat, int),
                    messages=r.get(cl, "messages", cat, int),
                    first_seen=r.get(cl, "first_seen", cat, str),
                    last_seen=r.get(cl, "last_seen", cat, str),
                    ehlo_names=r.strings(cl, "ehlo_names", cat),
                    mail_from_domains=r.strings(cl, "mail_from_domains", cat),
                    rcpt_domains=doms,
                    internal_recipients=r.get(cl, "internal_recipients", cat, int),
                    external_recipients=r.get(cl, "external_recipients", cat, int),
                    external_recipients_anonymous=r.get(
                        cl, "external_recipients_anonymous", cat, int
                    ),
                    relay_refused_5_7_1=r.get(cl, "relay_refused_5_7_1", cat, int),
                    relay_refused_5_7_54=r.get(cl, "relay_refused_5_7_54", cat, int),
                    authenticated_sessions=r.get(cl, "authenticated_sessions", cat, int),
                    tls_sessions=r.get(cl, "tls_sessions", cat, int),
                    capped=bool(cl.get("capped", False)) if isinstance(cl, dict) else False,
                )
            )
        connectors.append(
            ConnectorEvidence(
                connector=r.get(c, "connector", at, str),
                server=r.get(c, "server", at, str),
                sessions=r.get(c, "sessions", at, int),
                messages=r.get(c, "messages", at, int),
                first_seen=r.get(c, "first_seen", at, str),
                last_seen=r.get(c, "last_seen", at, str),
                clients=tuple(clients),
            )
        )
    if r.problems:
        raise InventoryError(r.problems)
    return Evidence(scan, servers, tuple(connectors))
