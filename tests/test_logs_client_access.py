"""Client-access logs (2010 IIS, 2010 RPC Client Access, 2016 HttpProxy) parsed into evidence.

The fixtures in tests/data/client-logs are written from the published field
definitions (tests/data/client-logs/README.md).
"""

from __future__ import annotations

import gzip
import shutil
import zipfile
from pathlib import Path

import pytest

from migrator.logs.client_access import (
    HTTPPROXY,
    IIS,
    RCA,
    ClientScanResult,
    Servers,
    classify,
    read_client_access,
    recognise,
    scan_client_access,
    servers_from,
)
from migrator.logs.client_evidence import (
    ClientEvidence,
    ClientSeen,
    below_minimum,
    load_client_evidence,
    old_outlook,
    user_key,
    write_client_evidence,
)
from migrator.logs.sources import discover, parse_header

DATA = Path(__file__).parent / "data" / "client-logs"
CONTOSO = servers_from(
    [
        ("EX10-01", False),
        ("EX10-02", False),
        ("EX10-03", False),
        ("EX16-01", True),
        ("EX16-02", True),
    ],
    [
        ("10.1.1.10", "EX10-01"),
        ("10.1.1.11", "EX10-02"),
        ("10.2.1.10", "EX10-03"),
        ("10.1.1.20", "EX16-01"),
    ],
)


def scan(*paths: Path, servers: Servers | None = CONTOSO) -> ClientEvidence:
    sources, missing = discover([str(p) for p in paths])
    assert missing == []
    found, _others, bad = classify(sources)
    assert bad == []
    return scan_client_access(found, servers)


def clients(ev: ClientEvidence, server: str, protocol: str) -> list[ClientSeen]:
    seen = ev.server(server)
    assert seen is not None
    return [c for p, c in seen.clients() if p == protocol]


def test_log_types_are_recognised_by_their_header() -> None:
    types = {}
    for s in discover([str(DATA)])[0]:
        found, _, _ = classify([s])
        types[Path(s.path).name] = found[0][1].name
    assert types == {
        "u_ex230105.log": "iis",
        "u_ex230106.log": "iis",
        "RCA_20230105-1.LOG": "rca",
        "HttpProxy_2023010512-1.LOG": "httpproxy",
    }
    smtp = parse_header(
        b"#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n"
        b"#Log-type: SMTP Receive Protocol Log\r\n#Fields: date-time,connector-id\r\n"
    )
    assert recognise(smtp) is None


def test_a_file_named_anything_is_read_by_its_header(tmp_path: Path) -> None:
    odd = tmp_path / "EX10-01" / "renamed.txt"
    odd.parent.mkdir()
    shutil.copy(DATA / "ex2010" / "EX10-01" / "W3SVC1" / "u_ex230105.log", odd)
    ev = scan(odd)
    assert ev.scan.files_read[0].log_type == "iis"
    assert clients(ev, "EX10-01", "OWA")


def test_iis_protocols_users_agents_and_times() -> None:
    ev = scan(DATA / "ex2010")
    ex = ev.server("EX10-01")
    assert ex is not None
    assert [p.protocol for p in ex.protocols] == [
        "ActiveSync",
        "Autodiscover",
        "ECP",
        "EWS",
        "MAPI (RPC/HTTP)",
        "MAPI (RPC/TCP)",
        "OAB",
        "OWA",
        "RPC/HTTP",
    ]
    (eas,) = clients(ev, "EX10-01", "ActiveSync")
    assert (eas.user, eas.client_ip, eas.user_agent) == (
        "CONTOSO\\bcarter",
        "198.51.100.20",
        "Apple-iPhone9C1/1602.92",
    )
    assert eas.last_seen == "2023-01-05T00:00:03Z"
    (auto,) = clients(ev, "EX10-01", "Autodiscover")
    # '+' in an IIS user agent is a space; Outlook 2007 names itself "Microsoft Office Outlook".
    assert auto.user_agent.startswith("Microsoft Office/12.0 (Windows NT 5.1; Microsoft Office")
    assert auto.outlook_build == "12.0.6680"
    # The NTLM 401 challenge before the authenticated RPC/HTTP request is no client.
    rpc = clients(ev, "EX10-01", "RPC/HTTP")
    assert [(c.user, c.requests) for c in rpc if not c.via] == [("CONTOSO\\falsayed", 1)]
    # '-' is an empty field: the load balancer's probe is anonymous, and stays a client.
    owa = clients(ev, "EX10-01", "OWA")
    assert {c.user for c in owa} == {"", "CONTOSO\\ghopper"}
    # /favicon.ico is no client-access protocol.
    assert ev.scan.counted < ev.scan.records


