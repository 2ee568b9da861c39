"""A plan folder is replaced whole or not at all (see migrator/outdir.py and docs/plan.md).

Two plans of contoso that differ in every dated file (A starts 2027-01-04, B 2027-02-01) are
written; a re-plan of A into B is killed with SIGKILL at each point of the switch and at random
moments, and the folder must then hold exactly plan A or exactly plan B (B re-planned over A:
with the backup of A's workbook), never a mix. Output folder problems are refused before
anything moves, with the old plan left byte for byte as it was.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from migrator import outdir
from migrator.folder_lock import lock_path, plan_lock
from migrator.outdir import OutputFolderError
from migrator.pipeline import CHECKLIST, MANIFEST, plan_folder

ROOT = Path(__file__).resolve().parent.parent
CONTOSO = ROOT / "inventories" / "contoso"
DAY_A, DAY_B = "2027-01-04", "2027-02-01"

Snapshot = dict[str, bytes]


def snapshot(folder: Path) -> Snapshot:
    """Every file under ``folder`` (links not followed); backups named by their time as one key.

    Workbooks are compared by their cells, with the folder the workbook names as the source
    of its tracking written as ``<OUT>`` (references are made in other folders).
    """
    out: Snapshot = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink():
            rel = p.relative_to(folder).as_posix()
            if rel.startswith("checklist.") and rel != CHECKLIST:
                rel = "checklist.<backup>.xlsx"
            out[rel] = _cells(p) if p.suffix == ".xlsx" else p.read_bytes()
    return out


def _cells(book: Path) -> bytes:
    wb = CalamineWorkbook.from_path(str(book))
    dump = repr([(n, wb.get_sheet_by_name(n).to_python()) for n in wb.sheet_names])
    return re.sub(r"/[^'\"]*/checklist\.", "<OUT>/checklist.", dump).encode("utf-8")


@pytest.fixture(scope="module")
def refs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Plan A in a fresh folder, and plan B written over a copy of it (what a re-plan leaves)."""
    base = tmp_path_factory.mktemp("refs")
    a = base / "a"
    plan_folder(CONTOSO, a, start=dt.date.fromisoformat(DAY_A))
    ba = base / "ba"
    shutil.copytree(a, ba)
    plan_folder(CONTOSO, ba, start=dt.date.fromisoformat(DAY_B))
    assert snapshot(a) != snapshot(ba)
    return {"a": a, "ba": ba}


def _state(folder: Path, refs: dict[str, Path]) -> str:
    if not folder.exists():
        return "missing"
    got = snapshot(folder)
    for name, ref in refs.items():
        if got == snapshot(ref):
            return name
    return (
        "MIX: "
        + ", ".join(
            sorted(
                k for k in {*got, *snapshot(refs["a"])} if got.get(k) != snapshot(refs["a"]).get(k)
            )
        )[:400]
    )


def _next_run_recovers(out: Path) -> None:
    """What the next ``migrator plan`` into ``out`` does first: take the lock, then recover."""
    with plan_lock(out):
        outdir.recover(out)


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


# --------------------------------------------------------------------------- output folder problems


