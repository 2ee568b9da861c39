"""``migrator moves forecast``: the observed throughput, and the plan folder re-planned with it.

With the inventory, the fit maps each move to its 2010 server and database
through the inventory and the folder is re-planned (status kept). Without it,
the plan folder has what the fit needs: ``plan.json``'s ``mailboxes`` (each
with its ``source_database``) and ``inventory.json``'s ``mailbox_databases``
(database -> server) and ``moves`` policy. The folder is then re-planned from
the inventory the plan was made from (``inventory.json``'s ``root``) when that
path still exists; otherwise the remaining waves are re-estimated from the
plan folder alone and nothing is rewritten.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrator.errors import MigratorError
from migrator.inventory import load_inventory
from migrator.inventory.move_stats import read_move_stats
from migrator.pipeline import PlanOutput, plan_folder
from migrator.plan.forecast import GB, Observed, Sources, fit_observed, fit_throughput


@dataclass(frozen=True)
class WaveEstimate:
    """A wave's copy time before and after the forecast."""

    wave: str
    """``wave-NNN``."""
    before_hours: float
    """Estimated copy hours of the plan."""
    after_hours: float
    """Re-estimated with the observed throughput."""


@dataclass(frozen=True)
class Forecast:
    """What ``migrator moves forecast`` found and did."""

    observed: tuple[Observed, ...]
    """Fitted throughput per server, then per database."""
    assumed: Mapping[str, float]
    """Assumed GB/hour per lower-case server (the policy's)."""
    finish_before: str
    """Last wave's completion window start before (``unknown`` when none)."""
    finish_after: str
    """And after (``unknown`` when the folder was not re-planned)."""
    estimates: tuple[WaveEstimate, ...] = ()
    """Per wave, when re-estimated from the plan folder alone (not re-planned)."""
    replanned_from: str = ""
    """The inventory the folder was re-planned from (empty: not re-planned)."""
    result: PlanOutput | None = None
    """The re-plan (None when not re-planned)."""


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MigratorError(
            f"{path}: cannot be read ({exc.strerror or exc}); expected a plan folder written by "
            "migrator plan, or pass --inventory"
        ) from exc
    except ValueError as exc:
        raise MigratorError(f"{path}: not JSON ({exc}); write the plan folder again") from exc
    if not isinstance(doc, dict):
        raise MigratorError(f"{path}: expected a JSON object; write the plan folder again")
    return doc


def move_waves(plan: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The move-wave summary of a plan.json: ``waves`` from format 2 on, ``move_waves`` in format 1."""
    key = "move_waves" if plan.get("format_version", 1) < 2 else "waves"
    waves = plan.get(key) or []
    return [w for w in waves if isinstance(w, Mapping)] if isinstance(waves, list) else []


def _finish(plan_dir: Path) -> str:
    try:
        doc = json.loads((plan_dir / "plan.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "unknown"
    waves = move_waves(doc)
    ends = [str(w["completion_window_start"]) for w in waves if w.get("completion_window_start")]
    return str(max(ends)) if ends else "unknown"


def folder_sources(plan: Mapping[str, Any], inventory: Mapping[str, Any]) -> Sources:
    """The fit's mapping from a plan folder's plan.json and inventory.json."""
    server_of_db = {
        str(d["name"]).lower(): str(d["server"]) for d in inventory.get("mailbox_databases", [])
    }
    server: dict[str, str] = {}
    database: dict[str, str] = {}
    for m in plan.get("mailboxes", []):
        db = str(m.get("source_database", ""))
        for key in (str(m.get("primary_smtp", "")), str(m.get("identity", "")).lower()):
            if key:
                database[key] = db
                server[key] = server_of_db.get(db.lower(), "")
    names = {str(s["name"]).lower(): str(s["name"]) for s in inventory.get("servers", [])}
    return Sources(server, database, server_of_db, names)


def _assumed(policy: Mapping[str, Any]) -> tuple[float, dict[str, float]]:
    default = float(policy.get("throughput_gb_per_hour", 10.0))
    return default, {str(k).lower(): float(v) for k, v in policy.get("throughput_by_server", [])}


def reestimate(
    plan: Mapping[str, Any],
    server_of_db: Mapping[str, str],
    rates: Mapping[str, float],
    default: float,
    by_server: Mapping[str, float],
) -> list[WaveEstimate]:
    """Copy hours per wave from plan.json alone: the slowest source server or measured database.

    (Target databases copy at the assumed rate, as the planner counts them.)
    """
    per_wave_server: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    per_wave_db: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    per_wave_target: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for m in plan.get("mailboxes", []):
        wave, size = str(m.get("wave", "")), int(m.get("size_bytes", 0))
        db = str(m.get("source_database", "")).lower()
        per_wave_server[wave][server_of_db.get(db, "").lower()] += size
        per_wave_db[wave][db] += size
        if m.get("target_database"):
            per_wave_target[wave][str(m["target_database"])] += size
    out = []
    for w in move_waves(plan):
        wid = str(w["id"])
        hours = 0.0
        for server, b in per_wave_server[wid].items():
            rate = rates.get(server) or by_server.get(server, default)
            hours = max(hours, b / GB / rate)
        for db, b in per_wave_db[wid].items():
            if rates.get(db):
                hours = max(hours, b / GB / rates[db])
        for b in per_wave_target[wid].values():
            hours = max(hours, b / GB / default)
        out.append(
            WaveEstimate(wid, float(w.get("estimated_copy_hours", 0.0)), math.ceil(hours * 10) / 10)
        )
    return out


def forecast_folder(
    plan_dir: Path, stats: Sequence[Path], inventory: Path | None = None
) -> Forecast:
    """Fit the observed throughput and re-plan ``plan_dir`` with it (see the module)."""
    rows = read_move_stats(list(stats))
    before = _finish(plan_dir)
    if inventory is not None:
        inv = load_inventory(inventory)
        observed = fit_throughput(inv, rows)
        policy = inv.moves
        default = policy.throughput_gb_per_hour if policy else 10.0
        by_server = {k.lower(): v for k, v in policy.throughput_by_server} if policy else {}
        plan_doc: dict[str, Any] = {}
        inv_doc: dict[str, Any] = {}
        root: Path | None = inventory
    else:
        plan_doc = _read_json(plan_dir / "plan.json")
        inv_doc = _read_json(plan_dir / "inventory.json")
        observed = fit_observed(rows, folder_sources(plan_doc, inv_doc))
        default, by_server = _assumed(inv_doc.get("moves") or {})
        root_text = str(inv_doc.get("root", ""))
        root = Path(root_text) if root_text else None
    if not observed:
        raise MigratorError(
            "no finished move of 50 MB or more could be tied to a 2010 server; expected the "
            "export of finished waves (docs/moves.md)"
        )
    assumed = {**by_server, "": default}
    rates = {o.name: o.gb_per_hour for o in observed}
    if root is not None and (inventory is not None or root.exists()):
        result = plan_folder(root, plan_dir, throughput=rates)
        return Forecast(tuple(observed), assumed, before, _finish(plan_dir), (), str(root), result)
    server_of_db = {
        str(d["name"]).lower(): str(d["server"]) for d in inv_doc.get("mailbox_databases", [])
    }
    lower = {k.lower(): v for k, v in rates.items()}
    estimates = reestimate(plan_doc, server_of_db, lower, default, by_server)
    return Forecast(tuple(observed), assumed, before, "unknown", tuple(estimates))
