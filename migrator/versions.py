"""Exchange build numbers the planner decides on (one place for the rule, used by checks and plan).

Exchange 2016 coexists only with Exchange 2010 SP3 Update Rollup 11 or later.
RU11 is ``ExSetup.exe`` 14.3.266.2 (``14.03.0266.002``, September 2015), per
Microsoft's "Exchange Server build numbers and release dates" table;
14.3.301.0 is RU14 and 14.3.513.0 is RU32. The rollup level shows only in the
file version of ``ExSetup.exe``, not in ``AdminDisplayVersion``.
"""

from __future__ import annotations

import re

MIN_2010_BUILD = (14, 3, 266, 2)
"""Exchange 2010 SP3 Update Rollup 11 (``ExSetup.exe`` 14.3.266.2): the oldest build that can coexist with 2016."""
MIN_2010_BUILD_TEXT = "14.3.266.2"
""":data:`MIN_2010_BUILD` as it is written (``14.03.0266.002`` in the build table)."""
MIN_2010_LABEL = f"Exchange 2010 SP3 Update Rollup 11 ({MIN_2010_BUILD_TEXT})"
"""The minimum as step titles and findings print it."""

_BUILD = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:\.(\d+))?")
_ADMIN_VERSION = re.compile(r"version\s+(\d+)\.(\d+)\s*\(build\s+(\d+)\.(\d+)\)", re.IGNORECASE)


def parse_build(text: str) -> tuple[int, int, int, int] | None:
    """``14.3.266.2``, ``14.03.0266.002`` or ``Version 14.3 (Build 266.2)`` as a tuple; None when neither."""
    m = _ADMIN_VERSION.search(text) or _BUILD.search(text)
    if m is None:
        return None
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4) or 0))


def meets_2010_minimum(build: str) -> bool | None:
    """Whether a 2010 build is SP3 RU11 or later; None when the build is unknown."""
    parsed = parse_build(build)
    return None if parsed is None else parsed >= MIN_2010_BUILD
