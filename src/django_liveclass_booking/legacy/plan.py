"""Planning: every parsed row decided against the context — created, unchanged or a problem — without the database.

The invariants the services keep are decided here: no two scheduled sessions of a teacher
overlap, a 1:1 lesson keeps the teacher's buffer, a session holds no more seat-holding bookings
(active ones and outcomes) than seats, a student holds one seat per session, and a status is what
the session's state implies (an outcome only once the session has ended). A dry run and an
import share every one of these decisions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..models import (
    ACTIVE_BOOKING_STATUSES,
    OUTCOME_STATUSES,
    SEAT_HOLDING_STATUSES,
    BookingSource,
    BookingStatus,
    SessionKind,
    SessionStatus,
)
from ..services._engine.expiry import request_expiry
from ..services._engine.intervals import LabelledIntervals as TeacherCalendar
from .context import Context, Existing
from .parse import BOOKING_STATUSES, SESSION_STATUSES, BookingRow, LessonRow, Parsed
from .report import Problem, report_order


@dataclass
class Target:
    """A session bookings can go into: planned here (``ref``) or in the database (``existing``)."""

    ref: str
    teacher_id: Any
    kind: str
    status: str
    start: dt.datetime
    end: dt.datetime
    capacity: int
    seats: int
    existing: Existing | None = None


@dataclass
class Plan:
    """Field values of the rows to create, the seat counters, and the report."""

    now: dt.datetime
    sessions: list[dict[str, Any]] = field(default_factory=list)  # model fields but the counter
    bookings: list[dict[str, Any]] = field(default_factory=list)  # plus "session_ref" or "session_id"
    seat_counts: dict[str, int] = field(default_factory=dict)  # new session's external_ref -> its seats_taken
    seat_increments: dict[Any, int] = field(default_factory=dict)  # existing session pk -> new seats taken
    legacy_statuses: dict[str, str] = field(default_factory=dict)  # new booking's external_ref -> legacy status
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    adjusted: list[Problem] = field(default_factory=list)  # imported, with a status the rules imposed
    targets: dict[str, Target] = field(default_factory=dict)

    def problem(self, table: str, row: Any, reason: str) -> None:
        self.problems.append(Problem(table, row.position, row.ref, reason))

    def adjust(self, table: str, row: Any, reason: str) -> None:
        self.adjusted.append(Problem(table, row.position, row.ref, reason))

    def add_booking(self, row: BookingRow | LessonRow, fields: dict[str, Any]) -> None:
        self.bookings.append(fields)
        self.legacy_statuses[row.ref] = row.legacy_status


def plan_import(parsed: Parsed, ctx: Context) -> Plan:
    """Decide every row: create, unchanged (imported before) or a problem. No database access.

    Order matters and is fixed, so that a rerun decides the same: the database's sessions first,
    then group sessions by start (the later of two overlapping ones is refused), their bookings
    by (created, id) (the earliest keep the seats), then 1:1 bookings by (created, id).
    """
    plan = Plan(now=ctx.now, problems=list(parsed.problems))
    calendars = {teacher: TeacherCalendar(entries) for teacher, entries in ctx.busy.items()}

    def calendar(teacher_id: Any) -> TeacherCalendar:
        return calendars.setdefault(teacher_id, TeacherCalendar())

    _plan_sessions(parsed, ctx, plan, calendar)
    _plan_bookings(parsed, ctx, plan)
    _plan_lessons(parsed, ctx, plan, calendar)
    plan.problems.sort(key=report_order)
    plan.adjusted.sort(key=report_order)
    return plan


def _by_created(row: BookingRow | LessonRow) -> tuple[bool, dt.datetime, int]:
    # Rows without ``created`` come after those with one, then by id.
    return row.created is None, row.created or dt.datetime.min.replace(tzinfo=dt.UTC), row.id


def _when(start: dt.datetime, end: dt.datetime) -> str:
    return f"{start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC"


def _plan_sessions(parsed: Parsed, ctx: Context, plan: Plan, calendar: Callable[[Any], TeacherCalendar]) -> None:
    for row in sorted(parsed.sessions, key=lambda r: (r.start, r.id)):
        existing = ctx.sessions.get(row.ref)
        if existing is not None:
            plan.unchanged += 1
            plan.targets[row.ref] = Target(row.ref, existing.teacher_id, existing.kind, existing.status, existing.start,
                                           existing.end, existing.capacity, existing.seats_taken, existing)
            continue
        teacher_id = ctx.users.get(row.teacher)
        if teacher_id is None:
            plan.problem("sessions", row, f"unknown teacher {row.teacher!r} (no user with that username)")
            continue
        status = SESSION_STATUSES[row.status]
        if status == SessionStatus.SCHEDULED:
            # The invariant (and PostgreSQL's exclusion constraint) allows no two scheduled sessions
            # of one teacher to overlap: the earlier one is kept, as schedule_session would have.
            clash = calendar(teacher_id).first_meeting(row.start, row.end, dt.timedelta(0))
            if clash is not None:
                plan.problem("sessions", row, f"overlaps {clash} of teacher {row.teacher!r} "
                             f"({_when(row.start, row.end)}); the earlier session is kept")
                continue
            calendar(teacher_id).add(row.start, row.end, row.ref)
        plan.sessions.append(dict(
            external_ref=row.ref, teacher_id=teacher_id, kind=SessionKind.GROUP, title=row.title,
            start_at_utc=row.start, end_at_utc=row.end, duration_minutes=row.duration, timezone_snapshot=row.timezone,
            meeting_url=row.meeting_url, capacity=row.capacity, status=status,
        ))
        plan.seat_counts[row.ref] = 0
        plan.targets[row.ref] = Target(row.ref, teacher_id, SessionKind.GROUP, status, row.start, row.end,
                                       row.capacity, 0)


def _plan_bookings(parsed: Parsed, ctx: Context, plan: Plan) -> None:
    holders = dict(ctx.seat_holders)
    for row in sorted(parsed.bookings, key=_by_created):
        if row.ref in ctx.booking_refs:
            plan.unchanged += 1
            continue
        target = plan.targets.get(f"sessions:{row.session}")
        if target is None:
            reason = (f"its session sessions:{row.session} is not imported (see that row)"
                      if row.session in parsed.session_ids
                      else f"unknown session {row.session} (not in the export's sessions)")
            plan.problem("bookings", row, reason)
            continue
        student_id = _student(ctx, plan, "bookings", row, target)
        if student_id is None:
            continue
        decided = _booking_status(plan, "bookings", row, target, ctx.now)
        if decided is None:
            continue
        status, reason = decided
        if status in SEAT_HOLDING_STATUSES and not _take_seat(plan, row, target, student_id, status, holders):
            continue
        plan.add_booking(row, _booking_fields(row, target, student_id, status, reason, ctx))


def _student(ctx: Context, plan: Plan, table: str, row: BookingRow | LessonRow, target: Target) -> Any:
    student_id = ctx.users.get(row.student)
    if student_id is None:
        plan.problem(table, row, f"unknown student {row.student!r} (no user with that username)")
    elif student_id == target.teacher_id:
        plan.problem(table, row, f"the student {row.student!r} is the session's teacher")
        return None
    return student_id


def _booking_status(plan: Plan, table: str, row: BookingRow | LessonRow, target: Target,
                    now: dt.datetime) -> tuple[str, str] | None:
    """The imported status and reason: the legacy one mapped, then what the session's state implies.

    None when the row cannot be imported (it is reported): an outcome of a session not yet over.
    """
    status = BOOKING_STATUSES[row.legacy_status]
    if status in SEAT_HOLDING_STATUSES and target.status == SessionStatus.CANCELLED:
        # A cancelled session holds no seat: cancel_session cancels its active bookings, and no
        # lesson took place in it to have an outcome.
        plan.adjust(table, row, f"imported as cancelled: legacy status {row.legacy_status!r}, "
                    "but its session is cancelled")
        return BookingStatus.CANCELLED, "session cancelled"
    if status in OUTCOME_STATUSES and target.end > now:
        # record_outcome records what happened once it has: never for a lesson still to come.
        plan.problem(table, row, f"legacy status {row.legacy_status!r} for a session that has not ended yet "
                     f"({_when(target.start, target.end)})")
        return None
    if status == BookingStatus.PENDING and target.start <= now:
        # A request expires at the session start at the latest; one past it is expired.
        plan.adjust(table, row, "imported as expired: a pending request for a session that has started")
        return BookingStatus.EXPIRED, ""
    return status, ""


def _take_seat(plan: Plan, row: BookingRow, target: Target, student_id: Any, status: str,
               holders: dict[tuple[Any, Any], str]) -> bool:
    """Claim a seat for a seat-holding booking (active, or with an outcome), or report why it gets none."""
    pair = (target.existing.pk if target.existing else target.ref, student_id)
    if pair in holders:
        what = "active" if status in ACTIVE_BOOKING_STATUSES else "seat-holding"
        plan.problem("bookings", row,
                     f"duplicate {what} booking of {row.student!r} in {target.ref} ({holders[pair]} is kept)")
        return False
    if target.seats >= target.capacity:
        seats = f"{target.capacity} seat" + ("s" if target.capacity != 1 else "")
        plan.problem("bookings", row, f"{target.ref} is full ({seats}): the earliest seat-holding bookings keep them")
        return False
    holders[pair] = row.ref
    target.seats += 1
    if target.existing is not None:
        plan.seat_increments[target.existing.pk] = plan.seat_increments.get(target.existing.pk, 0) + 1
    else:
        # The new session starts with exactly its seat-holding bookings.
        plan.seat_counts[target.ref] = target.seats
    return True


def _booking_fields(row: BookingRow | LessonRow, target: Target, student_id: Any, status: str, reason: str,
                    ctx: Context) -> dict[str, Any]:
    fields: dict[str, Any] = dict(
        external_ref=row.ref, student_id=student_id, teacher_id=target.teacher_id, kind=target.kind,
        start_at_utc=target.start, end_at_utc=target.end, status=status, reason=reason,
        source=BookingSource.IMPORT, created=row.created or ctx.now, expires_at=None,
    )
    if status == BookingStatus.PENDING:
        # As the services do: the time to live counts from when this system received the request
        # (the import; the legacy platform had no expiry), and never past the session start.
        ttl, _ = ctx.policies.get(target.teacher_id, (None, 0))
        fields["expires_at"] = request_expiry(ttl, ctx.now, target.start)
    if target.existing is not None:
        fields["session_id"] = target.existing.pk
    else:
        fields["session_ref"] = target.ref
    return fields


def _plan_lessons(parsed: Parsed, ctx: Context, plan: Plan, calendar: Callable[[Any], TeacherCalendar]) -> None:
    for row in sorted(parsed.lessons, key=_by_created):
        if row.ref in ctx.sessions or row.ref in ctx.booking_refs:
            plan.unchanged += 1
            continue
        teacher_id = ctx.users.get(row.teacher)
        if teacher_id is None:
            plan.problem("one_on_one_bookings", row, f"unknown teacher {row.teacher!r} (no user with that username)")
            continue
        target = Target(row.ref, teacher_id, SessionKind.ONE_ON_ONE, SessionStatus.SCHEDULED, row.start, row.end, 1, 0)
        student_id = _student(ctx, plan, "one_on_one_bookings", row, target)
        if student_id is None:
            continue
        decided = _booking_status(plan, "one_on_one_bookings", row, target, ctx.now)
        if decided is None:
            continue
        status, reason = decided
        # A lesson that took place (an outcome) keeps its seat and its time, as an active one does.
        holding = status in SEAT_HOLDING_STATUSES
        if holding and not _lesson_time_free(plan, ctx, row, teacher_id, calendar(teacher_id)):
            continue
        # A 1:1 lesson is its booking: once that holds no seat, its session is cancelled.
        target.status = SessionStatus.SCHEDULED if holding else SessionStatus.CANCELLED
        target.seats = 1 if holding else 0
        plan.sessions.append(dict(
            external_ref=row.ref, teacher_id=teacher_id, kind=SessionKind.ONE_ON_ONE, title="",
            start_at_utc=row.start, end_at_utc=row.end, duration_minutes=row.duration, timezone_snapshot=row.timezone,
            meeting_url=row.meeting_url, capacity=1, status=target.status,
        ))
        plan.seat_counts[row.ref] = target.seats
        plan.add_booking(row, _booking_fields(row, target, student_id, status, reason, ctx))


def _lesson_time_free(plan: Plan, ctx: Context, row: LessonRow, teacher_id: Any, cal: TeacherCalendar) -> bool:
    """A seat-holding 1:1 lesson needs the teacher free, with the policy's buffer, as request_lesson does."""
    _, buffer_minutes = ctx.policies.get(teacher_id, (None, 0))
    clash = cal.first_meeting(row.start, row.end, dt.timedelta(minutes=buffer_minutes))
    if clash is not None:
        margin = f" (with the teacher's {buffer_minutes}-minute buffer)" if buffer_minutes else ""
        kept = "the group session is kept" if clash.startswith("sessions:") else "the first booking is kept"
        plan.problem("one_on_one_bookings", row, f"overlaps {clash} of teacher {row.teacher!r}{margin} "
                     f"({_when(row.start, row.end)}); {kept}")
        return False
    cal.add(row.start, row.end, row.ref)
    return True
