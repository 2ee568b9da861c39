"""CliXML exports (``Export-Clixml``), deserialised with psrpcore.

Exchange writes rich objects: enums and flags carry a ``<ToString>`` with
their names, multi-valued properties a ``<LST>`` of objects, each with its own
``<ToString>`` (``0.0.0.0:25``, ``192.168.1.0/24``). Cells become that text, or a
tuple of texts for lists, so the same converters serve CSV and CliXML.
"""

from __future__ import annotations

import hashlib
from typing import Any
from xml.etree.ElementTree import ParseError

from migrator.inventory.kinds import SPEC_BY_KIND, TableKind, kind_of_type
from migrator.inventory.records import Cell, RawTable, ReadResult, Record, problem

MAX_DEPTH = 100
"""Deepest element nesting read; Exchange exports nest about 10 deep (psrpcore recurses per level)."""

# Enum values that psrpcore leaves without their <ToString> name.
_ENUM_NAMES: dict[str, dict[int, str]] = {
    "protocollogginglevel": {0: "None", 1: "Verbose"},
}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    ps = getattr(value, "PSObject", None)
    to_string = getattr(ps, "to_string", None) if ps is not None else None
    if to_string is not None:
        return str(to_string)
    return str(value)


def _cell(key: str, value: Any) -> Cell:
    if isinstance(value, list | tuple):
        return tuple(_text(v) for v in value)
    if key in _ENUM_NAMES and isinstance(value, int) and not isinstance(value, bool):
        ps = getattr(value, "PSObject", None)
        if getattr(ps, "to_string", None) is None:
            return _ENUM_NAMES[key].get(int(value), str(int(value)))
    return _text(value)


def _type_names(obj: Any) -> list[str]:
    ps = getattr(obj, "PSObject", None)
    names = getattr(ps, "type_names", None) if ps is not None else None
    return [str(n) for n in names] if names else []


def _properties(obj: Any) -> dict[str, Any]:
    ps = obj.PSObject
    props: dict[str, Any] = {}
    for group in (ps.adapted_properties, ps.extended_properties):
        for prop in group:
            props[prop.name] = prop.get_value(obj)
    return props


