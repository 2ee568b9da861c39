"""One `migrator plan` at a time per plan folder (migrator/folder_lock.py, docs/plan.md).

Two real processes: a second `migrator plan` into a folder another run holds is refused with
the holder named and nothing changed; a lock left by a killed run on this host is taken over;
a lock of another host or without a readable holder is never removed by migrator.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from migrator.folder_lock import FolderLockedError, lock_path, plan_lock
from migrator.pipeline import CHECKLIST, plan_folder

ROOT = Path(__file__).resolve().parent.parent
CONTOSO = ROOT / "inventories" / "contoso"

_HOLD = """
import sys
from pathlib import Path
from migrator.folder_lock import plan_lock
with plan_lock(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.readline()
"""


def _plan(out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "migrator", "plan", str(CONTOSO), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "400"},
    )


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _write_lock(out: Path, **holder: object) -> Path:
    path = lock_path(out)
    path.write_text(json.dumps(holder), "utf-8")
    return path


def test_second_process_is_refused_while_the_first_holds_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        lock = json.loads(lock_path(out).read_text("utf-8"))
        assert lock["pid"] == holder.pid and lock["host"] == socket.gethostname()
        second = _plan(out)
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=60)
    assert second.returncode == 1
    user = f", user {lock['user']}" if lock["user"] else ""
    assert second.stderr.strip() == (
        f"error: {out}: another migrator plan is writing this plan folder (process "
        f"{holder.pid} on host {socket.gethostname()}{user}, since {lock['since']}); lock file "
        f"{lock_path(out)}; expected one plan at a time per folder: wait for that run to end "
        "and plan again; if no plan is running there (a run killed on another machine), "
        f"delete {lock_path(out)} and plan again; nothing was changed"
    )
    assert not out.exists()  # nothing was written
    assert not lock_path(out).exists()  # the holder removed its lock when it ended
    assert _plan(out).returncode == 0  # and the next run goes ahead


def test_two_plans_started_together_one_wins_and_the_folder_is_whole(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    cmd = [sys.executable, "-m", "migrator", "plan", str(CONTOSO), "-o", str(out)]
    runs = [
        subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    codes = sorted(r.wait(timeout=300) for r in runs)
    errors = [r.stderr.read() for r in runs if r.stderr is not None]
    # Both succeed only when one ended before the other reached the lock (a slow start):
    # then they ran one after the other, which is what the lock is for.
    assert codes in ([0, 1], [0, 0]), errors
    if codes == [0, 1]:
        assert any("another migrator plan is writing this plan folder" in e for e in errors)
    assert (out / CHECKLIST).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]  # no lock, no staging left


def test_a_lock_left_by_a_killed_run_on_this_host_is_taken_over(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    _write_lock(out, pid=_dead_pid(), host=socket.gethostname(), since="2026-12-07 10:00:00 UTC")
    result = plan_folder(CONTOSO, out)
    assert result.plan is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]


def test_a_lock_of_another_host_is_never_removed(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    lock = _write_lock(
        out, pid=4242, host="LAPTOP-ANNA", user="anna", since="2026-12-07 21:30:00 UTC"
    )
    with pytest.raises(FolderLockedError) as info:
        plan_folder(CONTOSO, out)
    assert str(info.value) == (
        f"{out}: another migrator plan is writing this plan folder (process 4242 on host "
        f"LAPTOP-ANNA, user anna, since 2026-12-07 21:30:00 UTC); lock file {lock}; expected "
        "one plan at a time per folder: wait for that run to end and plan again; if no plan is "
        f"running there (a run killed on another machine), delete {lock} and plan again; "
        "nothing was changed"
    )
    assert lock.is_file() and not out.exists()
    lock.unlink()  # the documented way to clear it
    assert plan_folder(CONTOSO, out).plan is not None


@pytest.mark.parametrize(
    ("age", "who"),
    [
        (0.0, "another migrator plan started writing this plan folder just now"),
        (3600.0, "this plan folder holds a lock file whose holder cannot be read"),
    ],
)
def test_a_lock_without_a_readable_holder_is_held(tmp_path: Path, age: float, who: str) -> None:
    out = tmp_path / "plan"
    lock = lock_path(out)
    lock.write_bytes(b"")  # created, not yet written (or damaged)
    then = time.time() - age
    os.utime(lock, (then, then))
    with pytest.raises(FolderLockedError) as info:
        plan_folder(CONTOSO, out)
    assert str(info.value).startswith(f"{out}: {who}; lock file {lock}; ")
    assert lock.read_bytes() == b""


def test_the_lock_nests_in_one_thread_and_is_refused_to_another(tmp_path: Path) -> None:
    import threading

    out = tmp_path / "plan"
    seen: list[str] = []

    def other() -> None:
        try:
            with plan_lock(out):
                seen.append("taken")
        except FolderLockedError as exc:
            seen.append(str(exc))

    with plan_lock(out), plan_lock(out):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert lock_path(out).is_file()
    assert seen == [
        f"{out}: another thread of this process is writing this plan folder (lock file "
        f"{lock_path(out)}); expected one plan at a time per folder"
    ]
    assert not lock_path(out).exists()


def test_a_stale_break_guard_does_not_block_forever(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    dead = _dead_pid()
    host = socket.gethostname()
    _write_lock(out, pid=dead, host=host, since="x")
    guard = tmp_path / ".plan.lock.break"
    guard.write_text(json.dumps({"pid": dead, "host": host}), "utf-8")
    with plan_lock(out):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == []
