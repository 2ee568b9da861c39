"""The normalised inventory as JSON (``migrator inventory show --json``): sorted, deterministic."""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import json
from dataclasses import fields, is_dataclass
from typing import Any

from migrator.iprange import IPRange
from migrator.model import Binding, Inventory, ReceiveConnector

FORMAT_VERSION = 1


def _range_text(r: IPRange) -> str:
    # Exactly as the export wrote it (Exchange's own notation, zone included).
    if r.text:
        return r.text
    return f"{r.exchange_text()}%{r.zone}" if r.zone else r.exchange_text()


def _plain(value: Any) -> Any:
    if isinstance(value, IPRange):
        return _range_text(value)
    if isinstance(value, Binding):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, frozenset):
        return sorted(_plain(v) for v in value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        out = {f.name: _plain(getattr(value, f.name)) for f in fields(value) if f.name != "source"}
        source = getattr(value, "source", None)
        if source is not None:
            out["source"] = str(source)
        return out
    return value


def connector_dict(c: ReceiveConnector) -> dict[str, Any]:
    """One receive connector as a JSON object (identity added, ranges in Exchange notation)."""
    out: dict[str, Any] = _plain(c)
    out["identity"] = c.identity
    return out


def inventory_dict(inv: Inventory) -> dict[str, Any]:
    """The whole inventory as plain JSON-ready data."""
    out: dict[str, Any] = {"format_version": FORMAT_VERSION}
    for f in fields(inv):
        value = getattr(inv, f.name)
        if f.name == "receive_connectors":
            out[f.name] = [connector_dict(c) for c in value]
        elif f.name == "mx_hosts":
            out[f.name] = dict(value)
        else:
            out[f.name] = _plain(value)
    if inv.tenant is not None:
        out["tenant"]["mx_hosts"] = dict(inv.tenant.mx_hosts)
    out["policy"]["targets_by_site"] = {site: list(s) for site, s in inv.policy.targets_by_site}
    out["host_names"] = dict(inv.host_names)
    return out


def inventory_json(inv: Inventory) -> str:
    """The normalised inventory as JSON text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(inventory_dict(inv), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
