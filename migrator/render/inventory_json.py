"""The normalised inventory as JSON (``migrator inventory show --json``, ``inventory.json``).

Sorted keys, deterministic, readable by ``json.load``. Written by a direct
encoder: each model type's fields are looked up once, and every record of a
list (a server, a connector, a permission) is one line of compact JSON written
by the standard library's C encoder and streamed to the file
(:func:`write_inventory_json`), so 300,000 users cost seconds, not minutes,
and the whole text is never in memory.

The big lists, one entry per user or mailbox (:data:`TABLES`: ``onprem_users``,
``cloud_users``, ``mailboxes``), are tables since format_version 2: their field
names once, then one JSON array per row (about half the bytes of one object
per user)::

    {
      "cloud_users": {
        "columns": ["admin_roles", "archive_guid", ..., "source", "user_principal_name"],
        "rows": [
          [[], "", ..., "CloudUsers.csv, row 2", "ann@contoso.com"],
          ...
        ]
      },
      "format_version": 2,
      "servers": [
        {"build": "...", "name": "EX10-01", ...},
        ...
      ],
      ...
    }

``source`` is null in a row where it is unset (an object leaves it out). An empty
table has no columns. :func:`read_inventory_json` reads the file back with every
table as a list of objects (what :func:`inventory_dict` gives): the one reader.

Lists of records are one record (or row) per line; the other values are
indented. Records of one type are encoded a block at a time, column by column
(:func:`_record_lines`, :func:`_table_lines`): each field's values become JSON text
together (the C string encoder over a whole column) and a block is one join;
the bytes are those of the per-record encoder, which the tests compare.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import ipaddress
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, is_dataclass
from itertools import chain
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any, cast

from migrator.fileio import atomic_write_chunks, loads_json
from migrator.iprange import IPRange
from migrator.model import Binding, Inventory, Location, ReceiveConnector

FORMAT_VERSION = 2
"""2: the lists of :data:`TABLES` are tables (columns, then rows); 1 wrote them as objects."""

TABLES = ("cloud_users", "mailboxes", "onprem_users")
"""The lists written as tables: one entry per user or mailbox, hundreds of thousands at scale."""


def _range_text(r: IPRange) -> str:
    # Exactly as the export wrote it (Exchange's own notation, zone included).
    if r.text:
        return r.text
    return f"{r.exchange_text()}%{r.zone}" if r.zone else r.exchange_text()


_SCALARS = frozenset({"str", "int", "bool", "float", "str | None", "int | None", "bool | None"})
_STRINGS = frozenset({"tuple[str, ...]"})


@dataclass(frozen=True)
class _Encoder:
    """How one model type becomes a JSON object: its fields sorted by kind, looked up once."""

    scalars: tuple[str, ...]
    """Fields written as they are (text, numbers, booleans, None)."""
    strings: tuple[str, ...]
    """Tuples of text, written as lists."""
    others: tuple[str, ...]
    """Everything else, converted by :func:`_plain`."""
    has_source: bool
    """Whether the type has a ``source`` (written as text where set)."""

    def _scalar_values(self, value: Any) -> tuple[Any, ...]:
        # every scalar field read by one C call (attrgetter of several names gives a tuple)
        if len(self.scalars) < 2:
            return tuple(getattr(value, name) for name in self.scalars)
        return _getters(self.scalars)(value)  # type: ignore[no-any-return]

    def encode(self, value: Any) -> dict[str, Any]:
        out = dict(zip(self.scalars, self._scalar_values(value), strict=True))
        for name in self.strings:
            out[name] = list(getattr(value, name))
        for name in self.others:
            out[name] = _plain(getattr(value, name))
        if self.has_source:
            source = value.source
            if source is not None:
                out["source"] = str(source)
        return out


_ENCODERS: dict[type, _Encoder] = {}


@functools.cache
def _getters(names: tuple[str, ...]) -> Callable[[Any], Any]:
    return attrgetter(*names)


def _records(items: tuple[Any, ...]) -> _Records:
    """A list of records: encoded by their type's encoder where all share one type."""
    kinds = set(map(type, items))
    if len(kinds) == 1:
        (kind,) = kinds
        if is_dataclass(kind):
            encoder = _encoder(kind)
            names = (*encoder.scalars, *encoder.strings, *encoder.others)
            # written column-wise where "source" (present or not) is never the first key
            columnar = names and (not encoder.has_source or min(names) < "source")
            return _Records(items, encoder.encode, encoder if columnar else None)
    return _Records(items, _plain)


