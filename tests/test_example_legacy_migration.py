"""The example project's data migration imports its legacy tables with the app's importer.

Run in a subprocess on a throwaway SQLite database, like tests/test_example_project.py: migrate to
the legacy tables, fill them (dirty), migrate the rest, then check what the data migration wrote
and that the command, given an export of the same rows, finds everything imported already.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from .test_example_project import manage

pytestmark = pytest.mark.example_project

USERS = ["t.jones", "alice", "bob", "carol"]
CLASSES = [
    # id, teacher, title, start (aware: a DateTimeField), timezone, minutes, seats, status
    (1, "t.jones", "Algebra II", "2030-05-06T16:00:00+00:00", "Europe/London", 60, 1, "scheduled"),
    (2, "t.jones", "Geometry", "2030-05-06T16:30:00+00:00", "Europe/London", 60, 5, "scheduled"),  # overlaps 1
    (3, "t.jones", "Statistics", "2020-05-06T16:00:00+00:00", "Europe/London", 60, 5, "completed"),
]
BOOKINGS = [
    # id, student, class, status, created
    (10, "alice", 1, "confirmed", "2030-04-01T09:00:00+00:00"),
    (11, "alice", 1, "booked", "2030-04-01T09:00:05+00:00"),  # duplicate
    (12, "bob", 1, "confirmed", "2030-04-02T09:00:00+00:00"),  # the class is full
    (13, "carol", 2, "confirmed", "2030-04-02T10:00:00+00:00"),  # its class is not imported
    (14, "bob", 3, "attended", "2020-04-02T10:00:00+00:00"),  # an outcome: its class is over
]
LESSONS = [
    # id, student, teacher, start, timezone, minutes, status, created
    (20, "bob", "t.jones", "2030-05-07T08:00:00+00:00", "Europe/London", 30, "pending", "2030-04-03T09:00:00+00:00"),
    (21, "carol", "t.jones", "2030-05-07T08:15:00+00:00", "Europe/London", 30, "confirmed",
     "2030-04-03T10:00:00+00:00"),  # overlaps 20
]
PROBLEMS = {"sessions:2", "bookings:11", "bookings:12", "bookings:13", "one_on_one_bookings:21"}

FILL = """
import datetime as dt, json
from django.contrib.auth import get_user_model
from school.models import LegacyBooking, LegacyClass, LegacyOneOnOneBooking
data = json.loads({data!r})
users = {{name: get_user_model().objects.create_user(name, password="pw") for name in data["users"]}}
when = dt.datetime.fromisoformat
for i, teacher, title, start, tz, minutes, seats, status in data["classes"]:
    LegacyClass.objects.create(id=i, teacher=users[teacher], title=title, scheduled_start=when(start), timezone=tz,
                               duration_minutes=minutes, total_seats=seats, status=status)
for i, student, cls, status, created in data["bookings"]:
    LegacyBooking.objects.create(id=i, student=users[student], session_id=cls, status=status, created=when(created))
for i, student, teacher, start, tz, minutes, status, created in data["lessons"]:
    LegacyOneOnOneBooking.objects.create(id=i, student=users[student], teacher=users[teacher],
                                         scheduled_start=when(start), timezone=tz, duration_minutes=minutes,
                                         status=status, created=when(created))
"""


def export() -> dict[str, list[dict[str, object]]]:
    """The same rows as the legacy tables hold, in the export format."""
    return {
        "sessions": [dict(id=i, teacher=t, title=title, scheduled_start=start, timezone=tz, duration_minutes=m,
                          total_seats=seats, status=status) for i, t, title, start, tz, m, seats, status in CLASSES],
        "bookings": [dict(id=i, student=s, session=c, status=status, created=created)
                     for i, s, c, status, created in BOOKINGS],
        "one_on_one_bookings": [dict(id=i, student=s, teacher=t, scheduled_start=start, timezone=tz,
                                     duration_minutes=m, status=status, created=created)
                                for i, s, t, start, tz, m, status, created in LESSONS],
    }


def test_data_migration_imports_the_legacy_tables(tmp_path: Path) -> None:
    db = tmp_path / "legacy.sqlite3"
    manage("migrate", "auth", db=db)  # the user table as the shell below needs it
    manage("migrate", "school", "0002", db=db)
    data = json.dumps({"users": USERS, "classes": CLASSES, "bookings": BOOKINGS, "lessons": LESSONS})
    manage("shell", "-c", FILL.format(data=data), db=db)

    migrated = manage("migrate", db=db)
    assert "Imported 3 sessions and 3 bookings from the legacy tables" in migrated.stdout
    for ref in PROBLEMS:
        assert f"    {ref}: " in migrated.stdout

    with sqlite3.connect(db) as conn:
        lessons = dict(conn.execute("SELECT external_ref, seats_taken FROM school_lesson").fetchall())
        bookings = dict(conn.execute("SELECT external_ref, status FROM liveclass_booking_liveclassbooking").fetchall())
        # Invariant 1: every scheduled session's counter is its seat-holding bookings (active or with an outcome).
        mismatched = conn.execute(
            "SELECT l.id FROM school_lesson l WHERE l.status = 'scheduled' AND l.seats_taken != "
            "(SELECT COUNT(*) FROM liveclass_booking_liveclassbooking b WHERE b.session_id = l.id "
            " AND b.status IN ('pending', 'confirmed', 'completed', 'no_show', 'teacher_no_show', 'disputed'))"
        ).fetchall()
        events = conn.execute("SELECT b.external_ref, e.kind FROM liveclass_booking_bookingevent e "
                              "JOIN liveclass_booking_liveclassbooking b ON b.id = e.booking_id").fetchall()
    assert lessons == {"sessions:1": 1, "sessions:3": 1, "one_on_one_bookings:20": 1}
    assert bookings == {"bookings:10": "confirmed", "bookings:14": "completed", "one_on_one_bookings:20": "pending"}
    assert mismatched == []
    assert sorted(events) == [(ref, "imported") for ref in sorted(bookings)]

    # The command shares the refs: an export of the same rows finds them all imported.
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export()), encoding="utf-8")
    report = json.loads(manage("liveclass_booking", "import_legacy", str(path), "--apply", "--json", db=db).stdout)
    assert (report["sessions_created"], report["bookings_created"], report["unchanged"]) == (0, 0, 5)
    assert {p["ref"] for p in report["problems"]} == PROBLEMS
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM liveclass_booking_bookingevent").fetchone() == (len(bookings),)

    # Migrating again is a no-op.
    assert "No migrations to apply" in manage("migrate", db=db).stdout
