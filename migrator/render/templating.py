"""The one Jinja2 environment, the PowerShell quoting filter, and where templates live.

Templates are files under ``templates/`` (shipped inside the wheel as
``migrator/templates``), never strings in Python.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

# PowerShell treats U+2018..U+201B as single quotes too (about_Quoting_Rules).
if TYPE_CHECKING:
    import jinja2

_SINGLE_QUOTES = ("'", "\u2018", "\u2019", "\u201a", "\u201b")


def templates_dir() -> Path:
    """The templates folder: inside the installed package, else the source tree's ``templates/``."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "templates"
    if packaged.is_dir():
        return packaged
    source = here.parent / "templates"
    if source.is_dir():
        return source
    raise FileNotFoundError(f"migrator's templates are missing (looked in {packaged} and {source})")


def ps_quote(value: object) -> str:
    """Quote any value as one PowerShell single-quoted string literal.

    Every single-quote character PowerShell recognises is doubled, so no
    value can end the literal: ``$()``, backticks, semicolons and newlines
    stay text. This is the only way inventory data reaches a script.
    """
    text = "" if value is None else str(value)
    for q in _SINGLE_QUOTES:
        text = text.replace(q, q + q)
    return "'" + text + "'"


def ps_list(values: Iterable[object]) -> str:
    """A PowerShell array literal of quoted strings: ``@('a', 'b')`` (``@()`` when empty)."""
    return "@(" + ", ".join(ps_quote(v) for v in values) + ")"


def ps_bool(value: object) -> str:
    """``$true`` or ``$false``."""
    return "$true" if value else "$false"


def ps_int(value: object) -> str:
    """An integer literal; refuses anything that is not an integer (never quotes user text)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"ps_int expects an int, got {value!r}")
    return str(value)


def ps_comment(value: object) -> str:
    """Text safe inside a ``#`` line comment: one line, no block-comment delimiters."""
    text = " ".join(str(value).split())
    return text.replace("#>", "# >").replace("<#", "< #")


def _to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@functools.cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment for PowerShell, Markdown and HTML templates.

    ``StrictUndefined`` so a typo in a template fails loudly; HTML templates
    (``.html.j2``) are autoescaped, PowerShell ones go through ``ps_quote``.
    """
    import jinja2  # imported where it is used (keeps the CLI's start fast)

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "html.j2", "svg.j2"), default=False
        ),
    )
    env.filters["psq"] = ps_quote
    env.filters["pslist"] = ps_list
    env.filters["psbool"] = ps_bool
    env.filters["psint"] = ps_int
    env.filters["pscomment"] = ps_comment
    env.filters["tojson_sorted"] = _to_json
    return env


def render(template: str, **context: Any) -> str:
    """Render one template file (path relative to ``templates/``)."""
    return environment().get_template(template).render(**context)
