"""Read exports of Get-MoveRequestStatistics / Get-MigrationUserStatistics for ``migrator moves forecast``.

The collector script Export-MigratorMoveStatistics.ps1 (``migrator
collect-script``; on-premises it runs ``MOVE_STATS_COMMAND``) writes Identity, BatchName,
Status, SourceServer, SourceDatabase, BytesTransferred (text or bytes) and
TotalInProgressDuration (``d.hh:mm:ss``) or TotalInProgressSeconds. Which
properties Get-MoveRequestStatistics returns is documented only in community
scripts (not verified): a missing column is a clear error, never a guess.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from migrator.errors import InventoryError, Problem
from migrator.inventory.powershell_csv import decode, decode_problem, split_type_line
from migrator.inventory.tables import parse_mailbox_size

MOVE_STATS_COMMAND = (
    "Get-MoveRequest -ResultSize Unlimited | Get-MoveRequestStatistics | Select-Object "
    "@{Name='Identity';Expression={[string]$_.Identity}},BatchName,"
    "@{Name='Status';Expression={[string]$_.Status}},"
    "@{Name='SourceServer';Expression={[string]$_.SourceServer}},"
    "@{Name='SourceDatabase';Expression={[string]$_.SourceDatabase}},"
    "@{Name='BytesTransferred';Expression={[string]$_.BytesTransferred}},"
    "@{Name='TotalInProgressSeconds';Expression={$_.TotalInProgressDuration.TotalSeconds}}"
    " | Export-Csv -NoTypeInformation -Encoding UTF8 -Path MoveStatistics.csv"
)
_SPAN = re.compile(r"^(?:(\d+)\.)?(\d+):(\d{2}):(\d{2})(?:\.\d+)?$")


@dataclass(frozen=True)
class MoveStat:
    """One finished (or running) move: bytes copied in how many seconds, from where."""

    identity: str
    """The mailbox (address or identity, lower-case)."""
    source_server: str
    """2010 server (from SourceServer, else SourceDatabase; may be empty)."""
    source_database: str
    """2010 database, where exported."""
    bytes_transferred: int
    """Bytes copied."""
    seconds: float
    """Time in progress."""
    where: str
    """File and row."""


def parse_span(text: str) -> float:
    """Seconds of ``1.02:03:04``, ``02:03:04`` or a number of seconds."""
    raw = text.strip()
    try:
        return float(raw)
    except ValueError:
        pass
    m = _SPAN.match(raw)
    if not m:
        raise ValueError(f"'{raw}' is not a duration; expected d.hh:mm:ss or seconds")
    days, h, mi, s = (int(g) if g else 0 for g in m.groups())
    return days * 86400 + h * 3600 + mi * 60 + s


def read_move_stats(paths: list[Path]) -> list[MoveStat]:
    """Every row of every file; raise InventoryError with every problem."""
    problems: list[Problem] = []
    out: list[MoveStat] = []
    for path in paths:
        label = str(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            problems.append(Problem(label, f"cannot be read ({exc.strerror or exc})"))
            continue
        try:
            text, _ = decode(data)
        except UnicodeDecodeError as exc:
            problems.append(Problem(label, decode_problem(exc, data)))
            continue
        _type, body = split_type_line(text)
        rows = list(csv.reader(io.StringIO(body, newline="")))
        if not rows:
            problems.append(
                Problem(
                    label,
                    f"the file is empty; expected the export of Export-MigratorMoveStatistics.ps1 (migrator collect-script): {MOVE_STATS_COMMAND}",
                )
            )
            continue
        header = {h.strip().lower(): i for i, h in enumerate(rows[0])}
        names = {h.strip().lower(): h.strip() for h in rows[0]}
        span_col = (
            "totalinprogressseconds"
            if "totalinprogressseconds" in header
            else "totalinprogressduration"
        )
        missing = [c for c in ("identity", "bytestransferred", span_col) if c not in header]
        if missing:
            problems.append(
                Problem(
                    label,
                    f"column(s) {', '.join(missing)} missing; expected the export of "
                    f"Export-MigratorMoveStatistics.ps1 (migrator collect-script): {MOVE_STATS_COMMAND}",
                )
            )
            continue
        for r, row in enumerate(rows[1:], start=2):
            if not any(c.strip() for c in row):
                continue

            def cell(name: str, row: list[str] = row, header: dict[str, int] = header) -> str:
                i = header.get(name)
                return row[i].strip() if i is not None and i < len(row) else ""

            where = f"{label}, row {r}"
            try:
                size = parse_mailbox_size(cell("bytestransferred"))
            except ValueError as exc:
                problems.append(Problem(f"{where}, column '{names['bytestransferred']}'", str(exc)))
                continue
            try:
                seconds = parse_span(cell(span_col))
            except ValueError as exc:
                problems.append(Problem(f"{where}, column '{names[span_col]}'", str(exc)))
                continue
            server = cell("sourceserver").split(".")[0]
            out.append(
                MoveStat(
                    cell("identity").lower(),
                    server,
                    cell("sourcedatabase"),
                    size,
                    seconds,
                    where,
                )
            )
    if problems:
        raise InventoryError(problems)
    return out
