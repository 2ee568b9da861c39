"""The protocol-log cases the engine is checked on, each written into a folder of its own.

Every case is a folder of log files (copies of tests/data/logs, archives of them,
generated logs, odd files); ``tests/data/logs-expected/<case>.json`` holds the
relay evidence the scan must give for it, byte for byte, with the case folder
written as ``<case>``. The expected files were captured from the engines that
came before the SQL engine (the Python reader and the compiled kernel, which
agreed on all of them) and are regenerated only on purpose:

    MIGRATOR_REGEN_LOG_EXPECTED=1 pytest tests/test_logs_cases.py
"""

from __future__ import annotations

import gzip
import importlib.util
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

DATA = Path(__file__).parent / "data" / "logs"
EXPECTED = Path(__file__).parent / "data" / "logs-expected"
ACCEPTED = ("contoso.com", "*.contoso.com")
FRONTEND = DATA / "ex2016/EX16-01/FrontEnd"
FIELDS = (
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
    "remote-endpoint,event,data,context"
)


def gen_logs() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_logs", Path(__file__).parents[1] / "benchmarks" / "gen_logs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_log(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode("utf-8"))
    return path


def receive_header(fields: str = FIELDS, version: str = "15.1.2507.6") -> str:
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


# --------------------------------------------------------------------------- the cases
# Each writes its input into `folder` and returns the accepted domains to scan with.


def _copy_all(folder: Path) -> tuple[str, ...]:
    shutil.copytree(DATA / "ex2010", folder / "ex2010")
    shutil.copytree(DATA / "ex2016", folder / "ex2016")
    return ACCEPTED


def _copy_all_no_domains(folder: Path) -> tuple[str, ...]:
    _copy_all(folder)
    return ()


def _one(relative: str) -> Callable[[Path], tuple[str, ...]]:
    def build(folder: Path) -> tuple[str, ...]:
        folder.mkdir(parents=True)
        shutil.copy(DATA / relative, folder / Path(relative).name)
        return ACCEPTED

    return build


def _gz(folder: Path) -> tuple[str, ...]:
    for f in sorted(p for p in DATA.rglob("*.LOG") if "expected" not in p.parts):
        target = folder / f.relative_to(DATA).with_suffix(".LOG.gz")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.compress(f.read_bytes(), mtime=0))
    return ACCEPTED


def _zip(folder: Path) -> tuple[str, ...]:
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "logs.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(p for p in DATA.rglob("*.LOG") if "expected" not in p.parts):
            zf.write(f, f.relative_to(DATA).as_posix())
    return ACCEPTED


def _generated(folder: Path) -> tuple[str, ...]:
    # Both servers and formats, interleaved sessions, quoted fields, IPv6, TLS, AUTH,
    # refused relays, restarts and send logs, as the benchmark writes them.
    folder.mkdir(parents=True)
    gen_logs().generate(folder, 40_000, 11)
    return ACCEPTED


