"""The report of ``bench/http_rush.py``: Locust's CSV statistics as one table, the errors, and the invariants.

The parsing and formatting functions need neither Django nor Locust; ``check_invariants`` and
``count_outcomes`` read the database through Django, set up by the caller.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AGGREGATED = "Aggregated"
STATUS_RE = re.compile(r"HTTP (\d{3})")


@dataclass(frozen=True)
class PageStats:
    """One row of Locust's ``<prefix>_stats.csv``: a page (request name), or the ``Aggregated`` total."""

    method: str
    name: str
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float
    max: float


def _number(value: str) -> float:
    # Locust writes "N/A" for a percentile of a name without requests.
    try:
        return float(value)
    except ValueError:
        return 0.0


def parse_stats(path: Path) -> list[PageStats]:
    """The rows of a Locust stats CSV, the ``Aggregated`` row last."""
    rows = []
    with path.open(newline="", encoding="utf-8") as stats:
        for row in csv.DictReader(stats):
            rows.append(PageStats(
                method=row["Type"], name=row["Name"], requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]), rps=_number(row["Requests/s"]), p50=_number(row["50%"]),
                p95=_number(row["95%"]), p99=_number(row["99%"]), max=_number(row["Max Response Time"]),
            ))
    rows.sort(key=lambda r: (r.name == AGGREGATED, r.name, r.method))
    return rows


def parse_failures(path: Path) -> dict[str, int]:
    """``{error: occurrences}`` from Locust's ``<prefix>_failures.csv``, each error prefixed by its page."""
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as failures:
        return {f"{row['Name']}: {row['Error']}": int(row["Occurrences"]) for row in csv.DictReader(failures)}


def server_errors(failures: dict[str, int]) -> int:
    """How many of the failures are 5xx answers."""
    count = 0
    for error, occurrences in failures.items():
        status = STATUS_RE.search(error)
        if status and status.group(1).startswith("5"):
            count += occurrences
    return count


def access_log_statuses(path: Path) -> dict[str, int]:
    """``{status: count}`` from gunicorn's access log, written one ``<status> <method> <path>`` a line."""
    counts: dict[str, int] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            status = line.split(" ", 1)[0]
            if status.isdigit():
                counts[status] = counts.get(status, 0) + 1
    return dict(sorted(counts.items()))


def format_table(rows: Iterable[PageStats]) -> str:
    """One plain-text table: requests, failures, requests/s and p50/p95/p99/max latency (ms) per page."""
    header = ("page", "requests", "fail", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms")
    lines = [header]
    for r in rows:
        name = r.name if r.name == AGGREGATED else f"{r.method} {r.name}"
        lines.append((name, str(r.requests), str(r.failures), f"{r.rps:.1f}", f"{r.p50:.0f}", f"{r.p95:.0f}",
                      f"{r.p99:.0f}", f"{r.max:.0f}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        if n == len(lines) - 1 and len(lines) > 2:
            out.append("  ".join("-" * w for w in widths))
        out.append("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths,
                                                                                                      strict=True))))
    return "\n".join(out)


# --- the database after the rush (Django set up by the caller) ------------------------------------


def count_outcomes() -> dict[str, int]:
    """What the rush left in the database: bookings by status and source, waitlist entries by status."""
    from django.db.models import Count

    from django_liveclass_booking.models import SessionWaitlist, get_booking_model

    Booking = get_booking_model()
    counts = {"bookings made": Booking.objects.count(),
              "confirmed by a teacher": Booking.objects.filter(decided_by__isnull=False, status="confirmed").count()}
    for row in Booking.objects.values("status").annotate(n=Count("pk")).order_by("status"):
        counts[f"bookings {row['status']}"] = row["n"]
    counts["bookings from an accepted offer"] = Booking.objects.filter(source="waitlist").count()
    for row in SessionWaitlist.objects.values("status").annotate(n=Count("pk")).order_by("status"):
        counts[f"waitlist {row['status']}"] = row["n"]
    return counts


def teachers_not_double_booked() -> None:
    """No two scheduled sessions of one teacher overlap (the booking engine and a database constraint say so)."""
    from django_liveclass_booking.models import get_session_model

    last: dict[Any, Any] = {}
    for s in get_session_model().objects.filter(status="scheduled").order_by("teacher_id", "start_at_utc"):
        previous = last.get(s.teacher_id)
        assert previous is None or previous.end_at_utc <= s.start_at_utc, ("overlap", previous.pk, s.pk)
        last[s.teacher_id] = s


def waitlist_order_respected() -> None:
    """Seats went to the line in order: nobody still waits ahead of an offer, and no seat is free while anyone waits."""
    from django_liveclass_booking.models import SessionWaitlist, WaitlistStatus, get_session_model

    for session in get_session_model().objects.filter(status="scheduled"):
        entries = list(SessionWaitlist.objects.filter(session_id=session.pk).in_line_order())
        waiting = [(e.position, e.pk) for e in entries if e.status == WaitlistStatus.WAITING]
        offered = [(e.position, e.pk) for e in entries if e.offered_at is not None]
        # A seat offered to an entry behind one still waiting (which joined earlier): the line was jumped.
        jumped = [o for o in offered if waiting and o > min(waiting)]
        assert not jumped, ("line jumped", session.pk, min(waiting), jumped)
        if waiting:
            assert session.seats_taken == session.capacity, ("free seat while waiting", session.pk)


def credits_match_ledger() -> None:
    """Every lesson-credit balance equals the sum of its ledger, and every active booking holds one charge."""
    from django.db.models import Count, Q, Sum
    from school.models import CreditAccount, CreditEntry

    from django_liveclass_booking.models import ACTIVE_BOOKING_STATUSES, get_booking_model

    for account in CreditAccount.objects.annotate(total=Sum("entries__delta")):
        assert account.balance == (account.total or 0), ("ledger", account.student_id, account.balance, account.total)
    charged = CreditEntry.objects.filter(booking_id__isnull=False).values("booking_id").order_by().annotate(
        charges=Count("pk", filter=Q(reason="charge")), settled=Count("pk", filter=Q(reason__in=["refund", "forfeit"])))
    outstanding = {row["booking_id"] for row in charged if (row["charges"] or 0) > (row["settled"] or 0)}
    active = set(get_booking_model().objects.filter(status__in=ACTIVE_BOOKING_STATUSES).values_list("pk", flat=True))
    assert outstanding == active, ("charges", sorted(outstanding ^ active)[:10])


def check_invariants() -> dict[str, str]:
    """``{invariant: "ok" or what broke it}`` over the whole database."""
    from tests import invariants

    checks: dict[str, Callable[[], None]] = {
        "seats_taken = active bookings + open offers, never over capacity": invariants.assert_seat_counters,
        "no student twice in a session (bookings, waitlist)": invariants.assert_one_active_booking_per_student,
        "no teacher double-booked": teachers_not_double_booked,
        "waitlist order respected": waitlist_order_respected,
        "credit balances match their ledgers": credits_match_ledger,
    }
    results = {}
    for name, check in checks.items():
        try:
            check()
        except AssertionError as exc:
            results[name] = f"VIOLATED {exc}"
        else:
            results[name] = "ok"
    return results
