"""Generate realistic Exchange SMTP Receive protocol logs for the log-scan benchmark.

Writes one folder per server under OUT (``EX10-01/`` in the Exchange 2010 format,
``EX16-01/`` in the 2013+ format), files named ``RECVyyyymmddhh-n.LOG`` rolled at
about 10 MB as Exchange does, sessions interleaved, quoted data fields with commas,
IPv6 clients, TLS and AUTH lines, refused relays, repeated header blocks after a
simulated restart, and a few SMTP Send logs in the same folders.

    python benchmarks/gen_logs.py /tmp/mlogs --lines 10000000

Deterministic for a given --seed. Never write into the repository.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from pathlib import Path

FIELDS = (
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
    "remote-endpoint,event,data,context"
)
MAX_FILE_BYTES = 10 * 1024 * 1024


def header(version: str, when: dt.datetime, log_type: str = "SMTP Receive Protocol Log") -> str:
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return (
        "#Software: Microsoft Exchange Server\r\n"
        f"#Version: {version}\r\n"
        f"#Log-type: {log_type}\r\n"
        f"#Date: {stamp}\r\n"
        f"{FIELDS}\r\n"
    )


class Server:
    """One server's log stream: interleaves sessions and rolls files."""

    def __init__(self, out: Path, name: str, modern: bool, rng: random.Random) -> None:
        self.dir = out / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.modern = modern
        self.rng = rng
        self.version = "15.0.0.0" if modern else "14.0.0.0"
        self.local = "10.0.0.16" if modern else "10.0.0.10"
        self.connectors = (
            [f"{name}\\Default Frontend {name}", f"{name}\\Relay Apps {name}"]
            if modern
            else [f"{name}\\Default {name}", f"{name}\\Relay Apps", f"{name}\\Relay Printers"]
        )
        self.next_sid = 0x08D675E58CA1DA38 if not modern else 0x08DB1E0C2A000000
        self.file = None
        self.file_hour = ""
        self.file_no = 0
        self.written = 0

    def roll(self, when: dt.datetime) -> None:
        hour = when.strftime("%Y%m%d%H")
        if self.file is not None:
            self.file.close()
        if hour != self.file_hour:
            self.file_hour, self.file_no = hour, 1
        else:
            self.file_no += 1
        path = self.dir / f"RECV{hour}-{self.file_no}.LOG"
        self.file = path.open("w", encoding="utf-8", newline="")
        self.written = self.file.write(header(self.version, when))

    def write(self, when: dt.datetime, text: str) -> None:
        if (
            self.file is None
            or self.written > MAX_FILE_BYTES
            or when.strftime("%Y%m%d%H") != self.file_hour
        ):
            self.roll(when)
        assert self.file is not None
        self.written += self.file.write(text)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def q(value: str) -> str:
    """CSV-quote a field the way Exchange's log writer does (only when needed)."""
    if "," in value or '"' in value or "\n" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def ts(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def session_events(srv: Server, rng: random.Random) -> tuple[str, str, list[tuple[str, str, str]]]:
    """One session: (connector, remote endpoint, [(event, data, context)])."""
    kind = rng.random()
    if kind < 0.06:
        client = f"[2001:db8:10::{rng.randint(1, 40):x}]:{rng.randint(1025, 65535)}"
    else:
        client = f"10.1.{rng.randint(1, 20)}.{rng.randint(1, 60)}:{rng.randint(1025, 65535)}"
    connector = rng.choice(srv.connectors)
    host = f"app{rng.randint(1, 99):02d}.contoso.com"
    ev: list[tuple[str, str, str]] = [("+", "", "")]
    ev.append(
        (
            "*",
            "SMTPSubmit SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender AcceptRoutingHeaders",
            "Set Session Permissions",
        )
    )
    ev.append(
        (
            ">",
            f"220 {srv.name}.contoso.com Microsoft ESMTP MAIL Service ready at Mon, 2 Jan 2023 10:00:00 +0000",
            "",
        )
    )
    ev.append(("<", f"EHLO {host}", ""))
    if srv.modern:
        ev.append(
            (
                ">",
                f"250  {srv.name}.contoso.com Hello [10.1.2.3] SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES STARTTLS X-ANONYMOUSTLS AUTH NTLM X-EXPS GSSAPI NTLM 8BITMIME BINARYMIME CHUNKING XRDST",
                "",
            )
        )
    else:
        for line in (
            "250-" + srv.name + ".contoso.com Hello [10.1.2.3]",
            "250-SIZE 10485760",
            "250-PIPELINING",
            "250-DSN",
            "250-ENHANCEDSTATUSCODES",
            "250-STARTTLS",
            "250-AUTH NTLM",
            "250-8BITMIME",
            "250-BINARYMIME",
            "250 CHUNKING",
        ):
            ev.append((">", line, ""))
    if rng.random() < 0.3:
        ev.append(("<", "STARTTLS", ""))
        ev.append((">", "220 2.0.0 SMTP server ready", ""))
        ev.append(
            (
                "*",
                "",
                "TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 0 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 384 bits",
            )
        )
        ev.append(("<", f"EHLO {host}", ""))
        ev.append((">", f"250  {srv.name}.contoso.com Hello [10.1.2.3] SIZE AUTH LOGIN", ""))
    if rng.random() < 0.1:
        ev.append(("<", "AUTH LOGIN", ""))
        ev.append((">", "334 <authentication response>", ""))
        ev.append((">", "334 <authentication response>", ""))
        ev.append(("*", "CONTOSO\\svc-scan", "authenticated"))
        ev.append((">", "235 2.7.0 Authentication successful", ""))
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        ev.append(
            (
                "<",
                f"MAIL FROM:<{rng.choice(('scanner', 'erp', 'alerts'))}@contoso.com> SIZE={rng.randint(1000, 900000)}",
                "",
            )
        )
        ev.append(
            ("*", f"{rng.getrandbits(60):016X};{'2023-01-02T10:00:00.000Z'};1", "receiving message")
        )
        ev.append((">", "250 2.1.0 Sender OK", ""))
        for _ in range(rng.choice((1, 1, 2, 4))):
            external = rng.random() < 0.3
            dom = (
                rng.choice(("fabrikam.com", "gmail.com", "example.net"))
                if external
                else rng.choice(("contoso.com", "sub.contoso.com"))
            )
            ev.append(("<", f"RCPT TO:<user{rng.randint(1, 500)}@{dom}>", ""))
            if external and rng.random() < 0.05:
                ev.append(
                    (
                        ">",
                        "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain"
                        if srv.modern
                        else "550 5.7.1 Unable to relay",
                        "",
                    )
                )
            else:
                ev.append((">", "250 2.1.5 Recipient OK", ""))
        ev.append(("<", "DATA", ""))
        ev.append((">", "354 Start mail input; end with <CRLF>.<CRLF>", ""))
        ev.append(("*", "Tarpit for '0.00:00:00.218' due to 'DelayedAck'", "Delivered"))
        ev.append(
            (
                ">",
                f"250 2.6.0 <{rng.getrandbits(40):x}@{host}> [InternalId={rng.getrandbits(36)}, Hostname={srv.name}.contoso.com] Queued mail for delivery",
                "",
            )
        )
    ev.append(("<", "QUIT", ""))
    ev.append((">", "221 2.0.0 Service closing transmission channel", ""))
    ev.append(("-", "", "Local"))
    return connector, client, ev


def generate(out: Path, lines: int, seed: int) -> int:
    rng = random.Random(seed)
    servers = [Server(out, "EX10-01", False, rng), Server(out, "EX16-01", True, rng)]
    start = dt.datetime(2023, 1, 2, 0, 0, 0)
    step = dt.timedelta(days=30) / max(lines, 1)
    now = start
    written = 0
    active: list[tuple[Server, str, str, int, list[tuple[str, str, str]], int]] = []
    restarted = False
    while written < lines:
        while len(active) < 8:
            srv = rng.choice(servers)
            connector, client, ev = session_events(srv, rng)
            srv.next_sid += 1
            active.append((srv, connector, client, srv.next_sid, ev, 0))
        i = rng.randrange(len(active))
        srv, connector, client, sid, ev, pos = active[i]
        event, data, context = ev[pos]
        local = f"{srv.local}:25" if not client.startswith("[") else "[2001:db8::16]:25"
        srv.write(
            now,
            f"{ts(now)},{connector},{sid:016X},{pos},{local},{client},{event},{q(data)},{q(context)}\r\n",
        )
        written += 1
        now += step
        if pos + 1 >= len(ev):
            active.pop(i)
        else:
            active[i] = (srv, connector, client, sid, ev, pos + 1)
        if not restarted and written > lines // 2:
            # A transport restart: a header block in the middle of the current file.
            restarted = True
            for s in servers:
                if s.file is not None:
                    s.written += s.file.write(header(s.version, now))
    for s in servers:
        s.close()
        # An SMTP Send log lying beside the receive logs (must be skipped).
        send = s.dir / "SEND20230102-1.LOG"
        send.write_text(
            header(s.version, start, "SMTP Send Protocol Log")
            + f"{ts(start)},Internet,08D000000000001,0,,203.0.113.5:25,*,,attempting to connect\r\n",
            encoding="utf-8",
            newline="",
        )
    return written


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="output folder (under /tmp, never the repository)")
    parser.add_argument(
        "--lines", type=int, default=10_000_000, help="log lines to write (default 10 million)"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    n = generate(args.out, args.lines, args.seed)
    size = sum(p.stat().st_size for p in args.out.rglob("*.LOG"))
    print(f"wrote {n} lines, {size / 1e6:.0f} MB under {args.out}")


if __name__ == "__main__":
    main()
