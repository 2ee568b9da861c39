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
    CLIENT_TABLE,
    OUTLOOK_MINIMUM,
    ClientEvidence,
    ClientScan,
    ClientSeen,
    EvidenceSummary,
    FileRead,
    FileSkipped,
    OldOutlook,
    ProtocolClients,
    ProtocolSummary,
    ServerClients,
    ServerSummary,
    below_minimum,
    old_outlook_of,
    user_key,
    write_client_json,
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
    """Read client-access log sources into evidence objects (every client; see :func:`read_client_access`)."""
    with read_client_access(sources, servers, skipped=skipped, minimum=minimum) as result:
        return result.evidence()


def read_client_access(
    sources: Sequence[tuple[Source, LogType]],
    servers: Servers | None = None,
    *,
    skipped: Iterable[FileSkipped] = (),
    minimum: str = OUTLOOK_MINIMUM,
) -> ClientScanResult:
    """Read client-access log sources into a DuckDB table of clients (one query over all of them).

    The result holds the clients in DuckDB: write ``client-evidence.json`` from
    it, summarise it, or turn it into objects; close it (or use it as a context
    manager) when done.
    """
    import duckdb

    servers = servers or Servers.none()
    skipped_list = list(skipped)
    warnings: list[str] = []
    groups: dict[_Group, list[Segment]] = defaultdict(list)
    read: list[FileRead] = []
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
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
                    groups[_Group(log, tuple(f.lower() for f in seg.fields), known, guess)].append(
                        seg
                    )
                if usable:
                    read.append(FileRead(source.name, log.name))
                elif not segs:
                    skipped_list.append(FileSkipped(source.name, f"{log.title} without records"))
            by_path = {seg.read_path: seg for segs in groups.values() for seg in segs}
            total = _query(con, groups, servers)
            listed, rejected = rejected_lines(con, by_path)
        counted, explained = _clients(con, warnings)
        scan = ClientScan(
            files_read=tuple(read),
            files_skipped=tuple(sorted(skipped_list, key=lambda s: s.path)),
            records=total,
            counted=counted,
            rejected=rejected,
            rejected_lines=tuple(listed),
            proxied_explained=explained,
            warnings=tuple(warnings),
        )
        return ClientScanResult(con, scan, minimum, _old_outlook(con, minimum))
    except BaseException:
        con.close()
        raise


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
WITH users AS (
  SELECT raw,
    CASE WHEN coalesce(raw, '') IN ('', '-') THEN ''
         WHEN starts_with(raw, '/') AND regexp_matches(raw, '(?i)/cn=[^/]+$')
         THEN regexp_extract(raw, '(?i)/cn=([^/]+)$', 1)
         ELSE raw END AS usr
  FROM (SELECT DISTINCT usr AS raw FROM g)
), named_users AS (
  SELECT raw, usr,
    (regexp_matches(lower(regexp_replace(regexp_replace(usr, '^.*\\', ''), '@.*$', '')),
                    '^(@USERS@)')
     OR contains(lower(coalesce(raw, '')), 'cn=microsoft system attendant')
     OR contains(lower(coalesce(raw, '')), 'cn=healthmailbox')) AS monitoring
  FROM users
), agents AS (
  SELECT log, raw,
    CASE WHEN coalesce(raw, '') = '-' THEN ''
         WHEN log = 'iis' THEN replace(raw, '+', ' ')
         ELSE coalesce(raw, '') END AS agent
  FROM (SELECT DISTINCT log, agent AS raw FROM g)
), named_agents AS (
  SELECT log, raw, agent,
    lower(agent) LIKE 'outlook%' AS outlook_exe,
    contains(lower(agent), 'outlook') AS outlook,
    coalesce(regexp_extract(agent, '(?i)outlook[ /](\d+\.\d+\.\d+(?:\.\d+)?)', 1), '') AS ua_build,
    regexp_matches(lower(agent), '^(@AGENTS@)') AS monitoring
  FROM agents
), n AS (
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
    u.usr,
    CASE WHEN coalesce(g.cip, '') = '-' THEN '' ELSE coalesce(g.cip, '') END AS cip,
    a.agent,
    CASE WHEN a.outlook_exe AND coalesce(g.build, '') NOT IN ('', '-') THEN coalesce(g.build, '')
         WHEN NOT a.outlook THEN ''
         ELSE a.ua_build
    END AS outlook,
    CASE WHEN g.log = 'httpproxy'
         THEN coalesce(s2.name, nullif(upper(split_part(coalesce(g.via, ''), '.', 1)), ''),
                       nullif(g.known, ''), g.guess)
         ELSE coalesce(a2.name, '') END AS via,
    coalesce(u.monitoring OR a.monitoring, false) AS monitoring
  FROM g
  JOIN proto p ON p.key = lower(g.proto)
  JOIN named_users u ON u.raw IS NOT DISTINCT FROM g.usr
  JOIN named_agents a ON a.log = g.log AND a.raw IS NOT DISTINCT FROM g.agent
  LEFT JOIN srv s1 ON s1.short = lower(split_part(g.row_server, '.', 1))
  LEFT JOIN addr a1 ON a1.ip = g.server_ip
  LEFT JOIN srv s2 ON s2.short = lower(split_part(g.via, '.', 1))
  LEFT JOIN addr a2 ON a2.ip = g.cip AND a2.new
)
SELECT server, protocol, usr, cip, agent, outlook, via, log, monitoring,
  sum(n)::BIGINT AS requests, min(first_ts) AS first_seen, max(last_ts) AS last_seen, unnamed
