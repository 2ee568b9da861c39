"""Fit the observed copy throughput per 2010 server from finished moves (``migrator moves forecast``).

Per server: each move's rate (bytes / seconds in progress); rates outside
Tukey's fences (below Q1 - 1.5 IQR or above Q3 + 1.5 IQR) are dropped as
outliers (a stalled or a tiny mailbox); the server's throughput is the
remaining bytes over the remaining hours. That is the rate of one move at a
time, so with moves running in parallel it underestimates: the safe side.
Moves under 50 MB (overhead, not copy) are not used.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from migrator.inventory.move_stats import MoveStat
from migrator.model import Inventory

MIN_BYTES = 50 * 1024 * 1024
GB = 1024**3


@dataclass(frozen=True)
class Observed:
    """The fitted throughput of one 2010 server."""

    server: str
    """2010 server."""
    gb_per_hour: float
    """Observed throughput."""
    samples: int
    """Moves used."""
    outliers: int
    """Moves dropped as outliers."""


def fit_throughput(inv: Inventory, stats: Sequence[MoveStat]) -> list[Observed]:
    """Observed GB/hour per 2010 server (servers named as the inventory names them)."""
    by_mailbox: dict[str, str] = {}
    for m in inv.mailboxes:
        for key in (m.primary_smtp, m.identity.lower(), m.alias.lower()):
            by_mailbox[key] = m.server
    by_db = {d.name.lower(): d.server for d in inv.mailbox_databases}
    case = {s.name.lower(): s.name for s in inv.servers}
    rows: dict[str, list[tuple[float, int, float]]] = defaultdict(list)
    for s in stats:
        if s.bytes_transferred < MIN_BYTES or s.seconds <= 0:
            continue
        server = (
            s.source_server
            or by_db.get(s.source_database.split("\\")[-1].lower(), "")
            or by_mailbox.get(s.identity, "")
        )
        if not server:
            continue
        rows[server.lower()].append(
            (s.bytes_transferred / s.seconds, s.bytes_transferred, s.seconds)
        )
    out = []
    for server, items in sorted(rows.items()):
        rates = sorted(r for r, _, _ in items)
        if len(rates) >= 4:
            q1, _, q3 = statistics.quantiles(rates, n=4)
            low, high = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
        else:
            low, high = float("-inf"), float("inf")
        kept = [(b, sec) for r, b, sec in items if low <= r <= high]
        total_bytes = sum(b for b, _ in kept)
        total_hours = sum(sec for _, sec in kept) / 3600
        if total_hours <= 0:
            continue
        out.append(
            Observed(
                case.get(server, server),
                round(total_bytes / GB / total_hours, 2),
                len(kept),
                len(items) - len(kept),
            )
        )
    return out
