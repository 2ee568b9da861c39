"""The vocabulary of a migration plan: phases, owners, where a step runs, and the step itself.

The plan layer describes *what* to do as :class:`Action` values (a kind and
plain parameters); the PowerShell renderer turns each kind into commands
through a template. Nothing here knows PowerShell, Excel or networkx.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Phase(enum.Enum):
    """Migration phases, in the order they run where dependencies allow."""

    PREPARE = "prepare"
    SERVERS = "servers"
    RELAY = "relay"
    HYBRID = "hybrid"
    IDENTITY = "identity"
    MX = "mx"
    MOVES = "moves"
    PUBLIC_FOLDERS = "public-folders"
    DECOMMISSION = "decommission"
    ONWARD = "onward"

    @property
    def order(self) -> int:
        """Position of the phase (0 = prepare)."""
        return _ORDERS[self]

    @property
    def number(self) -> str:
        """Two-digit runbook folder prefix: ``00`` prepare, ``10`` servers, ... ``55`` moves, ``58`` public folders, ``60`` decommission."""
        return _NUMBERS[self]


_ORDERS = {phase: n for n, phase in enumerate(Phase)}
"""Each phase's position (asked once per step when ordering: a look-up, not a search)."""

_NUMBERS = {
    Phase.PREPARE: "00",
    Phase.SERVERS: "10",
    Phase.RELAY: "20",
    Phase.HYBRID: "30",
    Phase.IDENTITY: "40",
    Phase.MX: "50",
    Phase.MOVES: "55",
    Phase.PUBLIC_FOLDERS: "58",
    Phase.DECOMMISSION: "60",
    Phase.ONWARD: "70",
}


class Owner(enum.Enum):
    """Who runs a step."""

    EXCHANGE_ADMIN = "Exchange admin"
    DNS_ADMIN = "DNS admin"
    NETWORK_ADMIN = "Network/load-balancer admin"
    IDENTITY_ADMIN = "Identity admin"
    APPLICATION_OWNERS = "Application owners"


class RunsIn(enum.Enum):
    """Where a step runs."""

    EMS_NEW = "EMS on the new servers"
    EMS_2010 = "EMS on 2010"
    EXCHANGE_ONLINE = "Exchange Online PowerShell"
    GRAPH = "Microsoft Graph PowerShell"
    AD_POWERSHELL = "AD PowerShell on an admin host"
    ADSYNC = "ADSync on the Entra Connect server"
    DNS_CONSOLE = "DNS console"
    OUTSIDE = "Windows PowerShell on a host outside the firewall"
    MANUAL = "manual"

    @property
    def powershell_2(self) -> bool:
        """Whether scripts for this place must use PowerShell 2.0 syntax only."""
        return self is RunsIn.EMS_2010


@dataclass(frozen=True)
class Action:
    """What a step does, as data: a kind the renderer knows and its parameters."""

    kind: str
    """Template name, e.g. ``relay.create`` (``templates/powershell/steps/relay.create.ps1.j2``)."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """Plain values (str, int, bool, lists and dicts of them) the template reads."""


READS_ONLY = "none needed: the step only reads and checks"
"""Rollback text of a step that changes nothing (a check, a read-back, a readiness gate)."""


@dataclass(frozen=True)
class Step:
    """One step of the migration."""

    id: str
    """Stable readable id derived from the inventory; starts with the phase (``relay.create.EX16-01.apps``)."""
    phase: Phase
    """Phase the step belongs to."""
    title: str
    """One-line title."""
    target: str
    """The server, domain or object it acts on."""
    owner: Owner
    """Who runs it."""
    runs_in: RunsIn
    """Where it runs."""
    duration_minutes: int
    """Estimated duration."""
    wait_minutes: int = 0
    """Wait after it before dependents may start (DNS TTL, sync cycle, observation)."""
    reversible: bool = True
    """Whether a rollback exists."""
    verification: str = ""
    """How the result is verified (text; the action's template does the scripted part)."""
    rollback: str = ""
    """How to undo it (text; empty where irreversible)."""
    instructions: str = ""
    """What a person does, for manual steps and as the step's explanation."""
    action: Action | None = None
    """Scripted part, or None for a purely manual step."""
    prerequisites: tuple[str, ...] = ()
    """Ids of steps that must be done first."""
    runbook: str = ""
    """Runbook the step is rendered into, relative to the output folder (``runbooks/20-relay/EX16-01.ps1``)."""
    maintenance_window: bool | None = None
    """Whether it must run inside a maintenance window; None: yes for Exchange, DNS and network admins' steps."""
    window_share: tuple[str, int] | None = None
    """(name, n): at most n steps of that name start in one window occurrence (``moves.waves_per_window``)."""
    fresh_window: bool = False
    """Whether it starts in a window occurrence none of its prerequisites ran in (a change of its own night)."""
    window_minutes: int = 0
    """Minutes of one window occurrence it needs from its start (it and the steps that must follow it in the
    same occurrence, e.g. a lock until its unlock); 0: its own duration."""
    cutover: str = ""
    """Kind of production cut-over ("client namespace", "SMTP alias", "first wave"), or "": a window
    occurrence starts cut-overs of one kind only, so a failure that night points at one change."""

    def __post_init__(self) -> None:
        if not self.id.startswith(self.phase.value + "."):
            raise ValueError(f"step id '{self.id}' must start with its phase '{self.phase.value}.'")


@dataclass(frozen=True)
class ScheduledStep:
    """When a step can run, given durations, waits and maintenance windows."""

    step_id: str
    """The step."""
    wave: int
    """1-based group of steps that can run in parallel within one maintenance window."""
    start: dt.datetime
    """Earliest start."""
    finish: dt.datetime
    """Earliest finish (start + duration; the wait follows it)."""
    critical: bool = False
    """Whether the step lies on the critical path."""


@dataclass(frozen=True)
class MigrationPlan:
    """The whole plan as domain objects (the graph itself stays inside the planning layer)."""

    organisation: str
    """Organisation name."""
    plan_date: dt.date
    """Start date of the plan (from the inventory or ``--start``, never the clock)."""
    steps: tuple[Step, ...]
    """All steps in run order (every prerequisite before its dependents)."""
    schedule: Mapping[str, ScheduledStep]
    """Schedule per step id."""
    critical_path: tuple[str, ...]
    """Step ids on the longest path through durations and waits."""
    dependents_of: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Step id -> ids of the steps that need it directly."""

    @functools.cached_property
    def _by_id(self) -> dict[str, Step]:
        return {s.id: s for s in self.steps}

    def step(self, step_id: str) -> Step:
        """The step with that id (KeyError when unknown)."""
        return self._by_id[step_id]

    def prerequisites(self, step_id: str) -> tuple[str, ...]:
        """Direct prerequisites of a step."""
        return self.step(step_id).prerequisites

    def dependents(self, step_id: str) -> tuple[str, ...]:
        """Steps that directly need this one."""
        return self.dependents_of.get(step_id, ())

    @property
    def waves(self) -> dict[int, tuple[str, ...]]:
        """Wave number -> step ids in run order."""
        out: dict[int, list[str]] = {}
        for s in self.steps:
            out.setdefault(self.schedule[s.id].wave, []).append(s.id)
        return {k: tuple(v) for k, v in sorted(out.items())}

    @property
    def finish(self) -> dt.datetime | None:
        """When the last step (and its wait) is done."""
        ends = [v.finish for v in self.schedule.values()]
        return max(ends) if ends else None
