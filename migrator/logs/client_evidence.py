"""Client-access evidence: who still connects to each 2010 server, and ``client-evidence.json``.

``migrator logs scan`` builds it from the 2010 IIS logs, the 2010 RPC Client
Access logs and the 2016 HttpProxy logs (:mod:`migrator.logs.client_access`);
the plan reads it back (:func:`load_client_evidence`) to gate the removal of
each 2010 server. docs/logs.md describes the file.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrator.errors import InventoryError, Problem
from migrator.fileio import temp_file_beside
from migrator.json_stream import JsonStream
from migrator.logs.evidence import SkippedFile
from migrator.logs.sources import sql_text

if TYPE_CHECKING:
    import duckdb

FORMAT = "migrator.client-evidence/1"
OUTLOOK_MINIMUM = "14.0.7015"
"""Oldest Outlook build Exchange 2016 supports: Outlook 2010 SP2 (14.0.7015.1000).

Microsoft's Exchange Server supportability matrix lists "Outlook 2010 SP2 with
updates KB2956191 and KB2965295 (April 14, 2015)" as the oldest Outlook for
Exchange 2016; 14.0.7015.1000 is the build of Outlook 2010 SP2. A build at or
above it may still lack the two April 2015 updates (the build number alone
cannot prove them): docs/logs.md says so.
"""
_BUILD = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:\.(\d+))?")


@functools.lru_cache(maxsize=4096)
def build_key(build: str) -> tuple[int, ...] | None:
    """``14.0.7015.1000`` -> (14, 0, 7015, 1000); None where it is no build number."""
    m = _BUILD.fullmatch(build.strip())
    if m is None:
        return None
    return tuple(int(g) for g in m.groups(default="0"))


def below_minimum(build: str, minimum: str = OUTLOOK_MINIMUM) -> bool:
    """Whether an Outlook build is older than the minimum (unknown builds are not)."""
    have, want = build_key(build), build_key(minimum)
    return have is not None and want is not None and have < want


@dataclass(frozen=True, slots=True)
class ClientSeen:
    """One client of one protocol of a 2010 server: a user from an address with an agent."""

    user: str
    """The user as logged (``CONTOSO\\jdoe``, ``jdoe@contoso.com``, or the name in a legacyExchangeDN); empty when anonymous."""
    client_ip: str
    """The client's address as logged."""
    user_agent: str
    """User agent (spaces restored) or, from RPC Client Access logs, the client software."""
    outlook_build: str
    """Outlook build (``14.0.7015.1000``, or ``14.0.7015`` from a user agent); empty when not Outlook."""
    via: str
    """The 2016 server that proxied the requests (empty when the client connected directly)."""
    log: str
    """Where it was seen: ``iis``, ``rca`` or ``httpproxy``."""
    requests: int
    """Requests (IIS, HttpProxy) or log rows (RPC Client Access)."""
    first_seen: str
    """First time seen (UTC, the log's own text)."""
    last_seen: str
    """Last time seen (UTC, the log's own text)."""
    monitoring: bool = False
    """A health or monitoring account (HealthMailbox*, extest_*, Exchange's own processes): never blocks a removal."""

    @property
    def key(self) -> str:
        """The user, or the address where the request was anonymous."""
        return self.user or self.client_ip


@dataclass(frozen=True)
class ProtocolClients:
    """The clients of one protocol of one 2010 server."""

    protocol: str
    """``OWA``, ``ECP``, ``EWS``, ``ActiveSync``, ``Autodiscover``, ``RPC/HTTP``, ``OAB``, ``MAPI/HTTP``, ``PowerShell``, ``MAPI (RPC/TCP)``..."""
    requests: int
    """Requests of every client."""
    last_seen: str
    """Last request."""
    clients: tuple[ClientSeen, ...]
    """Clients, most requests first."""


@dataclass(frozen=True)
class ServerClients:
    """Everything seen on one 2010 server."""

    server: str
    """Server name."""
    first_seen: str
    """First request in the logs read."""
    last_seen: str
    """Last request in the logs read."""
    protocols: tuple[ProtocolClients, ...]
    """Per protocol, by name."""

    def clients(self) -> tuple[tuple[str, ClientSeen], ...]:
        """(protocol, client) of every protocol."""
        return tuple((p.protocol, c) for p in self.protocols for c in p.clients)


@dataclass(frozen=True)
class FileRead:
    """A log file that was read."""

    path: str
    """Path (``archive.zip!member`` for a zip member)."""
    log_type: str
    """``iis``, ``rca`` or ``httpproxy``."""