FROM n WHERE server <> ''
GROUP BY ALL
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
) -> int:
    """Every record read and grouped (temporary table ``g``); how many records were read.

    Every file of every layout is read and grouped on its raw normalised
    columns (a few groups per client); the naming is :func:`_clients`'s.
    """
    names = ", ".join(NORMALISED)
    union = " UNION ALL ".join(
        f"SELECT * FROM ({_read_sql(g, segs)})"
        for g, segs in sorted(groups.items(), key=lambda kv: repr(kv[0]))
    )
    if not union:
        union = f"SELECT {', '.join(['NULL::VARCHAR'] * (len(NORMALISED) + 3))} WHERE false"
    con.execute(
        f"CREATE TEMP TABLE g AS SELECT log, known, guess, {', '.join(NORMALISED[:-1])},"
        f" count(*) AS n, min(ts) AS first_ts, max(ts) AS last_ts"
        f" FROM ({union}) AS r(log, known, guess, {names}) GROUP BY ALL"
    )
    _tables(con, servers)
    return int(con.sql("SELECT coalesce(sum(n), 0)::BIGINT FROM g").fetchall()[0][0])


_ORDER = (
    "lower(server), server, protocol, requests DESC, lower(usr), usr, cip, agent, via, log,"
    " outlook, monitoring, unnamed"
)
"""The evidence order: servers by name, protocols by name, clients with most requests first."""


def _clients(con: duckdb.DuckDBPyConnection, warnings: list[str]) -> tuple[int, int]:
    """Name the groups (table ``clients``, :data:`CLIENT_TABLE`); (requests counted, requests explained).

    IIS requests proxied by a 2016 server whose HttpProxy logs were read are
    left out: those logs name the real clients. The warnings (proxies without
    HttpProxy logs, server addresses without a name) are added to ``warnings``.
    """
    # One materialised table: the named clients, each marked explained or not, numbered in
    # the evidence order among its kind; ``clients`` is a view of those not explained.
    con.execute(
        f"CREATE TEMP TABLE named AS WITH n AS MATERIALIZED ({_NAMING}),"
        " e AS (SELECT DISTINCT lower(server) AS s, lower(via) AS v"
        " FROM n WHERE log = 'httpproxy' AND via <> ''),"
        " m AS (SELECT n.*, (e.s IS NOT NULL) AS explained FROM n"
        " LEFT JOIN e ON n.log = 'iis' AND n.via <> ''"
        " AND e.s = lower(n.server) AND e.v = lower(n.via))"
        f" SELECT *, row_number() OVER (PARTITION BY explained ORDER BY {_ORDER}) AS ord FROM m"
    )
    con.execute("DROP TABLE g")
    counted, explained = con.sql(
        "SELECT coalesce(sum(requests), 0)::BIGINT,"
        " coalesce(sum(requests) FILTER (WHERE explained), 0)::BIGINT FROM named"
    ).fetchall()[0]
    for server, via, n_req in con.sql(
        "SELECT lower(server), lower(via), sum(requests)::BIGINT FROM named"
        " WHERE log = 'iis' AND via <> '' AND NOT explained GROUP BY 1, 2 ORDER BY 1, 2"
    ).fetchall():
        warnings.append(
            f"{n_req} requests to {server.upper()} came through {via.upper()}, and no"
            f" HttpProxy log of {via.upper()} names their clients: scan the HttpProxy logs"
            " of the 2016 servers too (they stay listed as clients of the 2016 server)"
        )
    for (ip,) in con.sql(
        "SELECT DISTINCT unnamed FROM named WHERE unnamed <> '' ORDER BY 1"
    ).fetchall():
        warnings.append(
            f"records of server address '{ip}' could not be given a server name: put each server's"
            " logs in a folder named after it, or pass --inventory"
        )
    con.execute(
        'CREATE TEMP VIEW clients AS SELECT server, protocol, usr AS "user", cip AS client_ip,'
        " coalesce(agent, '') AS user_agent, outlook AS outlook_build, via, log, monitoring,"
        " requests, coalesce(first_seen, '') AS first_seen, coalesce(last_seen, '') AS last_seen,"
        " ord FROM named WHERE NOT explained"
    )
    return int(counted) - int(explained), int(explained)


