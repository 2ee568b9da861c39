"""Benchmark: ``migrator plan`` end to end (CLI) on contoso with N generated mailboxes.

Copies inventories/contoso to a temporary folder, replaces its mailbox exports
by N mailboxes (on contoso's three 2010 databases) with about 3.3 permission
links each, runs ``python -m migrator plan`` in a subprocess and prints its
wall time and peak resident memory (the child's ru_maxrss): loading the CSVs,
checking, every planner, the graph, and writing every output including the
N-row Mailboxes sheet and the wave CSVs.

    .venv/bin/python benchmarks/bench_moves_cli.py [mailboxes]
"""

from __future__ import annotations

import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DBS = (("DB10-LON-01", "ex10-02"), ("DB10-LON-02", "ex10-02"), ("DB10-DUB-01", "ex10-03"))


def write_exports(folder: Path, n: int) -> None:
    rnd = random.Random(14)
    for old in folder.glob("Mailbox*.csv"):
        old.unlink()
    mbx = [
        '"Identity","Alias","PrimarySmtpAddress","RecipientTypeDetails","Database","ServerName","ExchangeGuid"'
    ]
    stats = ['"MailboxGuid","TotalItemSize","TotalItemSizeBytes"']
    for i in range(n):
        db, server = DBS[i % 3]
        g = uuid.UUID(int=i + 1)
        size = int(rnd.lognormvariate(21.5, 1.2))
        mbx.append(f'"u{i}","u{i}","u{i:06d}@contoso.com","UserMailbox","{db}","{server}","{g}"')
        stats.append(f'"{g}","{size:,} B ({size:,} bytes)","{size}"')
    perms = ['"Mailbox","Trustee","Permission"']
    team = 0
    while team < n:
        size = rnd.randint(5, 40)
        members = range(team, min(n, team + size))
        for _ in range(size * 3 // 2):
            a, b = rnd.choice(members), rnd.choice(members)
            if a != b:
                perms.append(f'"u{a:06d}@contoso.com","u{b:06d}@contoso.com","FullAccess"')
        team += size
    dbs = ['"Name","Server","MasterServerOrAvailabilityGroup","DatabaseCopies"']
    dbs += [f'"{d}","{s.upper()}","{s.upper()}","1"' for d, s in DBS]
    dbs += [
        '"DB16-LON-01","EX16-01","DAG16","2"',
        '"DB16-LON-02","EX16-01","DAG16","2"',
        '"DB16-DUB-01","EX16-02","DAG16","2"',
    ]
    for name, lines in (
        ("Mailboxes.csv", mbx),
        ("MailboxStatistics.csv", stats),
        ("MailboxPermissions.csv", perms),
        ("MailboxDatabases.csv", dbs),
    ):
        (folder / name).write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))
    yaml = (folder / "inventory.yaml").read_text(encoding="utf-8")
    yaml = yaml.replace("max_mailboxes: 12", "max_mailboxes: 500").replace(
        "max_gb: 60", "max_gb: 2000"
    )
    yaml = yaml.replace("max_per_source_server: 10", "max_per_source_server: 250")
    yaml = yaml.replace("max_per_target_database: 6", "max_per_target_database: 200")
    (folder / "inventory.yaml").write_text(yaml, encoding="utf-8")


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 30_000
    with tempfile.TemporaryDirectory() as tmp:
        inv = Path(tmp) / "contoso"
        shutil.copytree(ROOT / "inventories" / "contoso", inv)
        write_exports(inv, n)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "migrator", "plan", str(inv), "-o", str(Path(tmp) / "plan")],
            capture_output=True,
            text=True,
            check=False,
        )
        t1 = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(proc.stdout.strip().splitlines()[-3:] if proc.stdout else proc.stderr[-2000:])
        waves = len(list((Path(tmp) / "plan" / "moves").glob("wave-*[0-9].csv")))
    print(
        f"mailboxes {n:,}: migrator plan {t1 - t0:.1f} s, peak RSS {peak:,.0f} MiB, {waves} wave CSVs, exit {proc.returncode}"
    )
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