def test_iis_restart_with_other_fields_mid_file_is_read_with_its_own_columns() -> None:
    ev = scan(DATA / "ex2010", DATA / "ex2016")
    (probe,) = [c for c in clients(ev, "EX10-01", "OWA") if not c.user]
    assert (probe.client_ip, probe.user_agent) == (
        "10.1.9.5",
        "Mozilla/5.0 (compatible; F5-Monitor)",
    )
    assert probe.last_seen == "2023-01-05T12:30:00Z"


def test_rejected_lines_name_file_and_line() -> None:
    ev = scan(DATA / "ex2010")
    assert ev.scan.rejected == 2
    assert len(ev.scan.rejected_lines) == 2
    rca, iis = ev.scan.rejected_lines
    assert "RCA_20230105-1.LOG, line 12: fewer fields than its #Fields line names" in rca
    assert "u_ex230105.log, line 15: fewer fields than its #Fields line names" in iis


def test_rpc_client_access_gives_outlook_builds_and_leaves_exchange_out_of_users() -> None:
    ev = scan(DATA / "ex2010")
    tcp = clients(ev, "EX10-01", "MAPI (RPC/TCP)")
    by_user = {c.user: c for c in tcp}
    assert by_user["loconnor"].outlook_build == "12.0.6680.5000"
    assert by_user["loconnor"].requests == 2
    assert by_user["bcarter"].outlook_build == "14.0.7015.1000"
    assert by_user["Microsoft System Attendant"].monitoring
    http = clients(ev, "EX10-01", "MAPI (RPC/HTTP)")
    assert [(c.user, c.client_ip) for c in http] == [("falsayed", "203.0.113.7")]


def test_monitoring_accounts_are_marked() -> None:
    ev = scan(DATA / "ex2010", DATA / "ex2016")
    ex3 = ev.server("EX10-03")
    assert ex3 is not None
    assert all(c.monitoring for _, c in ex3.clients())
    health = [
        c for c in clients(ev, "EX10-01", "EWS") if c.user.lower().startswith("healthmailbox")
    ]
    assert health and health[0].monitoring and health[0].via == "EX16-01"


def test_proxied_requests_are_replaced_by_the_httpproxy_clients() -> None:
    ev = scan(DATA / "ex2010", DATA / "ex2016")
    ews = clients(ev, "EX10-01", "EWS")
    proxied = [c for c in ews if c.via]
    assert {(c.user, c.client_ip, c.log) for c in proxied} == {
        ("ghopper@contoso.com", "10.1.5.40", "httpproxy"),
        ("HealthMailbox0f1e2d3c4b5a4f3e@contoso.com", "10.1.1.20", "httpproxy"),
    }
    # The 2016 server itself is no longer a client; the 401 and the 2016 target are left out.
    assert not [c for c in ews if c.client_ip == "10.1.1.20" and c.log == "iis"]
    assert all(c.user != "jdoe@contoso.com" for c in ews)
    (rpc,) = [c for c in clients(ev, "EX10-01", "RPC/HTTP") if c.via]
    assert (rpc.user, rpc.client_ip) == ("CONTOSO\\bcarter", "198.51.100.77")
    assert ev.scan.proxied_explained == 2
    assert ev.scan.warnings == ()


def test_without_httpproxy_logs_the_2016_server_stays_a_client_with_a_warning() -> None:
    ev = scan(DATA / "ex2010")
    left = [c for c in clients(ev, "EX10-01", "EWS") if c.via == "EX16-01"]
    assert [(c.user, c.client_ip, c.log) for c in left] == [
        ("CONTOSO\\ghopper", "10.1.1.20", "iis")
    ]
    assert any("came through EX16-01" in w for w in ev.scan.warnings)


def test_without_inventory_servers_come_from_the_folders() -> None:
    ev = scan(DATA / "ex2010", servers=None)
    assert [s.server for s in ev.servers] == ["EX10-01", "EX10-03"]


