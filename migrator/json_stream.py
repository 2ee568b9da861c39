"""Read a large JSON document piece by piece, with the standard library's own decoder.

``client-evidence.json`` may hold hundreds of thousands of clients (a 100 MB
file at 343,577). ``json.loads`` would hold the whole text and a dict per
client at once; :class:`JsonStream` walks the document's outer objects and
arrays itself and hands each small value (one client, one key) to
``json.JSONDecoder.raw_decode``, reading the file in chunks, so a reader keeps
only what it builds from each value. The JSON grammar stays the decoder's:
this module only finds where values begin and end between ``{ } [ ] , :``.

A value cut by the end of a chunk is decoded again once more text is read
(the chunk grows, so a long value costs O(n log n)); a number the chunk may
have cut (``1`` of ``1e+16``) is never taken before the next chunk shows where it ends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, TextIO

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER_TAIL = re.compile(r"[0-9eE.+\-]*")
CHUNK = 1 << 20
"""Characters read at a time."""


class JsonStream:
    """A cursor over one JSON document in a text file."""

    def __init__(self, handle: TextIO, chunk: int = CHUNK) -> None:
        self._fh = handle
        self._chunk = chunk
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._consumed = 0  # characters dropped from the front of the buffer
        self._lines = 0  # line breaks among them
        self._line_start = 0  # offset (in the whole file) of the first character after the last one
        self._decoder = json.JSONDecoder()

    def _more(self, at_least: int = 0) -> bool:
        """Read another chunk (dropping what was consumed); False at the end of the file."""
        if self._eof:
            return False
        text = self._fh.read(max(self._chunk, at_least))
        if not text:
            self._eof = True
            return False
        dropped = self._buf[: self._pos]
        breaks = dropped.count("\n")
        if breaks:
            self._lines += breaks
            self._line_start = self._consumed + dropped.rindex("\n") + 1
        self._consumed += self._pos
        self._buf = self._buf[self._pos :] + text
        self._pos = 0
        return True

    def peek(self) -> str:
        """The next character that is not white space ('' at the end of the document)."""
        if self._pos < len(self._buf) and self._buf[self._pos] not in " \t\n\r":
            return self._buf[self._pos]
        while True:
            match = _WS.match(self._buf, self._pos)
            self._pos = match.end() if match else self._pos
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._more():
                return ""

    def error(self, message: str, at: int | None = None) -> json.JSONDecodeError:
        """A decode error at the cursor (or at ``at`` in the buffer), line and column counted in the whole file."""
        if at is None:
            self.peek()
            at = self._pos
        exc = json.JSONDecodeError(message, self._buf, at)
        offset = self._consumed + at
        in_buffer = self._buf.count("\n", 0, at)
        exc.pos = offset
        exc.lineno = self._lines + in_buffer + 1
        exc.colno = (
            at - self._buf.rfind("\n", 0, at) if in_buffer else offset - self._line_start + 1
        )
        exc.args = (f"{message}: line {exc.lineno} column {exc.colno} (char {offset})",)
        return exc

    def _expect(self, char: str) -> None:
        if self.peek() != char:
            raise self.error(f"Expecting '{char}' delimiter")
        self._pos += 1

    def value(self) -> Any:
        """Decode the whole value at the cursor (an object, array, string, number...)."""
        if self.peek() == "":
            raise self.error("Expecting value")
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if self._more(len(self._buf)):
                    continue  # cut by the end of the chunk: decode again with more text
                raise self.error(exc.msg, exc.pos) from None
            if (
                not self._eof
                and isinstance(value, (int, float))
                and _NUMBER_TAIL.fullmatch(self._buf, end)
                and self._more(len(self._buf))
            ):
                continue  # a number may go on in the next chunk ("1" of "1e+16")
            self._pos = end
            return value

    def members(self) -> Iterator[str]:
        """The keys of the object at the cursor; the caller reads each key's value before the next."""
        self._expect("{")
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            if self.peek() != '"':
                raise self.error("Expecting property name enclosed in double quotes")
            key = self.value()
            self._expect(":")
            yield key
            char = self.peek()
            self._pos += 1
            if char == "}":
                return
            if char != ",":
                self._pos -= 1
                raise self.error("Expecting ',' delimiter")

    def items(self) -> Iterator[int]:
        """The positions of the array at the cursor; the caller reads each item before the next."""
        self._expect("[")
        if self.peek() == "]":
            self._pos += 1
            return
        index = 0
        while True:
            yield index
            index += 1
            char = self.peek()
            self._pos += 1
            if char == "]":
                return
            if char != ",":
                self._pos -= 1
                raise self.error("Expecting ',' delimiter")

    def end(self) -> None:
        """Refuse anything but white space after the document."""
        if self.peek() != "":
            raise self.error("Extra data")