def _encoder(cls: type) -> _Encoder:
    found = _ENCODERS.get(cls)
    if found is None:
        kinds: dict[str, list[str]] = {"scalars": [], "strings": [], "others": []}
        has_source = False
        for f in fields(cls):
            if f.name == "source":
                has_source = True
                continue
            hint = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
            kind = "scalars" if hint in _SCALARS else "strings" if hint in _STRINGS else "others"
            kinds[kind].append(f.name)
        found = _Encoder(
            tuple(kinds["scalars"]), tuple(kinds["strings"]), tuple(kinds["others"]), has_source
        )
        _ENCODERS[cls] = found
    return found


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | float):
        return value
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
        return _encoder(type(value)).encode(value)
    return value


def connector_dict(c: ReceiveConnector) -> dict[str, Any]:
    """One receive connector as a JSON object (identity added, ranges in Exchange notation)."""
    out: dict[str, Any] = _plain(c)
    out["identity"] = c.identity
    return out


@dataclass(frozen=True)
class _Records:
    """A list of model records, encoded one at a time as the JSON is written."""

    items: tuple[Any, ...]
    """The records."""
    encode: Callable[[Any], Any]
    """One record as plain data."""
    encoder: _Encoder | None = None
    """The records' type's encoder, where they share one type (then written column-wise)."""


@dataclass(frozen=True)
class _Table:
    """A list of :data:`TABLES`, written as columns and rows (its records share one type)."""

    records: _Records
    """The records (``encoder`` None only where there are none)."""

    @property
    def columns(self) -> list[str]:
        """The field names, sorted (``source`` among them where the type has one)."""
        encoder = self.records.encoder
        if encoder is None:
            return []
        names = [*encoder.scalars, *encoder.strings, *encoder.others]
        return sorted([*names, "source"] if encoder.has_source else names)


def _sections(inv: Inventory) -> dict[str, Any]:
    """The top-level keys; lists of records stay records until they are written."""
    out: dict[str, Any] = {"format_version": FORMAT_VERSION}
    for f in fields(inv):
        value = getattr(inv, f.name)
        if f.name in TABLES:
            records = _records(value) if value else _Records((), _plain)
            if records.encoder is None and value:  # never today: a table's records share a type
                out[f.name] = records
            else:
                out[f.name] = _Table(records)
        elif f.name == "receive_connectors":
            out[f.name] = _Records(value, connector_dict)
        elif f.name == "mx_hosts":
            out[f.name] = dict(value)
        elif isinstance(value, tuple) and value and is_dataclass(value[0]):
            out[f.name] = _records(value)
        else:
            out[f.name] = _plain(value)
    if inv.tenant is not None:
        out["tenant"]["mx_hosts"] = dict(inv.tenant.mx_hosts)
    out["policy"]["targets_by_site"] = {site: list(s) for site, s in inv.policy.targets_by_site}
    out["host_names"] = dict(inv.host_names)
    return out


def inventory_dict(inv: Inventory) -> dict[str, Any]:
    """The whole inventory as plain JSON-ready data, every list of records (tables included)
    as a list of objects: what :func:`read_inventory_json` reads back from the file."""
    out: dict[str, Any] = {}
    for key, value in _sections(inv).items():
        records = value.records if isinstance(value, _Table) else value
        if isinstance(records, _Records):
            out[key] = [records.encode(item) for item in records.items]
        else:
            out[key] = value
    return out


def table_records(value: Any) -> Any:
    """A list of ``inventory.json`` as a list of objects: a table (``{"columns": [...],
    "rows": [[...], ...]}``, format_version 2) becomes one object per row, a null
    ``source`` left out (as a record leaves it out); anything else is returned as it is."""
    if not (isinstance(value, dict) and set(value) == {"columns", "rows"}):
        return value
    columns = value["columns"]
    out = [dict(zip(columns, row, strict=True)) for row in value["rows"]]
    if "source" in columns:
        for record in out:
            if record["source"] is None:
                del record["source"]
    return out


