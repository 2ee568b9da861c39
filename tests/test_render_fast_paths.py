"""The plan-side fast paths (issue 18) write exactly what the plain forms write.

Each one is held against the standard library or the per-value function it replaces:
the batch ImmutableId decoder, the identity CSV quoting, the Markdown cell escapes,
plan.json's step encoder, the helper-call scan of a runbook and the workbook's text cells.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import re
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from migrator.fileio import windows_text
from migrator.plan.immutable_id import (
    IdentifierError,
    guid_from_immutable_id,
    guids_from_immutable_ids,
)
from migrator.render.identity_report import _md, _md_many, windows_csv_pieces
from migrator.render.plan_json import _indented
from migrator.render.runbooks import _calls_in, helper_functions
from migrator.render.templating import _entry, ps_block, ps_comment, ps_splat
from migrator.render.workbook import _Cells, _Column, _RowStream

_ANCHOR_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \n*"


def _one(text: str) -> str:
    try:
        return guid_from_immutable_id(text)
    except IdentifierError:
        return ""


@settings(deadline=None)  # a shared, loaded machine
@given(st.lists(st.uuids().map(lambda g: base64.b64encode(g.bytes_le).decode()), max_size=8))
def test_batch_decode_of_valid_immutable_ids(ids: list[str]) -> None:
    assert guids_from_immutable_ids(ids) == [
        str(uuid.UUID(bytes_le=base64.b64decode(i))) for i in ids
    ]


@settings(deadline=None)  # a shared, loaded machine
@given(st.lists(st.text(alphabet=_ANCHOR_CHARS, max_size=26), max_size=8))
def test_batch_decode_refuses_what_the_single_decoder_refuses(texts: list[str]) -> None:
    assert guids_from_immutable_ids(texts) == [_one(t) for t in texts]


def test_batch_decode_refuses_non_canonical_trailing_bits() -> None:
    good = base64.b64encode(uuid.UUID(int=5).bytes_le).decode()
    odd = good[:21] + "B=="  # the last character's unused bits set
    assert guids_from_immutable_ids([good, odd, good[:22], ""]) == [
        str(uuid.UUID(int=5)),
        "",
        str(uuid.UUID(int=5)),
        "",
    ]


def _csv_module(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    return buf.getvalue()


_CSV_TEXT = st.text(alphabet='ab",\n\r\x1e\x1f\u00e9 ', max_size=5)


@settings(deadline=None)  # a shared, loaded machine
@given(
    st.integers(min_value=1, max_value=4).flatmap(
        lambda width: st.lists(st.lists(_CSV_TEXT, min_size=width, max_size=width), max_size=4)
    )
)
def test_identity_csv_is_the_csv_modules_made_windows_text(rows: list[list[str]]) -> None:
    # column by column, in pieces: the csv module's rows with windows_text's line ends
    columns = [list(column) for column in zip(*rows, strict=True)] if rows else []
    pieces = windows_csv_pieces(columns) if rows else []
    assert "".join(pieces).encode("utf-8") == windows_text(_csv_module(rows))[3:]  # no BOM
    assert len(pieces) == len(rows) * (2 * len(columns) + 1)


@settings(deadline=None)  # a shared, loaded machine
@given(st.lists(st.text(alphabet="ab \\|*_`<>[]\n\t\x00\u00a0\u2028", max_size=8), max_size=6))
def test_markdown_cells_escaped_at_once_are_escaped_one_by_one(values: list[str]) -> None:
    assert _md_many(values) == [_md(v) for v in values]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(deadline=None)  # a shared, loaded machine
@given(_JSON)
def test_plan_json_values_are_written_as_json_dumps_writes_them(value: object) -> None:
    nested = json.dumps({"steps": [{"key": value}]}, indent=2, ensure_ascii=False)
    written = (
        '{\n  "steps": [\n    {\n      "key": ' + _indented(value, "      ") + "\n    }\n  ]\n}"
    )
    assert written == nested


class _Text(str):
    """A str subclass: the workbook writes it by the general path (cell_text, xml escape)."""


@settings(deadline=None)  # a shared, loaded machine
@given(st.lists(st.text(alphabet="ab <>&\"' \t\r\n\x01\u00e9", max_size=6), min_size=1, max_size=3))
def test_workbook_text_cells_fast_path_writes_what_the_general_path_writes(
    values: list[str],
) -> None:
    ws = Workbook(write_only=True).create_sheet("s")
    columns = [_Column() for _ in values]
    fast = _RowStream(_Cells(ws), columns)
    general = _RowStream(_Cells(ws), columns)
    fast.append(values)
    general.append([_Text(v) if v else v for v in values])
    assert fast._buffer == general._buffer


_CELL = st.one_of(
    st.none(),
    st.text(alphabet="ab <>&\"' \t\r\n\x01\u00e9%", max_size=6),
    st.sampled_from(["a", "ab", "a b", "x&y", "%s", "100%"]),
    st.integers(-5, 5),
    st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2026, 12, 31)),
)


@settings(deadline=None)  # a shared, loaded machine
@given(
    st.lists(st.booleans(), min_size=1, max_size=4).flatmap(
        lambda keep: st.tuples(
            st.just(keep),
            st.lists(st.tuples(*(_CELL for _ in keep)), min_size=1, max_size=40),
        )
    )
)
def test_workbook_rows_written_column_by_column_are_what_each_cell_writes(
    case: tuple[list[bool], list[tuple[object, ...]]],
) -> None:
    """Rows written at once (a ``%`` template per block, plain text columns escaped joined) give
    the XML that writing each cell by the general path gives."""
    keep, rows = case
    ws = Workbook(write_only=True).create_sheet("s")
    columns = [_Column(keep=k) for k in keep]
    at_once = _RowStream(_Cells(ws), columns)
    one_by_one = _RowStream(_Cells(ws), columns)
    at_once.extend(rows)
    for row in rows:
        one_by_one.append([_Text(v) if isinstance(v, str) and v else v for v in row])
    for stream in (at_once, one_by_one):
        stream.flush()
        stream.file.seek(0)
    assert at_once.file.read() == one_by_one.file.read()


@settings(deadline=None)  # a shared, loaded machine
@given(st.text(alphabet="a #<>\t\n\r\x0b\x1c\x85\xa0\u2028\u3000\u200b\x00\u00e9", max_size=12))
def test_ps_comment_fast_path_gives_what_splitting_gives(text: str) -> None:
    plain = " ".join(text.split()).replace("#>", "# >").replace("<#", "< #")
    assert ps_comment(text) == plain


_WORD = re.compile(r"(?<![\w-])[A-Za-z]+-[A-Za-z0-9]+(?![\w-])")


@settings(deadline=None)  # a shared, loaded machine
@given(
    st.lists(
        st.sampled_from(
            [
                *sorted(helper_functions())[:6],
                "x",
                "-",
                "_",
                "\u00e9",
                "\u2019",
                " ",
                "\n",
                "(",
                "'",
                "\ud800",
            ]
        ),
        max_size=12,
    )
)
def test_helper_calls_are_the_words_the_regex_finds(parts: list[str]) -> None:
    text = "".join(parts)
    names = helper_functions()
    words = set(_WORD.findall(text))
    assert _calls_in(text, names) == frozenset(n for n in names if n in words)


@settings(deadline=None)  # a shared, loaded machine
@given(st.text(alphabet=" \t\n\r\x0b\x85\u2028ab'", max_size=20))
def test_ps_block_fast_path_gives_what_line_by_line_gives(text: str) -> None:
    lines = text.strip("\n").splitlines()
    assert ps_block(text) == "\n".join(
        ("        " + line) if line.strip() else "" for line in lines
    )


@settings(deadline=None)  # a shared, loaded machine
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.sampled_from(["Server", "Name", "Ranges", "N"]),
                st.none()
                | st.text(alphabet="a'\u2019 ", max_size=4)
                | st.integers()
                | st.booleans()
                | st.lists(st.text(alphabet="a'", max_size=2), max_size=3)
                | st.lists(
                    st.dictionaries(st.sampled_from(["A", "B"]), st.text(max_size=2)), max_size=2
                ),
            ),
            max_size=3,
        ),
        max_size=3,
    )
)
def test_ps_splat_inline_entries_are_the_entry_function(
    lines: list[list[tuple[str, object]]],
) -> None:
    groups = [[_entry(k, v, "    ") for k, v in line if v is not None] for line in lines]
    groups = [g for g in groups if g]
    one = "$step = @{ " + "; ".join(e for g in groups for e in g) + " }"
    expected = (
        one
        if len(one) <= 120 and "\n" not in one
        else "$step = @{\n" + "\n".join("    " + "; ".join(g) for g in groups) + "\n}"
    )
    assert ps_splat(lines) == expected