def _old_outlook(con: duckdb.DuckDBPyConnection, minimum: str) -> tuple[OldOutlook, ...]:
    """The users with an old Outlook: the rule (:func:`old_outlook_of`) over the clients whose
    build is below the minimum (the few distinct builds are judged in Python)."""
    builds = [
        b
        for (b,) in con.sql(
            "SELECT DISTINCT outlook_build FROM clients WHERE outlook_build <> ''"
        ).fetchall()
        if below_minimum(str(b), minimum)
    ]
    if not builds:
        return ()
    rows = con.execute(
        'SELECT server, "user", outlook_build, last_seen, monitoring FROM clients'
        " WHERE NOT monitoring AND \"user\" <> '' AND list_contains(?, outlook_build)"
        " ORDER BY ord",
        [builds],
    ).fetchall()
    return old_outlook_of(rows, minimum)


_COLUMNS = ", ".join(f'"{name}"' for name, _ in CLIENT_TABLE[:-1])


def _seen(row: Sequence[object]) -> ClientSeen:
    """A client of a :data:`CLIENT_TABLE` row (without server and protocol)."""
    user, ip, agent, build, via, log, monitoring, requests, first, last = row[2:12]
    return ClientSeen(
        str(user),
        str(ip),
        str(agent),
        str(build),
        str(via),
        str(log),
        int(str(requests)),
        str(first),
        str(last),
        bool(monitoring),
    )


