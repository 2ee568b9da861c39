"""The SMTP log scan on log files in the exact format Exchange 2010 and 2016 write."""

from __future__ import annotations

import csv
import gzip
import io
import ipaddress
import shutil
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from log_cases import receive_header

from migrator.errors import LogScanError
from migrator.logs.evidence import ClientEvidence, Evidence
from migrator.logs.figures import ip_version
from migrator.logs.smtp import scan_logs
from migrator.logs.smtp_files import load_whole, parse_quoted, probe

DATA = Path(__file__).parent / "data" / "logs"
ACCEPTED = ("contoso.com", "*.contoso.com")


def client(ev: Evidence, connector: str, address: str) -> ClientEvidence:
    ce = ev.connector(connector)
    assert ce is not None, connector
    for c in ce.clients:
        if c.address == address:
            return c
    raise AssertionError(f"{address} not on {connector}")


@pytest.fixture(scope="module")
def evidence() -> Evidence:
    return scan_logs([DATA], ACCEPTED, workers=1)


def test_2010_pipelined_session_pairs_replies_in_order(evidence: Evidence) -> None:
    # MAIL, RCPT, RCPT sent before any reply (PIPELINING); the 250- lines of the EHLO
    # reply are inner lines; DATA's 354 is not its final reply.
    c = client(evidence, "EX10-01\\Relay Apps", "10.1.1.50")
    assert c.sessions == 3
    assert c.messages == 2
    assert c.internal_recipients == 1
    assert c.external_recipients == 2
    assert c.external_recipients_anonymous == 2
    assert c.ehlo_names == ("app01.contoso.com",)
    assert c.mail_from_domains == ("contoso.com",)
    assert c.incomplete_sessions == 1  # the last session is cut by the truncated last line
    assert c.first_seen == "2023-01-02T10:00:01.100Z"


def test_2010_unable_to_relay_is_counted_as_refused_relay(evidence: Evidence) -> None:
    c = client(evidence, "EX10-01\\Default EX10-01", "10.1.1.60")
    assert c.relay_refused_5_7_1 == 1
    assert c.relay_refused_5_7_54 == 0
    assert c.external_recipients == 0
    assert c.ehlo_names == ("printer7",)
    (dom,) = c.rcpt_domains
    assert (dom.domain, dom.refused, dom.relay_refused, dom.internal) == ("gmail.com", 1, 1, False)


def test_ipv6_client_authenticated_after_restart_header(evidence: Evidence) -> None:
    # Header block repeated mid-file; AUTH LOGIN with two 334 challenges; BDAT LAST;
    # a quoted context field that spans two physical lines.
    c = client(evidence, "EX10-01\\Relay Apps", "2001:db8::5")
    got = (c.ip_version, c.authenticated_sessions, c.messages, c.mail_from_domains)
    assert got == (6, 1, 1, ("sub.contoso.com",))
    # Its external recipient was accepted after authentication, so not anonymously.
    assert (c.external_recipients, c.external_recipients_anonymous) == (1, 0)


def test_2016_refused_5_7_54_and_tls(evidence: Evidence) -> None:
    c = client(evidence, "EX16-01\\Default Frontend EX16-01", "10.1.1.70")
    assert c.relay_refused_5_7_54 == 1
    assert c.tls_sessions == 1
    assert c.messages == 0


def test_2016_session_cut_by_file_roll_over_is_joined(evidence: Evidence) -> None:
    c = client(evidence, "EX16-01\\Default Frontend EX16-01", "10.1.1.80")
    assert c.sessions == 1
    assert c.incomplete_sessions == 0
    assert c.messages == 1  # the 250 Queued reply is in the second file
    assert c.internal_recipients == 1  # hr.contoso.com matches *.contoso.com
    v6 = client(evidence, "EX16-01\\Default Frontend EX16-01", "2001:db8:0:1::25")
    assert v6.ip_version == 6 and v6.sessions == 1


def test_send_log_skipped_and_truncated_line_reported(evidence: Evidence) -> None:
    skipped = {Path(s.path).name: s.reason for s in evidence.scan.files_skipped}
    assert skipped == {"SEND20230103-1.LOG": "SMTP Send protocol log (not counted)"}
    assert not any(c.connector.startswith("Internet") for c in evidence.connectors)
    assert any("last line is incomplete" in w and "line 81" in w for w in evidence.scan.warnings)


def test_days_per_server(evidence: Evidence) -> None:
    w = evidence.window("EX10-01")
    assert w is not None
    assert (w.days_covered, w.days_with_data, w.versions) == (4, 2, ("14.3.123.0",))
    w16 = evidence.window("EX16-01")
    assert w16 is not None and w16.days_covered == 2 and w16.versions == ("15.1.2507.6",)


