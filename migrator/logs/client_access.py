"""Client-access logs on DuckDB: 2010 IIS (W3C), 2010 RPC Client Access, 2016 HttpProxy.

Each log type is a :class:`LogType` definition: how its header is recognised,
how its ``#Fields`` (or header row) split into columns, and one SQL projection
that normalises a record to (server, protocol, user, client address, user agent
/ Outlook build, proxy, time), with the records that are no client request
left out (NTLM ``401`` challenges, 2016 back ends). The shared machinery (file
discovery, decompression, layouts, rejected lines) is :mod:`migrator.logs.sources`.

One DuckDB query reads every file of every layout (one ``read_csv`` per layout
and server folder, all under one ``UNION ALL``) and groups the records; the few
thousand groups are then named (servers, protocols, monitoring accounts,
Outlook builds) in Python. The 2016 servers that appear as clients of a 2010
IIS log once the namespace moved are replaced by the clients the 2016 HttpProxy
logs name for that 2010 server.
"""

from __future__ import annotations

import ipaddress
import re
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from migrator.logs.client_evidence import (
    OUTLOOK_MINIMUM,
    ClientEvidence,
    ClientScan,
    ClientSeen,
    FileRead,
    FileSkipped,
    ProtocolClients,
    ServerClients,
    old_outlook,
)
from migrator.logs.sources import (
    READ_ERRORS,
    Header,
    Segment,
    Source,
    probe,
    rejected_lines,
    segments,
    sql_list,
    sql_text,
)

if TYPE_CHECKING:
    import duckdb

# --------------------------------------------------------------------------- log types


@dataclass(frozen=True)
class LogType:
    """One kind of client-access log: recognition, columns and the normalising projection."""

    name: str
    """Short name used in the evidence (``iis``, ``rca``, ``httpproxy``)."""
    title: str
    """What it is, for messages."""
    delimiter: str
    """Field delimiter."""
    quote: str
    """Quote character ('' where fields are never quoted)."""
    header_row: bool
    """Whether files may start with a CSV header row naming the columns."""
    recognise: Callable[[Header], bool]
    """Whether a header is of this type."""
    required: tuple[str, ...]
    """Columns (lower-case) a layout must have to be read."""
    project: Callable[[Callable[[str], str]], tuple[str, str]]
    """(SQL projection of the normalised columns, SQL filter) given ``col(name)`` -> the column's SQL."""

    def fields(self, text: str) -> tuple[str, ...]:
        """Column names of a ``#Fields`` value or header row."""
        parts = text.split(self.delimiter) if self.delimiter != " " else text.split()
        return tuple(p.strip().strip('"') for p in parts if p.strip())


NORMALISED = (
    "row_server",  # server named in the record (s-computername; HttpProxy: TargetServer)
    "server_ip",  # the server's own address (s-ip, server-ip)
    "proto",  # raw protocol key (first URL segment, RCA protocol, HttpProxy Protocol)
    "usr",
    "cip",
    "agent",
    "build",  # RCA client-software-version
    "via",  # HttpProxy ServerHostName: the 2016 server that proxied
    "ts",
)


def _iis(col: Callable[[str], str]) -> tuple[str, str]:
    comp = col("s-computername")
    select = (
        f"{comp}, {col('s-ip')}, lower(split_part({col('cs-uri-stem')}, '/', 2)),"
        f" {col('cs-username')}, {col('c-ip')}, {col('cs(user-agent)')}, '', '',"
        f" {col('date')} || ' ' || {col('time')}"
    )
    status = col("sc-status")
    where = f"NOT starts_with({col('date')}, '#')" + (
        f" AND {status} <> '401'" if status != "NULL" else ""
    )
    return select, where


def _rca(col: Callable[[str], str]) -> tuple[str, str]:
    select = (
        f"'', {col('server-ip')}, lower({col('protocol')}), {col('client-name')},"
        f" {col('client-ip')}, {col('client-software')}, {col('client-software-version')}, '',"
        f" {col('date-time')}"
    )
    where = f"NOT starts_with({col('date-time')}, '#') AND coalesce({col('client-name')}, '') <> ''"
    return select, where