def test_gz_and_zip_are_read_like_plain_files(tmp_path: Path) -> None:
    plain = scan(DATA / "ex2010", DATA / "ex2016")
    archive = tmp_path / "EX-logs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(DATA.rglob("*")):
            if f.is_file() and "ex2016" in f.parts:
                zf.write(f, f.relative_to(DATA).as_posix())
    for f in sorted((DATA / "ex2010").rglob("*")):
        if f.is_file():
            target = tmp_path / f.relative_to(DATA)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.with_name(f.name + ".gz").write_bytes(gzip.compress(f.read_bytes()))
    packed = scan(tmp_path)
    assert packed.servers == plain.servers
    assert packed.scan.rejected == plain.scan.rejected
    assert [r.split(", line ")[1] for r in packed.scan.rejected_lines] == [
        r.split(", line ")[1] for r in plain.scan.rejected_lines
    ]


def test_byte_order_mark_keeps_line_numbers(tmp_path: Path) -> None:
    f = tmp_path / "EX10-01" / "u_ex230105.log"
    f.parent.mkdir()
    f.write_bytes(
        b"\xef\xbb\xbf" + (DATA / "ex2010" / "EX10-01" / "W3SVC1" / "u_ex230105.log").read_bytes()
    )
    ev = scan(f)
    assert ev.scan.rejected_lines[0].split(": ")[0].endswith("line 15")


def test_old_outlook_per_user() -> None:
    ev = scan(DATA / "ex2010", DATA / "ex2016")
    old = {o.user: o.builds for o in ev.old_outlook}
    assert old == {
        "CONTOSO\\falsayed": ("14.0.6025", "14.0.6025.1000"),
        "CONTOSO\\loconnor": ("12.0.6680", "12.0.6680.5000"),
    }


@pytest.mark.parametrize(
    ("build", "old"),
    [
        ("12.0.6680.5000", True),
        ("14.0.6025", True),
        ("14.0.7015.1000", False),
        ("14.0.7015", False),
        ("16.0.4266", False),
        ("", False),
        ("MSRPC", False),
    ],
)
def test_outlook_minimum(build: str, old: bool) -> None:
    assert below_minimum(build) is old


def test_evidence_file_round_trip(tmp_path: Path) -> None:
    ev = scan(DATA / "ex2010", DATA / "ex2016")
    target = tmp_path / "client-evidence.json"
    write_client_evidence(ev, target)
    first = target.read_bytes()
    back = load_client_evidence(target)
    assert back.servers == ev.servers
    assert back.old_outlook == ev.old_outlook
    write_client_evidence(scan(DATA / "ex2010", DATA / "ex2016"), target)
    assert target.read_bytes() == first  # deterministic


def test_bad_evidence_file_lists_every_problem(tmp_path: Path) -> None:
    from migrator.errors import InventoryError

    target = tmp_path / "client-evidence.json"
    target.write_text(
        '{"format": "migrator.client-evidence/1", "servers": [{"server": "", "protocols":'
        ' [{"protocol": "OWA", "requests": "many", "clients": []}]}]}',
        "utf-8",
    )
    with pytest.raises(InventoryError) as info:
        load_client_evidence(target)
    text = str(info.value)
    assert "'servers[0].protocols[0].requests': 'many' is not a whole number" in text
    assert "'servers[0].server': the server name is missing" in text


def test_types_declare_what_they_need() -> None:
    assert IIS.fields("date time s-ip") == ("date", "time", "s-ip")
    assert RCA.fields("date-time,session-id") == ("date-time", "session-id")
    assert HTTPPROXY.header_row and not IIS.header_row


def _read(*paths: Path, servers: Servers | None = CONTOSO) -> ClientScanResult:
    sources, _ = discover([str(p) for p in paths])
    found, _others, _bad = classify(sources)
    return read_client_access(found, servers)


def test_the_scan_writes_the_same_file_as_its_objects(tmp_path: Path) -> None:
    # One writer: the scan streams the file from DuckDB; evidence held as objects goes
    # through the same table and gives the same bytes.
    with _read(DATA / "ex2010", DATA / "ex2016") as result:
        result.write(tmp_path / "streamed.json")
        ev = result.evidence()
    write_client_evidence(ev, tmp_path / "objects.json")
    assert (tmp_path / "streamed.json").read_bytes() == (tmp_path / "objects.json").read_bytes()
    back = load_client_evidence(tmp_path / "streamed.json")
    assert back.servers == ev.servers
    assert back.old_outlook == ev.old_outlook == old_outlook(ev.servers, ev.outlook_minimum)