FileSkipped = SkippedFile
"""A file that was not counted, and why (the one type of every log scan)."""


@dataclass(frozen=True)
class ClientScan:
    """What was read."""

    files_read: tuple[FileRead, ...] = ()
    """Files read."""
    files_skipped: tuple[FileSkipped, ...] = ()
    """Files not counted (another log type, unreadable)."""
    records: int = 0
    """Records read (every data line DuckDB parsed)."""
    counted: int = 0
    """Records counted as client requests (NTLM 401 challenges, other URLs and 2016 targets left out)."""
    rejected: int = 0
    """Malformed lines skipped."""
    rejected_lines: tuple[str, ...] = ()
    """The first of them, as ``file, line N: reason``."""
    proxied_explained: int = 0
    """Requests of 2016 servers in 2010 IIS logs replaced by the HttpProxy records naming the real clients."""
    warnings: tuple[str, ...] = ()
    """Anything the reader should know (a server that could not be named, proxies without HttpProxy logs)."""


@dataclass(frozen=True)
class ClientEvidence:
    """The clients of every 2010 server seen in the logs."""

    scan: ClientScan
    """What was read."""
    servers: tuple[ServerClients, ...] = ()
    """Per server, by name."""
    outlook_minimum: str = OUTLOOK_MINIMUM
    """The Outlook build below which a user is listed."""
    format: str = FORMAT
    """File format marker."""
    old_outlook: tuple[OldOutlook, ...] = field(default=())
    """Users whose Outlook is older than :attr:`outlook_minimum`, by user."""

    def server(self, name: str) -> ServerClients | None:
        """The evidence of one server (case-insensitive), or None."""
        low = name.lower()
        return next((s for s in self.servers if s.server.lower() == low), None)


@dataclass(frozen=True)
class OldOutlook:
    """A user seen with an Outlook build below the 2016 minimum."""

    user: str
    """User as logged."""
    builds: tuple[str, ...]
    """The old builds seen."""
    servers: tuple[str, ...]
    """2010 servers it was seen on."""
    last_seen: str
    """Last time seen with an old build."""


@dataclass(frozen=True)
class ProtocolSummary:
    """The figures of one protocol of one 2010 server and its busiest clients (what people read)."""

    protocol: str
    """Protocol name."""
    requests: int
    """Requests of every client."""
    last_seen: str
    """Last request."""
    entries: int
    """Client entries in ``client-evidence.json`` (user, address, agent, proxy, log)."""
    monitoring: int
    """Entries of health and monitoring accounts."""
    clients: int
    """Distinct (user name part, address) of the entries that are no monitoring account."""
    busiest: tuple[ClientSeen, ...]
    """The first entries in evidence order (most requests first): at least the first
    ``listed`` of all and the first ``top`` that are no monitoring account."""


@dataclass(frozen=True)
class ServerSummary:
    """One 2010 server in a :class:`EvidenceSummary`."""

    server: str
    """Server name."""
    first_seen: str
    """First request in the logs read."""
    last_seen: str
    """Last request in the logs read."""
    protocols: tuple[ProtocolSummary, ...]
    """Per protocol, by name."""


@dataclass(frozen=True)
class EvidenceSummary:
    """What the scan prints and ``client-evidence.md`` shows: totals, the busiest clients, old Outlook.

    Built in DuckDB from the whole evidence, so a scan of millions of records
    does not turn every client into an object.
    """

    scan: ClientScan
    """What was read."""
    servers: tuple[ServerSummary, ...]
    """Per server, in evidence order."""
    outlook_minimum: str
    """The Outlook build below which a user is listed."""
    old_outlook: tuple[OldOutlook, ...]
    """Users whose Outlook is older than :attr:`outlook_minimum`, by user."""


def user_key(user: str) -> str:
    """The name part of a user as the logs write it (``CONTOSO\\jdoe``, ``jdoe@contoso.com``, ``jdoe``) -> ``jdoe``."""
    return user.rsplit("\\", 1)[-1].split("@", 1)[0].strip().lower()


def old_outlook(servers: tuple[ServerClients, ...], minimum: str) -> tuple[OldOutlook, ...]:
    """Users seen with an Outlook build below ``minimum``, one entry per user name (monitoring left out).

    The logs name a user differently (IIS ``DOMAIN\\sam``, RPC Client Access the
    legacyExchangeDN's last cn, HttpProxy the UPN): they are merged on the name
    part (:func:`user_key`); the entry shows the ``DOMAIN\\sam`` form where one was seen.
    """
    return old_outlook_of(
        (
            (s.server, c.user, c.outlook_build, c.last_seen, c.monitoring)
            for s in servers
            for _, c in s.clients()
        ),
        minimum,
    )


