"""Indented JSON text without the standard library's pure-Python encoder.

``json.dumps(value, indent=2)`` cannot use the C encoder (an indent makes it
fall back to a generator per value): at 300,000 users ``plan.json`` alone took
seconds. :func:`dumps_indented` writes the same bytes (same layout, same
escapes, same number forms) from one recursive function whose strings are
escaped by the C ``encode_basestring``. Tests compare it with ``json.dumps``.
"""

from __future__ import annotations

import json
import math
from typing import Any

_STRING: Any = (
    getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring
)
"""JSON string literal with non-ASCII characters kept (``ensure_ascii=False``), in C where it exists."""


def _float(value: float) -> str:
    # as json.encoder does (allow_nan=True)
    if math.isnan(value):
        return "NaN"
    if value == math.inf:
        return "Infinity"
    if value == -math.inf:
        return "-Infinity"
    return float.__repr__(value)


def _key(key: object) -> str:
    if isinstance(key, str):
        return str(_STRING(key))
    if key is True:
        return '"true"'
    if key is False:
        return '"false"'
    if key is None:
        return '"null"'
    if isinstance(key, int):
        return '"' + int.__repr__(key) + '"'
    if isinstance(key, float):
        return '"' + _float(key) + '"'
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _write(value: Any, pad: str, out: list[str]) -> None:
    """Append the text of ``value`` to ``out``; ``pad`` is the indent of the line it starts on."""
    if isinstance(value, str):
        out.append(_STRING(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = pad + "  "
        out.append("[\n" + inner)
        last = len(value) - 1
        for i, item in enumerate(value):
            _write(item, inner, out)
            if i < last:
                out.append(",\n" + inner)
        out.append("\n" + pad + "]")
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = pad + "  "
        out.append("{\n" + inner)
        first = True
        for key, item in value.items():
            if not first:
                out.append(",\n" + inner)
            first = False
            out.append(_key(key) + ": ")
            _write(item, inner, out)
        out.append("\n" + pad + "}")
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps_indented(value: Any) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``, the same text, faster."""
    out: list[str] = []
    _write(value, "", out)
    return "".join(out)


__all__ = ["dumps_indented"]