def read_clixml(data: bytes, label: str) -> ReadResult:
    """Read one Export-Clixml file into a table, with problems."""
    result = ReadResult()
    text = _decode(data)
    if not text.strip():
        result.problems.append(
            problem(
                label,
                "the file is empty; expected a PowerShell export (Export-Csv or Export-Clixml)",
            )
        )
        return result
    body = text.lstrip()
    if "<!DOCTYPE" in body[:65536] or "<!ENTITY" in body[:65536]:
        result.problems.append(
            problem(
                label,
                "the XML declares a DOCTYPE or entities, which Export-Clixml never writes; "
                "expected an Export-Clixml file exactly as PowerShell wrote it",
            )
        )
        return result
    if body.startswith("<?xml"):
        body = body[body.find("?>") + 2 :].lstrip()
    if not (body.startswith("<Objs") or body.startswith("#< CLIXML")):
        result.problems.append(
            problem(
                label,
                "not a recognised export (XML, but not CliXML: no <Objs> root element); "
                "expected an Export-Clixml file of one of the tables in docs/inventory.md",
            )
        )
        return result
    depth = nesting_depth(body)
    if depth > MAX_DEPTH:
        result.problems.append(
            problem(
                label,
                f"elements are nested {depth} deep; expected at most {MAX_DEPTH} (Exchange "
                "exports nest about 10 deep): export with Export-Clixml's default -Depth",
            )
        )
        return result
    try:
        no_cipher: Any = None  # only SecureStrings need one; exports have none
        from psrpcore.types import deserialize_clixml  # heavy: imported where it is used

        objects = deserialize_clixml(body, no_cipher)
    except ParseError as exc:
        line, column = exc.position
        result.problems.append(
            problem(
                label,
                f"the CliXML is truncated or malformed (line {line}, column {column + 1}); "
                "expected a complete Export-Clixml file: export it again and copy the whole file",
            )
        )
        return result
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        result.problems.append(
            problem(label, f"the CliXML cannot be read ({exc}); expected an Export-Clixml file")
        )
        return result
    except RecursionError:
        result.problems.append(
            problem(label, "the CliXML is nested too deep to read; expected an Export-Clixml file")
        )
        return result
    kind: TableKind | None = None
    for obj in objects:
        kind = kind_of_type(_type_names(obj))
        if kind is not None:
            break
    if kind is None:
        first = _type_names(objects[0])[:1] if objects else []
        what = f"type '{first[0]}'" if first else "no objects"
        result.problems.append(
            problem(
                label,
                f"not a recognised export ({what}); expected an Export-Clixml file of one of the "
                "tables in docs/inventory.md",
            )
        )
        return result
    columns: dict[str, str] = {}
    table = RawTable(kind, label, columns)
    for index, obj in enumerate(objects, start=1):
        if kind_of_type(_type_names(obj)) is not kind:
            result.problems.append(
                problem(
                    f"{label}, object {index}",
                    f"object of type '{(_type_names(obj) or ['?'])[0]}' in a {kind.value} export; "
                    "expected one kind of object per file",
                )
            )
            continue
        cells: dict[str, Cell] = {}
        props = _properties(obj)
        if kind is TableKind.CERTIFICATES and "Thumbprint" not in props and "RawData" in props:
            # Export-Clixml keeps only the certificate's bytes (RawData) and PSComputerName.
            props = _certificate_properties(props)
        if kind is TableKind.MAILBOX_PERMISSIONS and "Mailbox" not in props:
            # Get-MailboxPermission's own objects: Identity, User, AccessRights.
            props = {
                **props,
                "Mailbox": props.get("Identity"),
                "Trustee": props.get("User"),
                "Permission": props.get("AccessRights"),
            }
        for name, value in props.items():
            key = name.lower()
            columns.setdefault(key, name)
            cells[key] = _cell(key, value)
        table.records.append(Record(label, None, f"object {index}", cells))
    spec = SPEC_BY_KIND[kind]
    missing = [c for c in spec.required if c.lower() not in columns]
    if missing and table.records:
        for col in missing:
            result.problems.append(
                problem(
                    label,
                    f"property '{col}' is missing; a {kind.value} export needs "
                    f"{', '.join(spec.required)}; export with: {spec.clixml_command or spec.command}",
                )
            )
        return result
    result.tables.append(table)
    return result


def _certificate_properties(props: dict[str, Any]) -> dict[str, Any]:
    """Rebuild Get-ExchangeCertificate's columns from the DER bytes Export-Clixml kept."""
    from cryptography import x509  # heavy: imported where it is used

    der = bytes(props["RawData"])
    out: dict[str, Any] = {"Server": _text(props.get("PSComputerName"))}
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return out
    out["Thumbprint"] = hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()
    out["Subject"] = ", ".join(cert.subject.rfc4514_string().split(","))
    out["Issuer"] = ", ".join(cert.issuer.rfc4514_string().split(","))
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        out["CertificateDomains"] = list(san.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        out["CertificateDomains"] = []
    out["NotAfter"] = cert.not_valid_after_utc.date().isoformat()
    out["IsSelfSigned"] = cert.subject == cert.issuer
    return out


def _decode(data: bytes) -> str:
    if data.startswith(b"\xff\xfe"):
        return data[2:].decode("utf-16-le", errors="replace")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    return data.decode("utf-8", errors="replace")


def nesting_depth(text: str) -> int:
    """How deep the elements of an XML text nest, counted without parsing (no recursion).

    Each ``<`` opens an element unless it starts ``</`` (closes one), ``<?``,
    ``<!`` or a tag that ends ``/>``; the depth is the highest running count.
    """
    import numpy as np  # heavy: imported where it is used

    units = np.frombuffer(text.encode("utf-16-le"), dtype="<u2")
    lt = np.flatnonzero(units == ord("<"))
    if not len(lt):
        return 0
    gt = np.flatnonzero(units == ord(">"))
    after = units[np.minimum(lt + 1, len(units) - 1)]
    ends = gt[np.minimum(np.searchsorted(gt, lt), len(gt) - 1)] if len(gt) else lt
    self_closing = units[np.maximum(ends - 1, 0)] == ord("/")
    opens = (after != ord("?")) & (after != ord("!")) & ~self_closing
    step = np.where(after == ord("/"), -1, np.where(opens, 1, 0))
    return int(np.cumsum(step).max(initial=0))
