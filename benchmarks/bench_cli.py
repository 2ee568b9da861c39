"""The commands a consultant runs, end to end through the CLI, beside pandas reading the same files.

For each size (default 30,000 and 300,000 users; relay connectors scale with
them, 2,000 at 300,000) it writes an inventory in the exports' own formats
(``gen_inventory.py``), then runs, one after another in the same run:

- ``pandas``: a Python process that reads every export of the folder with
  ``pandas.read_csv`` (the floor: reading the files and nothing else);
- ``migrator check`` and ``migrator plan`` into a fresh folder;
- ``migrator status`` on the ``checklist.xlsx`` that plan wrote;
- ``migrator plan`` again into the same folder (the re-plan carries the
  tracking over).

Each is a separate process, timed by wall clock and by CPU time (user +
system of that child, from ``wait4``) with its peak memory (``ru_maxrss``).
On a shared machine the wall clock mostly measures the neighbours: the
ratios and exponents are judged on CPU time, and both are printed. Bars (issue 18): at 300,000 users ``plan``
within 10x the pandas read and under 2 GiB, ``check`` within 4x; the growth
exponent from the smallest to the largest size at most 1.1 for both; status
and the re-plan succeed. The machine's load average is printed: timings on a
shared machine are noisy, and only figures of one run compare.

At the end a table puts the sizes side by side (pandas read, ``check`` CPU and
wall time, peak memory, ratio to pandas) with the growth exponent between each
pair of sizes. ``--check-only`` runs only pandas and ``check`` (minutes instead
of an hour at 300,000 users on a shared machine); ``--org-wide-alias`` writes
the inventories with one SMTP alias in front of every site (the quadratic relay
layout, in ``inventory-N-org-wide``) instead of one alias per site.

    python benchmarks/bench_cli.py [--users 30000 100000 300000] [--work /tmp/bench-cli]
        [--check-only] [--org-wide-alias]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_inventory import generate

PANDAS_READ = r"""
import sys
from pathlib import Path
import pandas as pd
folder = Path(sys.argv[1])
rows = 0
for f in sorted(folder.glob("*.csv")):
    head = f.read_bytes()[:4]
    enc = "utf-16" if head[:2] == b"\xff\xfe" else "utf-8-sig"
    with f.open(encoding=enc) as fh:
        typed = fh.readline().startswith("#TYPE")
    frame = pd.read_csv(f, encoding=enc, skiprows=1 if typed else 0, dtype=str, keep_default_na=False)
    rows += len(frame)