def test_gz_and_zip_give_the_same_figures(tmp_path: Path, evidence: Evidence) -> None:
    gz_dir = tmp_path / "gz"
    for f in sorted(DATA.rglob("*.LOG")):
        target = gz_dir / f.relative_to(DATA).with_suffix(".LOG.gz")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.compress(f.read_bytes(), mtime=0))
    archive = tmp_path / "logs.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(DATA.rglob("*.LOG")):
            zf.write(f, f.relative_to(DATA).as_posix())
    for source in (gz_dir, archive):
        got = scan_logs([source], ACCEPTED, workers=1)
        assert got.connectors == evidence.connectors
        assert got.servers == evidence.servers


def test_parallel_workers_match_single(evidence: Evidence) -> None:
    assert scan_logs([DATA], ACCEPTED, workers=2).connectors == evidence.connectors


def test_unreadable_and_foreign_files_reported_and_skipped(tmp_path: Path) -> None:
    shutil.copytree(DATA / "ex2016", tmp_path / "ex2016")
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "broken.LOG.gz").write_bytes(b"\x1f\x8b\x08 truncated gzip")
    (tmp_path / "notes.LOG").write_text("hello\r\n", encoding="utf-8")
    ev = scan_logs([tmp_path], ACCEPTED, workers=1)
    reasons = {Path(s.path).name: s.reason for s in ev.scan.files_skipped}
    assert reasons["broken.zip"].startswith("cannot be read as a zip archive")
    assert reasons["broken.LOG.gz"].startswith("cannot be read")
    assert reasons["notes.LOG"] == "data before any '#Log-type' header"
    assert ev.scan.sessions == 3


def test_nothing_readable_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "SEND20230103-1.LOG").write_bytes(
        (DATA / "ex2016/EX16-01/FrontEnd/SEND20230103-1.LOG").read_bytes()
    )
    with pytest.raises(LogScanError, match="no SMTP Receive protocol log could be read"):
        scan_logs([tmp_path], workers=1)