def _httpproxy(col: Callable[[str], str]) -> tuple[str, str]:
    select = (
        f"{col('targetserver')}, '', lower({col('protocol')}), {col('authenticateduser')},"
        f" {col('clientipaddress')}, {col('useragent')}, '', {col('serverhostname')},"
        f" {col('datetime')}"
    )
    version = col("targetserverversion")
    status = col("httpstatus")
    where = (
        f"NOT starts_with({col('datetime')}, '#') AND {col('datetime')} <> 'DateTime'"
        f" AND regexp_matches(coalesce({version}, ''), '^(Version )?14\\.')"
        + (f" AND coalesce({status}, '') <> '401'" if status != "NULL" else "")
    )
    return select, where


def _is_iis(h: Header) -> bool:
    return "internet information services" in h.directive("Software").lower() and bool(
        h.directive("Fields")
    )


def _is_rca(h: Header) -> bool:
    return h.directive("Log-type").lower().startswith("rca protocol log")


def _is_httpproxy(h: Header) -> bool:
    if h.directive("Log-type").lower().startswith("httpproxy"):
        return True
    names = {f.strip().lower() for f in h.first_line.split(",")}
    return {"datetime", "requestid", "targetserver", "urlstem"} <= names


IIS = LogType(
    "iis",
    "IIS (W3C extended) log",
    " ",
    "",
    False,
    _is_iis,
    ("date", "time", "cs-uri-stem", "c-ip", "cs-username", "cs(user-agent)"),
    _iis,
)
RCA = LogType(
    "rca",
    "RPC Client Access log",
    ",",
    '"',
    False,
    _is_rca,
    ("date-time", "client-name", "client-ip", "client-software", "client-software-version"),
    _rca,
)
HTTPPROXY = LogType(
    "httpproxy",
    "HttpProxy log",
    ",",
    '"',
    True,
    _is_httpproxy,
    ("datetime", "authenticateduser", "clientipaddress", "useragent", "targetserver", "protocol"),
    _httpproxy,
)
LOG_TYPES = (IIS, RCA, HTTPPROXY)
"""Every client-access log type, tried in this order."""


def recognise(header: Header) -> LogType | None:
    """The client-access log type of a header, or None."""
    return next((t for t in LOG_TYPES if t.recognise(header)), None)


# --------------------------------------------------------------------------- naming

PROTOCOLS = {
    # IIS: first segment of cs-uri-stem
    "owa": "OWA",
    "ecp": "ECP",
    "ews": "EWS",
    "microsoft-server-activesync": "ActiveSync",
    "autodiscover": "Autodiscover",
    "rpc": "RPC/HTTP",
    "rpcwithcert": "RPC/HTTP",
    "oab": "OAB",
    "mapi": "MAPI/HTTP",
    "powershell": "PowerShell",
    # HttpProxy Protocol column
    "eas": "ActiveSync",
    "rpchttp": "RPC/HTTP",
    "owacalendar": "OWA",
    # RPC Client Access protocol column
    "ncacn_ip_tcp": "MAPI (RPC/TCP)",
    "ncacn_http": "MAPI (RPC/HTTP)",
}
"""Raw protocol keys of the three log types -> the protocol name in the evidence."""

MONITORING_USERS = ("healthmailbox", "extest_", "systemmailbox{", "sm_")
"""Start of the user name (after any domain or cn=) of health and test accounts."""
MONITORING_AGENTS = ("amprobe", "activemonitoring", "msexchmon", "msexchange")
"""Start of user agents / client software of Exchange's own probes and processes."""
_OUTLOOK = re.compile(r"outlook[ /](\d+\.\d+\.\d+(?:\.\d+)?)", re.IGNORECASE)
_CN = re.compile(r"/cn=([^/]+)$", re.IGNORECASE)
_LOG_FOLDERS = re.compile(
    r"^(w3svc\d+|logfiles|logs?|logging|inetpub|rpc client access|httpproxy|autodiscover|eas|ecp|"
    r"ews|mapi|oab|owa|owacalendar|powershell|rpchttp|rest|pushnotifications|reportingwebservice|"
    r"e12|e14|e15|v14|v15|exchange server|microsoft)$",
    re.IGNORECASE,
)


def _user_name(raw: str) -> str:
    """The user as logged: ``-`` is anonymous; a legacyExchangeDN gives its last cn."""
    raw = raw.strip()
    if raw in ("", "-"):
        return ""
    m = _CN.search(raw)
    return m.group(1) if m and raw.startswith("/") else raw


