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
_LOG_FOLDERS = re.compile(
    r"^(w3svc\d+|logfiles|logs?|logging|inetpub|rpc client access|httpproxy|autodiscover|eas|ecp|"
    r"ews|mapi|oab|owa|owacalendar|powershell|rpchttp|rest|pushnotifications|reportingwebservice|"
    r"e12|e14|e15|v14|v15|exchange server|microsoft)$",
    re.IGNORECASE,
)


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


def classify(
    sources: Sequence[Source],
) -> tuple[list[tuple[Source, LogType]], list[Source], list[FileSkipped]]:
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
            con.execute("SET enable_progress_bar = false")
            rows, total = _query(con, groups, servers) if groups else ([], 0)
            listed, rejected = rejected_lines(con, by_path)
        finally:
            con.close()
    return _evidence(rows, total, rejected, listed, read, skipped_list, warnings, minimum)


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


def _tables(con: duckdb.DuckDBPyConnection, servers: Servers) -> None:
    """The small lookup tables the naming query joins: servers, addresses, protocols."""
    con.execute("CREATE TEMP TABLE srv (short VARCHAR, name VARCHAR)")
    con.execute("CREATE TEMP TABLE addr (ip VARCHAR, name VARCHAR, new BOOLEAN)")
    con.execute("CREATE TEMP TABLE proto (key VARCHAR, name VARCHAR)")
    if servers.names:
        con.executemany("INSERT INTO srv VALUES (?, ?)", sorted(servers.names.items()))
    if servers.by_address:
        con.executemany(
            "INSERT INTO addr VALUES (?, ?, ?)",
            [(ip, n, n.lower() in servers.new) for ip, n in sorted(servers.by_address.items())],
        )
    con.executemany("INSERT INTO proto VALUES (?, ?)", sorted(PROTOCOLS.items()))


_NAMING = r"""
WITH n AS (
  SELECT g.log, g.n,
    CASE WHEN g.log = 'iis' THEN replace(g.first_ts, ' ', 'T') || 'Z' ELSE g.first_ts END AS first_ts,
    CASE WHEN g.log = 'iis' THEN replace(g.last_ts, ' ', 'T') || 'Z' ELSE g.last_ts END AS last_ts,
    CASE WHEN g.log = 'httpproxy' OR coalesce(g.row_server, '') NOT IN ('', '-')
         THEN coalesce(s1.name, upper(split_part(g.row_server, '.', 1)))
         ELSE coalesce(nullif(g.known, ''), a1.name, nullif(g.guess, ''), nullif(g.server_ip, ''), '')
    END AS server,
    CASE WHEN g.log <> 'httpproxy' AND coalesce(g.row_server, '') IN ('', '-')
              AND g.known = '' AND a1.name IS NULL AND g.guess = ''
         THEN coalesce(g.server_ip, '') ELSE '' END AS unnamed,
    p.name AS protocol,
    CASE WHEN coalesce(g.usr, '') IN ('', '-') THEN ''
         WHEN starts_with(g.usr, '/') AND regexp_matches(g.usr, '(?i)/cn=[^/]+$')
         THEN regexp_extract(g.usr, '(?i)/cn=([^/]+)$', 1)
         ELSE g.usr END AS usr,
    coalesce(g.usr, '') AS raw_usr,
    CASE WHEN coalesce(g.cip, '') = '-' THEN '' ELSE coalesce(g.cip, '') END AS cip,
    CASE WHEN coalesce(g.agent, '') = '-' THEN ''
         WHEN g.log = 'iis' THEN replace(g.agent, '+', ' ')
         ELSE coalesce(g.agent, '') END AS agent,
    coalesce(g.build, '') AS build,
    CASE WHEN g.log = 'httpproxy'
         THEN coalesce(s2.name, nullif(upper(split_part(coalesce(g.via, ''), '.', 1)), ''),
                       nullif(g.known, ''), g.guess)
         ELSE coalesce(a2.name, '') END AS via
  FROM g
  JOIN proto p ON p.key = lower(g.proto)
  LEFT JOIN srv s1 ON s1.short = lower(split_part(g.row_server, '.', 1))
  LEFT JOIN addr a1 ON a1.ip = g.server_ip
  LEFT JOIN srv s2 ON s2.short = lower(split_part(g.via, '.', 1))
  LEFT JOIN addr a2 ON a2.ip = g.cip AND a2.new
)
SELECT * FROM (
SELECT server, protocol, usr, cip, agent,
  CASE WHEN lower(agent) LIKE 'outlook%' AND build NOT IN ('', '-') THEN build
       WHEN NOT contains(lower(agent), 'outlook') THEN ''
       ELSE coalesce(regexp_extract(agent, '(?i)outlook[ /](\d+\.\d+\.\d+(?:\.\d+)?)', 1), '')
  END AS outlook,
  via, log,
  (regexp_matches(lower(regexp_replace(regexp_replace(usr, '^.*\\', ''), '@.*$', '')),
                  '^(@USERS@)')
   OR contains(lower(raw_usr), 'cn=microsoft system attendant')
   OR contains(lower(raw_usr), 'cn=healthmailbox')
   OR regexp_matches(lower(agent), '^(@AGENTS@)')) AS monitoring,
  sum(n)::BIGINT AS requests, min(first_ts), max(last_ts), unnamed
FROM n WHERE server <> ''
GROUP BY ALL
)
ORDER BY lower(server), server, protocol, requests DESC, lower(usr), usr, cip, agent, via, log
""".replace("@USERS@", "|".join(re.escape(u) for u in MONITORING_USERS)).replace(
    "@AGENTS@", "|".join(re.escape(a) for a in MONITORING_AGENTS)
)
"""Names servers, protocols, users, agents, Outlook builds and monitoring accounts, per group.

The rules, once: the server is the record's own (s-computername; for HttpProxy
the TargetServer), else a folder named after an inventory server, else the
inventory server owning s-ip / server-ip, else the nearest folder that is no
log folder, else the address itself (with a warning); ``-`` is empty; ``+`` in
an IIS user agent is a space; a legacyExchangeDN user is its last cn; the
Outlook build is RPC Client Access's client-software-version for OUTLOOK.EXE,
else ``Outlook <build>`` in the user agent; a request from a 2013+ server's
address is proxied (``via``).
"""