def read_inventory_json(path: Path) -> dict[str, Any]:
    """Read an ``inventory.json`` (format_version 1 or 2) with every list as a list of objects.

    The one reader of the file: a table of format_version 2 (:data:`TABLES`) is given
    as the list of objects format_version 1 wrote. Raises what ``json.loads`` and
    reading the file raise (``OSError``, ``ValueError``).
    """
    doc = loads_json(path.read_bytes())
    if isinstance(doc, dict):
        for key in TABLES:
            if key in doc:
                doc[key] = table_records(doc[key])
    return cast(dict[str, Any], doc)


JSON_STRING: Callable[[str], str] = (
    getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring
)
"""A JSON string literal, non-ASCII characters kept (``ensure_ascii=False``), in C where it exists."""
_STRING = JSON_STRING

_COMPACT = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
"""The encoder of one record per line (nested values included)."""

_BLOCK = 4096
"""Records encoded together (column by column) before their lines are written."""

_LITERALS = {True: "true", False: "false", None: "null"}


def scalar_column_json(values: list[Any]) -> list[str] | None:
    """Each value of a column of text, booleans/None or integers as its JSON text, or None for any
    other column (the one rule plan.json and inventory.json share for their fast paths)."""
    kinds = set(map(type, values))
    if kinds == {str}:
        return list(map(_STRING, values))
    if kinds <= {bool, type(None)}:
        return list(map(_LITERALS.__getitem__, values))
    if kinds == {int}:
        return list(map(int.__repr__, values))
    return None


def _column_json(values: list[Any], strings: bool) -> list[str]:
    """Each value as the JSON text the record encoder gives it (``strings``: tuples of text)."""
    scalar = scalar_column_json(values)
    if scalar is not None:
        return scalar
    kinds = set(map(type, values))
    if strings and kinds <= {tuple, list} and set(map(type, chain.from_iterable(values))) <= {str}:
        if set(map(len, values)) == {1}:  # the common case: one value each
            return list(map("[{}]".format, map(_STRING, map(itemgetter(0), values))))
        return ["[" + ", ".join(map(_STRING, t)) + "]" for t in values]
    if strings:
        return [_COMPACT.encode(list(t)) for t in values]
    return [_COMPACT.encode(_plain(v)) for v in values]


_Column = tuple[str, list[str], str]
"""A field of a block of records: text before each value, the values' JSON, text after each."""


def _source_column(sources: list[Any]) -> _Column:
    """The ``, "source": "<str(source)>"`` of each record of a block (nothing where unset)."""
    head = ", " + _STRING("source") + ": "
    if set(map(type, sources)) == {Location}:
        parts = list(map(attrgetter("file", "row", "element", "column"), sources))
        files = {f for f, _, _, _ in parts}
        if len(files) == 1 and all(r is not None and not e and not c for _, r, e, c in parts):
            # the common form, "file, row N": the file's text is written once for the block
            (file,) = files
            prefix = _STRING(f"{file}, row ")[:-1]
            return head + prefix, list(map(int.__repr__, map(itemgetter(1), parts))), '"'
    texts = [None if s is None else _STRING(str(s)) for s in sources]
    return "", ["" if t is None else head + t for t in texts], ""


def _record_lines(items: tuple[Any, ...], encoder: _Encoder) -> Iterator[str]:
    """The lines of a list of records of one type (``encoder``'s), a block at a time.

    The same text as ``_COMPACT.encode(encoder.encode(item))`` per item: keys sorted,
    ``source`` only where set. Each field's column is encoded at once, and a block's
    text is one join of the columns interleaved with the keys (by slice assignment).
    """
    strings = {name: False for name in (*encoder.scalars, *encoder.others)}
    strings.update({name: True for name in encoder.strings})
    keys = sorted([*strings, "source"] if encoder.has_source else strings)
    width = 2 * len(keys) + 1  # per record: (text before, value) per key, then the close
    last = len(items) - 1
    for start in range(0, len(items), _BLOCK):
        block = items[start : start + _BLOCK]
        columns: list[_Column] = []
        for n, key in enumerate(keys):
            if key == "source" and encoder.has_source:  # never the first key (see _records)
                columns.append(_source_column([item.source for item in block]))
            else:
                values = _column_json(list(map(attrgetter(key), block)), strings[key])
                columns.append((("" if n == 0 else ", ") + _STRING(key) + ": ", values, ""))
        count = len(block)
        flat: list[str] = [""] * (width * count)
        after = "    {"
        for n, (before, values, tail) in enumerate(columns):
            flat[2 * n :: width] = [after + before] * count
            flat[2 * n + 1 :: width] = values
            after = tail
        flat[width - 1 :: width] = [after + "},\n"] * count
        if start + _BLOCK > last:
            flat[-1] = after + "}\n"
        yield "".join(flat)


