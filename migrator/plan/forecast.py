"""Fit the observed copy throughput per 2010 server and database from finished moves (``migrator moves forecast``).

Per server, and per source database with at least ``MIN_DATABASE_MOVES``
moves: each move's rate (bytes / seconds in progress); with four moves or
more, rates outside Tukey's fences (below Q1 - 1.5 IQR or above Q3 + 1.5 IQR)
are dropped as outliers (a stalled or a tiny mailbox); the throughput is the
remaining bytes over the remaining hours. That is the rate of one move at a
time, so with moves running in parallel it underestimates: the safe side.
Moves under 50 MB (overhead, not copy) are not used.

The mailbox -> database -> server mapping comes from the inventory
(:func:`fit_throughput`) or from a plan folder's ``plan.json`` and
``inventory.json`` (:func:`fit_observed` with :class:`Sources`), so the forecast
runs without the inventory too. Vectorised (pandas): 50,000 rows fit in well
under a second.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from migrator.inventory.move_stats import MoveStat
from migrator.model import Inventory

MIN_BYTES = 50 * 1024 * 1024
MIN_DATABASE_MOVES = 3
"""A source database gets its own rate from this many usable moves on."""
GB = 1024**3


@dataclass(frozen=True)
class Observed:
    """The fitted throughput of one 2010 server, or of one database on it."""

    server: str
    """2010 server."""
    gb_per_hour: float
    """Observed throughput."""
    samples: int
    """Moves used."""
    outliers: int
    """Moves dropped as outliers."""
    database: str = ""
    """Source database (empty: the server as a whole)."""

    @property
    def name(self) -> str:
        """The database where fitted per database, else the server."""
        return self.database or self.server


@dataclass(frozen=True)
class Sources:
    """Where each mailbox moved from: what the fit needs of an inventory or a plan folder."""

    server_of_mailbox: Mapping[str, str] = field(default_factory=dict)
    """Lower-case address, identity or alias -> 2010 server."""
    database_of_mailbox: Mapping[str, str] = field(default_factory=dict)
    """Lower-case address, identity or alias -> 2010 database."""
    server_of_database: Mapping[str, str] = field(default_factory=dict)
    """Lower-case database name -> 2010 server."""
    server_names: Mapping[str, str] = field(default_factory=dict)
    """Lower-case server name -> the name as the inventory writes it."""


def inventory_sources(inv: Inventory, wanted: Iterable[str] | None = None) -> Sources:
    """The mapping of an inventory (of the ``wanted`` lower-case names only, when given)."""
    server: dict[str, str] = {}
    database: dict[str, str] = {}
    need = set(wanted) if wanted is not None else None
    if need is None or need:
        for m in inv.mailboxes:
            for key in (m.primary_smtp, m.identity.lower(), m.alias.lower()):
                if need is None or key in need:
                    server[key] = m.server
                    database[key] = m.database
    return Sources(
        server,
        database,
        {d.name.lower(): d.server for d in inv.mailbox_databases},
        {s.name.lower(): s.name for s in inv.servers},
    )


def fit_throughput(inv: Inventory, stats: Sequence[MoveStat]) -> list[Observed]:
    """Observed GB/hour per 2010 server, then per source database (names as the inventory writes them)."""
    # Only moves the export does not tie to a server and database need the mailbox list.
    wanted = {s.identity for s in stats if not (s.source_server and s.source_database)}
    return fit_observed(stats, inventory_sources(inv, wanted))


def fit_observed(stats: Sequence[MoveStat], src: Sources) -> list[Observed]:
    """Observed GB/hour per 2010 server, then per source database where enough moves came from it."""
    if not stats:
        return []
    frame = pd.DataFrame(
        {
            "identity": [s.identity for s in stats],
            "server": [s.source_server for s in stats],
            "database": [s.source_database.split("\\")[-1] for s in stats],
            "bytes": np.fromiter((s.bytes_transferred for s in stats), np.int64, len(stats)),
            "seconds": np.fromiter((s.seconds for s in stats), np.float64, len(stats)),
        }
    )
    frame = frame[(frame["bytes"] >= MIN_BYTES) & (frame["seconds"] > 0)]
    if frame.empty:
        return []
    written = {d.lower(): d for d in frame["database"].unique().tolist() if d}
    db_key = frame["database"].str.lower()
    missing_db = db_key == ""
    if missing_db.any():
        frame.loc[missing_db, "database"] = frame.loc[missing_db, "identity"].map(
            lambda k: src.database_of_mailbox.get(k, "")
        )
        db_key = frame["database"].str.lower()
    server = frame["server"].where(frame["server"] != "", db_key.map(src.server_of_database))
    server = server.fillna("")
    by_mailbox = frame["identity"].map(lambda k: src.server_of_mailbox.get(k, ""))
    server = server.where(server != "", by_mailbox)
    frame = frame.assign(
        server=server.str.lower(), database=db_key, rate=frame["bytes"] / frame["seconds"]
    )
    frame = frame[frame["server"] != ""]
    out: list[Observed] = []
    for rec in _fit(frame, ["server"]).to_dict("records"):
        name = str(rec["server"])
        out.append(
            Observed(
                src.server_names.get(name, name),
                float(rec["gbh"]),
                int(rec["n"]),
                int(rec["outliers"]),
            )
        )
    by_db = frame[frame["database"] != ""]
    if not by_db.empty:
        # The database's name as the inventory writes it, where it knows it.
        names = {**written, **{k.lower(): k for k in _database_names(src) if k}}
        for rec in _fit(by_db, ["server", "database"]).to_dict("records"):
            if int(rec["n"]) < MIN_DATABASE_MOVES:
                continue
            name, database = str(rec["server"]), str(rec["database"])
            out.append(
                Observed(
                    src.server_names.get(name, name),
                    float(rec["gbh"]),
                    int(rec["n"]),
                    int(rec["outliers"]),
                    names.get(database, database),
                )
            )
    return out


def _database_names(src: Sources) -> set[str]:
    return set(src.database_of_mailbox.values())


def _fit(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per group: moves kept inside Tukey's fences (four moves or more), their bytes over hours."""
    grouped = frame.groupby(keys, sort=True)["rate"]
    quartiles = grouped.quantile(np.array([0.25, 0.75])).unstack()
    count = grouped.size()
    q1, q3 = quartiles[0.25], quartiles[0.75]
    fenced = count >= 4
    bounds = pd.DataFrame(
        {
            "low": (q1 - 1.5 * (q3 - q1)).where(fenced, -np.inf),
            "high": (q3 + 1.5 * (q3 - q1)).where(fenced, np.inf),
        }
    )
    work = frame.join(bounds, on=keys)
    kept = (work["rate"] >= work["low"]) & (work["rate"] <= work["high"])
    work = work.assign(
        kept=kept, kbytes=work["bytes"].where(kept, 0), kseconds=work["seconds"].where(kept, 0.0)
    )
    agg = work.groupby(keys, sort=True).agg(
        n=("kept", "sum"), total=("kept", "size"), b=("kbytes", "sum"), s=("kseconds", "sum")
    )
    agg = agg[agg["s"] > 0]
    agg = agg.assign(
        gbh=(agg["b"] / GB / (agg["s"] / 3600)).round(2),
        outliers=agg["total"] - agg["n"],
        n=agg["n"].astype(int),
    )
    return agg.reset_index()[[*keys, "gbh", "n", "outliers"]]
