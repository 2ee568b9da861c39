"""GUID <-> ImmutableId conversion, exactly as .NET and Entra Connect do it.

Entra Connect's sourceAnchor (the cloud user's ``OnPremisesImmutableId``) is
the base64 of the objectGUID or mS-DS-ConsistencyGuid bytes in .NET
``Guid.ToByteArray()`` order: the first three fields little-endian, the last
eight bytes as written. Python's ``uuid.UUID.bytes_le`` is that order.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Sequence
from itertools import compress

import numpy as np

from migrator.errors import MigratorError

_EXAMPLE_GUID = "3ab39606-c642-489b-84b6-58c038d3ef39"
_EXAMPLE_ID = "BpazOkLGm0iEtljAONPvOQ=="

# The forms .NET Guid.Parse accepts that admins paste: D (hyphens), N (32 digits),
# B (braces) and P (parentheses); case-insensitive.
_HEX = "[0-9a-fA-F]"
_D = f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"
_GUID_RE = re.compile(rf"^(?:{_D}|\{{{_D}\}}|\({_D}\)|{_HEX}{{32}})$")
_BASE64_RE = re.compile(r"^[A-Za-z0-9+/]{22}(?:==)?$")


class IdentifierError(MigratorError, ValueError):
    """A GUID or an ImmutableId is malformed (a ValueError for library callers too)."""


def parse_guid(text: str) -> uuid.UUID:
    """Parse a GUID in any usual form (upper/lower case, with or without braces or hyphens)."""
    raw = text.strip()
    if not _GUID_RE.match(raw):
        raise IdentifierError(
            f"'{text}' is not a GUID; expected 32 hexadecimal digits such as "
            f"{_EXAMPLE_GUID}, with or without hyphens and braces"
        )
    return uuid.UUID(raw.strip("{}()"))


def canonical_guid(text: str) -> str:
    """The canonical lower-case hyphenated form of a GUID in any usual form."""
    return str(parse_guid(text))


def immutable_id_from_guid(text: str) -> str:
    """The ImmutableId (base64 of ``Guid.ToByteArray()``) of a GUID in any usual form."""
    parse_guid(text)  # refuses what is not a GUID, with the reason
    return immutable_ids_from_guids([text])[0]


_NOT_DIGITS = str.maketrans("", "", "{}()-")

_TO_BYTE_ARRAY = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15]
"""Guid.ToByteArray() order: byte k of the result is byte _TO_BYTE_ARRAY[k] of the written GUID."""


def immutable_ids_from_guids(texts: Sequence[str]) -> list[str]:
    """The ImmutableId of each GUID (any usual form), empty where a text is not a GUID.

    All at once: the hex digits of every GUID decode into one buffer, numpy puts each
    GUID's 16 bytes into Guid.ToByteArray() order and pads them to 18 (a multiple of 3), so
    that one base64 text holds 24 characters per GUID: its 22, then two from the padding
    that become its '=='.
    """
    stripped = list(map(str.strip, texts))
    valid = list(map(bool, map(_GUID_RE.match, stripped)))
    # a valid GUID has braces or parentheses only around it: drop them and the hyphens at once
    digits = "".join(compress(stripped, valid)).translate(_NOT_DIGITS)
    guids = np.frombuffer(bytes.fromhex(digits), dtype=np.uint8).reshape(-1, 16)
    padded = np.zeros((len(guids), 18), dtype=np.uint8)
    padded[:, :16] = guids[:, _TO_BYTE_ARRAY]
    encoded = np.frombuffer(bytearray(base64.b64encode(padded.tobytes())), dtype=np.uint8)
    encoded = encoded.reshape(-1, 24)
    encoded[:, 22:] = ord("=")  # the two characters of the padding bytes become '=='
    ids: list[str] = encoded.view("S24").ravel().astype("U24").tolist()
    if len(ids) == len(valid):
        return ids
    found = iter(ids)
    return [next(found) if ok else "" for ok in valid]


def immutable_id_from_uuid(value: uuid.UUID) -> str:
    """The ImmutableId of an already parsed GUID."""
    return base64.b64encode(value.bytes_le).decode("ascii")


def guid_from_immutable_id(text: str) -> str:
    """The GUID (canonical lower case with hyphens) an ImmutableId encodes.

    Accepts the 24-character form and the same without its ``==`` padding.
    An ImmutableId that is not 16 bytes (an anchor that was never a GUID) is
    refused with the byte count it has.
    """
    found = guids_from_immutable_ids([text])[0]
    if found:
        return found
    raw = text.strip()
    expected = (
        f"expected the base64 of the 16 bytes of a GUID (24 characters ending in '=='), "
        f"such as {_EXAMPLE_ID}"
    )
    try:
        padded = raw + "=" * (-len(raw) % 4)
        data = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise IdentifierError(f"'{text}' is not an ImmutableId; {expected}") from exc
    if len(data) != 16:
        raise IdentifierError(
            f"'{text}' is not an ImmutableId of a GUID: it decodes to {len(data)} bytes, not 16; "
            f"{expected}"
        )
    # 16 bytes but not as .NET writes them (non-canonical trailing bits or padding)
    raise IdentifierError(f"'{text}' is not an ImmutableId; {expected}")


_GUID_DIGITS = [*range(8), *range(9, 13), *range(14, 18), *range(19, 23), *range(24, 36)]
"""Where the 32 hex digits of a GUID go in its 36-character hyphenated form."""


def guids_from_immutable_ids(texts: Sequence[str]) -> list[str]:
    """The GUID each ImmutableId encodes (canonical lower case with hyphens), empty where a
    text is not the ImmutableId of a GUID as .NET writes it (what :func:`guid_from_immutable_id`
    refuses).

    All at once: each valid text is 22 base64 characters (its ``==`` dropped); with ``AA``
    appended, one base64 decode gives 18 bytes per text: the GUID's 16 in
    ``Guid.ToByteArray()`` order, then a byte holding the last character's four unused bits
    (zero where the text is canonical) and a zero byte.
    """
    stripped = list(map(str.strip, texts))
    valid = list(map(bool, map(_BASE64_RE.match, stripped)))
    chosen = [t[:22] for t in compress(stripped, valid)]
    if not chosen:
        return [""] * len(stripped)
    chars = np.full((len(chosen), 24), ord("A"), dtype=np.uint8)
    chars[:, :22] = np.frombuffer("".join(chosen).encode("ascii"), dtype=np.uint8).reshape(-1, 22)
    data = np.frombuffer(base64.b64decode(chars.tobytes()), dtype=np.uint8).reshape(-1, 18)
    canonical = (data[:, 16] == 0).tolist()
    digits = np.frombuffer(data[:, _TO_BYTE_ARRAY].tobytes().hex().encode("ascii"), np.uint8)
    text = np.full((len(chosen), 36), ord("-"), dtype=np.uint8)
    text[:, _GUID_DIGITS] = digits.reshape(-1, 32)
    guids: list[str] = text.view("S36").ravel().astype("U36").tolist()
    found = iter(zip(guids, canonical, strict=True))
    out = []
    for ok in valid:
        if ok:
            guid, fine = next(found)
            out.append(guid if fine else "")
        else:
            out.append("")
    return out


__all__ = [
    "IdentifierError",
    "canonical_guid",
    "guid_from_immutable_id",
    "guids_from_immutable_ids",
    "immutable_id_from_guid",
    "immutable_id_from_uuid",
    "immutable_ids_from_guids",
    "parse_guid",
]