def test_progress_reports_bytes(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    scan_logs([DATA], progress=lambda done, total, name: calls.append((done, total)), workers=1)
    assert calls[-1][0] == calls[-1][1] == sum(f.stat().st_size for f in DATA.rglob("*.LOG"))


def test_without_accepted_domains_recipients_are_not_split(tmp_path: Path) -> None:
    ev = scan_logs([DATA], workers=1)
    c = client(ev, "EX10-01\\Relay Apps", "10.1.1.50")
    assert c.external_recipients == 0 and c.internal_recipients == 0
    assert {d.internal for d in c.rcpt_domains} == {None}


@given(
    st.lists(
        st.text(alphabet=st.sampled_from('ab ,"\r\n<>:@.5-'), max_size=12), min_size=9, max_size=9
    )
)
def test_quoted_record_split_matches_csv(fields: list[str]) -> None:
    # Whatever the data and context hold, the fast splitter agrees with the csv module.
    fields[:7] = [
        "2023-01-02T10:00:00.000Z",
        "EX\\C",
        "08D1",
        "1",
        "10.0.0.1:25",
        "10.0.0.2:1",
        "*",
    ]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(fields)
    record = buf.getvalue().encode()
    assert parse_quoted(record) == [f.encode() for f in fields]


def test_sessions_begun_in_a_missing_file_count_as_incomplete() -> None:
    second = DATA / "ex2016/EX16-01/FrontEnd/RECV2023010309-2.LOG"
    ev = scan_logs([second], ACCEPTED, workers=1)
    c = client(ev, "EX16-01\\Default Frontend EX16-01", "10.1.1.80")
    # The DATA command is in the missing file: its reply cannot be paired, so no message.
    assert (c.sessions, c.incomplete_sessions, c.messages) == (1, 1, 0)


def test_byte_order_mark_is_tolerated(tmp_path: Path, evidence: Evidence) -> None:
    for f in (DATA / "ex2016/EX16-01/FrontEnd").glob("RECV*.LOG"):
        (tmp_path / f.name).write_bytes(b"\xef\xbb\xbf" + f.read_bytes())
    ev = scan_logs([tmp_path], ACCEPTED, workers=1)
    assert ev.connectors == tuple(c for c in evidence.connectors if c.server == "EX16-01")


@given(
    st.lists(st.integers(min_value=0, max_value=999), min_size=1, max_size=5),
    st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_ip_version_fast_path_agrees_with_ipaddress(
    octets: list[int], zero_pad: list[bool]
) -> None:
    # The dotted-quad shortcut must accept exactly what ipaddress accepts as IPv4
    # (no octet above 255, no leading zeros), and defer everything else to it.
    text = ".".join(f"0{o}" if pad else str(o) for o, pad in zip(octets, zero_pad, strict=False))
    try:
        expected = ipaddress.ip_address(text).version
    except ValueError:
        expected = 0
    assert ip_version(text) == expected


# --------------------------------------------------------------------------- the idle rule

HEADER = receive_header()
CON = "EX16-01\\Relay Apps EX16-01"


def _row(ts: str, sid: str, seq: int, event: str, data: str = "", addr: str = "10.1.1.9") -> str:
    return f"2023-01-03T{ts}Z,{CON},{sid},{seq},10.0.0.16:25,{addr}:5000,{event},{data},\r\n"


@pytest.mark.parametrize(
    ("gap", "sessions"), [("10:00:00.000", 1), ("10:00:00.001", 2), ("10:00:00.101", 2)]
)
def test_idle_rule_more_than_an_hour_between_two_events_splits(
    tmp_path: Path, gap: str, sessions: int
) -> None:
    # Exactly an hour keeps the session; a millisecond more ends it, and the next
    # event opens a new one (incomplete: neither started nor ended there).
    rows = [
        _row("09:00:00.000", "08DB0000000000A1", 0, "+"),
        _row(gap, "08DB0000000000A1", 1, "<", "EHLO late"),
        _row(gap, "08DB0000000000A1", 2, "-"),
    ]
    (tmp_path / "RECV2023010309-1.LOG").write_text(HEADER + "".join(rows), encoding="utf-8")
    (c,) = scan_logs([tmp_path], workers=1).connectors[0].clients
    assert (c.sessions, c.incomplete_sessions) == (sessions, 0 if sessions == 1 else 2)


def test_idle_rule_does_not_depend_on_where_files_or_sweeps_fall(tmp_path: Path) -> None:
    # A session with 59-minute gaps survives the sweeps of idle sessions after each
    # file; one with a 61-minute gap is split though no sweep runs in between.
    rows = [
        _row("09:00:00.000", "08DB0000000000B1", 0, "+", addr="10.1.1.1"),
        _row("09:00:00.000", "08DB0000000000B2", 0, "+", addr="10.1.1.2"),
        _row("09:59:00.000", "08DB0000000000B1", 1, "<", "EHLO a", addr="10.1.1.1"),
        _row("10:01:00.000", "08DB0000000000B2", 1, "<", "EHLO b", addr="10.1.1.2"),
        *(_row(f"10:58:{i % 60:02d}.000", f"08DB00000001{i:04X}", 0, "+") for i in range(40)),
        _row("10:58:59.000", "08DB0000000000B1", 2, "-", addr="10.1.1.1"),
        _row("10:59:00.000", "08DB0000000000B2", 2, "-", addr="10.1.1.2"),
    ]
    for n, part in enumerate((rows[:5], rows[5:30], rows[30:]), start=1):
        (tmp_path / f"RECV2023010309-{n}.LOG").write_text(HEADER + "".join(part), "utf-8")
    ev = scan_logs([tmp_path], workers=1)
    by = {c.address: (c.sessions, c.incomplete_sessions) for c in ev.connectors[0].clients}
    assert by["10.1.1.1"] == (1, 0)
    assert by["10.1.1.2"] == (2, 2)


# --------------------------------------------------------------------------- files the kernel reads as they are


def _clean(path: Path) -> bool:
    loaded = load_whole(str(path), bytearray())
    return loaded is not None and probe(*loaded, set())


def test_plain_receive_logs_go_to_the_kernel_as_they_are(tmp_path: Path) -> None:
    # The 2016 logs as Exchange writes them; a '#' inside data counts only at a line start.
    for f in (DATA / "ex2016/EX16-01/FrontEnd").glob("RECV*.LOG"):
        assert _clean(f)
    hashed = tmp_path / "RECV2023010309-1.LOG"
    hashed.write_text(
        HEADER + _row("09:00:00.000", "08DB0000000000C1", 0, "<", "EHLO app#1"), "utf-8"
    )
    assert _clean(hashed)


def test_odd_files_are_normalised_first(tmp_path: Path) -> None:
    # A cut last line (the 2010 fixture), a send log, a byte order mark.
    assert not _clean(DATA / "ex2010/EX10-01/RECV2023010210-1.LOG")
    assert not _clean(DATA / "ex2016/EX16-01/FrontEnd/SEND20230103-1.LOG")
    bom = tmp_path / "RECV2023010309-1.LOG"
    bom.write_bytes(
        b"\xef\xbb\xbf" + (DATA / "ex2016/EX16-01/FrontEnd/RECV2023010309-1.LOG").read_bytes()
    )
    assert not _clean(bom)
