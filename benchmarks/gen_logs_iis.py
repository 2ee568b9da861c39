"""Generate realistic Exchange 2010 IIS (W3C extended) logs for the client-access scan benchmark.

Writes ``EX10-01/W3SVC1/u_exYYMMDDHH.log`` and ``EX10-02/W3SVC1/...`` under OUT in
the field layout Exchange 2010 CAS servers log by default (``date time s-ip
cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent)
sc-status sc-substatus sc-win32-status time-taken``): ActiveSync with its long
query strings, Outlook Anywhere (``/rpc/rpcproxy.dll``), EWS, Autodiscover,
OWA, ECP and OAB; NTLM ``401`` challenges before each authenticated request;
user agents with ``+`` for spaces; monitoring accounts (``extest_``); a few
requests proxied from the 2016 servers; an IIS restart with another
``#Fields`` line in the middle of some files. Files roll hourly, as IIS does.

    python benchmarks/gen_logs_iis.py /tmp/iislogs --lines 3000000

Deterministic for a given --seed. Never write into the repository.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from pathlib import Path

FIELDS = (
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) sc-status sc-substatus sc-win32-status time-taken"
)
FIELDS_AFTER_RESTART = (
    "#Fields: date time s-sitename s-computername s-ip cs-method cs-uri-stem cs-uri-query s-port "
    "cs-username c-ip cs(User-Agent) sc-status sc-substatus sc-win32-status sc-bytes time-taken"
)
AGENTS = (
    "Microsoft+Office/14.0+(Windows+NT+6.1;+Microsoft+Outlook+14.0.7015;+Pro)",
    "Microsoft+Office/14.0+(Windows+NT+6.1;+Microsoft+Outlook+14.0.6025;+Pro)",
    "Microsoft+Office/12.0+(Windows+NT+5.1;+Microsoft+Office+Outlook+12.0.6680;+Pro)",
    "Microsoft+Office/16.0+(Windows+NT+10.0;+Microsoft+Outlook+16.0.4266;+Pro)",
    "Mozilla/5.0+(Windows+NT+6.1;+WOW64;+Trident/7.0;+rv:11.0)+like+Gecko",
)
DEVICES = ("Apple-iPhone9C1/1602.92", "Android/6.0.1-EAS-2.0", "Outlook-iOS-Android/1.0")


def _line(rng: random.Random, when: dt.datetime, sip: str, users: int, modern: bool) -> str:
    u = rng.randrange(users)
    user = f"CONTOSO\\user{u:05d}"
    cip = f"10.{20 + u // 60000}.{(u // 250) % 240}.{u % 250 + 1}"
    kind = rng.random()
    status = "200"
    if kind < 0.30:
        stem, method = "/Microsoft-Server-ActiveSync/default.eas", "POST"
        query = (
            f"User=user{u:05d}&DeviceId=Appl{u:08X}&DeviceType=iPhone&Cmd=Ping"
            "&Log=Prx:V141_Sst20_LdapC0_LdapL0_RpcC29_RpcL31_Hb975_Rto1_Erq1_Pk1234567890_S1_"
        )
        agent = DEVICES[u % len(DEVICES)]
        cip = f"198.51.100.{u % 250 + 1}"
    elif kind < 0.55:
        stem, method, query, agent = (
            "/rpc/rpcproxy.dll",
            "RPC_IN_DATA",
            "ex10-01.contoso.com:6001",
            "MSRPC",
        )
    elif kind < 0.75:
        stem, method, query = "/EWS/Exchange.asmx", "POST", "-"
        agent = AGENTS[u % 4]
    elif kind < 0.85:
        stem, method, query = "/Autodiscover/Autodiscover.xml", "POST", "-"
        agent = AGENTS[u % 4]
    elif kind < 0.92:
        stem, method, query, agent = "/owa/", "GET", "ae=Folder&t=IPF.Note", AGENTS[4]
    elif kind < 0.95:
        stem, method, query, agent = "/ecp/default.aspx", "GET", "-", AGENTS[4]
    elif kind < 0.97:
        stem, method, query = "/OAB/9e3a4b1c-1f2d-4c9e-a0b1-2c3d4e5f6a7b/oab.xml", "GET", "-"
        agent = AGENTS[u % 4]
    else:
        user = f"CONTOSO\\extest_{u % 4:x}a1b2c3d4e5f6"
        stem, method, query, agent = "/EWS/Exchange.asmx", "POST", "-", "MSEXCHMON"
    if rng.random() < 0.1:  # the NTLM challenge before the authenticated request
        user, status = "-", "401"
    if rng.random() < 0.02:  # proxied from a 2016 server after the namespace moved
        cip = "10.2.0.16"
    taken = rng.randrange(1, 90000)
    day = when.strftime("%Y-%m-%d %H:%M:%S")
    if modern:
        return (
            f"{day} W3SVC1 EX10-01 {sip} {method} {stem} {query} 443 {user} {cip} {agent} "
            f"{status} 0 0 {rng.randrange(200, 90000)} {taken}\r\n"
        )
    return f"{day} {sip} {method} {stem} {query} 443 {user} {cip} {agent} {status} 0 0 {taken}\r\n"


def generate(out: Path, lines: int, seed: int = 1, users: int = 20000) -> None:
    """Write about ``lines`` log lines over two servers, rolled hourly."""
    rng = random.Random(seed)
    start = dt.datetime(2023, 1, 2)
    servers = (("EX10-01", "10.1.0.10"), ("EX10-02", "10.1.0.11"))
    hours = max(1, lines // 40000)
    per_hour = max(1, lines // (hours * len(servers)))
    for name, sip in servers:
        folder = out / name / "W3SVC1"
        folder.mkdir(parents=True, exist_ok=True)
        for h in range(hours):
            began = start + dt.timedelta(hours=h)
            path = folder / f"u_ex{began.strftime('%y%m%d%H')}.log"
            restart = h % 10 == 5  # an IIS restart with more fields halfway through the hour
            with path.open("w", encoding="ascii", newline="") as fh:
                fh.write(
                    "#Software: Microsoft Internet Information Services 7.5\r\n#Version: 1.0\r\n"
                    f"#Date: {began.strftime('%Y-%m-%d %H:%M:%S')}\r\n{FIELDS}\r\n"
                )
                modern = False
                for i in range(per_hour):
                    if restart and not modern and i == per_hour // 2:
                        modern = True
                        fh.write(
                            "#Software: Microsoft Internet Information Services 7.5\r\n"
                            f"#Version: 1.0\r\n#Date: {began.strftime('%Y-%m-%d %H')}:30:00\r\n"
                            f"{FIELDS_AFTER_RESTART}\r\n"
                        )
                    when = began + dt.timedelta(seconds=i * 3600 // per_hour)
                    fh.write(_line(rng, when, sip, users, modern))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--lines", type=int, default=3_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--users",
        type=int,
        default=20000,
        help="distinct users (default 20,000: about 150 lines per user, the evidence of one busy"
        " day of a large organisation; fewer users give the repeat visits of a multi-day scan)",
    )
    args = ap.parse_args()
    generate(args.out, args.lines, args.seed, args.users)


if __name__ == "__main__":
    main()
