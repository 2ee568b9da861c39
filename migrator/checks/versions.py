"""Version checks of the inventory: coexistence with Exchange 2010, support status, 2010 rollup level.

Checks of the inventory alone (no plan needed); the relay checks of the plan
(``migrator.plan.relay_checks``) include them.
"""

from __future__ import annotations

from collections.abc import Sequence

from migrator.model import ExchangeVersion, Finding, Inventory, Lifecycle, Severity
from migrator.versions import MIN_2010_BUILD, MIN_2010_LABEL, parse_build
from migrator.wording import examples

EXAMPLES = 3
"""How many server names a finding lists before saying "and N more"."""


def _examples(items: Sequence[object], limit: int = EXAMPLES) -> str:
    return examples(items, limit)


def check_versions(inventory: Inventory) -> list[Finding]:
    """Coexistence with 2010, support status of the targets, and the 2010 update rollup level."""
    out: list[Finding] = []
    legacy_2010 = sorted(
        (
            s
            for s in inventory.servers
            if s.lifecycle is Lifecycle.LEGACY and s.version is ExchangeVersion.EX2010
        ),
        key=lambda s: s.name.lower(),
    )
    # A 2016 target is the hop: 2019/SE servers then join in the onward phase, which the plan
    # orders after the last 2010 server is removed (decommission.verify-no-2010).
    hop_2016 = any(
        t.version is ExchangeVersion.EX2016 and not t.is_edge for t in inventory.target_servers
    )
    for t in sorted(inventory.target_servers, key=lambda s: s.name.lower()):
        label = t.version.label
        if t.version in (ExchangeVersion.EX2019, ExchangeVersion.SE) and legacy_2010 and hop_2016:
            out.append(
                Finding(
                    Severity.INFO,
                    "version.onward",
                    t.name,
                    f"{label} cannot coexist with Exchange 2010: {t.name} is installed in the onward "
                    "phase, after the last Exchange 2010 server "
                    f"({_examples([s.name for s in legacy_2010])}) is removed, and takes over from "
                    "Exchange 2016 there",
                )
            )
        elif t.version in (ExchangeVersion.EX2019, ExchangeVersion.SE) and legacy_2010:
            out.append(
                Finding(
                    Severity.ERROR,
                    "version.coexistence",
                    t.name,
                    f"{label} cannot coexist with Exchange 2010 ({_examples([s.name for s in legacy_2010])} "
                    "remain): the move must go through Exchange 2016",
                    f"add Exchange 2016, move everything, remove all Exchange 2010 servers, then add {label}",
                )
            )
        elif t.version in (ExchangeVersion.EX2016, ExchangeVersion.EX2019):
            out.append(
                Finding(
                    Severity.WARNING,
                    "version.out-of-support",
                    t.name,
                    f"{label} is out of support since 14 October 2025: a time-boxed hop on the way to "
                    "Exchange SE, not a destination",
                    "plan the onward move to Exchange SE (2019 CU14/CU15 upgrades in place; 2016 needs "
                    "new SE servers) once Exchange 2010 is gone",
                )
            )
        elif t.version is ExchangeVersion.EX2013:
            out.append(
                Finding(
                    Severity.WARNING,
                    "version.out-of-support",
                    t.name,
                    "Exchange 2013 is out of support since 11 April 2023 and is no target for a migration",
                    "use Exchange 2016 as the hop from Exchange 2010",
                )
            )
    for s in legacy_2010:
        build = parse_build(s.build)
        if build is None:
            out.append(
                Finding(
                    Severity.WARNING,
                    "version.2010-build-unknown",
                    s.name,
                    f"the ExSetup.exe build of {s.name} is unknown ('{s.build}'): Exchange 2016 "
                    f"needs {MIN_2010_LABEL} or later",
                    "export the file version of ExSetup.exe (AdminDisplayVersion does not show the rollup)",
                )
            )
        elif build < MIN_2010_BUILD:
            out.append(
                Finding(
                    Severity.ERROR,
                    "version.2010-build",
                    s.name,
                    f"{s.name} runs Exchange 2010 build '{s.build}', below {MIN_2010_LABEL}, "
                    "the oldest that can coexist with Exchange 2016",
                    f"install the latest Exchange 2010 SP3 update rollup on {s.name} before adding Exchange 2016",
                )
            )
    return out