def old_outlook_of(
    clients: Iterable[tuple[str, str, str, str, bool]], minimum: str
) -> tuple[OldOutlook, ...]:
    """:func:`old_outlook` over (server, user, Outlook build, last seen, monitoring) in evidence order.

    The scan passes only the clients whose build is below the minimum (found in
    DuckDB); the rule is applied here again, so any subset holding them gives the same list.
    """
    seen: dict[str, tuple[set[str], set[str], str, str]] = {}
    for server, user, build, last_seen, monitoring in clients:
        if monitoring or not user or not below_minimum(build, minimum):
            continue
        key = user_key(user)
        builds, where, last, shown = seen.get(key, (set(), set(), "", user))
        builds.add(build)
        where.add(server)
        if "\\" in user and "\\" not in shown:
            shown = user
        seen[key] = (builds, where, max(last, last_seen), shown)
    return tuple(
        OldOutlook(
            shown, tuple(sorted(b, key=lambda x: (build_key(x) or (), x))), tuple(sorted(w)), last
        )
        for _, (b, w, last, shown) in sorted(seen.items())
    )


CLIENT_TABLE = (
    ("server", "VARCHAR"),
    ("protocol", "VARCHAR"),
    ("user", "VARCHAR"),
    ("client_ip", "VARCHAR"),
    ("user_agent", "VARCHAR"),
    ("outlook_build", "VARCHAR"),
    ("via", "VARCHAR"),
    ("log", "VARCHAR"),
    ("monitoring", "BOOLEAN"),
    ("requests", "BIGINT"),
    ("first_seen", "VARCHAR"),
    ("last_seen", "VARCHAR"),
    ("ord", "BIGINT"),
)
"""The DuckDB table of clients ``client-evidence.json`` is written from, one row per client.

``ord`` is the evidence order: servers, then protocols by name, then clients
most requests first (the scan computes it; :func:`write_client_evidence` numbers the objects).
"""

_KEY_ORDER = tuple(sorted(f.name for f in fields(ClientSeen)))
_JSON_LINE = (
    "'{' || "
    + " || ', ' || ".join(
        f"'\"{name}\": ' || "
        + (
            "CASE WHEN monitoring THEN 'true' ELSE 'false' END"
            if name == "monitoring"
            else "requests::VARCHAR"
            if name == "requests"
            else f'to_json("{name}")::VARCHAR'
        )
        for name in _KEY_ORDER
    )
    + " || '}'"
)
"""One client as a JSON object on one line, keys sorted (DuckDB's JSON string escaping)."""
_MARKER = "\x00clients\x00"


