"""Benchmark: plan the move waves of 300,000 mailboxes with 1,000,000 permission links.

Issue 14's target: under 10 s and under 2 GiB. The organisation is generated
in memory (model objects, no CSV parsing): 300,000 mailboxes on 60 databases
of 20 servers in 4 sites, teams of 5-40 people with delegate links inside the
team, 10% of the links across teams (which makes one giant component the
planner must cut), 40 service accounts with rights on thousands of
mailboxes, 2% of the mailboxes to Exchange Online. Prints the time of
``plan_moves`` (wall and CPU: the build machine is shared, so wall time there
is several times the CPU time), the garbage collections that ran meanwhile
(the collector stays on: pausing it is not allowed, issue 17), and the peak
resident memory of the process (ru_maxrss).

    .venv/bin/python benchmarks/bench_moves.py [mailboxes] [links]
"""

from __future__ import annotations

import gc
import random
import resource
import sys
import time

from migrator.mailboxes import Mailbox, MailboxKind, MailboxLink, MovesPolicy, OnlineRule, Right
from migrator.model import Inventory
from migrator.plan.moves import plan_moves

RIGHTS = (Right.FULL_ACCESS, Right.SEND_AS, Right.SEND_ON_BEHALF, Right.CALENDAR)


def generate(n: int, n_links: int, seed: int = 14) -> Inventory:
    rnd = random.Random(seed)
    servers = [f"EX10-{i:02d}" for i in range(20)]
    mailboxes = []
    for i in range(n):
        server = servers[i % 20]
        mailboxes.append(
            Mailbox(
                identity=f"contoso.com/Users/User {i}",
                primary_smtp=f"user{i:06d}@contoso.com",
                kind=MailboxKind.USER if i % 50 else MailboxKind.SHARED,
                database=f"DB-{server}-{i % 3}",
                server=server,
                alias=f"user{i:06d}",
                size_bytes=int(rnd.lognormvariate(21.5, 1.2)),  # median ~2 GB, long tail
                custom_attributes=(("customattribute1", "Cloud"),) if i % 50 == 7 else (),
            )
        )
    links = []
    team_start = 0
    while team_start < n and len(links) < n_links:
        size = rnd.randint(5, 40)
        team = range(team_start, min(n, team_start + size))
        for _ in range(size * 3):
            a, b = rnd.choice(team), rnd.choice(team)
            if a != b:
                links.append((a, b))
        team_start += size
    while len(links) < n_links * 0.97:
        links.append((rnd.randrange(n), rnd.randrange(n)))
    service = [rnd.randrange(n) for _ in range(40)]
    while len(links) < n_links:
        links.append((rnd.randrange(n), rnd.choice(service)))
    link_objs = tuple(
        MailboxLink(mailboxes[a].primary_smtp, mailboxes[b].primary_smtp, RIGHTS[(a + b) % 4])
        for a, b in links[:n_links]
        if a != b
    )
    policy = MovesPolicy(
        target_databases=tuple((s, (f"DB16-{s}-A", f"DB16-{s}-B")) for s in servers),
        max_mailboxes=500,
        max_gb=2000,
        max_per_source_server=100,
        max_per_target_database=60,
        service_account_cap=200,
        online=OnlineRule(attribute=("customattribute1", "Cloud")),
    )
    return Inventory("bench", mailboxes=tuple(mailboxes), mailbox_links=link_objs, moves=policy)


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 300_000
    n_links = int(argv[1]) if len(argv) > 1 else 1_000_000
    t0 = time.perf_counter()
    inv = generate(n, n_links)
    before = [g["collections"] for g in gc.get_stats()]
    t1 = time.perf_counter()
    c1 = time.process_time()
    mp = plan_moves(inv)
    t2 = time.perf_counter()
    c2 = time.process_time()
    runs = [g["collections"] - b for g, b in zip(gc.get_stats(), before, strict=True)]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    broken = sum(len(a.broken_links) for a in mp.assignments) // 2
    print(f"mailboxes {n:,}, links {len(inv.mailbox_links):,}")
    print(f"generate   {t1 - t0:6.2f} s")
    print(f"plan_moves {t2 - t1:6.2f} s wall, {c2 - c1:.2f} s CPU  (target < 10 s)")
    print(f"gc enabled {gc.isenabled()}, collections per generation meanwhile {runs}")
    print(
        f"waves {len(mp.waves):,}, broken links {broken:,}, service accounts {len(mp.service_accounts)}"
    )
    print(f"peak RSS   {peak:,.0f} MiB  (target < 2048 MiB, generation included)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