def _local_part(user: str) -> str:
    return user.rsplit("\\", 1)[-1].split("@", 1)[0].lower()


def is_monitoring(user: str, agent: str, raw_user: str = "") -> bool:
    """Whether a client is a health, test or Exchange system account (never blocks a removal)."""
    if _local_part(user).startswith(MONITORING_USERS):
        return True
    low_raw = raw_user.lower()
    if "cn=microsoft system attendant" in low_raw or "cn=healthmailbox" in low_raw:
        return True
    return agent.strip().lower().startswith(MONITORING_AGENTS)


def outlook_build(agent: str, version: str) -> str:
    """The Outlook build of a client: RCA's client-software-version, or from the user agent."""
    if version and version not in ("-",) and agent.lower().startswith("outlook"):
        return version
    m = _OUTLOOK.search(agent)
    return m.group(1) if m else ""


def folder_server(path: str, names: Mapping[str, str]) -> tuple[str, str]:
    """(inventory server named by a folder on the path, the nearest folder that is not a log folder)."""
    parts = [p for p in Path(path.split("!", 1)[0]).parts[:-1]]
    known = next((names[p.lower()] for p in reversed(parts) if p.lower() in names), "")
    guess = next((p for p in reversed(parts) if not _LOG_FOLDERS.match(p)), "")
    return known, guess


# --------------------------------------------------------------------------- scan


@dataclass(frozen=True)
class Servers:
    """What the scan knows about the servers (from the inventory, where given)."""

    names: Mapping[str, str]
    """Lower-case name -> name of every Exchange server."""
    by_address: Mapping[str, str]
    """IP address text -> server name."""
    new: frozenset[str]
    """Lower-case names of the 2013/2016/2019/SE servers (those that proxy to 2010)."""

    @staticmethod
    def none() -> Servers:
        """No inventory: servers are named from the logs and their folders."""
        return Servers({}, {}, frozenset())


@dataclass(frozen=True)
class _Group:
    log: LogType
    fields: tuple[str, ...]
    known: str
    guess: str


def classify(sources: Sequence[Source]) -> tuple[list[tuple[Source, LogType]], list[Source], list[FileSkipped]]:
    """Split sources into client-access logs (with their type), other logs, and unreadable ones."""
    ours: list[tuple[Source, LogType]] = []
    others: list[Source] = []
    bad: list[FileSkipped] = []
    for s in sources:
        try:
            header = probe(s)
        except READ_ERRORS as exc:
            bad.append(FileSkipped(s.name, f"cannot be read ({exc})"))
            continue
        t = recognise(header)
        if t is None:
            others.append(s)
        else:
            ours.append((s, t))
    return ours, others, bad


def scan_client_access(
    sources: Sequence[tuple[Source, LogType]],
    servers: Servers | None = None,
    *,
    skipped: Iterable[FileSkipped] = (),
    minimum: str = OUTLOOK_MINIMUM,
) -> ClientEvidence:
    """Read client-access log sources into evidence (one DuckDB query over all of them)."""
    import duckdb

    servers = servers or Servers.none()
    skipped_list = list(skipped)
    warnings: list[str] = []
    groups: dict[_Group, list[Segment]] = defaultdict(list)
    read: list[FileRead] = []
    with tempfile.TemporaryDirectory(prefix="migrator-logs-") as tmp:
        for source, log in sources:
            try:
                segs = segments(source, log.fields, Path(tmp), header_row=log.header_row)
            except READ_ERRORS as exc:
                skipped_list.append(FileSkipped(source.name, f"cannot be read ({exc})"))
                continue
            known, guess = folder_server(source.name, servers.names)
            usable = []
            for seg in segs:
                lower = {f.lower() for f in seg.fields}
                missing = [c for c in log.required if c not in lower]
                if missing:
                    warnings.append(
                        f"{source.name}: a {log.title} layout without {', '.join(missing)}"
                        f" ({len(seg.fields)} fields); its lines were skipped"
                    )
                    continue
                usable.append(seg)
                groups[_Group(log, tuple(f.lower() for f in seg.fields), known, guess)].append(seg)
            if usable:
                read.append(FileRead(source.name, log.name))
            elif not segs:
                skipped_list.append(FileSkipped(source.name, f"{log.title} without records"))
        by_path = {seg.read_path: seg for segs in groups.values() for seg in segs}
        con = duckdb.connect()
        try:
            rows = _query(con, groups) if groups else []
            listed, rejected = rejected_lines(con, by_path)
        finally:
            con.close()
    return _evidence(rows, rejected, listed, read, skipped_list, warnings, servers, minimum)