print(rows)
"""


Result = tuple[float, float, int, str, float]
"""(CPU seconds, peak MiB, exit code, last line of output, wall seconds)."""


def _run(args: list[str]) -> Result:
    """Run one process and measure it."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.stdout is not None
    output = proc.stdout.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = [line for line in output.splitlines() if line.strip()]
    cpu = usage.ru_utime + usage.ru_stime
    return cpu, usage.ru_maxrss / 1024, proc.returncode, lines[-1] if lines else "", wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[30_000, 300_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-cli"))
    parser.add_argument("--check-only", action="store_true", help="time pandas and check only")
    parser.add_argument(
        "--org-wide-alias", action="store_true", help="one SMTP alias for every site (quadratic)"
    )
    args = parser.parse_args()
    migrator = [sys.executable, "-m", "migrator"]
    print(f"load average at start: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)")
    results: dict[int, dict[str, Result]] = {}
    for users in sorted(args.users):
        suffix = "-org-wide" if args.org_wide_alias else ""
        inv = args.work / f"inventory-{users}{suffix}"
        if not (inv / "inventory.yaml").is_file():
            counts = generate(inv, users, org_wide_alias=args.org_wide_alias)
            print(f"wrote {inv}: {counts}")
        out = args.work / f"plan-{users}{suffix}"
        shutil.rmtree(out, ignore_errors=True)
        r = {
            "pandas read": _run([sys.executable, "-c", PANDAS_READ, str(inv)]),
            "check": _run([*migrator, "check", str(inv)]),
        }
        if not args.check_only:
            r["plan"] = _run([*migrator, "plan", str(inv), "-o", str(out)])
            r["status"] = _run([*migrator, "status", str(out / "checklist.xlsx")])
            r["re-plan"] = _run([*migrator, "plan", str(inv), "-o", str(out)])
        results[users] = r
        base = r["pandas read"][0]
        print(f"\n{users} users (load average {os.getloadavg()[0]:.2f}; x = times pandas):")
        wall_base = r["pandas read"][4]
        for name, (sec, mib, code, last, wall) in r.items():
            ratio = f"{sec / base:5.1f}x" if name != "pandas read" else " " * 6
            wall_ratio = f"{wall / wall_base:5.1f}x" if name != "pandas read" else " " * 6
            print(
                f"  {name:<12} cpu {sec:7.2f} s {ratio}  wall {wall:7.2f} s {wall_ratio}  "
                f"{mib:6.0f} MiB  exit {code}  {last[:70]}"
            )
    sizes = sorted(results)
    _side_by_side(results)
    commands = ("pandas read", "check") if args.check_only else ("pandas read", "check", "plan")
    if len(sizes) >= 2:
        small, big = sizes[0], sizes[-1]
        print(f"\ngrowth {small} -> {big} users (exponent: log(time ratio) / log(size ratio)):")
        for name in commands:
            t0, t1 = results[small][name][0], results[big][name][0]
            exponent = math.log(t1 / t0) / math.log(big / small)
            w0, w1 = results[small][name][4], results[big][name][4]
            wall_exp = math.log(w1 / w0) / math.log(big / small)
            print(
                f"  {name:<12} cpu {t0:7.2f} s -> {t1:7.2f} s  exponent {exponent:.2f}   "
                f"(wall {w0:.2f} s -> {w1:.2f} s, exponent {wall_exp:.2f})"
            )
    big = results[sizes[-1]]
    base = big["pandas read"][0]
    bars = [("check within 4x pandas", big["check"][0] <= 4 * base)]
    if not args.check_only:
        bars += [
            ("plan within 10x pandas", big["plan"][0] <= 10 * base),
            ("plan under 2 GiB", big["plan"][1] < 2048),
            ("status succeeds", big["status"][2] == 0),
            ("re-plan succeeds", big["re-plan"][2] == 0),
        ]
    if len(sizes) >= 2:
        small = results[sizes[0]]
        for name in commands[1:]:
            exponent = math.log(big[name][0] / small[name][0]) / math.log(sizes[-1] / sizes[0])
            bars.append((f"{name} growth exponent <= 1.1", exponent <= 1.1))
    print(f"\nbars at {sizes[-1]} users (CPU time):")
    for label, ok in bars:
        print(f"  {'met' if ok else 'NOT MET'}: {label}")
    print(f"load average at end: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)")


def _side_by_side(results: dict[int, dict[str, Result]]) -> None:
    """One line per size: pandas read, check (CPU, wall, peak memory, ratio), growth exponents."""
    sizes = sorted(results)
    print(
        "\nside by side (CPU = user + system of the process; x = check CPU / pandas CPU;"
        " exponent = log(check CPU ratio) / log(size ratio) from the previous size):"
    )
    print(
        f"  {'users':>8}  {'pandas cpu':>10} {'wall':>7} {'MiB':>5}  {'check cpu':>9} {'wall':>7}"
        f" {'MiB':>5} {'ratio':>6} {'exponent':>8}"
    )
    for k, users in enumerate(sizes):
        p, c = results[users]["pandas read"], results[users]["check"]
        exponent = ""
        if k:
            before = results[sizes[k - 1]]["check"][0]
            exponent = f"{math.log(c[0] / before) / math.log(users / sizes[k - 1]):.2f}"
        print(
            f"  {users:>8}  {p[0]:9.2f}s {p[4]:6.1f}s {p[1]:5.0f}  {c[0]:8.2f}s {c[4]:6.1f}s"
            f" {c[1]:5.0f} {c[0] / p[0]:5.1f}x {exponent:>8}"
        )


if __name__ == "__main__":
    main()