def _query(
    con: duckdb.DuckDBPyConnection,
    groups: Mapping[_Group, Sequence[Segment]],
    servers: Servers,
) -> tuple[list[tuple[object, ...]], int]:
    """Every record grouped and named (server, protocol, client), and how many records were read.

    First every file of every layout is read and grouped on its raw normalised
    columns (a temporary table of a few groups per client); then the groups are
    named by joining small lookup tables and grouped again on the names.
    """
    names = ", ".join(NORMALISED)
    union = " UNION ALL ".join(
        f"SELECT * FROM ({_read_sql(g, segs)})"
        for g, segs in sorted(groups.items(), key=lambda kv: repr(kv[0]))
    )
    con.execute(
        f"CREATE TEMP TABLE g AS SELECT log, known, guess, {', '.join(NORMALISED[:-1])},"
        f" count(*) AS n, min(ts) AS first_ts, max(ts) AS last_ts"
        f" FROM ({union}) AS r(log, known, guess, {names}) GROUP BY ALL"
    )
    total = con.sql("SELECT coalesce(sum(n), 0)::BIGINT FROM g").fetchall()[0][0]
    _tables(con, servers)
    return con.sql(_NAMING).fetchall(), int(total)


def _evidence(
    rows: Sequence[tuple[object, ...]],
    total: int,
    rejected: int,
    listed: Sequence[str],
    read: Sequence[FileRead],
    skipped: Sequence[FileSkipped],
    warnings: list[str],
    minimum: str,
) -> ClientEvidence:
    """Build the evidence; requests proxied by a 2016 server whose HttpProxy logs were read are
    replaced by the clients those logs name."""
    explained = {
        (str(r[0]).lower(), str(r[6]).lower()) for r in rows if r[7] == "httpproxy" and r[6]
    }
    proxied: dict[tuple[str, str], int] = defaultdict(int)
    unnamed: set[str] = set()
    by_server: dict[str, dict[str, list[ClientSeen]]] = defaultdict(lambda: defaultdict(list))
    counted = 0
    explained_requests = 0
    for server, protocol, usr, cip, agent, build, via, log, monitoring, n, first, last, ip in rows:
        requests = int(str(n))
        counted += requests
        if ip:
            unnamed.add(str(ip))
        if log == "iis" and via:
            pair = (str(server).lower(), str(via).lower())
            if pair in explained:
                explained_requests += requests
                continue
            proxied[pair] += requests
        by_server[str(server)][str(protocol)].append(
            ClientSeen(
                str(usr),
                str(cip),
                str(agent),
                str(build),
                str(via),
                str(log),
                requests,
                str(first or ""),
                str(last or ""),
                bool(monitoring),
            )
        )
    for pair, n_req in sorted(proxied.items()):
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
    out: list[ServerClients] = []
    for server in by_server:  # in the query's order
        protocols = []
        for protocol in sorted(by_server[server]):
            clients = by_server[server][protocol]  # in the query's order: most requests first
            protocols.append(
                ProtocolClients(
                    protocol,
                    sum(c.requests for c in clients),
                    max(c.last_seen for c in clients),
                    tuple(clients),
                )
            )
        out.append(
            ServerClients(
                server,
                min(c.first_seen for p in protocols for c in p.clients),
                max(p.last_seen for p in protocols),
                tuple(protocols),
            )
        )
    servers_out = tuple(out)
    return ClientEvidence(
        scan=ClientScan(
            files_read=tuple(read),
            files_skipped=tuple(sorted(skipped, key=lambda s: s.path)),
            records=total,
            counted=counted - explained_requests,
            rejected=rejected,
            rejected_lines=tuple(listed),
            proxied_explained=explained_requests,
            warnings=tuple(warnings),
        ),
        servers=servers_out,
        outlook_minimum=minimum,
        old_outlook=old_outlook(servers_out, minimum),
    )


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