def _read_sql(group: _Group, segs: Sequence[Segment]) -> str:
    log = group.log
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(group.fields))) + "}"
    index = {name: i for i, name in reversed(list(enumerate(group.fields)))}

    def col(name: str) -> str:
        return f"c{index[name]}" if name in index else "NULL"

    select, where = log.project(col)
    quote = sql_text(log.quote)
    return (
        f"SELECT {sql_text(log.name)} AS log, {sql_text(group.known)} AS known,"
        f" {sql_text(group.guess)} AS guess, {select}"
        f" FROM read_csv({sql_list(s.read_path for s in segs)}, columns = {columns},"
        f" delim = {sql_text(log.delimiter)}, quote = {quote}, escape = {quote}, header = false,"
        f" auto_detect = false, strict_mode = true, null_padding = false, store_rejects = true,"
        f" parallel = true)"
        f" WHERE {where}"
    )


def _query(
    con: duckdb.DuckDBPyConnection, groups: Mapping[_Group, Sequence[Segment]]
) -> list[tuple[str, ...]]:
    """The records of every file, grouped by their normalised columns, with count, first and last time."""
    names = ", ".join(NORMALISED)
    union = " UNION ALL ".join(
        f"SELECT * FROM ({_read_sql(g, segs)})"
        for g, segs in sorted(groups.items(), key=lambda kv: repr(kv[0]))
    )
    sql = (
        f"SELECT log, known, guess, {', '.join(NORMALISED[:-1])}, count(*), min(ts), max(ts)"
        f" FROM ({union}) AS r(log, known, guess, {names}) GROUP BY ALL"
    )
    return [tuple("" if v is None else str(v) for v in row) for row in con.sql(sql).fetchall()]


