"""Earliest dates of ordered steps: durations, waits in calendar time, weekly maintenance windows.

Pure Python over steps already in run order (see :mod:`migrator.plan.graph`).
Resources are not modelled: independent steps may run at the same time.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import NamedTuple

from migrator.model import Finding, MaintenanceWindow, Severity
from migrator.plan.steps import MigrationPlan, Owner, ScheduledStep, Step

DAY_START = dt.time(8, 0)
"""Time of day the plan starts on its first date (steps outside windows are not held to hours)."""

BUSINESS_DAY = (dt.time(8, 0), dt.time(18, 0))
"""A business day: Monday to Friday, 08:00 to 18:00 in the windows' local time, except the public
holidays the inventory lists (``plan.holidays``; none known otherwise)."""

_SOAK_REACH = dt.timedelta(days=4)
"""Longer than the gap from any moment to the end of the next business day (Friday 08:01 -> Monday 18:00),
without holidays; each holiday adds a day (``_Cutovers``)."""

HOLIDAY_SEASON = ((12, 24), (1, 1))
"""24 December to 1 January: holidays or thin staffing in most countries. Without ``plan.holidays``, a
soak whose business days all fall here is reported (:func:`holiday_soak_findings`)."""

_WINDOWED_OWNERS = frozenset({Owner.EXCHANGE_ADMIN, Owner.DNS_ADMIN, Owner.NETWORK_ADMIN})


def needs_window(step: Step) -> bool:
    """Whether a step must run inside a maintenance window.

    The step says so explicitly, or else: steps run by Exchange, DNS and
    network admins change production and wait for a window.
    """
    if step.maintenance_window is not None:
        return step.maintenance_window
    return step.owner in _WINDOWED_OWNERS


def _occurrences(
    windows: Sequence[MaintenanceWindow], first: dt.date, days: int
) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    # the same few days are asked for step after step: computed once per (windows, first, days)
    return _occurrences_of(tuple(windows), first, days)


@functools.lru_cache(maxsize=4096)
def _occurrences_of(
    windows: tuple[MaintenanceWindow, ...], first: dt.date, days: int
) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    out = []
    for n in range(days):
        day = first + dt.timedelta(days=n)
        for w in windows:
            if w.weekday != day.weekday():
                continue
            begin = dt.datetime.combine(day, w.start)
            end_day = day if w.end > w.start else day + dt.timedelta(days=1)
            out.append((begin, dt.datetime.combine(end_day, w.end)))
    return tuple(sorted(out))


def fit_window(
    ready: dt.datetime, minutes: int, windows: Sequence[MaintenanceWindow]
) -> tuple[dt.datetime, dt.datetime | None]:
    """Earliest start at or after ``ready`` such that the step fits in one window occurrence.

    Returns (start, start of the window occurrence used). A step longer than
    every window starts when the next window opens (it overruns; the
    runbook's owner must plan for that). Without windows, ``ready`` itself.
    """
    if not windows:
        return ready, None
    need = dt.timedelta(minutes=minutes)
    occurrences = _occurrences(windows, ready.date() - dt.timedelta(days=1), 16)
    for begin, end in occurrences:
        start = max(ready, begin)
        if start + need <= end:
            return start, begin
    for begin, _end in occurrences:
        if begin >= ready:
            return begin, begin
    raise AssertionError("a weekly window always occurs within 16 days")  # pragma: no cover


def _containing(t: dt.datetime, windows: Sequence[MaintenanceWindow]) -> dt.datetime | None:
    for begin, end in _occurrences(windows, t.date() - dt.timedelta(days=1), 2):
        if begin <= t < end:
            return begin
    return None


def _occurrence_end(begin: dt.datetime, windows: Sequence[MaintenanceWindow]) -> dt.datetime:
    """End of the window occurrence that starts at ``begin``."""
    for start, end in _occurrences(windows, begin.date(), 1):
        if start == begin:
            return end
    raise AssertionError(f"no window occurrence starts at {begin}")  # pragma: no cover


def is_business_day(day: dt.date, holidays: Collection[dt.date] = ()) -> bool:
    """Monday to Friday and not a listed public holiday."""
    return day.weekday() < 5 and day not in holidays


def soak_end(t: dt.datetime, holidays: Collection[dt.date] = ()) -> dt.datetime:
    """End of the first whole business day after ``t``: the earliest start of a cut-over of another class.

    Wednesday 21:30 gives Thursday 18:00; Saturday 23:00 and Sunday 06:15 give Monday 18:00; a
    listed public holiday is skipped like a weekend day (Wednesday 21:30 before a Thursday
    holiday gives Friday 18:00).
    """
    day = t.date() if t.time() <= BUSINESS_DAY[0] else t.date() + dt.timedelta(days=1)
    while not is_business_day(day, holidays):
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, BUSINESS_DAY[1])


def _longest_break(holidays: frozenset[dt.date]) -> int:
    """Most consecutive days without a business day that include a listed holiday (0 without any)."""
    longest = 0
    for day in holidays:
        first = last = day
        while not is_business_day(first - dt.timedelta(days=1), holidays):
            first -= dt.timedelta(days=1)
        while not is_business_day(last + dt.timedelta(days=1), holidays):
            last += dt.timedelta(days=1)
        longest = max(longest, (last - first).days + 1)
    return longest


class _Cutovers:
    """Cut-overs scheduled so far, per class as (start, end) sorted by start, for the soak rule."""

    def __init__(self, holidays: Collection[dt.date] = ()) -> None:
        self.kinds: dict[str, tuple[list[dt.datetime], list[dt.datetime], list[dt.timedelta]]] = {}
        self.holidays = frozenset(holidays)
        # a run of holidays (with the weekends next to it) lengthens the farthest a soak reaches
        self.reach = max(_SOAK_REACH, dt.timedelta(days=_longest_break(self.holidays) + 3))

    def clear(self, kind: str, begin: dt.datetime, end: dt.datetime) -> bool:
        """Whether a cut-over of ``kind`` from ``begin`` to ``end`` keeps a business day from every other class.

        Both ways: no cut-over of another class ends less than a business day before it
        starts (``soak_end``), and none starts before a business day after it ends (steps
        are placed in run order, not in time order, so a later one may fall in front).
        Only the cut-overs that start between ``begin`` less the reach of a soak and the
        longest cut-over of their class, and the end of this one's soak, can be too close.
        """
        until = soak_end(end, self.holidays)
        for other, (starts, ends, longest) in self.kinds.items():
            if other == kind:
                continue
            lo = bisect.bisect_left(starts, begin - self.reach - longest[0])
            hi = bisect.bisect_left(starts, until)
            if any(begin < soak_end(e, self.holidays) for e in ends[lo:hi]):
                return False
        return True

    def add(self, kind: str, begin: dt.datetime, end: dt.datetime) -> None:
        starts, ends, longest = self.kinds.setdefault(kind, ([], [], [dt.timedelta()]))
        at = bisect.bisect_right(starts, begin)
        starts.insert(at, begin)
        ends.insert(at, end)
        longest[0] = max(longest[0], end - begin)


def _fits(
    step: Step,
    slot: dt.datetime,
    begin: dt.datetime,
    need: int,
    shared: Mapping[tuple[str, dt.datetime], int],
    cutovers: _Cutovers,
) -> bool:
    """Whether the window occurrence starting at ``slot`` can take the step (share and cut-over rules)."""
    if step.window_share is not None:
        name, most = step.window_share
        if shared.get((name, slot), 0) >= most:
            return False
    end = begin + dt.timedelta(minutes=need)
    return not step.cutover or cutovers.clear(step.cutover, begin, end)


def critical_path(ordered: Sequence[Step]) -> tuple[str, ...]:
    """Ids on the longest path through durations plus waits (steps in run order).

    Ties go to the step earlier in run order, so the path is deterministic.
    """
    length: dict[str, int] = {}
    via: dict[str, str] = {}
    for step in ordered:
        best, best_pre = 0, ""
        for pre in step.prerequisites:
            if length[pre] > best:
                best, best_pre = length[pre], pre
        length[step.id] = best + step.duration_minutes + step.wait_minutes
        if best_pre:
            via[step.id] = best_pre
    if not ordered:
        return ()
    end = max(ordered, key=lambda s: length[s.id]).id  # max keeps the first of equals
    path = [end]
    while path[-1] in via:
        path.append(via[path[-1]])
    return tuple(reversed(path))


def schedule_steps(
    ordered: Sequence[Step],
    start: dt.date,
    windows: Sequence[MaintenanceWindow] = (),
    critical: Iterable[str] = (),
    holidays: Collection[dt.date] = (),
) -> Mapping[str, ScheduledStep]:
    """Earliest start and finish of each step (in run order), and its wave.

    A step may start when every prerequisite has finished and its wait has
    passed (waits run in calendar time, windows or not); steps that need a
    window start in the first window occurrence they fit in (with their
    ``window_minutes`` where longer than their duration) that has room for
    their ``window_share`` and, for a ``fresh_window`` step, is none of the
    occurrences its windowed prerequisites ran in. A production cut-over
    (``Step.cutover``, its class) also keeps a whole business day
    (:data:`BUSINESS_DAY`, :func:`soak_end`) from every cut-over of another
    class, before and after it: so a window occurrence holds one class only,
    and a fault found the next working day points at one change (the rule
    applies with maintenance windows; without them nothing is separated; ``holidays``
    are no business days). A wave is the
    window occurrence a step starts in (or its calendar day outside windows),
    numbered from 1 in time order. (:class:`Timeline` places the steps.)
    """
    return Timeline.of(ordered, start, windows, holidays=holidays).scheduled(critical)


class _Placed(NamedTuple):
    """Where :meth:`Timeline.place` put one step, and what it took (enough to replay it)."""

    step: Step
    begin: dt.datetime
    finish: dt.datetime
    slot: dt.datetime
    """The window occurrence it starts in, or the midnight of its day (its wave)."""
    occurrence: dt.datetime | None
    """The window occurrence it took (a windowed step placed in a window), else None."""
    need: int
    """Minutes it holds its window (duration or ``window_minutes``)."""


class Timeline:
    """Steps placed one by one in run order (the scheduling rule of :func:`schedule_steps`).

    It can continue an earlier timeline (:meth:`of` with ``earlier``) after steps were added
    or changed: a step is placed again only where its place may differ, otherwise the
    earlier placement is copied (the result is the one a full pass gives). A step's place
    depends on its prerequisites' places and, for a cut-over or a step with a
    ``window_share``, on the cut-overs and shares placed before it. So while the run order
    repeats the earlier one (new steps that are neither do not count), every placement
    is copied; after that, a step that is neither keeps its earlier place when it is
    unchanged and no prerequisite moved. The certificate renewal
    (:func:`migrator.plan.phases.assemble_plan`) is scheduled this way: one scheduling
    pass, not two.
    """

    def __init__(
        self,
        start: dt.date,
        windows: Sequence[MaintenanceWindow] = (),
        holidays: Collection[dt.date] = (),
    ) -> None:
        self.start = start
        self.windows = tuple(windows)
        self.holidays = frozenset(holidays)
        self._origin = dt.datetime.combine(start, DAY_START)
        self.placed: list[_Placed] = []
        self.copied = 0
        """How many placements were copied from an earlier timeline."""
        self._done: dict[str, dt.datetime] = {}
        self._shared: dict[tuple[str, dt.datetime], int] = {}
        self._occ: dict[str, dt.datetime] = {}
        self._cutovers = _Cutovers(self.holidays)

    @classmethod
    def of(
        cls,
        ordered: Sequence[Step],
        start: dt.date,
        windows: Sequence[MaintenanceWindow] = (),
        earlier: Timeline | None = None,
        holidays: Collection[dt.date] = (),
    ) -> Timeline:
        """``ordered`` placed in turn, copying from ``earlier`` (same start and windows) what
        cannot have moved."""
        out = cls(start, windows, holidays)
        same = (start, out.windows, out.holidays)
        if earlier is None or (earlier.start, earlier.windows, earlier.holidays) != same:
            for step in ordered:
                out.place(step)
            return out
        old = earlier.placed
        was_at = {p.step.id: p for p in old}
        moved: set[str] = set()  # ids placed anew whose place is new or differs
        head = 0  # the run order repeats the earlier one up to here (-1: no longer)
        for step in ordered:
            was = was_at.get(step.id)
            shares = step.window_share is not None or bool(step.cutover)
            if was is None or not (was.step is step or was.step == step):
                if head < 0 or shares or was is not None:
                    head = -1  # the orders part here (a new step that is neither does not count)
                out.place(step)  # new or changed: placed anew, and so is what waits for it
                moved.add(step.id)
                continue
            if head >= 0 and old[head] is was:
                out._keep(was)
                out.copied += 1
                head += 1
                continue
            head = -1
            if not shares and moved.isdisjoint(step.prerequisites):
                out._keep(was)
                out.copied += 1
                continue
            out.place(step)
            if out.placed[-1][1:] != was[1:]:
                moved.add(step.id)
        return out

    def place(self, step: Step) -> None:
        """Place the next step in run order (its prerequisites are placed)."""
        done = self._done
        ready = max((done[p] for p in step.prerequisites), default=self._origin)
        windows = self.windows
        slot: dt.datetime | None
        need = 0
        if needs_window(step):
            need = max(step.duration_minutes, step.window_minutes)
            # Occurrences a prerequisite ran in (``fresh_window``: a change of its own night).
            occ = self._occ
            taken = {occ[p] for p in step.prerequisites if p in occ} if step.fresh_window else set()
            begin, slot = fit_window(ready, need, windows)
            while slot is not None and (
                slot in taken or not _fits(step, slot, begin, need, self._shared, self._cutovers)
            ):
                # That occurrence is full, taken, or too close to a cut-over of another class: the next one.
                ready = max(ready, _occurrence_end(slot, windows))
                begin, slot = fit_window(ready, need, windows)
            occurrence = slot
        else:
            begin = ready
            slot = _containing(begin, windows) if windows else None
            occurrence = None
        finish = begin + dt.timedelta(minutes=step.duration_minutes)
        slot_key = slot if slot is not None else dt.datetime.combine(begin.date(), dt.time())
        self._keep(_Placed(step, begin, finish, slot_key, occurrence, need))

    def _keep(self, placed: _Placed) -> None:
        step, occurrence = placed.step, placed.occurrence
        self.placed.append(placed)
        self._done[step.id] = placed.finish + dt.timedelta(minutes=step.wait_minutes)
        if occurrence is not None:
            self._occ[step.id] = occurrence
            if step.window_share is not None:
                key = (step.window_share[0], occurrence)
                self._shared[key] = self._shared.get(key, 0) + 1
            if step.cutover:
                end = placed.begin + dt.timedelta(minutes=placed.need)
                self._cutovers.add(step.cutover, placed.begin, end)

    def scheduled(self, critical: Iterable[str] = ()) -> dict[str, ScheduledStep]:
        """Each placed step's schedule (waves numbered from 1 in time order)."""
        on_path = frozenset(critical)
        slots = sorted({p.slot for p in self.placed})
        wave_of = {s: n for n, s in enumerate(slots, start=1)}
        return {
            p.step.id: ScheduledStep(
                step_id=p.step.id,
                wave=wave_of[p.slot],
                start=p.begin,
                finish=p.finish,
                critical=p.step.id in on_path,
            )
            for p in self.placed
        }


def _in_season(day: dt.date) -> bool:
    (m1, d1), (m2, d2) = HOLIDAY_SEASON
    return (day.month, day.day) >= (m1, d1) or (day.month, day.day) <= (m2, d2)


def holiday_soak_findings(plan: MigrationPlan, holidays: Collection[dt.date]) -> list[Finding]:
    """Warnings where the business day kept between two cut-overs of different classes falls only on
    24 December to 1 January, and no ``plan.holidays`` are listed (review 5, n5).

    The scheduler counts those days as business days when it is not told otherwise; users off
    on holiday find nothing, and a fault of the first change surfaces after the second.
    """
    if holidays:
        return []
    cutovers = sorted(
        (plan.schedule[s.id].start, plan.schedule[s.id].finish, s.cutover, s.id)
        for s in plan.steps
        if s.cutover and s.id in plan.schedule
    )
    out: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    last: dict[str, tuple[dt.datetime, str]] = {}  # class -> latest (finish, step id) so far
    for start, end, kind, sid in cutovers:
        before = [(f, i, k) for k, (f, i) in last.items() if k != kind and f <= start]
        last[kind] = max(last.get(kind, (end, sid)), (end, sid))
        if not before:
            continue
        finish, first, other = max(before)
        day = finish.date() if finish.time() <= BUSINESS_DAY[0] else finish.date() + dt.timedelta(1)
        soak = []
        while dt.datetime.combine(day, BUSINESS_DAY[1]) <= start:
            if is_business_day(day):
                soak.append(day)
            day += dt.timedelta(days=1)
        if not soak or not all(_in_season(d) for d in soak) or (other, kind) in seen:
            continue
        seen.add((other, kind))
        days = ", ".join(f"{d:%a %Y-%m-%d}" for d in soak)
        out.append(
            Finding(
                Severity.WARNING,
                "schedule.holiday-soak",
                sid,
                f"the only business day(s) between {first} ({other}, {finish:%Y-%m-%d}) and "
                f"{sid} ({kind}, {start:%Y-%m-%d}) are {days}, between 24 December and 1 "
                "January: with users away a fault of the first change may show only after the "
                "second; plan.holidays lists no public holiday, so the plan counted them as "
                "working days",
                fix=(
                    "list the public holidays of your sites under plan.holidays in inventory.yaml "
                    "(dates, YYYY-MM-DD) and plan again: the plan then keeps an ordinary business "
                    "day between the two"
                ),
            )
        )
    return out