def _table_lines(items: tuple[Any, ...], encoder: _Encoder, columns: list[str]) -> Iterator[str]:
    """The rows of a table (:data:`TABLES`), one JSON array per line, a block at a time.

    Each row holds the values :func:`_record_lines` writes for the record, in ``columns``
    order (``source`` null where unset); made column by column as there.
    """
    strings = set(encoder.strings)
    width = 2 * len(columns) + 1
    last = len(items) - 1
    for start in range(0, len(items), _BLOCK):
        block = items[start : start + _BLOCK]
        parts: list[_Column] = []
        for n, key in enumerate(columns):
            sep = "      [" if n == 0 else ", "
            if key == "source" and encoder.has_source:
                before, values, tail = _source_column([item.source for item in block])
                if before:  # the common form: ', "source": "<file>, row ' + N + '"'
                    parts.append(
                        (sep + before[len(", " + _STRING("source") + ": ") :], values, tail)
                    )
                else:
                    head = ", " + _STRING("source") + ": "
                    parts.append((sep, [v[len(head) :] if v else "null" for v in values], ""))
            else:
                parts.append(
                    (sep, _column_json(list(map(attrgetter(key), block)), key in strings), "")
                )
        count = len(block)
        flat: list[str] = [""] * (width * count)
        after = ""
        for n, (before, values, tail) in enumerate(parts):
            flat[2 * n :: width] = [after + before] * count
            flat[2 * n + 1 :: width] = values
            after = tail
        flat[width - 1 :: width] = [after + "],\n"] * count
        if start + _BLOCK > last:
            flat[-1] = after + "]\n"
        yield "".join(flat)


def inventory_json_chunks(inv: Inventory) -> Iterator[str]:
    """The text of :func:`inventory_json` in pieces (a list's records encoded as they are written)."""
    compact = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
    sections = _sections(inv)
    keys = sorted(sections)
    yield "{\n"
    for n, key in enumerate(keys):
        value = sections[key]
        comma = "," if n < len(keys) - 1 else ""
        head = f"  {compact.encode(key)}: "
        if isinstance(value, _Table):
            columns = value.columns
            encoder = value.records.encoder
            yield head + "{\n"
            yield f"    {_STRING('columns')}: {compact.encode(columns)},\n"
            if encoder is not None and value.records.items:
                yield f"    {_STRING('rows')}: [\n"
                yield from _table_lines(value.records.items, encoder, columns)
                yield "    ]\n"
            else:
                yield f"    {_STRING('rows')}: []\n"
            yield f"  }}{comma}\n"
        elif isinstance(value, _Records) and value.items:
            # One record per line, by the C encoder (json.dumps with indent= is pure Python).
            yield head + "[\n"
            if value.encoder is not None:
                yield from _record_lines(value.items, value.encoder)
            else:
                last = len(value.items) - 1
                for i, item in enumerate(value.items):
                    line = "    " + compact.encode(value.encode(item))
                    yield line + (",\n" if i < last else "\n")
            yield f"  ]{comma}\n"
        else:
            plain = [] if isinstance(value, _Records) else value
            text = json.dumps(plain, indent=2, sort_keys=True, ensure_ascii=False)
            yield head + text.replace("\n", "\n  ") + comma + "\n"
    yield "}\n"


def inventory_json(inv: Inventory) -> str:
    """The normalised inventory as JSON text: sorted keys, one record per line, trailing newline."""
    return "".join(inventory_json_chunks(inv))


def write_inventory_json(inv: Inventory, path: Path) -> None:
    """Write :func:`inventory_json` to ``path`` as it is encoded (never the whole text in memory)."""
    atomic_write_chunks(path, inventory_json_chunks(inv))
