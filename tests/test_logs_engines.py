"""The compiled engine gives exactly the evidence of the Python scanner (the reference).

Both engines run on every fixture, on archives of them, on generated logs, on
the odd inputs the compiled engine hands to the Python reader (other column
order, send log headers mid-file, byte order mark, cut last line) and on those
its kernel reads itself (malformed lines, mixed line ends, quoted fields over
several lines, random sessions cut by a roll-over).
"""

from __future__ import annotations

import gzip
import importlib.util
import shutil
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrator.errors import LogScanError
from migrator.logs import fast
from migrator.logs.evidence import Evidence
from migrator.logs.scan import scan_logs

DATA = Path(__file__).parent / "data" / "logs"
ACCEPTED = ("contoso.com", "*.contoso.com")
FRONTEND = DATA / "ex2016/EX16-01/FrontEnd"
FIELDS = (
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
    "remote-endpoint,event,data,context"
)


def both(paths: list[Path], accepted: tuple[str, ...] = ACCEPTED) -> tuple[Evidence, Evidence]:
    py = scan_logs(paths, accepted, workers=1, engine="python")
    db = scan_logs(paths, accepted, workers=2, engine="compiled")
    return py, db


def assert_same(paths: list[Path], accepted: tuple[str, ...] = ACCEPTED) -> Evidence:
    py, db = both(paths, accepted)
    assert db.scan == py.scan
    assert db.servers == py.servers
    assert db.connectors == py.connectors
    return db