def write_client_json(
    con: duckdb.DuckDBPyConnection,
    table: str,
    path: Path,
    *,
    scan: ClientScan,
    minimum: str,
    old: tuple[OldOutlook, ...],
) -> None:
    """Write ``client-evidence.json`` from a DuckDB table laid out as :data:`CLIENT_TABLE`.

    UTF-8, sorted keys: the same logs give the same bytes. Each client is one
    line (there may be hundreds of thousands), formatted by DuckDB; the rest is
    indented by :func:`json.dumps`. DuckDB writes the whole file (``COPY``, one
    text row per client, the indented parts as rows between them) to a
    temporary file beside ``path``, renamed once complete: no client passes
    through Python.
    """
    protocols = con.sql(
        f"SELECT server, protocol, sum(requests)::BIGINT, max(last_seen), min(first_seen),"
        f" min(ord), max(ord) FROM {table} GROUP BY server, protocol ORDER BY min(ord)"
    ).fetchall()
    servers: list[dict[str, Any]] = []
    spans: list[tuple[int, int]] = []
    for server, protocol, requests, last, first, low, high in protocols:
        if not servers or servers[-1]["server"] != server:
            servers.append(
                {"server": server, "first_seen": first, "last_seen": last, "protocols": []}
            )
        s = servers[-1]
        s["first_seen"] = min(s["first_seen"], first)
        s["last_seen"] = max(s["last_seen"], last)
        s["protocols"].append(
            {
                "protocol": protocol,
                "requests": int(requests),
                "last_seen": last,
                "clients": f"{_MARKER}{len(spans)}",
            }
        )
        spans.append((int(low), int(high)))
    data = {
        "format": FORMAT,
        "outlook_minimum": minimum,
        "scan": asdict(scan),
        "old_outlook": [asdict(o) for o in old],
        "servers": servers,
    }
    text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False)
    pieces = re.split('"' + _MARKER.replace("\x00", "\\\\u0000") + r'\d+"', text)
    # Each protocol's clients are one run of ``ord`` (the order starts with server and
    # protocol): the text before a run goes just before its first client, every client
    # but the run's last ends with a comma; each row is written followed by a newline.
    # COPY keeps the ORDER BY (preserve_insertion_order, DuckDB's default, is left on).
    texts = [
        ("]" if i else "") + piece + ("[" if i < len(spans) else "")
        for i, piece in enumerate(pieces)
    ]
    at = [low for low, _ in spans] + [max((high for _, high in spans), default=0) + 1]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file_beside(path)
    os.close(fd)
    try:
        con.execute(
            f"COPY (SELECT line FROM (SELECT {_JSON_LINE}"
            " || CASE WHEN list_contains(?::BIGINT[], ord) THEN '' ELSE ',' END AS line,"
            f" ord AS k, 1 AS part FROM {table}"
            " UNION ALL SELECT unnest(?::VARCHAR[]), unnest(?::BIGINT[]), 0)"
            f" ORDER BY k, part) TO {sql_text(tmp)}"
            " (FORMAT csv, HEADER false, QUOTE '', ESCAPE '')",
            [[high for _, high in spans], texts, at],
        )
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_client_evidence(evidence: ClientEvidence, path: Path) -> None:
    """Write ``client-evidence.json`` of evidence held as objects (the same writer as the scan's)."""
    import duckdb

    rows = [
        (s.server, p.protocol, *(getattr(c, name) for name, _ in CLIENT_TABLE[2:-1]))
        for s in evidence.servers
        for p in s.protocols
        for c in p.clients
    ]
    columns: list[list[object]] = [list(col) for col in zip(*rows, strict=True)] or [
        [] for _ in CLIENT_TABLE[:-1]
    ]
    con = duckdb.connect()
    try:
        con.execute(
            "CREATE TEMP TABLE clients AS SELECT "
            + ", ".join(f'unnest(?::{kind}[]) AS "{name}"' for name, kind in CLIENT_TABLE[:-1])
            + ", unnest(range(?::BIGINT)) AS ord",
            [*columns, len(rows)],
        )
        write_client_json(
            con,
            "clients",
            path,
            scan=evidence.scan,
            minimum=evidence.outlook_minimum,
            old=evidence.old_outlook,
        )
    finally:
        con.close()


def load_client_evidence(path: Path) -> ClientEvidence:
    """Read ``client-evidence.json`` back; every problem is reported at once (InventoryError).

    The file is read piece by piece (:class:`migrator.json_stream.JsonStream`): one
    client at a time becomes a :class:`ClientSeen` (its repeated texts shared), so
    hundreds of thousands of clients never exist as dicts and a whole text at once.
    """
    try:
        with path.open("r", encoding="utf-8") as handle:
            return _read_client_evidence(path, JsonStream(handle))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InventoryError(
            [
                Problem(
                    str(path),
                    f"cannot be read as JSON ({exc}); expected a client-evidence.json as 'migrator logs scan' writes it",
                )
            ]
        ) from None