class ClientScanResult:
    """The clients of a scan, held in a DuckDB table (:data:`CLIENT_TABLE`) until used."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        scan: ClientScan,
        minimum: str,
        old: tuple[OldOutlook, ...],
    ) -> None:
        self.con = con
        self.scan = scan
        self.minimum = minimum
        self.old_outlook = old

    def __enter__(self) -> ClientScanResult:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Free the DuckDB database."""
        self.con.close()

    def write(self, path: Path) -> None:
        """Write ``client-evidence.json`` (streamed from DuckDB)."""
        write_client_json(
            self.con, "clients", path, scan=self.scan, minimum=self.minimum, old=self.old_outlook
        )

    def evidence(self) -> ClientEvidence:
        """Every client as objects (what :func:`load_client_evidence` gives back from the file)."""
        rows = self.con.sql(f"SELECT {_COLUMNS} FROM clients ORDER BY ord").fetchall()
        out: list[ServerClients] = []
        protocols: list[ProtocolClients] = []
        clients: list[ClientSeen] = []
        for i, row in enumerate(rows):
            clients.append(_seen(row))
            last = i + 1 == len(rows)
            if last or rows[i + 1][:2] != row[:2]:
                protocols.append(
                    ProtocolClients(
                        str(row[1]),
                        sum(c.requests for c in clients),
                        max(c.last_seen for c in clients),
                        tuple(clients),
                    )
                )
                clients = []
            if last or rows[i + 1][0] != row[0]:
                out.append(
                    ServerClients(
                        str(row[0]),
                        min(c.first_seen for p in protocols for c in p.clients),
                        max(p.last_seen for p in protocols),
                        tuple(protocols),
                    )
                )
                protocols = []
        return ClientEvidence(
            scan=self.scan,
            servers=tuple(out),
            outlook_minimum=self.minimum,
            old_outlook=self.old_outlook,
        )

    def real_clients(self, name: str) -> tuple[str, list[tuple[str, str, str, str]]] | None:
        """(the server's name in the evidence, (protocol, user, address, last seen) of its clients
        that are no monitoring account, one row per protocol, user and address), or None."""
        low = name.lower()
        servers = [
            str(s)
            for (s,) in self.con.sql(
                "SELECT server FROM clients GROUP BY server ORDER BY min(ord)"
            ).fetchall()
        ]
        server = next((s for s in servers if s.lower() == low), None)
        if server is None:
            return None
        rows = self.con.execute(
            'SELECT protocol, "user", client_ip, max(last_seen) FROM clients'
            " WHERE server = ? AND NOT monitoring GROUP BY ALL",
            [server],
        ).fetchall()
        return server, [(str(p), str(u), str(ip), str(last)) for p, u, ip, last in rows]

    def summary(self, *, top: int | None, listed: int) -> EvidenceSummary:
        """Totals per server and protocol and the busiest clients of each.

        ``listed``: the first entries of each protocol to keep whatever they are;
        ``top``: the first entries that are no monitoring account (None: all of them).
        """
        users = [
            str(u)
            for (u,) in self.con.sql(
                'SELECT DISTINCT "user" FROM clients WHERE NOT monitoring'
            ).fetchall()
        ]
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE user_keys AS"
            " SELECT unnest(?::VARCHAR[]) AS usr, unnest(?::VARCHAR[]) AS key",
            [users, [user_key(u) for u in users]],
        )
        try:
            totals = self.con.sql(
                "SELECT c.server, c.protocol, sum(c.requests)::BIGINT, max(c.last_seen),"
                " min(c.first_seen), count(*), count(*) FILTER (WHERE c.monitoring),"
                " count(DISTINCT (k.key, c.client_ip)) FILTER (WHERE NOT c.monitoring), min(c.ord)"
                ' FROM clients c LEFT JOIN user_keys k ON k.usr = c."user"'
                " GROUP BY c.server, c.protocol ORDER BY min(c.ord)"
            ).fetchall()
        finally:
            self.con.execute("DROP TABLE user_keys")
        # Each protocol's clients are one run of ``ord``: its first ``listed`` entries and its
        # first ``top`` real ones lie within ``listed`` or ``top`` + its monitoring entries.
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE client_spans AS SELECT unnest(?::VARCHAR[]) AS server,"
            " unnest(?::VARCHAR[]) AS protocol, unnest(?::BIGINT[]) AS start,"
            " unnest(?::BIGINT[]) AS mon",
            [[str(t[i]) for t in totals] for i in (0, 1)]
            + [[int(t[i]) for t in totals] for i in (8, 6)],
        )
        try:
            real = "NOT c.monitoring" + (
                "" if top is None else f" AND c.ord - s.start < {int(top)} + s.mon"
            )
            rows = self.con.sql(
                f"SELECT {', '.join('c.' + c for c in _COLUMNS.split(', '))}, c.ord - s.start"
                " FROM clients c JOIN client_spans s"
                " ON s.server = c.server AND s.protocol = c.protocol"
                f" WHERE c.ord - s.start < {int(listed)} OR ({real}) ORDER BY c.ord"
            ).fetchall()
        finally:
            self.con.execute("DROP TABLE client_spans")
        busiest: dict[tuple[str, str], list[ClientSeen]] = defaultdict(list)
        shown: dict[tuple[str, str], int] = defaultdict(int)
        for row in rows:
            key = (str(row[0]), str(row[1]))
            seen = _seen(row)
            first = int(str(row[-1])) < listed
            if first or (not seen.monitoring and (top is None or shown[key] < top)):
                busiest[key].append(seen)
                shown[key] += not seen.monitoring
        servers: list[ServerSummary] = []
        protocols: list[ProtocolSummary] = []
        for i, (server, protocol, requests, last, _first, n, mon, distinct, _) in enumerate(totals):
            protocols.append(
                ProtocolSummary(
                    str(protocol),
                    int(requests),
                    str(last),
                    int(n),
                    int(mon),
                    int(distinct),
                    tuple(busiest[(str(server), str(protocol))]),
                )
            )
            if i + 1 == len(totals) or totals[i + 1][0] != server:
                firsts = [str(t[4]) for t in totals if t[0] == server]
                servers.append(
                    ServerSummary(
                        str(server),
                        min(firsts),
                        max(p.last_seen for p in protocols),
                        tuple(protocols),
                    )
                )
                protocols = []
        return EvidenceSummary(self.scan, tuple(servers), self.minimum, self.old_outlook)


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