def _evidence(
    rows: Sequence[tuple[str, ...]],
    rejected: int,
    listed: Sequence[str],
    read: Sequence[FileRead],
    skipped: Sequence[FileSkipped],
    warnings: list[str],
    servers: Servers,
    minimum: str,
) -> ClientEvidence:
    """Name servers, protocols and clients; replace proxied requests by the HttpProxy records."""
    # (2010 server, protocol, client key) -> [requests, first, last]
    tally: dict[tuple[str, str, ClientSeen], list[object]] = {}
    proxied: dict[tuple[str, str], int] = defaultdict(int)  # (2010 server, 2016 server) -> requests
    explained: set[tuple[str, str]] = set()
    unnamed: set[str] = set()
    counted = 0
    total = 0
    for log, known, guess, row_server, server_ip, proto, usr, cip, agent, build, via, n, first, last in (
        r for r in rows
    ):
        requests = int(n)
        total += requests
        protocol = PROTOCOLS.get(proto.strip().lower())
        if protocol is None:
            continue
        if log == "httpproxy":
            server = _server_name(row_server, servers)
            via_name = _server_name(via, servers) or known or guess
            explained.add((server.lower(), via_name.lower()))
        else:
            server = _pick_server(row_server, known, server_ip, guess, servers)
            if not server:
                unnamed.add(server_ip)
                server = server_ip or "(unknown server)"
            via_name = servers.by_address.get(cip.strip(), "")
            if via_name and via_name.lower() not in servers.new:
                via_name = ""
        if not server:
            continue
        counted += requests
        agent_text = agent.replace("+", " ") if log == "iis" else agent
        user = _user_name(usr)
        if log == "iis":
            first, last = _iis_time(first), _iis_time(last)
        seen = ClientSeen(
            user=user,
            client_ip="" if cip.strip() == "-" else cip.strip(),
            user_agent="" if agent_text.strip() == "-" else agent_text.strip(),
            outlook_build=outlook_build(agent_text, build.strip()),
            via=via_name if log != "httpproxy" else via_name,
            log=log,
            requests=0,
            first_seen="",
            last_seen="",
            monitoring=is_monitoring(user, agent_text, usr),
        )
        if log == "iis" and seen.via:
            proxied[(server.lower(), seen.via.lower())] += requests
        key = (server, protocol, seen)
        entry = tally.setdefault(key, [0, first, last])
        entry[0] = int(str(entry[0])) + requests
        entry[1] = min(str(entry[1]), first)
        entry[2] = max(str(entry[2]), last)
    explained_requests = 0
    for pair, n_req in sorted(proxied.items()):
        if pair in explained:
            explained_requests += n_req
        else:
            warnings.append(
                f"{n_req} requests to {pair[0].upper()} came through {pair[1].upper()}, and no"
                f" HttpProxy log of {pair[1].upper()} names their clients: scan the HttpProxy logs"
                " of the 2016 servers too (they stay listed as clients of the 2016 server)"
            )
    for ip in sorted(unnamed):
        warnings.append(
            f"records of server address '{ip}' could not be given a server name: put each server's"
            " logs in a folder named after it, or pass --inventory"
        )
    by_server: dict[str, dict[str, list[ClientSeen]]] = defaultdict(lambda: defaultdict(list))
    for (server, protocol, seen), (n_req, first, last) in tally.items():
        if seen.log == "iis" and seen.via and (server.lower(), seen.via.lower()) in explained:
            continue
        by_server[server][protocol].append(
            ClientSeen(
                seen.user,
                seen.client_ip,
                seen.user_agent,
                seen.outlook_build,
                seen.via,
                seen.log,
                int(str(n_req)),
                str(first),
                str(last),
                seen.monitoring,
            )
        )
    out: list[ServerClients] = []
    for server in sorted(by_server, key=str.lower):
        protocols = []
        for protocol in sorted(by_server[server]):
            clients = sorted(
                by_server[server][protocol],
                key=lambda c: (-c.requests, c.user.lower(), c.client_ip, c.user_agent, c.via, c.log),
            )
            protocols.append(
                ProtocolClients(
                    protocol,
                    sum(c.requests for c in clients),
                    max(c.last_seen for c in clients),
                    tuple(clients),
                )
            )
        every = [c for p in protocols for c in p.clients]
        out.append(
            ServerClients(
                server,
                min(c.first_seen for c in every),
                max(c.last_seen for c in every),
                tuple(protocols),
            )
        )
    servers_out = tuple(out)
    return ClientEvidence(
        scan=ClientScan(
            files_read=tuple(read),
            files_skipped=tuple(sorted(skipped, key=lambda s: s.path)),
            records=total,
            counted=counted,
            rejected=rejected,
            rejected_lines=tuple(listed),
            proxied_explained=explained_requests,
            warnings=tuple(warnings),
        ),
        servers=servers_out,
        outlook_minimum=minimum,
        old_outlook=old_outlook(servers_out, minimum),
    )


def _iis_time(text: str) -> str:
    """IIS ``2023-01-05 07:58:11`` (UTC) -> ``2023-01-05T07:58:11Z``."""
    return text.replace(" ", "T") + "Z" if text and "T" not in text else text


def _server_name(text: str, servers: Servers) -> str:
    """A server named in a record (FQDN or NetBIOS name) -> the inventory's name, or the host part."""
    host = text.strip()
    if host in ("", "-"):
        return ""
    short = host.split(".", 1)[0]
    return servers.names.get(short.lower(), short.upper())


def _pick_server(row_server: str, known: str, server_ip: str, guess: str, servers: Servers) -> str:
    """s-computername, a folder named after an inventory server, the server owning s-ip, the folder."""
    if row_server.strip() not in ("", "-"):
        return _server_name(row_server, servers)
    if known:
        return known
    ip = server_ip.strip()
    if ip in servers.by_address:
        return servers.by_address[ip]
    return guess


def servers_from(
    names: Iterable[tuple[str, bool]], addresses: Iterable[tuple[str, str]]
) -> Servers:
    """Servers from (name, is a 2013+ server) and (address, server name) pairs."""
    pairs = list(names)
    by_address: dict[str, str] = {}
    for addr, name in addresses:
        try:
            by_address[str(ipaddress.ip_address(addr))] = name
        except ValueError:
            continue
    return Servers(
        {n.lower(): n for n, _ in pairs},
        by_address,
        frozenset(n.lower() for n, new in pairs if new),
    )