def test_replan_keeps_the_teams_files_and_the_backup(refs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "plan"
    shutil.copytree(refs["a"], out)
    (out / "notes.txt").write_text("ours", "utf-8")
    (out / "mine").mkdir()
    (out / "mine" / "x.txt").write_text("ours too", "utf-8")
    plan_folder(CONTOSO, out, start=dt.date.fromisoformat(DAY_B))
    assert (out / "notes.txt").read_text("utf-8") == "ours"
    assert (out / "mine" / "x.txt").read_text("utf-8") == "ours too"
    after = snapshot(out)
    del after["notes.txt"], after["mine/x.txt"]
    assert after == snapshot(refs["ba"])
    assert _leftovers(tmp_path) == []


def test_read_only_parent_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        with pytest.raises(OutputFolderError) as info:
            plan_folder(CONTOSO, parent / "plan")
    finally:
        parent.chmod(0o755)
    assert str(info.value) == (
        f"{parent}: the folder is read-only; expected a folder you can write to (make it "
        "writable, e.g. chmod u+w, or choose another -o); nothing was changed"
    )
    assert list(parent.iterdir()) == []


def test_read_only_plan_folder_is_left_as_it_was(refs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "plan"
    shutil.copytree(refs["a"], out)
    out.chmod(0o555)
    try:
        with pytest.raises(OutputFolderError) as info:
            plan_folder(CONTOSO, out, start=dt.date.fromisoformat(DAY_B))
    finally:
        out.chmod(0o755)
    assert str(info.value).startswith(f"{out}: the folder is read-only;")
    assert _state(out, refs) == "a"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "make", "found", "wanted"),
    [
        (CHECKLIST, "folder", "folder", "file"),
        ("plan.json", "folder", "folder", "file"),
        ("runbooks", "file", "file", "folder"),
        ("report.html", "loop", "symbolic link", "file"),
    ],
)
def test_wrong_kind_in_the_plan_folder_is_refused_and_nothing_moves(
    name: str, make: str, found: str, wanted: str, refs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "plan"
    shutil.copytree(refs["a"], out)
    victim = out / name
    shutil.rmtree(victim) if victim.is_dir() else victim.unlink()
    if make == "folder":
        victim.mkdir()
        (victim / "kept.txt").write_text("the team's", "utf-8")
    elif make == "file":
        victim.write_text("the team's", "utf-8")
    else:
        victim.symlink_to(victim)
    before = snapshot(out)
    with pytest.raises(OutputFolderError) as info:
        plan_folder(CONTOSO, out, start=dt.date.fromisoformat(DAY_B))
    assert str(info.value) == (
        f"{victim}: is a {found}, but the plan writes a {wanted} there; expected it out of the "
        "way (move or delete it, then plan again); nothing was changed"
    )
    assert snapshot(out) == before
    assert _leftovers(tmp_path) == []


def test_output_path_that_is_a_symlink_loop(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    out.symlink_to(out)
    with pytest.raises(OutputFolderError) as info:
        plan_folder(CONTOSO, out)
    assert str(info.value) == (
        f"{out}: is a symbolic link that cannot be followed (Too many levels of symbolic links); "
        "expected a folder: point -o at a real folder"
    )


def test_output_path_that_is_a_link_to_a_folder_replaces_the_folder(
    refs: dict[str, Path], tmp_path: Path
) -> None:
    real = tmp_path / "real"
    shutil.copytree(refs["a"], real)
    (tmp_path / "plan").symlink_to(real)
    plan_folder(CONTOSO, tmp_path / "plan", start=dt.date.fromisoformat(DAY_B))
    assert (tmp_path / "plan").is_symlink()
    assert _state(real, refs) == "ba"


def test_the_next_run_removes_leftovers_of_killed_runs(
    refs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "plan"
    shutil.copytree(refs["a"], out)
    dead = _dead_pid()
    for what in ("staging", "old"):
        left = tmp_path / f".plan.{what}-{dead}"
        left.mkdir()
        (left / "plan.json").write_text("{}", "utf-8")
    plan_folder(CONTOSO, out, start=dt.date.fromisoformat(DAY_B))
    assert _leftovers(tmp_path) == []
    assert _state(out, refs) == "ba"


def test_recover_finishes_a_switch_killed_between_the_two_renames(
    refs: dict[str, Path], tmp_path: Path
) -> None:
    """The fallback switch (no RENAME_EXCHANGE): killed after OUT -> .OUT.old, before staging -> OUT."""
    dead = _dead_pid()
    out = tmp_path / "plan"
    shutil.copytree(refs["a"], tmp_path / f".plan.old-{dead}")
    staging = tmp_path / f".plan.staging-{dead}"
    shutil.copytree(refs["ba"], staging)
    outdir.seal(staging)
    outdir.recover(out)
    assert _state(out, refs) == "ba"
    assert _leftovers(tmp_path) == []
    # Killed before the staging folder was sealed: the old plan is put back.
    shutil.rmtree(out)
    shutil.copytree(refs["a"], tmp_path / f".plan.old-{dead}")
    shutil.copytree(refs["ba"], staging)
    outdir.recover(out)
    assert _state(out, refs) == "a"
    assert _leftovers(tmp_path) == []


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# --------------------------------------------------------------------------- kill -9 during a re-plan


def _replan(out: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "migrator", "plan", str(CONTOSO), "-o", str(out), "--start", DAY_B],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("point", "exchange", "expected"),
    [
        ("staged", True, "a"),
        ("swapped", True, "ba"),
        ("staged", False, "a"),
        ("swapping", False, "missing"),  # the fallback's stated window: no plan, never a mix
        ("swapped", False, "ba"),
    ],
    ids=lambda v: str(v),
)
def test_kill_at_each_point_of_the_switch_leaves_one_whole_plan(
    point: str, exchange: bool, expected: str, refs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "plan"
    shutil.copytree(refs["a"], out)
    env = {outdir.TEST_KILL_ENV: point}
    if not exchange:
        env["MIGRATOR_NO_RENAME_EXCHANGE"] = "1"
    child = _replan(out, env)
    assert child.wait(timeout=300) == -signal.SIGKILL
    assert _state(out, refs) == expected
    assert lock_path(out).is_file()  # the killed run's lock (migrator/folder_lock.py)
    # The next run takes the stale lock over and cleans up (and finishes a fallback switch).
    _next_run_recovers(out)
    assert _state(out, refs) in {"a", "ba"}
    assert _leftovers(tmp_path) == []


def test_kills_at_random_moments_never_leave_a_mix(refs: dict[str, Path], tmp_path: Path) -> None:
    """SIGKILL at seeded random moments around the end of a re-plan, when files are switched."""
    rng = random.Random(19)
    out = tmp_path / "plan"
    shutil.copytree(refs["a"], out)
    started = time.monotonic()
    assert _replan(out, {}).wait(timeout=300) == 0  # calibration: how long a whole re-plan takes
    duration = time.monotonic() - started
    seen = []
    for _ in range(6):
        shutil.rmtree(out)
        shutil.copytree(refs["a"], out)
        child = _replan(out, {})
        time.sleep(rng.uniform(0.75, 1.05) * duration)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=300)
        state = _state(out, refs)
        seen.append(state)
        assert state in {"a", "ba"}, seen
        _next_run_recovers(out)
        assert _leftovers(tmp_path) == []
    print("states after random kills:", seen)


def test_manifest_lists_what_the_plan_wrote(refs: dict[str, Path]) -> None:
    import json

    listed = json.loads((refs["ba"] / MANIFEST).read_text("utf-8"))
    assert CHECKLIST in listed
    assert not any(x.startswith("checklist.") and x != CHECKLIST for x in listed)
    assert not (refs["ba"] / outdir.COMPLETE).exists()


def test_mount_point_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bind-mounted -o (docker -v $PWD/plan:/plan) cannot be renamed: said up front (simulated)."""
    out = tmp_path / "plan"
    out.mkdir()
    real = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: str(p) == str(out) or real(p))
    with pytest.raises(OutputFolderError) as info:
        outdir.output_folder(out)
    assert str(info.value) == (
        f"{out}: is a mount point, and a plan folder is replaced whole by renaming it, which a "
        f"mount point does not allow; expected a folder inside the mounted one (e.g. -o "
        f"{out}/plan) or the parent mounted instead; nothing was changed"
    )


def test_files_an_older_windows_plan_listed_with_backslashes_are_not_carried_over(
    refs: dict[str, Path], tmp_path: Path
) -> None:
    import json

    out = tmp_path / "plan"
    shutil.copytree(refs["a"], out)
    stale = out / "runbooks" / "20-relay" / "EX99-gone.ps1"
    stale.write_bytes(b"old")
    listed = json.loads((out / MANIFEST).read_text("utf-8"))
    listed = [x.replace("/", "\\") for x in [*listed, "runbooks/20-relay/EX99-gone.ps1"]]
    (out / MANIFEST).write_text(json.dumps(listed), "utf-8")
    plan_folder(CONTOSO, out, start=dt.date.fromisoformat(DAY_B))
    assert not stale.exists()
    assert _state(out, refs) == "ba"