def _unreadable_and_foreign(folder: Path) -> tuple[str, ...]:
    shutil.copytree(DATA / "ex2016", folder / "ex2016")
    (folder / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    (folder / "broken.LOG.gz").write_bytes(b"\x1f\x8b\x08 truncated gzip")
    (folder / "notes.LOG").write_text("hello\r\n", encoding="utf-8")
    return ACCEPTED


def _hash_sign_inside_data(folder: Path) -> tuple[str, ...]:
    write_log(folder, "RECV2023010309-1.LOG", receive_header() + ROWS)
    return ACCEPTED


def _other_column_order_mid_file(folder: Path) -> tuple[str, ...]:
    swapped = FIELDS.replace("local-endpoint,remote-endpoint", "remote-endpoint,local-endpoint")
    rows2 = "".join(
        ",".join([*r.split(",")[:4], r.split(",")[5], r.split(",")[4], *r.split(",")[6:]])
        for r in ROWS.replace("0000A,", "0000B,").splitlines(keepends=True)
    )
    write_log(
        folder,
        "RECV2023010309-1.LOG",
        receive_header() + ROWS + receive_header(swapped, "15.2.1.0") + rows2,
    )
    return ACCEPTED


def _version_change_mid_file(folder: Path) -> tuple[str, ...]:
    write_log(
        folder,
        "RECV2023010309-1.LOG",
        receive_header() + ROWS + receive_header(version="15.2.1.0") + ROWS.replace("0A,", "0C,"),
    )
    return ACCEPTED


def _send_header_mid_file(folder: Path) -> tuple[str, ...]:
    send = receive_header().replace("SMTP Receive", "SMTP Send")
    write_log(folder, "RECV2023010309-1.LOG", receive_header() + ROWS + send + ROWS)
    return ACCEPTED


def _malformed_and_mixed_line_ends(folder: Path) -> tuple[str, ...]:
    # One field short, one field too many, one extra empty field at the end.
    bad = (
        ROWS.replace(",5,10.0.0.16:25", ",5", 1)
        .replace(",Local", ",Local,extra", 1)
        .replace("Sender OK,", "Sender OK,,", 1)
    )
    write_log(folder, "RECV2023010309-1.LOG", receive_header() + bad + "\r\n")
    mixed = receive_header().replace("\r\n", "\n", 2) + ROWS.replace("0A,", "0D,")
    write_log(folder, "RECV2023010309-2.LOG", mixed)
    return ACCEPTED


def _many_malformed_lines(folder: Path) -> tuple[str, ...]:
    # More than five malformed lines: five are named, the rest counted.
    bad = "".join(
        f"2023-01-03T09:00:01.{i:03d}Z,EX16-01\\Relay Apps EX16-01,08DB0000000000E{i},0\r\n"
        for i in range(8)
    )
    write_log(folder, "RECV2023010309-1.LOG", receive_header() + ROWS + bad)
    return ACCEPTED


def _byte_order_mark_and_cut_last_line(folder: Path) -> tuple[str, ...]:
    write_log(folder, "RECV2023010309-1.LOG", "\ufeff" + receive_header() + ROWS[:-40])
    return ACCEPTED


def _byte_order_mark(folder: Path) -> tuple[str, ...]:
    folder.mkdir(parents=True)
    for f in FRONTEND.glob("RECV*.LOG"):
        (folder / f.name).write_bytes(b"\xef\xbb\xbf" + f.read_bytes())
    return ACCEPTED


def _session_cut_across_files(folder: Path) -> tuple[str, ...]:
    # The second file also ends in a cut line.
    lines = ROWS.splitlines(keepends=True)
    write_log(folder, "RECV2023010309-1.LOG", receive_header() + "".join(lines[:5]))
    write_log(folder, "RECV2023010309-2.LOG", receive_header() + "".join(lines[5:]) + "2023-01")
    return ACCEPTED


def _idle_split_in_long_file(folder: Path) -> tuple[str, ...]:
    # A session idle for more than an hour inside a long file: closed, and its later
    # events counted as another session.
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
    write_log(folder, "RECV2023010309-1.LOG", receive_header() + "".join(rows))
    return ACCEPTED


def _sessions_never_ended(folder: Path) -> tuple[str, ...]:
    # A transport restart leaves sessions that never end.
    header = (
        (FRONTEND / "RECV2023010309-1.LOG").read_text(encoding="utf-8").split("2023-01-03T09")[0]
    )
    lines = [header.rstrip("\r\n").replace("\r\n", "\n")]
    for i in range(70_000):
        hh, mm = divmod(i // 60, 60)
        ts = f"2023-01-03T{hh % 24:02d}:{mm:02d}:{i % 60:02d}.000Z"
        lines.append(
            f"{ts},EX16-01\\Default Frontend EX16-01,{i:016X},0,10.0.0.16:25,10.9.{i % 200}.1:4000,+,,"
        )
    folder.mkdir(parents=True)
    (folder / "RECV2023010300-1.LOG").write_text(
        "\r\n".join(lines) + "\r\n", encoding="utf-8", newline=""
    )
    return ()


CASES: dict[str, Callable[[Path], tuple[str, ...]]] = {
    "all": _copy_all,
    "all-no-accepted-domains": _copy_all_no_domains,
    "ex2010-alone": _one("ex2010/EX10-01/RECV2023010210-1.LOG"),
    "ex2016-first-alone": _one("ex2016/EX16-01/FrontEnd/RECV2023010309-1.LOG"),
    "ex2016-second-alone": _one("ex2016/EX16-01/FrontEnd/RECV2023010309-2.LOG"),
    "gz": _gz,
    "zip": _zip,
    "generated": _generated,
    "unreadable-and-foreign": _unreadable_and_foreign,
    "hash-sign-inside-data": _hash_sign_inside_data,
    "other-column-order-mid-file": _other_column_order_mid_file,
    "version-change-mid-file": _version_change_mid_file,
    "send-header-mid-file": _send_header_mid_file,
    "malformed-and-mixed-line-ends": _malformed_and_mixed_line_ends,
    "many-malformed-lines": _many_malformed_lines,
    "byte-order-mark-and-cut-last-line": _byte_order_mark_and_cut_last_line,
    "byte-order-mark": _byte_order_mark,
    "session-cut-across-files": _session_cut_across_files,
    "idle-split-in-long-file": _idle_split_in_long_file,
    "sessions-never-ended": _sessions_never_ended,
}
"""Case name -> builder (writes the logs, returns the accepted domains to scan with)."""


def build(name: str, root: Path) -> tuple[Path, tuple[str, ...]]:
    """Write case ``name`` under ``root``; return its folder and accepted domains."""
    folder = root / name
    accepted = CASES[name](folder)
    return folder, accepted


def normalised_json(text: str, folder: Path) -> str:
    """Evidence JSON with the case folder written as ``<case>`` (JSON escapes its backslashes)."""
    return text.replace(str(folder).replace("\\", "\\\\"), "<case>")


def expected_path(name: str) -> Path:
    """The expected evidence of a case (large ones are kept gzip-compressed)."""
    plain = EXPECTED / f"{name}.json"
    return (
        plain
        if plain.exists() or not (EXPECTED / f"{name}.json.gz").exists()
        else plain.with_suffix(".json.gz")
    )


def read_expected(name: str) -> str:
    path = expected_path(name)
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8")
