"""ps_quote: any text becomes exactly one PowerShell single-quoted literal with the same value."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from powershell_check import parse

from migrator.render.templating import ps_list, ps_quote, ps_splat

QUOTES = "'\u2018\u2019\u201a\u201b"
TRICKY = st.sampled_from(
    [
        *QUOTES,
        "$(",
        ")",
        "$x",
        "`",
        ";",
        "\n",
        "\r\n",
        '"',
        "@'",
        "'@",
        "#",
        "<#",
        "#>",
        "|",
        "&",
        " ",
    ]
)
# NUL is left out: tree-sitter reads it as the end of input (and no inventory value holds one).
CHARS = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))
TEXTS = st.one_of(
    st.text(CHARS), st.lists(st.one_of(TRICKY, st.text(CHARS, max_size=3))).map("".join)
)


def powershell_value(literal: str) -> str:
    """What PowerShell's tokenizer reads from a single-quoted literal (any quote pair is one quote)."""
    assert literal[0] in QUOTES and literal[-1] in QUOTES
    out = []
    i = 1
    while i < len(literal):
        c = literal[i]
        if c in QUOTES:
            if i + 1 < len(literal) and literal[i + 1] in QUOTES:
                out.append(literal[i + 1])
                i += 2
                continue
            assert i == len(literal) - 1, f"literal ends early at {i}: {literal!r}"
            return "".join(out)
        out.append(c)
        i += 1
    raise AssertionError(f"unterminated literal {literal!r}")


def single_literal(script: str) -> str:
    """The one string literal node's text in ``$v = <literal>``; fails on anything else."""
    root, src = parse(script)
    assert not root.has_error, script
    literals = []
    stack = [root]
    while stack:
        n = stack.pop()
        if n.type == "string_literal":
            literals.append(n)
            continue
        stack.extend(n.children)
    assert len(literals) == 1, script
    node = literals[0]
    assert (
        node.named_child_count == 1 and node.named_children[0].type == "verbatim_string_characters"
    )
    text = src[node.start_byte : node.end_byte].decode("utf-8")
    # The literal is the whole right-hand side: nothing of the value leaked out of it.
    assert script.rstrip("\n").endswith(text)
    assert script.startswith("$v = " + text)
    return text


@settings(max_examples=300, deadline=None)
@given(TEXTS)
@example("it's")
@example("\u2018quoted\u2019 \u201aand\u201b")
@example("$(Remove-Item C:\\ -Recurse)")
@example("a`'; Remove-Item x; '")
@example("line1\nline2\r\n'")
@example("")
def test_ps_quote_is_one_literal_with_the_same_value(value: str) -> None:
    quoted = ps_quote(value)
    literal = single_literal(f"$v = {quoted}\n")
    assert literal == quoted
    assert powershell_value(literal) == value


@settings(max_examples=100, deadline=None)
@given(st.lists(TEXTS, max_size=5))
def test_ps_list_elements_survive(values: list[str]) -> None:
    text = ps_list(values)
    root, _src = parse(f"$v = {text}\n")
    assert not root.has_error
    assert text == "@(" + ", ".join(ps_quote(v) for v in values) + ")"


def test_splat_quotes_every_value_and_leaves_out_none() -> None:
    assert ps_splat([[("Name", "Bob's \u2019x"), ("Size", None), ("On", True), ("N", 3)]]) == (
        "$step = @{ Name = 'Bob''s \u2019\u2019x'; On = $true; N = 3 }"
    )
    assert ps_splat([[("Ranges", ["10.0.0.0/8"])]]) == "$step = @{ Ranges = @('10.0.0.0/8') }"
    long = ps_splat([[("A", "x" * 60)], [("B", "y" * 60)]])
    assert long == "$step = @{\n    A = '" + "x" * 60 + "'\n    B = '" + "y" * 60 + "'\n}"
    nested = ps_splat([[("R", [{"Text": "a", "V": 4}, {"Text": "b", "V": 6}])]])
    assert nested == (
        "$step = @{\n    R = @(\n        @{ Text = 'a'; V = 4 },\n        @{ Text = 'b'; V = 6 }\n    )\n}"
    )


def test_splat_refuses_keys_that_are_not_identifiers() -> None:
    with pytest.raises(ValueError, match="not a PowerShell identifier"):
        ps_splat([[("A; Remove-Item", "x")]])


def test_a_dotted_name_reads_the_data_key_before_a_dict_method() -> None:
    """``p.clear`` is the step's ``clear`` value, not ``dict.clear`` (a bound method, always true)."""
    from migrator.render.templating import environment

    template = environment().from_string("{{ 'yes' if p.clear else 'no' }} {{ p.items }}")
    assert template.render(p={"clear": False, "items": 3}) == "no 3"
