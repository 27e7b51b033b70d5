"""``manage.py liveclass_booking import_legacy``: dry run, apply, idempotency, dirty data, invariants.

The fixtures in tests/data/legacy are this project's own: ``dirty.json`` has one row for every
kind of dirty data the importer must report, ``dirty_csv/`` is the same export as CSV files.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import zoneinfo
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext

from django_liveclass_booking import legacy, services
from django_liveclass_booking.models import (
    ACTIVE_BOOKING_STATUSES,
    BookingEvent,
    TeacherBookingPolicy,
    get_booking_model,
    get_session_model,
)

from .conftest import NOW
from .invariants import assert_all

DATA = Path(__file__).resolve().parent / "data" / "legacy"
DIRTY_JSON = DATA / "dirty.json"
DIRTY_CSV = DATA / "dirty_csv"
USERS = ["t.jones", "m.garcia", "k.ito", "alice", "bob", "carol", "dave", "erin", "frank"]

#: Every dirty row of dirty.json, with a piece of the reason it must be reported with.
PROBLEMS = {
    "sessions:2": "overlaps sessions:1",
    "sessions:4": "does not exist",
    "sessions:5": "is ambiguous",
    "sessions:7": "unknown teacher 'ghost.teacher'",
    "sessions:8": "unknown timezone 'Mars/Olympus_Mons'",
    "sessions:9": "'total_seats' must be a whole number",
    "sessions:10": "missing field 'duration_minutes'",
    "sessions:11": "unknown status 'postponed'",
    "sessions:12": "duplicate id",
    "sessions:13": "'scheduled_start' must be an ISO 8601",
    "bookings:12": "duplicate active booking of 'alice' in sessions:1",
    "bookings:14": "sessions:1 is full (2 seats)",
    "bookings:16": "unknown student 'ghost'",
    "bookings:17": "unknown session 99",
    "bookings:18": "unknown status 'waitlisted'",
    "bookings:19": "missing field 'student'",
    "bookings:21": "its session sessions:2 is not imported",
    "bookings:23": "its session sessions:4 is not imported",
    "bookings:27": "'created' must be an ISO 8601",
    "bookings:29": "legacy status 'attended' for a session that has not ended yet",
    "bookings:31": "duplicate seat-holding booking of 'alice' in sessions:6 (bookings:24 is kept)",
    "one_on_one_bookings:32": "overlaps one_on_one_bookings:31",
    "one_on_one_bookings:34": "overlaps sessions:15",
    "one_on_one_bookings:35": "unknown status 'weird'",
    "one_on_one_bookings:36": "unknown teacher 'ghost.teacher'",
    "one_on_one_bookings:37": "unknown student 'ghost'",
    "one_on_one_bookings:40": "is the session's teacher",
    "one_on_one_bookings:42": "is ambiguous",
    "one_on_one_bookings:43": "does not exist",
    "one_on_one_bookings:44": "'duration_minutes' must be at least 1",
    "one_on_one_bookings:45": "legacy status 'no_show' for a session that has not ended yet",
}
ADJUSTED = {
    "bookings:22": "imported as cancelled",
    "bookings:26": "imported as expired",
    "bookings:30": "imported as cancelled: legacy status 'no_show', but its session is cancelled",
    "one_on_one_bookings:38": "imported as expired",
}
# Group sessions 1, 3, 6, 12, 15 and the 1:1 lessons 31, 33, 38, 39, 41 (a session and a booking each).
SESSIONS_CREATED = 10
BOOKINGS_CREATED = 15  # 11, 13, 15, 20, 22, 24, 25, 26, 28, 30 and the five lessons
ROWS_IMPORTED = 5 + 10 + 5

pytestmark = pytest.mark.django_db


@pytest.fixture
def users(make_user: Any) -> dict[str, Any]:
    return {name: make_user(name) for name in USERS}


def run(path: Path | str, *args: str, now: dt.datetime = NOW) -> dict[str, Any]:
    out = io.StringIO()
    call_command("liveclass_booking", "import_legacy", str(path), "--json", "--now", now.isoformat(), *args, stdout=out)
    return json.loads(out.getvalue())


def table_counts() -> tuple[int, int, int, int]:
    return (get_session_model().objects.count(), get_booking_model().objects.count(),
            TeacherBookingPolicy.objects.count(), BookingEvent.objects.count())


def refs(items: list[dict[str, str]]) -> set[str]:
    return {item["ref"] for item in items}


def session(ref: str) -> Any:
    return get_session_model().objects.get(external_ref=ref)


def booking(ref: str) -> Any:
    return get_booking_model().objects.get(external_ref=ref)


def assert_teachers_never_overlap() -> None:
    """Invariant 4: no two scheduled sessions of one teacher overlap."""
    Session = get_session_model()
    rows = sorted(Session.objects.filter(status="scheduled").values_list("teacher_id", "start_at_utc", "end_at_utc"))
    for (t1, _, end1), (t2, start2, _) in itertools.pairwise(rows):
        assert t1 != t2 or start2 >= end1, (t1, end1, start2)


# --- dry run and apply -----------------------------------------------------------------------


def test_dry_run_writes_nothing_and_reports_what_it_would_do(users: Any) -> None:
    before = table_counts()
    report = run(DIRTY_JSON)
    assert table_counts() == before
    assert report["applied"] is False
    assert (report["sessions_created"], report["bookings_created"], report["unchanged"]) == (
        SESSIONS_CREATED, BOOKINGS_CREATED, 0)
    assert refs(report["problems"]) == set(PROBLEMS)
    assert refs(report["adjusted"]) == set(ADJUSTED)


def test_apply_imports_every_good_row(users: Any) -> None:
    before = table_counts()
    report = run(DIRTY_JSON, "--apply")
    assert report["applied"] is True
    assert (report["sessions_created"], report["bookings_created"]) == (SESSIONS_CREATED, BOOKINGS_CREATED)
    sessions, bookings, _, _ = table_counts()
    assert (sessions, bookings) == (before[0] + SESSIONS_CREATED, before[1] + BOOKINGS_CREATED)
    assert set(get_booking_model().objects.values_list("source", flat=True)) == {"import"}
    assert_all()
    assert_teachers_never_overlap()


def test_group_sessions_are_mapped(users: Any) -> None:
    run(DIRTY_JSON, "--apply")
    algebra = session("sessions:1")
    # 17:00 in London during BST is 16:00 UTC.
    assert algebra.start_at_utc == dt.datetime(2026, 5, 11, 16, 0, tzinfo=dt.UTC)
    assert algebra.end_at_utc - algebra.start_at_utc == dt.timedelta(minutes=60)
    assert (algebra.kind, algebra.capacity, algebra.seats_taken, algebra.status) == ("group", 2, 2, "scheduled")
    assert (algebra.title, algebra.timezone_snapshot, algebra.teacher.username) == (
        "Algebra II", "Europe/London", "t.jones")
    assert algebra.meeting_url == "https://meet.example.org/algebra"
    # An offset in scheduled_start is taken as is.
    assert session("sessions:12").start_at_utc == dt.datetime(2026, 5, 20, 8, 0, tzinfo=dt.UTC)
    cancelled = session("sessions:3")
    assert (cancelled.status, cancelled.seats_taken) == ("cancelled", 0)
    # completed: a scheduled session in the past, its bookings kept as history.
    grammar = session("sessions:6")
    assert grammar.status == "scheduled" and grammar.start_at_utc < NOW and grammar.seats_taken == 2


def test_bookings_are_mapped(users: Any) -> None:
    run(DIRTY_JSON, "--apply")
    first = booking("bookings:11")
    assert first.status == "confirmed" and first.student.username == "alice"
    assert first.created == dt.datetime(2026, 4, 20, 9, 0, tzinfo=dt.UTC)
    algebra = first.session
    for b in get_booking_model().objects.all():  # the denormalised copies match their session
        s = b.session
        assert (b.teacher_id, b.kind, b.start_at_utc, b.end_at_utc) == (
            s.teacher_id, s.kind, s.start_at_utc, s.end_at_utc)
    pending = booking("bookings:13")
    # The default 48-hour time to live counts from the import, and never past the start.
    assert pending.status == "pending" and pending.expires_at == min(algebra.start_at_utc, NOW + dt.timedelta(hours=48))
    assert booking("bookings:15").status == "cancelled"
    assert booking("bookings:20").status == "cancelled"  # an older cancelled booking beside the active one
    assert (booking("bookings:22").status, booking("bookings:22").reason) == ("cancelled", "session cancelled")
    # Outcomes of a session that has ended; they keep their seats (sessions:6 has seats_taken 2).
    assert (booking("bookings:24").status, booking("bookings:24").reason) == ("completed", "")  # attended
    assert (booking("bookings:25").status, booking("bookings:25").reason) == ("no_show", "")
    assert (booking("bookings:30").status, booking("bookings:30").reason) == ("cancelled", "session cancelled")
    assert booking("bookings:26").status == "expired"  # pending for a session in the past
    assert booking("bookings:28").status == "confirmed"  # CONFIRMED: statuses ignore case


def test_one_on_one_bookings_become_lessons(users: Any) -> None:
    run(DIRTY_JSON, "--apply")
    lesson = session("one_on_one_bookings:31")
    assert (lesson.kind, lesson.capacity, lesson.seats_taken, lesson.status) == ("one_on_one", 1, 1, "scheduled")
    request = booking("one_on_one_bookings:31")
    assert request.session_id == lesson.pk and request.status == "pending"
    assert request.expires_at == min(lesson.start_at_utc, NOW + dt.timedelta(hours=48))
    # A cancelled lesson, and a pending one in the past (expired): their sessions are cancelled.
    for ref, status in [("one_on_one_bookings:33", "cancelled"), ("one_on_one_bookings:38", "expired")]:
        assert booking(ref).status == status
        assert (session(ref).status, session(ref).seats_taken) == ("cancelled", 0)
    assert booking("one_on_one_bookings:39").status == "completed"  # attended, in the past
    past = session("one_on_one_bookings:39")  # a lesson that took place keeps its time and its seat
    assert (past.status, past.seats_taken) == ("scheduled", 1)
    assert booking("one_on_one_bookings:41").status == "confirmed"  # booked, no created: ordered last


def all_rows() -> tuple[list[Any], ...]:
    return tuple(list(model.objects.order_by("pk").values())
                 for model in (get_session_model(), get_booking_model(), BookingEvent))


def test_second_apply_changes_nothing(users: Any) -> None:
    first = run(DIRTY_JSON, "--apply")
    rows_before = all_rows()
    second = run(DIRTY_JSON, "--apply")
    assert (second["sessions_created"], second["bookings_created"], second["unchanged"]) == (0, 0, ROWS_IMPORTED)
    assert refs(second["problems"]) == refs(first["problems"])
    assert second["adjusted"] == []  # adjusted rows were imported by the first run
    assert all_rows() == rows_before
    assert_all()


def test_every_imported_booking_gets_one_imported_event(users: Any) -> None:
    run(DIRTY_JSON, "--apply")
    events = list(BookingEvent.objects.select_related("booking"))
    assert len(events) == BOOKINGS_CREATED
    assert sorted(e.booking.external_ref for e in events) == sorted(
        get_booking_model().objects.values_list("external_ref", flat=True))
    for event in events:
        assert (event.kind, event.actor_id, event.at) == ("imported", None, NOW)
        assert event.data["legacy_ref"] == event.booking.external_ref
        assert (event.data["status"], event.data["source"]) == (event.booking.status, "import")
    data = {e.booking.external_ref: e.data for e in events}
    assert data["bookings:24"] == {"status": "completed", "source": "import", "legacy_ref": "bookings:24",
                                   "legacy_status": "attended"}
    assert data["bookings:25"]["legacy_status"] == "no_show" and data["bookings:25"]["status"] == "no_show"
    assert data["bookings:28"]["legacy_status"] == "confirmed"  # as mapped: the export said CONFIRMED
    assert data["bookings:30"] == {"status": "cancelled", "source": "import", "legacy_ref": "bookings:30",
                                   "legacy_status": "no_show"}
    assert data["one_on_one_bookings:38"]["status"] == "expired"
    # A rerun and a dry run write none.
    run(DIRTY_JSON, "--apply")
    run(DIRTY_JSON)
    assert BookingEvent.objects.count() == BOOKINGS_CREATED


def test_outcomes_added_to_a_session_imported_before_take_its_free_seats(users: Any) -> None:
    grammar = dict(id=6, teacher="m.garcia", scheduled_start="2026-04-27T18:00:00", timezone="Europe/Madrid",
                   duration_minutes=45, total_seats=3, status="completed")
    first = [dict(id=1, student="alice", session=6, status="confirmed", created="2026-04-01T10:00:00Z")]
    legacy.import_rows({"sessions": [grammar], "bookings": first}, apply=True, now=NOW)
    later = first + [
        dict(id=2, student="alice", session=6, status="attended", created="2026-04-02T10:00:00Z"),
        dict(id=3, student="bob", session=6, status="attended", created="2026-04-03T10:00:00Z"),
        dict(id=4, student="carol", session=6, status="no_show", created="2026-04-04T10:00:00Z"),
        dict(id=5, student="dave", session=6, status="no_show", created="2026-04-05T10:00:00Z"),
    ]
    report = legacy.import_rows({"sessions": [grammar], "bookings": later}, apply=True, now=NOW)
    assert (report.sessions_created, report.bookings_created, report.unchanged) == (0, 2, 2)
    reasons = {p.ref: p.reason for p in report.problems}
    assert "duplicate seat-holding booking of 'alice' in sessions:6 (bookings:1 is kept)" == reasons["bookings:2"]
    assert "sessions:6 is full (3 seats)" in reasons["bookings:5"]
    assert (booking("bookings:3").status, booking("bookings:4").status) == ("completed", "no_show")
    assert session("sessions:6").seats_taken == 3
    assert BookingEvent.objects.count() == 3
    assert_all()


def test_csv_folder_gives_the_same_result_as_json(users: Any) -> None:
    assert run(DIRTY_CSV) == run(DIRTY_JSON)
    run(DIRTY_CSV, "--apply")
    assert run(DIRTY_JSON, "--apply")["unchanged"] == ROWS_IMPORTED


# --- the dirty cases --------------------------------------------------------------------------


@pytest.mark.parametrize(("ref", "reason"), sorted(PROBLEMS.items()))
def test_each_dirty_row_is_reported_with_its_reason(users: Any, ref: str, reason: str) -> None:
    problems = {p["ref"]: p["reason"] for p in run(DIRTY_JSON, "--apply")["problems"]}
    assert reason in problems[ref]
    assert not get_booking_model().objects.filter(external_ref=ref).exists()
    assert not get_session_model().objects.filter(external_ref=ref).exists() or ref == "sessions:12"


def test_adjusted_rows_are_reported(users: Any) -> None:
    adjusted = {p["ref"]: p["reason"] for p in run(DIRTY_JSON)["adjusted"]}
    assert adjusted.keys() == ADJUSTED.keys()
    for ref, reason in ADJUSTED.items():
        assert reason in adjusted[ref]


@pytest.mark.parametrize(("wall_clock", "zone", "expected"), [
    ("2026-03-29T01:30:00", "Europe/London", "does not exist"),
    ("2026-10-25T01:30:00", "Europe/London", "is ambiguous"),
    ("2026-03-08T02:30:00", "America/New_York", "does not exist"),
    ("2026-11-01T01:30:00", "America/New_York", "is ambiguous"),
])
def test_dst_gaps_and_folds_are_reported_not_guessed(users: Any, wall_clock: str, zone: str, expected: str) -> None:
    rows = {"sessions": [dict(id=1, teacher="t.jones", scheduled_start=wall_clock, timezone=zone,
                              duration_minutes=60, total_seats=3, status="scheduled")]}
    report = legacy.import_rows(rows, apply=True, now=NOW)
    assert [p.ref for p in report.problems] == ["sessions:1"]
    assert expected in report.problems[0].reason and zone in report.problems[0].reason
    assert not get_session_model().objects.exists()


def test_dst_day_times_outside_the_change_are_fine() -> None:
    london = zoneinfo.ZoneInfo("Europe/London")
    assert legacy.localize(dt.datetime(2026, 3, 29, 2, 30), london).utcoffset() == dt.timedelta(hours=1)
    assert legacy.localize(dt.datetime(2026, 10, 25, 2, 30), london).utcoffset() == dt.timedelta(0)


def test_overlap_with_a_session_already_in_the_database_is_reported(users: Any) -> None:
    # Already on t.jones's calendar at 17:15-17:45 UTC, over sessions:15 and one_on_one_bookings:34.
    existing = services.schedule_session(users["t.jones"], start=dt.datetime(2026, 5, 5, 17, 15, tzinfo=dt.UTC),
                                         duration=30, capacity=3, now=NOW)
    problems = {p["ref"]: p["reason"] for p in run(DIRTY_JSON, "--apply")["problems"]}
    assert f"overlaps session #{existing.pk}" in problems["sessions:15"]
    assert "its session sessions:15 is not imported" in problems["bookings:28"]
    assert f"overlaps session #{existing.pk}" in problems["one_on_one_bookings:34"]
    assert_teachers_never_overlap()
    assert_all()


def test_lessons_keep_the_teachers_buffer(users: Any, set_policy: Any) -> None:
    # 41 (07:00-07:30 UTC, no created: planned last) is 60 minutes before 31 (08:30-09:00).
    set_policy(users["t.jones"], buffer_minutes=90)
    problems = {p["ref"]: p["reason"] for p in run(DIRTY_JSON)["problems"]}
    assert "overlaps one_on_one_bookings:31" in problems["one_on_one_bookings:41"]
    assert "90-minute buffer" in problems["one_on_one_bookings:41"]


def test_pending_requests_expire_after_the_teachers_ttl(users: Any, set_policy: Any) -> None:
    set_policy(users["t.jones"], request_ttl_hours=2)
    run(DIRTY_JSON, "--apply")
    assert booking("bookings:13").expires_at == NOW + dt.timedelta(hours=2)
    assert booking("one_on_one_bookings:31").expires_at == NOW + dt.timedelta(hours=2)


def test_new_bookings_of_a_session_imported_before_use_its_free_seats(users: Any) -> None:
    session_row = dict(id=1, teacher="t.jones", scheduled_start="2026-05-11T17:00:00", timezone="Europe/London",
                       duration_minutes=60, total_seats=2, status="scheduled")
    first = [dict(id=1, student="alice", session=1, status="confirmed", created="2026-04-20T09:00:00Z")]
    legacy.import_rows({"sessions": [session_row], "bookings": first}, apply=True, now=NOW)
    later = first + [
        dict(id=2, student="alice", session=1, status="confirmed", created="2026-04-21T09:00:00Z"),
        dict(id=3, student="bob", session=1, status="confirmed", created="2026-04-22T09:00:00Z"),
        dict(id=4, student="carol", session=1, status="confirmed", created="2026-04-23T09:00:00Z"),
    ]
    report = legacy.import_rows({"sessions": [session_row], "bookings": later}, apply=True, now=NOW)
    assert (report.sessions_created, report.bookings_created, report.unchanged) == (0, 1, 2)
    reasons = {p.ref: p.reason for p in report.problems}
    assert "bookings:1 is kept" in reasons["bookings:2"] and "is full" in reasons["bookings:4"]
    assert session("sessions:1").seats_taken == 2
    assert_all()


def test_rows_that_are_not_objects_are_reported(users: Any) -> None:
    report = legacy.import_rows({"sessions": ["oops", None], "bookings": [{"student": "alice"}]}, now=NOW)
    assert [(p.ref, p.reason.split(",")[0]) for p in report.problems] == [
        ("sessions:#1", "a row must be an object with named fields"),
        ("sessions:#2", "a row must be an object with named fields"),
        ("bookings:#1", "missing field 'id'"),
    ]


# --- the command --------------------------------------------------------------------------------


def test_json_output_shape(users: Any) -> None:
    report = run(DIRTY_JSON)
    assert {"sessions_created", "bookings_created", "unchanged", "problems"} <= report.keys()
    assert all(isinstance(report[k], int) for k in ("sessions_created", "bookings_created", "unchanged"))
    assert all(set(p) == {"ref", "reason"} and p["reason"] for p in report["problems"])
    # Ordered like the export: tables in order, rows in order.
    tables = [p["ref"].split(":")[0] for p in report["problems"]]
    assert tables == sorted(tables, key=legacy.TABLES.index)


def test_human_output(users: Any) -> None:
    out = io.StringIO()
    call_command("liveclass_booking", "import_legacy", str(DIRTY_JSON), "--now", NOW.isoformat(), stdout=out)
    text = out.getvalue()
    assert f"Would create {SESSIONS_CREATED} sessions and {BOOKINGS_CREATED} bookings" in text
    assert f"{len(PROBLEMS)} rows not imported" in text
    assert "  bookings:16: unknown student 'ghost'" in text
    assert "Dry run: nothing was written" in text
    out = io.StringIO()
    call_command("liveclass_booking", "import_legacy", str(DIRTY_JSON), "--apply", "--now", NOW.isoformat(), stdout=out)
    assert out.getvalue().startswith(f"Created {SESSIONS_CREATED} sessions")
    assert "Dry run" not in out.getvalue()


def test_process_still_works() -> None:
    out = io.StringIO()
    call_command("liveclass_booking", "process", "--json", "--now", NOW.isoformat(), stdout=out)
    assert "expired_requests" in json.loads(out.getvalue())


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such file or folder"),
    ("{not json", "malformed JSON at line 1"),
    ("[1, 2]", "expected a JSON object"),
    ('{"sessions": {"id": 1}}', "'sessions' must be a list of rows"),
])
def test_unreadable_exports_are_command_errors(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "export.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        run(path)


def test_a_folder_without_csv_tables_is_a_command_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="none of sessions.csv"):
        run(tmp_path)


def test_missing_csv_files_are_empty_tables(users: Any, tmp_path: Path) -> None:
    (tmp_path / "sessions.csv").write_text((DIRTY_CSV / "sessions.csv").read_text(encoding="utf-8"), encoding="utf-8")
    report = run(tmp_path)
    assert report["sessions_created"] == 5 and report["bookings_created"] == 0


def test_now_needs_an_offset() -> None:
    with pytest.raises(CommandError, match="UTC offset"):
        call_command("liveclass_booking", "import_legacy", str(DIRTY_JSON), "--now", "2026-05-04T09:00:00")


# --- transactions, signals, queries -------------------------------------------------------------


def test_a_failing_apply_writes_nothing(users: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    Booking = get_booking_model()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    before = table_counts()
    monkeypatch.setattr(type(Booking.objects.all()), "bulk_create", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run(DIRTY_JSON, "--apply")
    assert table_counts() == before


@pytest.mark.django_db(transaction=True)
def test_the_import_sends_no_signals(make_user: Any, signal_log: Any) -> None:
    for name in USERS:
        make_user(name)
    saved: list[Any] = []

    def record(sender: Any, **kwargs: Any) -> None:
        saved.append(sender)

    for signal in (pre_save, post_save):
        signal.connect(record, sender=get_session_model(), weak=False)
        signal.connect(record, sender=get_booking_model(), weak=False)
    try:
        assert run(DIRTY_JSON, "--apply")["bookings_created"] == BOOKINGS_CREATED
    finally:
        for signal in (pre_save, post_save):
            signal.disconnect(record, sender=get_session_model())
            signal.disconnect(record, sender=get_booking_model())
    assert signal_log.names == []
    assert saved == []


def synthetic(n: int, *, first_id: int = 1) -> dict[str, list[dict[str, Any]]]:
    """About ``n`` clean rows: a fifth group sessions, three fifths their bookings, a fifth 1:1 lessons."""
    students = ["alice", "bob", "carol", "dave", "erin", "frank"]
    teachers = ["t.jones", "m.garcia", "k.ito"]
    day = dt.datetime(2026, 6, 1, 8, 0) + dt.timedelta(days=first_id)  # clear of other calls' sessions
    sessions, bookings, lessons = [], [], []
    for i in range(n // 5):
        sid = first_id + i
        start = day + dt.timedelta(hours=2 * i)
        sessions.append(dict(id=sid, teacher=teachers[i % 3], title=f"Class {sid}", scheduled_start=start.isoformat(),
                             timezone="UTC", duration_minutes=60, total_seats=2, status="scheduled"))
        for k in range(3):  # the third does not fit: every session also reports one row
            bookings.append(dict(id=3 * sid + k, student=students[(i + k) % 6], session=sid, status="confirmed",
                                 created=f"2026-05-01T10:00:0{k}Z"))
        lessons.append(dict(id=sid, student=students[i % 6], teacher=teachers[i % 3],
                            scheduled_start=(start + dt.timedelta(hours=1)).isoformat(), timezone="UTC",
                            duration_minutes=30, status="confirmed", created="2026-05-01T10:00:00Z"))
    return {"sessions": sessions, "bookings": bookings, "one_on_one_bookings": lessons}


def test_query_count_does_not_grow_per_row(users: Any) -> None:
    def queries(rows: dict[str, Any], apply: bool) -> int:
        with CaptureQueriesContext(connection) as ctx:
            report = legacy.import_rows(rows, apply=apply, now=NOW)
        assert len(report.problems) == len(rows["sessions"])  # one full-session row each
        return len(ctx.captured_queries)

    small, large = synthetic(50), synthetic(200, first_id=1000)
    assert queries(small, False) == queries(large, False)
    small_apply, large_apply = queries(small, True), queries(large, True)
    # Bulk inserts only split into batches by the backend's parameter limit (SQLite: 999
    # parameters, so a few dozen rows per INSERT); never a statement per row.
    batches = 0 if connection.vendor != "sqlite" else 8
    assert large_apply - small_apply <= batches, (small_apply, large_apply)
    assert get_booking_model().objects.filter(status__in=ACTIVE_BOOKING_STATUSES).count() == 3 * (10 + 40)
    assert_all()
    assert_teachers_never_overlap()


def test_import_rows_accepts_datetime_objects(users: Any) -> None:
    # As a data migration passes them, read from a DateTimeField (aware, UTC).
    rows = {"sessions": [dict(id=1, teacher="t.jones", scheduled_start=dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC),
                              timezone="Europe/London", duration_minutes=60, total_seats=3, status="scheduled")],
            "bookings": [dict(id=1, student="alice", session=1, status="confirmed",
                              created=dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC))]}
    report = legacy.import_rows(rows, apply=True, now=NOW)
    assert (report.sessions_created, report.bookings_created, report.problems) == (1, 1, [])
    assert session("sessions:1").start_at_utc == dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)



def test_backends_that_return_no_keys_from_bulk_inserts(users: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Older MariaDB/MySQL cannot: the new sessions are then looked up by external_ref.
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    report = run(DIRTY_JSON, "--apply")
    assert report["bookings_created"] == BOOKINGS_CREATED
    assert booking("bookings:11").session == session("sessions:1")
    # The new bookings are looked up by ref for their events too.
    assert sorted(BookingEvent.objects.values_list("booking_id", flat=True)) == sorted(
        get_booking_model().objects.values_list("pk", flat=True))
    assert_all()


def test_values_that_would_crash_a_parser_are_reported(users: Any) -> None:
    base = {"teacher": "t.jones", "title": "x", "scheduled_start": "2026-05-04T17:00:00", "timezone": "Europe/London",
            "duration_minutes": 60, "total_seats": 3, "status": "scheduled"}
    rows = {"sessions": [
        {**base, "id": "+-1"},
        {**base, "id": "²"},
        {**base, "id": "9" * 40},
        {**base, "id": 5, "timezone": "Europe"},
        {**base, "id": 6, "total_seats": "+-3"},
        {**base, "id": 7, "scheduled_start": "0001-01-01T00:30:00"},
        {**base, "id": 8, "scheduled_start": "9999-12-31T23:30:00+00:00"},
    ]}
    report = legacy.import_rows(rows, now=NOW)
    assert len(report.problems) == 7 and report.sessions_created == 0
    assert [p.ref for p in report.problems][3:] == ["sessions:5", "sessions:6", "sessions:7", "sessions:8"]
