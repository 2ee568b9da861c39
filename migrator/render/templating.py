"""The one Jinja2 environment, the PowerShell quoting filter, and where templates live.

Templates are files under ``templates/`` (shipped inside the wheel as
``migrator/templates``), never strings in Python.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
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
    text = value if type(value) is str else "" if value is None else str(value)
    if text.isascii():  # the other quote characters are not ASCII
        return "'" + text.replace("'", "''") + "'" if "'" in text else "'" + text + "'"
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
    text = str(value)
    # Printable text has no whitespace but the space; without a space at either end or two
    # in a row, splitting and joining gives it back as it is (the common case, skipped).
    if not (text.isprintable() and text[:1] != " " and text[-1:] != " " and "  " not in text):
        text = " ".join(text.split())
    if "#" not in text:
        return text
    return text.replace("#>", "# >").replace("<#", "< #")


_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def ps_value(value: object, indent: str = "") -> str:
    """One value as a PowerShell literal, every string through :func:`ps_quote`.

    ``str`` -> quoted string, ``bool`` -> ``$true``/``$false``, ``int`` -> integer,
    a list or tuple -> ``@(...)`` (always an array, even of one element), a
    ``dict`` -> a one-line hashtable; a list of dicts puts each on its own line.
    """
    if type(value) is str:  # the common case first (a str is no bool nor int)
        return ps_quote(value)
    if isinstance(value, bool):
        return ps_bool(value)
    if isinstance(value, int):
        return ps_int(value)
    if isinstance(value, str):
        return ps_quote(value)
    if isinstance(value, dict):
        return "@{ " + "; ".join(_entry(k, v, indent) for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        # all(...) is false as soon as the first element is no dict: a list of strings is not walked twice.
        if value and isinstance(value[0], dict) and all(isinstance(v, dict) for v in value):
            inner = indent + "    "
            items = ",\n".join(inner + ps_value(v, inner) for v in value)
            return "@(\n" + items + "\n" + indent + ")"
        return "@(" + ", ".join([ps_value(v, indent) for v in value]) + ")"
    raise TypeError(f"no PowerShell literal for {value!r}")


_KEYS: set[str] = set()
"""Hashtable keys found to be PowerShell identifiers (the templates' few names, checked once each)."""


def _entry(key: object, value: object, indent: str) -> str:
    if not (type(key) is str and key in _KEYS):
        if not isinstance(key, str) or not _IDENTIFIER.fullmatch(key):
            raise ValueError(f"hashtable key {key!r} is not a PowerShell identifier")
        if type(key) is str:
            _KEYS.add(key)
    # ps_value's first case without its call (a splat's values are mostly strings).
    return f"{key} = {ps_quote(value) if type(value) is str else ps_value(value, indent)}"


def ps_splat(lines: Iterable[Iterable[tuple[str, object]]], name: str = "step") -> str:
    """``$step = @{ ... }``: the data of one step call, one group of entries per line.

    ``lines`` is a sequence of lines, each a sequence of ``(key, value)``; an
    entry whose value is None is left out (the function's default applies).
    The whole table stays on one line when it fits in 120 characters; otherwise one line per group.
    """
    groups = []
    for line in lines:
        group = []
        for k, v in line:
            if v is None:
                continue
            if type(v) is str and type(k) is str and k in _KEYS:  # _entry's common case, inline
                group.append(k + " = " + ps_quote(v))
            else:
                group.append(_entry(k, v, "    "))
        if group:
            groups.append(group)
    one = f"${name} = @{{ " + "; ".join(e for g in groups for e in g) + " }"
    if len(one) <= 120 and "\n" not in one:
        return one
    body = "\n".join("    " + "; ".join(g) for g in groups)
    return f"${name} = @{{\n{body}\n}}"


def ps_block(text: str, spaces: int = 8) -> str:
    """A block of script lines indented by ``spaces`` (a step's body inside its ``if``).

    Leading and trailing newlines go; a line of only whitespace becomes empty.
    """
    pad = " " * spaces
    lines = text.strip("\n").splitlines()
    if all(map(str.strip, lines)):  # no line of only whitespace (the common case): one join
        return pad + ("\n" + pad).join(lines) if lines else ""
    return "\n".join((pad + line) if line.strip() else "" for line in lines)


def _to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


_MAPPING_TYPES: dict[type, bool] = {}
"""Whether a type is a Mapping, per type met in a template (see ``DataEnvironment.getattr``)."""


@functools.cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment for PowerShell, Markdown and HTML templates.

    ``StrictUndefined`` so a typo in a template fails loudly; HTML templates
    (``.html.j2``) are autoescaped, PowerShell ones go through ``ps_quote``.
    """
    import jinja2  # imported where it is used (keeps the CLI's start fast)

    class DataEnvironment(jinja2.Environment):
        """``p.clear`` in a template reads the key ``clear`` of a step's data, never the dict
        method of that name (which is always true: an OAB step once passed ``-Clear`` because of it)."""

        def getattr(self, obj: Any, attribute: str) -> Any:
            # Called for every ``a.b`` of every render: the type test is looked up once per type
            # (an ABC isinstance per access was a tenth of the runbooks' time at 100,000 users).
            kind = type(obj)
            mapping = _MAPPING_TYPES.get(kind)
            if mapping is None:
                mapping = _MAPPING_TYPES[kind] = isinstance(obj, Mapping)
            if mapping:
                if attribute in obj:
                    return obj[attribute]
            else:
                try:
                    return getattr(obj, attribute)
                except AttributeError:
                    pass
            return super().getattr(obj, attribute)

    env = DataEnvironment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        auto_reload=False,  # one run renders each template thousands of times: no stat per render
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
    env.filters["pssplat"] = ps_splat
    env.filters["psblock"] = ps_block
    env.filters["tojson_sorted"] = _to_json
    return env


def render(template: str, **context: Any) -> str:
    """Render one template file (path relative to ``templates/``)."""
    return environment().get_template(template).render(**context)


def render_plain(template: str, **context: Any) -> str:
    """:func:`render` for a template that reads only the names it is given (no Jinja globals
    such as ``range``): the context is not merged with the globals, as for an ``{% include %}``.

    For the ~60,000 step bodies of a 300,000-user plan, where merging the globals into each
    context was a tenth of their time (issue 18).
    """
    compiled = environment().get_template(template)
    try:
        return "".join(compiled.root_render_func(compiled.new_context(context, shared=True)))
    except Exception:
        return compiled.environment.handle_exception()
