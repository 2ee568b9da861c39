"""The compiled SMTP engine against the small Python reference of the session rules.

tests/smtp_reference.py states the rules in plain Python; here both read the
same generated logs (the benchmark's generator, and random sessions from
Hypothesis: pipelined commands, stray replies, challenges, refusals, idle gaps,
sessions cut by a file roll-over) and must give the same figures per client.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from log_cases import gen_logs, receive_header
from smtp_reference import read_records, sessions_per_client

from migrator.logs.evidence import ClientEvidence, Evidence
from migrator.logs.figures import build_evidence
from migrator.logs.smtp import scan_logs
from migrator.logs.sources import natural_key

Figures = tuple[object, ...]


def figures(ev: Evidence) -> dict[tuple[str, str], Figures]:
    """Every figure of every client the session rules decide."""

    def row(c: ClientEvidence) -> Figures:
        return (
            c.sessions,
            c.incomplete_sessions,
            c.messages,
            c.first_seen,
            c.last_seen,
            c.authenticated_sessions,
            c.tls_sessions,
            c.relay_refused_5_7_1,
            c.relay_refused_5_7_54,
            c.ehlo_names,
            c.mail_from_domains,
            c.rcpt_domains,
        )

    return {(ce.connector, c.address): row(c) for ce in ev.connectors for c in ce.clients}


def reference(files: list[Path]) -> dict[tuple[str, str], Figures]:
    """The reference's figures, made into evidence as the engine's tallies are."""
    tallies = sessions_per_client(read_records(files))
    return figures(build_evidence(tallies, {}, {}, {}, (), [], [], 0, []))


def receive_logs(folder: Path) -> list[Path]:
    """The receive logs under ``folder`` in natural name order (the send logs left out)."""
    files = sorted(folder.rglob("*.LOG"), key=lambda p: natural_key(str(p)))
    return [f for f in files if b"#Log-type: SMTP Receive" in f.read_bytes()[:512]]


@pytest.mark.parametrize("seed", [11, 12])
def test_generated_logs_same_figures_as_the_reference(tmp_path: Path, seed: int) -> None:
    # Both servers and formats, interleaved sessions over hours (many idle gaps), quoted
    # fields, IPv6, TLS, AUTH, refused relays, restarts and send logs.
    gen_logs().generate(tmp_path, 30_000, seed)
    got = figures(scan_logs([tmp_path], workers=2))
    want = reference(receive_logs(tmp_path))
    assert len(want) > 500
    differ = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
    assert not differ, [(k, got.get(k), want.get(k)) for k in differ[:3]]


EVENTS = st.sampled_from(
    [
        ("<", "EHLO host{n}"),
        ("<", "HELO other{n}"),
        ("<", "MAIL FROM:<x@contoso.com>"),
        ("<", "MAIL FROM:<>"),
        ("<", "RCPT TO:<y@fabrikam.com>"),
        ("<", "RCPT TO:<y@Contoso.com.>"),
        ("<", "DATA"),
        ("<", "BDAT 100 LAST"),
        ("<", "BDAT 100"),
        ("<", "STARTTLS"),
        ("<", "AUTH LOGIN"),
        ("<", "X-ANONYMOUSTLS"),
        ("<", "QUIT"),
        (">", "250 OK"),
        (">", "250-inner"),
        (">", '"250-inner, quoted"'),
        (">", '"250 quoted, reply"'),
        (">", "220 ready"),
        (">", "220-banner line"),
        (">", "235 2.7.0 Authentication successful"),
        (">", "334 challenge"),
        (">", "354 go ahead"),
        (">", "550 5.7.1 Unable to relay"),
        (">", "550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain"),
        (">", "421 closing"),
        ("*", "CONTOSO\\svc,authenticated"),
        ("*", ',"TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded"'),
    ]
)
GAPS = st.sampled_from([1, 1, 1, 60, 1800, 3600, 3601, 7200])
"""Seconds between two events of a session: an hour exactly keeps it, more splits it."""


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sessions=st.lists(
        st.tuples(st.booleans(), st.booleans(), st.lists(st.tuples(EVENTS, GAPS), max_size=14)),
        min_size=1,
        max_size=4,
    ),
    cut=st.integers(min_value=0, max_value=60),
)
def test_random_sessions_same_figures_as_the_reference(
    tmp_path_factory: pytest.TempPathFactory,
    sessions: list[tuple[bool, bool, list[tuple[tuple[str, str], int]]]],
    cut: int,
) -> None:
    folder = tmp_path_factory.mktemp("random")
    rows: list[tuple[int, str]] = []
    for i, (start, end, events) in enumerate(sessions):
        sid = f"08DB0000000001{i:02X}"
        body = [(("+", ""), 1)] if start else []
        body += events
        body += [(("-", ""), 1)] if end else []
        at = 9 * 3600 + i  # seconds since midnight
        for seq, ((ev, data), gap) in enumerate(body):
            at += gap
            payload = data if ev == "*" else data.replace("{n}", str(i)) + ","
            hh, rest = divmod(at, 3600)
            stamp = (
                f"2023-01-{3 + hh // 24:02d}T{hh % 24:02d}:{rest // 60:02d}:{rest % 60:02d}.000Z"
            )
            rows.append(
                (
                    at,
                    f"{stamp},EX16-01\\Relay Apps EX16-01,{sid},{seq},"
                    f"10.0.0.16:25,10.1.1.{i}:5000,{ev},{payload}\r\n",
                )
            )
    # Interleave by time (a session's own events stay in order), then roll over at `cut`.
    rows.sort(key=lambda r: r[0])
    lines = [text for _, text in rows]
    at = min(cut, len(lines))
    first, second = folder / "RECV2023010309-1.LOG", folder / "RECV2023010309-2.LOG"
    first.write_bytes((receive_header() + "".join(lines[:at])).encode())
    second.write_bytes((receive_header() + "".join(lines[at:])).encode())
    assert figures(scan_logs([folder], workers=1)) == reference([first, second])