def test_text_that_needs_escaping_survives_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "EX10-01" / "W3SVC1"
    folder.mkdir(parents=True)
    head = (DATA / "ex2010" / "EX10-01" / "W3SVC1" / "u_ex230105.log").read_text("utf-8")
    fields = next(line for line in head.splitlines() if line.startswith("#Fields"))
    agent = 'Odd"agent\\with/é+ü'
    (folder / "u_ex230106.log").write_text(
        "#Software: Microsoft Internet Information Services 7.5\n"
        f"{fields}\n"
        f'2023-01-06 10:00:00 10.1.1.10 POST /EWS/Exchange.asmx - 443 CONTOSO\\o"d 10.1.5.9 {agent}'
        " 200 0 0 15\n",
        "utf-8",
    )
    with _read(tmp_path) as result:
        result.write(tmp_path / "client-evidence.json")
        ev = result.evidence()
    (c,) = clients(ev, "EX10-01", "EWS")
    assert (c.user, c.user_agent) == ('CONTOSO\\o"d', 'Odd"agent\\with/é ü')
    assert load_client_evidence(tmp_path / "client-evidence.json").servers == ev.servers


def test_summary_figures_match_the_evidence() -> None:
    with _read(DATA / "ex2010", DATA / "ex2016") as result:
        ev = result.evidence()
        for top, listed in ((1, 1), (2, 50), (None, 1)):
            summary = result.summary(top=top, listed=listed)
            assert summary.old_outlook == ev.old_outlook
            assert [s.server for s in summary.servers] == [s.server for s in ev.servers]
            for s, full in zip(summary.servers, ev.servers, strict=True):
                assert (s.first_seen, s.last_seen) == (full.first_seen, full.last_seen)
                for p, fp in zip(s.protocols, full.protocols, strict=True):
                    real = [c for c in fp.clients if not c.monitoring]
                    assert p.protocol == fp.protocol
                    assert (p.requests, p.last_seen, p.entries) == (
                        fp.requests,
                        fp.last_seen,
                        len(fp.clients),
                    )
                    assert p.monitoring == len(fp.clients) - len(real)
                    assert p.clients == len({(user_key(c.user), c.client_ip) for c in real})
                    # The busiest are the first entries in evidence order ...
                    assert list(p.busiest) == [c for c in fp.clients if c in p.busiest]
                    assert list(p.busiest[:listed]) == list(fp.clients[:listed])
                    # ... holding the first `top` real ones.
                    wanted = real if top is None else real[:top]
                    assert [c for c in p.busiest if not c.monitoring][: len(wanted)] == wanted


def test_the_file_is_the_json_dumps_layout_and_never_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import migrator.logs.client_evidence as client_evidence

    # DuckDB writes the file (COPY): one client per line inside the json.dumps layout,
    # and nothing (no file, no temporary file) when the write fails.
    ev = scan(DATA / "ex2010", DATA / "ex2016")
    target = tmp_path / "out" / "client-evidence.json"
    write_client_evidence(ev, target)
    text = target.read_text("utf-8")
    assert text.endswith("\n") and json.loads(text)["format"] == "migrator.client-evidence/1"
    n = sum(len(p.clients) for s in ev.servers for p in s.protocols)
    assert n > 1
    assert text.count('{"client_ip": ') == n
    assert text.count("},\n{") == n - len([p for s in ev.servers for p in s.protocols])

    def fail(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(client_evidence.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_client_evidence(ev, tmp_path / "bad" / "client-evidence.json")
    monkeypatch.undo()
    assert list((tmp_path / "bad").iterdir()) == []
    empty = ClientEvidence(scan=ev.scan, servers=(), outlook_minimum=ev.outlook_minimum)
    write_client_evidence(empty, tmp_path / "empty.json")
    data = (tmp_path / "empty.json").read_text("utf-8")
    assert json.loads(data)["servers"] == [] and data.endswith("}\n")