def _read_client_evidence(path: Path, doc: JsonStream) -> ClientEvidence:
    problems: list[Problem] = []
    not_evidence = InventoryError(
        [Problem(str(path), f"is not a client-evidence file; expected 'format': '{FORMAT}'")]
    )
    if doc.peek() != "{":
        doc.value()  # a JSON error is said as such
        doc.end()
        raise not_evidence
    shared: dict[str, str] = {}

    def same(v: str) -> str:
        # Agents, builds, proxies, users and addresses repeat across clients: keep one copy.
        return shared.setdefault(v, v)

    def text(obj: dict[str, Any], key: str, where: str) -> str:
        v = obj.get(key, "")
        if not isinstance(v, str):
            problems.append(Problem(str(path), f"key '{where}.{key}': {v!r} is not text"))
            return ""
        return v

    def whole(obj: dict[str, Any], key: str, where: str) -> int:
        v = obj.get(key, 0)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            problems.append(Problem(str(path), f"key '{where}.{key}': {v!r} is not a whole number"))
            return 0
        return v

    def items(obj: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
        v = obj.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            problems.append(Problem(str(path), f"key '{where}.{key}': expected a list of objects"))
            return []
        return v

    def objects(key: str, where: str) -> Iterator[int]:
        """The objects of the list at the cursor, read one by one (anything else: a problem)."""
        if doc.peek() != "[":
            doc.value()
            problems.append(Problem(str(path), f"key '{where}.{key}': expected a list of objects"))
            return
        said = False
        for i in doc.items():
            if doc.peek() == "{":
                yield i
            else:
                doc.value()
                if not said:
                    problems.append(
                        Problem(str(path), f"key '{where}.{key}': expected a list of objects")
                    )
                    said = True

    def client(c: dict[str, Any], pw: str, k: int) -> ClientSeen:
        get, one = c.get, shared.setdefault
        user, ip, agent, build = (
            get("user", ""),
            get("client_ip", ""),
            get("user_agent", ""),
            get("outlook_build", ""),
        )
        via, log, first, last = (
            get("via", ""),
            get("log", ""),
            get("first_seen", ""),
            get("last_seen", ""),
        )
        requests = get("requests", 0)
        if (
            type(requests) is int
            and requests >= 0
            and all(type(v) is str for v in (user, ip, agent, build, via, log, first, last))
        ):  # the file as the scan writes it: no check below can fail
            return ClientSeen(
                one(user, user),
                one(ip, ip),
                one(agent, agent),
                one(build, build),
                one(via, via),
                one(log, log),
                requests,
                first,
                last,
                bool(get("monitoring", False)),
            )
        where = f"{pw}.clients[{k}]"
        return ClientSeen(
            user=same(text(c, "user", where)),
            client_ip=same(text(c, "client_ip", where)),
            user_agent=same(text(c, "user_agent", where)),
            outlook_build=same(text(c, "outlook_build", where)),
            via=same(text(c, "via", where)),
            log=same(text(c, "log", where)),
            requests=whole(c, "requests", where),
            first_seen=text(c, "first_seen", where),
            last_seen=text(c, "last_seen", where),
            monitoring=bool(c.get("monitoring", False)),
        )

    def protocol(pw: str) -> ProtocolClients:
        fields: dict[str, Any] = {}
        clients: list[ClientSeen] = []
        for key in doc.members():
            if key == "clients":
                for k in objects("clients", pw):
                    clients.append(client(doc.value(), pw, k))
            else:
                fields[key] = doc.value()
        return ProtocolClients(
            same(text(fields, "protocol", pw)),
            whole(fields, "requests", pw),
            text(fields, "last_seen", pw),
            tuple(clients),
        )

    def server(sw: str) -> ServerClients:
        fields: dict[str, Any] = {}
        protocols: list[ProtocolClients] = []
        for key in doc.members():
            if key == "protocols":
                protocols.extend(protocol(f"{sw}.protocols[{j}]") for j in objects(key, sw))
            else:
                fields[key] = doc.value()
        name = text(fields, "server", sw)
        if not name:
            problems.append(Problem(str(path), f"key '{sw}.server': the server name is missing"))
        return ServerClients(
            name, text(fields, "first_seen", sw), text(fields, "last_seen", sw), tuple(protocols)
        )

    data: dict[str, Any] = {}
    servers: list[ServerClients] = []
    for key in doc.members():
        if key == "servers":
            servers.extend(server(f"servers[{i}]") for i in objects(key, ""))
        else:
            data[key] = doc.value()
    doc.end()
    if data.get("format") != FORMAT:
        raise not_evidence
    scan = data.get("scan", {})
    if not isinstance(scan, dict):
        problems.append(Problem(str(path), "key 'scan': expected an object"))
        scan = {}
    minimum = text(data, "outlook_minimum", "") or OUTLOOK_MINIMUM
    if problems:
        raise InventoryError(problems)
    return ClientEvidence(
        scan=ClientScan(
            files_read=tuple(
                FileRead(str(f.get("path", "")), str(f.get("log_type", "")))
                for f in items(scan, "files_read", "scan")
            ),
            records=whole(scan, "records", "scan"),
            counted=whole(scan, "counted", "scan"),
            rejected=whole(scan, "rejected", "scan"),
            warnings=tuple(str(w) for w in scan.get("warnings", []) if isinstance(w, str)),
        ),
        servers=tuple(servers),
        outlook_minimum=minimum,
        old_outlook=old_outlook(tuple(servers), minimum),
    )
