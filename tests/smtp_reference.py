"""The SMTP session rules in plain Python: a small reference the tests hold the engine to.

The product has one engine, the compiled kernel (migrator/logs/kernel.py). This
module states the same rules once more, as simply as possible, for records
already split into fields, with no caps and no concern for speed or memory. It counts into the product's
per client tallies (:mod:`migrator.logs.figures`), which only hold numbers.
tests/test_logs_reference.py compares its figures per (connector, client) with
the engine's evidence on generated logs.

The rules, per (connector id, session id), events in file order:

- a session begins with its first event; ``+`` marks it started, ``-`` ends it;
  a gap of more than an hour since the session's previous event ends it too,
  and that event opens a new session (the idle rule); a session not both
  started and ended is incomplete;
- a ``<`` command waits for its reply; a ``>`` reply answers the oldest command
  still waiting (first in, first out), except 334 and 354 replies, the lines
  of a multi-line reply but its last (``220-``...) and replies with no command
  waiting; ``>`` lines with ``250-`` data are no events at all (the inner lines
  of a 2010 EHLO reply);
- RCPT: 2xx accepted (and "accepted authenticated" when the session is
  authenticated at that moment), else refused; a refusal with 5.7.54, or with
  5.7.1 and "relay", is a refused relay. DATA and BDAT ... LAST answered by 2xx
  are messages. STARTTLS answered by 220, X-ANONYMOUSTLS, and a ``*`` event
  saying "negotiation succeeded" mark TLS; AUTH or X-EXPS answered by 235 and a
  ``*`` event with context ``authenticated`` mark the session authenticated;
- per client: sessions, incomplete sessions, messages, first and last seen,
  sessions authenticated and with TLS, the EHLO names and MAIL FROM domains
  (counted once per session), recipients per domain.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from migrator.logs.figures import ClientTally, DomainTally

IDLE = dt.timedelta(hours=1)
_DOMAIN = re.compile(r"@([^>\s]+)")

Record = tuple[str, str, str, str, str, str, str]
"""(date-time, connector-id, session-id, remote-endpoint, event, data, context)."""


@dataclass
class Session:
    """One session while its events come."""

    client: ClientTally
    first: str
    last: str
    started: bool
    ended: bool = False
    authenticated: bool = False
    tls: bool = False
    waiting: deque[tuple[str, str]] = field(default_factory=deque)
    ehlo: set[str] = field(default_factory=set)
    mail_from: set[str] = field(default_factory=set)

    def close(self) -> None:
        c = self.client
        c.sessions += 1
        c.incomplete_sessions += not (self.started and self.ended)
        c.first_seen = min(c.first_seen or self.first, self.first)
        c.last_seen = max(c.last_seen, self.last)
        c.authenticated_sessions += self.authenticated
        c.tls_sessions += self.tls
        for name in self.ehlo:
            c.ehlo[name] = c.ehlo.get(name, 0) + 1
        for name in self.mail_from:
            c.mail_from[name] = c.mail_from.get(name, 0) + 1


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.rstrip("Z"))


def _address(endpoint: str) -> str:
    """``10.1.2.3:5123`` -> ``10.1.2.3``; ``[2001:db8::5]:51234`` -> ``2001:db8::5``."""
    endpoint = endpoint.strip()
    if endpoint.startswith("["):
        return endpoint[1:].split("]", 1)[0]
    return endpoint.rsplit(":", 1)[0] if endpoint.count(":") == 1 else endpoint


def _domain(data: str, default: str) -> str:
    m = _DOMAIN.search(data)
    return m.group(1).lower().rstrip(".") if m else default


def sessions_per_client(records: Iterable[Record]) -> dict[tuple[str, str], ClientTally]:
    """Apply the session rules to records in file order; figures per (connector, client)."""
    clients: dict[tuple[str, str], ClientTally] = {}
    open_: dict[tuple[str, str], Session] = {}
    for ts, connector, sid, remote, event, data, context in records:
        key = (connector, sid)
        s = open_.get(key)
        if s is not None and _time(ts) - _time(s.last) > IDLE:
            s.close()  # idle for more than an hour: this event opens a new session
            s = None
        if s is None:
            client = clients.setdefault((connector, _address(remote)), ClientTally())
            s = open_[key] = Session(client, ts, ts, started=event == "+")
        s.last = ts
        if event == "<":
            _command(s, data)
        elif event == ">":
            if s.waiting and data[:3] not in ("334", "354") and data[3:4] != "-":
                _reply(s, *s.waiting.popleft(), data)
        elif event == "*":
            if context == "authenticated":
                s.authenticated = True
            elif "negotiation succeeded" in data or "negotiation succeeded" in context:
                s.tls = True
        elif event == "-":
            s.ended = True
            s.close()
            del open_[key]
    for s in open_.values():
        s.close()
    return clients


def _command(s: Session, data: str) -> None:
    verb = data[:4].upper()
    arg = ""
    if verb == "RCPT":
        arg = _domain(data, "(none)")
    elif verb == "MAIL":
        s.mail_from.add(_domain(data, "(null sender)"))
    elif verb in ("EHLO", "HELO"):
        s.ehlo.add(data[5:].strip())
    elif verb == "BDAT":
        verb = "DATA" if "LAST" in data.upper() else "BDAT"
    elif verb == "X-EX":
        verb = "AUTH"
    elif verb == "X-AN":
        s.tls = True  # X-ANONYMOUSTLS between Exchange servers
    s.waiting.append((verb, arg))


def _reply(s: Session, verb: str, domain: str, data: str) -> None:
    ok = data[:1] == "2"
    if verb == "RCPT":
        d = s.client.rcpt.setdefault(domain, DomainTally())
        if ok:
            d.accepted += 1
            d.accepted_authenticated += s.authenticated
            return
        d.refused += 1
        if "5.7.54" in data:
            d.relay_refused += 1
            s.client.refused_5754 += 1
        elif "5.7.1" in data and "relay" in data.lower():
            d.relay_refused += 1
            s.client.refused_571 += 1
    elif verb == "DATA" and ok:
        s.client.messages += 1
    elif verb == "STAR" and data[:3] == "220":
        s.tls = True
    elif verb == "AUTH" and data[:3] == "235":
        s.authenticated = True


def read_records(paths: Iterable[Path]) -> Iterator[Record]:
    """The events of plain receive logs with the default ``#Fields``, in the order given.

    Header lines are left out, and so are ``250-`` reply lines (inner lines of a
    multi-line reply, no events).
    """
    for path in paths:
        with open(path, encoding="utf-8", newline="") as fh:
            lines = (line for line in fh if not line.startswith("#"))
            for row in csv.reader(lines):
                if len(row) != 9:
                    continue
                ts, connector, sid, _seq, _local, remote, event, data, context = row
                if event == ">" and data.startswith("250-"):
                    continue
                yield ts, connector, sid, remote, event, data, context