def gen_logs() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_logs", Path(__file__).parents[1] / "benchmarks" / "gen_logs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def normalised(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the files the compiled engine hands to the Python reader."""
    names: list[str] = []
    real = fast._normalise

    def spy(f: fast._File, target: Path) -> str:
        names.append(Path(f.source.name).name)
        return real(f, target)

    monkeypatch.setattr(fast, "_normalise", spy)
    return names


def test_all_fixtures_same_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    odd = normalised(monkeypatch)
    ev = assert_same([DATA])
    assert ev.scan.sessions == 8
    # The 2016 receive logs are read by the kernel itself; the 2010 one ends in a cut line
    # and the send log is not a receive log: those two go through the Python reader.
    assert sorted(odd) == ["RECV2023010210-1.LOG", "SEND20230103-1.LOG"]


@pytest.mark.parametrize("fixture", sorted(p.name for p in DATA.rglob("*.LOG")))
def test_each_fixture_alone_same_evidence(fixture: str) -> None:
    (path,) = DATA.rglob(fixture)
    if fixture.startswith("SEND"):
        for engine in ("python", "compiled"):
            with pytest.raises(LogScanError, match="no SMTP Receive protocol log"):
                scan_logs([path], engine=engine)
    else:
        assert_same([path])


def test_without_accepted_domains_same_evidence() -> None:
    assert_same([DATA], ())


def test_gz_and_zip_same_evidence(tmp_path: Path) -> None:
    gz_dir = tmp_path / "gz"
    for f in sorted(DATA.rglob("*.LOG")):
        target = gz_dir / f.relative_to(DATA).with_suffix(".LOG.gz")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.compress(f.read_bytes(), mtime=0))
    archive = tmp_path / "logs.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(DATA.rglob("*.LOG")):
            zf.write(f, f.relative_to(DATA).as_posix())
    assert_same([gz_dir])
    assert_same([archive])


def test_generated_logs_same_evidence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Both servers and formats, interleaved sessions, quoted fields, IPv6, TLS, AUTH,
    # refused relays, restarts and send logs, as the benchmark reads them.
    gen_logs().generate(tmp_path, 40_000, 11)
    odd = normalised(monkeypatch)
    ev = assert_same([tmp_path])
    assert odd and all(name.startswith("SEND") for name in odd)  # receive logs: the kernel
    assert ev.scan.sessions > 1000
    assert {w.server for w in ev.servers} == {"EX10-01", "EX16-01"}


def test_unreadable_and_foreign_files_same_evidence(tmp_path: Path) -> None:
    shutil.copytree(DATA / "ex2016", tmp_path / "ex2016")
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "broken.LOG.gz").write_bytes(b"\x1f\x8b\x08 truncated gzip")
    (tmp_path / "notes.LOG").write_text("hello\r\n", encoding="utf-8")
    ev = assert_same([tmp_path])
    assert len(ev.scan.files_skipped) == 4


def probe(path: Path) -> bool:
    """Whether the compiled engine reads a plain file as it is (no trip through Python)."""
    loaded = fast._load(str(path), bytearray())
    return loaded is not None and fast._probe_data(*loaded, set())


def _log(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def _receive_header(fields: str = FIELDS, version: str = "15.1.2507.6") -> str:
    return (
        "#Software: Microsoft Exchange Server\r\n"
        f"#Version: {version}\r\n"
        "#Log-type: SMTP Receive Protocol Log\r\n"
        "#Date: 2023-01-03T09:00:00.000Z\r\n"
        f"{fields}\r\n"
    )


ROWS = (
    "2023-01-03T09:00:00.100Z,EX16-01\\Relay Apps EX16-01,08DB00000000000A,0,10.0.0.16:25,10.1.1.90:5000,+,,\r\n"
    "2023-01-03T09:00:00.200Z,EX16-01\\Relay Apps EX16-01,08DB00000000000A,1,10.0.0.16:25,10.1.1.90:5000,<,EHLO app#1,\r\n"
    "2023-01-03T09:00:00.300Z,EX16-01\\Relay Apps EX16-01,08DB00000000000A,2,10.0.0.16:25,10.1.1.90:5000,>,250  hello,\r\n"
    "2023-01-03T09:00:00.400Z,EX16-01\\Relay Apps EX16-01,08DB00000000000A,3,10.0.0.16:25,10.1.1.90:5000,<,MAIL FROM:<a@contoso.com>,\r\n"
    "2023-01-03T09:00:00.500Z,EX16-01\\Relay Apps EX16-01,08DB00000000000A,4,10.0.0.16:25,10.1.1.90:5000,<,RCPT TO:<b@gmail.com>,\r\n"
    "2023-01-03T09:00:00.600Z,EX16-01\\Relay Apps EX16-01,08DB00000000000A,5,10.0.0.16:25,10.1.1.90:5000,>,250 2.1.0 Sender OK,\r\n"
    "2023-01-03T09:00:00.700Z,EX16-01\\Relay Apps EX16-01,08DB00000000000A,6,10.0.0.16:25,10.1.1.90:5000,>,250 2.1.5 Recipient OK,\r\n"
    "2023-01-03T09:00:00.800Z,EX16-01\\Relay Apps EX16-01,08DB00000000000A,7,10.0.0.16:25,10.1.1.90:5000,-,,Local\r\n"
)


def test_hash_sign_inside_data_same_evidence(tmp_path: Path) -> None:
    # The probe passes it and the kernel reads it: a '#' counts only at a record's start.
    path = _log(tmp_path, "RECV2023010309-1.LOG", _receive_header() + ROWS)
    assert probe(path)
    ev = assert_same([path])
    (c,) = ev.connectors[0].clients
    assert c.ehlo_names == ("app#1",) and c.external_recipients == 1


def test_other_column_order_mid_file_goes_to_python(tmp_path: Path) -> None:
    swapped = FIELDS.replace("local-endpoint,remote-endpoint", "remote-endpoint,local-endpoint")
    rows2 = "".join(
        ",".join([*r.split(",")[:4], r.split(",")[5], r.split(",")[4], *r.split(",")[6:]])
        for r in ROWS.replace("0000A,", "0000B,").splitlines(keepends=True)
    )
    path = _log(
        tmp_path,
        "RECV2023010309-1.LOG",
        _receive_header() + ROWS + _receive_header(swapped, "15.2.1.0") + rows2,
    )
    ev = assert_same([path])
    assert ev.scan.sessions == 2
    assert ev.scan.files_read[0].versions == ("15.1.2507.6", "15.2.1.0")


def test_version_change_mid_file_same_evidence(tmp_path: Path) -> None:
    path = _log(
        tmp_path,
        "RECV2023010309-1.LOG",
        _receive_header() + ROWS + _receive_header(version="15.2.1.0") + ROWS.replace("0A,", "0C,"),
    )
    assert probe(path)  # the probe reads the later header
    ev = assert_same([path])
    assert ev.scan.files_read[0].versions == ("15.1.2507.6", "15.2.1.0")


def test_send_log_header_mid_file_same_evidence(tmp_path: Path) -> None:
    send = _receive_header().replace("SMTP Receive", "SMTP Send")
    path = _log(tmp_path, "RECV2023010309-1.LOG", _receive_header() + ROWS + send + ROWS)
    ev = assert_same([path])
    assert ev.scan.sessions == 1


def test_malformed_lines_and_mixed_line_ends_same_evidence(tmp_path: Path) -> None:
    # One field short, one field too many, one extra empty field at the end.
    bad = (
        ROWS.replace(",5,10.0.0.16:25", ",5", 1)
        .replace(",Local", ",Local,extra", 1)
        .replace("Sender OK,", "Sender OK,,", 1)
    )
    _log(tmp_path, "RECV2023010309-1.LOG", _receive_header() + bad + "\r\n")
    mixed = _receive_header().replace("\r\n", "\n", 2) + ROWS.replace("0A,", "0D,")
    _log(tmp_path, "RECV2023010309-2.LOG", mixed)
    ev = assert_same([tmp_path])
    assert any("fields where 9 were expected" in w for w in ev.scan.warnings)


def test_byte_order_mark_and_cut_last_line_same_evidence(tmp_path: Path) -> None:
    path = _log(tmp_path, "RECV2023010309-1.LOG", "\ufeff" + _receive_header() + ROWS[:-40])
    assert not probe(path)
    ev = assert_same([path])
    assert any("last line is incomplete" in w for w in ev.scan.warnings)


def test_session_cut_across_clean_and_odd_files(tmp_path: Path) -> None:
    # The first half is read by the kernel as is, the second through the Python reader
    # (cut last line): the session is still joined in file order.
    lines = ROWS.splitlines(keepends=True)
    _log(tmp_path, "RECV2023010309-1.LOG", _receive_header() + "".join(lines[:5]))
    _log(tmp_path, "RECV2023010309-2.LOG", _receive_header() + "".join(lines[5:]) + "2023-01")
    ev = assert_same([tmp_path])
    (c,) = ev.connectors[0].clients
    assert (c.sessions, c.incomplete_sessions, c.external_recipients) == (1, 0, 1)


EVENTS = st.sampled_from(
    [
        ("<", "EHLO host{n}"),
        ("<", "MAIL FROM:<x@contoso.com>"),
        ("<", "RCPT TO:<y@fabrikam.com>"),
        ("<", "RCPT TO:<y@contoso.com>"),
        ("<", "DATA"),
        ("<", "BDAT 100 LAST"),
        ("<", "STARTTLS"),
        ("<", "AUTH LOGIN"),
        ("<", "X-ANONYMOUSTLS"),
        ("<", "QUIT"),
        (">", "250 OK"),
        (">", "250-inner"),
        (">", '"250 quoted, reply"'),
        (">", "220 ready"),
        (">", "235 2.7.0 Authentication successful"),
        (">", "334 challenge"),
        (">", "354 go ahead"),
        (">", "550 5.7.1 Unable to relay"),
        (">", "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain"),
        (">", "421 closing"),
        ("*", "CONTOSO\\svc,authenticated"),
        ("*", ',"TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded"'),
    ]
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sessions=st.lists(
        st.tuples(st.booleans(), st.booleans(), st.lists(EVENTS, max_size=14)),
        min_size=1,
        max_size=4,
    ),
    cut=st.integers(min_value=0, max_value=60),
)
def test_random_sessions_same_evidence(
    tmp_path_factory: pytest.TempPathFactory,
    sessions: list[tuple[bool, bool, list[tuple[str, str]]]],
    cut: int,
) -> None:
    # Pipelined commands, stray replies, challenges, refusals and sessions cut by a file
    # roll-over in any order: the kernel's FIFO pairing matches the Python reader.
    folder = tmp_path_factory.mktemp("random")
    rows: list[str] = []
    for i, (start, end, events) in enumerate(sessions):
        sid = f"08DB0000000001{i:02X}"
        body = [("+", "")] if start else []
        body += events
        body += [("-", "")] if end else []
        for seq, (ev, data) in enumerate(body):
            payload = data if ev == "*" else data.replace("{n}", str(i)) + ","
            rows.append(
                f"2023-01-03T09:{i:02d}:{seq:02d}.000Z,EX16-01\\Relay Apps EX16-01,{sid},{seq},"
                f"10.0.0.16:25,10.1.1.{i}:5000,{ev},{payload}\r\n"
            )
    # Interleave by time, then roll over to a second file at `cut`.
    rows.sort()
    at = min(cut, len(rows))
    _log(folder, "RECV2023010309-1.LOG", _receive_header() + "".join(rows[:at]))
    _log(folder, "RECV2023010309-2.LOG", _receive_header() + "".join(rows[at:]))
    assert_same([folder])


def test_idle_session_split_within_a_long_file_same_evidence(tmp_path: Path) -> None:
    # A session idle for more than an hour in a file longer than the 65,536 lines
    # between idle sweeps: both engines close it and count its later events apart.
    con = "EX16-01\\Relay Apps EX16-01"
    rows = [
        f"2023-01-03T09:00:00.000Z,{con},08DB0000000F0000,0,10.0.0.16:25,10.1.1.99:5000,+,,\r\n",
        f"2023-01-03T09:00:00.100Z,{con},08DB0000000F0000,1,10.0.0.16:25,10.1.1.99:5000,<,EHLO idle,\r\n",
    ]
    for i in range(22_000):  # three lines a session, one session every 0.4 s: 2.4 hours
        ms = i * 400
        ts = f"2023-01-03T{9 + ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}Z"
        sid = f"08DB{i:012X}"
        rows += [
            f"{ts},{con},{sid},0,10.0.0.16:25,10.1.2.{i % 200}:5000,+,,\r\n",
            f"{ts},{con},{sid},1,10.0.0.16:25,10.1.2.{i % 200}:5000,<,EHLO h{i % 7},\r\n",
            f"{ts},{con},{sid},2,10.0.0.16:25,10.1.2.{i % 200}:5000,-,,Local\r\n",
        ]
    rows.append(
        f"2023-01-03T11:30:00.000Z,{con},08DB0000000F0000,2,10.0.0.16:25,10.1.1.99:5000,-,,Local\r\n"
    )
    _log(tmp_path, "RECV2023010309-1.LOG", _receive_header() + "".join(rows))
    ev = assert_same([tmp_path])
    (idle,) = [c for c in ev.connectors[0].clients if c.address == "10.1.1.99"]
    assert (idle.sessions, idle.incomplete_sessions) == (2, 2)
