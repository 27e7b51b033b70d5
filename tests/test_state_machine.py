"""Random sequences of every booking service keep the DESIGN invariants.

A Hypothesis state machine plays two teachers and four students against the public API: it
schedules group sessions, books seats, requests 1:1 lessons and weekly series, confirms, declines
and cancels bookings as whoever it likes, joins and leaves waitlists, accepts and declines offers,
moves seats and whole classes, changes classes, proposes and answers new lesson times, records
outcomes, changes the teachers' policies, moves its own clock forward and runs the sweep. Any call may be
refused with a ``BookingError``; nothing else may escape a service. After every step the whole
database is checked:

1. a scheduled session's ``seats_taken`` is its seat-holding bookings plus its open offers, and never
   above its capacity;
2. no session that has not started has a free seat while someone is ``waiting`` for one;
3. a student has at most one active booking and one open waitlist entry per session;
4. a teacher's scheduled sessions never overlap;
5. bookings, waitlist entries, sessions and reschedule proposals only move forward through their
   status machines;
6. each booking has exactly one history row per change it went through (its creation, each status
   move, each move in time or to another session).

And a refused call has written nothing and changed no field of the objects passed in (they equal
their stored rows), while a successful one leaves the objects it was given or returned showing what
it wrote (statuses, ``seats_taken``, times, sessions, capacity, meeting link) as stored.

Each example runs inside one transaction that is rolled back afterwards, so examples never see
each other's rows and no table needs flushing. ``LIVECLASS_FUZZ_EXAMPLES`` raises the number of
examples for a longer hunt.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Model, Q
from django.test import override_settings

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import BookingError
from django_liveclass_booking.models import (
    ACTIVE_BOOKING_STATUSES,
    BookingEvent,
    BookingSeries,
    BookingStatus,
    RescheduleRequest,
    RescheduleStatus,
    SessionKind,
    SessionStatus,
    SessionWaitlist,
    WaitlistStatus,
    get_booking_model,
    get_session_model,
)

from .conftest import NOW
from .invariants import assert_one_active_booking_per_student, assert_seat_counters

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import (  # noqa: E402
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

#: Session starts lie on a half-hour grid counted from NOW, so that random sessions of one
#: teacher often collide and random clock moves often cross a start or an expiry.
GRID = dt.timedelta(minutes=30)
DURATIONS = [30, 60, 90]

#: Every status a row may move to next; a status missing from the keys is final.
_RECORDED = {BookingStatus.COMPLETED, BookingStatus.NO_SHOW, BookingStatus.TEACHER_NO_SHOW}
BOOKING_MOVES: dict[str, set[str]] = {
    BookingStatus.PENDING: {BookingStatus.CONFIRMED, BookingStatus.DECLINED, BookingStatus.CANCELLED,
                            BookingStatus.EXPIRED},
    BookingStatus.CONFIRMED: {BookingStatus.CANCELLED} | _RECORDED,
    # Inside the outcome window: a dispute, or a correction.
    **{outcome: (_RECORDED | {BookingStatus.DISPUTED}) - {outcome} for outcome in _RECORDED},
    BookingStatus.DISPUTED: set(_RECORDED),
}
PROPOSAL_MOVES: dict[str, set[str]] = {
    RescheduleStatus.PENDING: {RescheduleStatus.ACCEPTED, RescheduleStatus.DECLINED, RescheduleStatus.WITHDRAWN,
                               RescheduleStatus.EXPIRED},
}
ENTRY_MOVES: dict[str, set[str]] = {
    WaitlistStatus.WAITING: {WaitlistStatus.OFFERED, WaitlistStatus.LEFT},
    WaitlistStatus.OFFERED: {WaitlistStatus.ACCEPTED, WaitlistStatus.DECLINED, WaitlistStatus.EXPIRED,
                             WaitlistStatus.LEFT},
}
SESSION_MOVES: dict[str, set[str]] = {SessionStatus.SCHEDULED: {SessionStatus.CANCELLED}}

#: Who performs a decision: a role relative to the booking, entry or session acted on.
ACTORS = ["student", "teacher", "other_student", "other_teacher", "system"]

_usernames = itertools.count(1)

#: The fields the services write on the rows they change, and so on the instances they were given.
STATE_FIELDS = ("status", "status_changed", "seats_taken", "session", "start_at_utc", "end_at_utc", "capacity",
                "meeting_url")


def _instances(values: list[Any]) -> dict[int, tuple[Model, str]]:
    """The model instances among ``values`` (in lists, tuples and dicts too) and their cached relations.

    By ``id``, with how each was reached: the guard restores a cached relation (``entry.session``)
    along with the instance holding it, so it counts as passed in.
    """
    found: dict[int, tuple[Model, str]] = {}

    def add(value: Any, via: str) -> None:
        if isinstance(value, Model):
            if id(value) in found:
                return
            what = via or f"{type(value).__name__} {value.pk}"
            found[id(value)] = (value, what)
            if not via:
                for name, related in value._state.fields_cache.items():
                    if isinstance(related, Model):
                        add(related, f"{what}'s cached {name} ({type(related).__name__} {related.pk})")
        elif isinstance(value, list | tuple | set):
            for item in value:
                add(item, via)
        elif isinstance(value, dict):
            for item in value.values():
                add(item, via)

    for value in values:
        add(value, "")
    return found


def _fields(obj: Model, *, names: Any = None, only: Any = None) -> dict[str, Any]:
    """Concrete field values held by ``obj`` (deferred ones are not loaded: they hold nothing to compare)."""
    values = {f.attname: obj.__dict__[f.attname] for f in obj._meta.concrete_fields
              if f.attname in obj.__dict__ and (names is None or f.name in names)}
    return values if only is None else {k: v for k, v in values.items() if k in only}


def _stored(obj: Model) -> Model | None:
    if obj.pk is None:
        return None
    return type(obj)._default_manager.filter(pk=obj.pk).first()


def _differences(mine: dict[str, Any], stored: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {k: (mine.get(k), stored.get(k)) for k in mine.keys() | stored.keys() if mine.get(k) != stored.get(k)}


picks = st.integers(min_value=0, max_value=1_000)
actors = st.sampled_from(ACTORS)


class BookingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Rolled back in teardown(): the next example starts from an empty calendar.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        User = get_user_model()
        self.teachers = [User.objects.create_user(username=f"sm-teacher{next(_usernames)}") for _ in range(2)]
        self.students = [User.objects.create_user(username=f"sm-student{next(_usernames)}") for _ in range(4)]
        self.now = NOW
        # Last seen status of every row, by pk: the reference for "statuses only move forward".
        self.seen_bookings: dict[Any, str] = {}
        self.seen_entries: dict[Any, str] = {}
        self.seen_sessions: dict[Any, str] = {}
        # How many history rows each booking should have: one for its creation, one per status move
        # seen, one per move in time or to another session the rules made.
        self.expected_events: dict[Any, int] = {}
        self.event_statuses: dict[Any, str] = {}
        self.seen_proposals: dict[Any, str] = {}
        self.active_group_booking_pks: list[Any] = []
        self.active_lesson_pks: list[Any] = []
        self.proposal_pks: list[Any] = []
        self.started_booking_pks: list[Any] = []
        # What the rules may pick from; refreshed after every step by the invariants.
        self.session_pks: list[Any] = []
        self.group_pks: list[Any] = []
        self.booking_pks: list[Any] = []
        self.entry_pks: list[Any] = []
        self.series_pks: list[Any] = []
        self.active_booking_pks: list[Any] = []
        self.contested_booking_pks: list[Any] = []
        self.offered_entry_pks: list[Any] = []
        self.recurrence_keys: list[str] = []
        self.something_due = False

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers ------------------------------------------------------------------------------

    def _user(self, pk: Any) -> Any:
        return next(u for u in self.teachers + self.students if u.pk == pk)

    def _actor(self, role: str, *, student_id: Any, teacher_id: Any) -> Any:
        if role == "system":
            return services.SYSTEM
        if role == "student":
            # A session has no student of its own: any student then stands in.
            return self.students[0] if student_id is None else self._user(student_id)
        if role == "teacher":
            return self._user(teacher_id)
        if role == "other_student":
            return next(s for s in self.students if s.pk != student_id)
        return next(t for t in self.teachers if t.pk != teacher_id)

    def _slot(self, offset: int) -> dt.datetime:
        """A grid time ``offset`` half-hours after the first grid time still ahead of the clock."""
        ahead = (self.now - NOW) // GRID + 1
        return NOW + (ahead + offset) * GRID

    @staticmethod
    def _snapshot() -> tuple[Any, ...]:
        Booking, Session = get_booking_model(), get_session_model()
        return (
            sorted(Booking.objects.values_list("pk", "status", "session_id", "start_at_utc", "end_at_utc")),
            sorted(SessionWaitlist.objects.values_list("pk", "status")),
            sorted(Session.objects.values_list("pk", "status", "seats_taken", "capacity", "start_at_utc",
                                               "meeting_url")),
            BookingSeries.objects.count(),
            BookingEvent.objects.count(),
            sorted(RescheduleRequest.objects.values_list("pk", "status")),
        )

    @staticmethod
    def _placements() -> dict[Any, tuple[Any, ...]]:
        return {pk: rest for pk, *rest in get_booking_model().objects.values_list("pk", "session_id", "start_at_utc",
                                                                                  "end_at_utc")}

    def _call(self, name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one service call. A refusal is fine if it carries a code, wrote nothing and changed no object."""
        before = self._snapshot()
        placed = self._placements()
        passed = _instances([*args, *kwargs.values()])
        fields_before = {key: _fields(obj) for key, (obj, _) in passed.items()}
        try:
            result = fn(*args, **kwargs)
        except BookingError as exc:
            assert isinstance(exc.code, str) and exc.code, f"{name} raised {exc!r} without a code"
            assert self._snapshot() == before, f"{name} was refused ({exc.code}) but changed the database"
            for key, (obj, what) in passed.items():
                stored = _stored(obj)
                # A row that does not exist leaves nothing to compare with but the object itself.
                for expected, against in ((fields_before[key], "before the call"),
                                          (None if stored is None else _fields(stored), "its stored row")):
                    if expected is not None:
                        assert _fields(obj) == expected, (
                            f"{name} was refused ({exc.code}) but the {what} passed in differs from {against}: "
                            f"{_differences(_fields(obj), expected)}")
            event(f"{name} refused: {exc.code}")
            return None
        # What the service wrote shows on the objects it was given and returned, as stored.
        for obj, what in _instances([*(obj for obj, _ in passed.values()), result]).values():
            stored = _stored(obj)
            if stored is None:
                continue
            written = [field for field in STATE_FIELDS if hasattr(stored, field)]
            mine, theirs = _fields(obj, names=written), _fields(stored, names=written)
            assert mine == theirs, f"{name} succeeded but the {what} is not as stored: {_differences(mine, theirs)}"
        # A booking moved in time or to another session has one more change in its history.
        for pk, place in self._placements().items():
            if pk in placed and placed[pk] != place:
                self.expected_events[pk] = self.expected_events.get(pk, 0) + 1
        event(f"{name}: done")
        return result

    # --- the teachers' settings ---------------------------------------------------------------

    @initialize(
        manual=st.lists(st.booleans(), min_size=2, max_size=2),
        ttl_hours=st.lists(st.integers(1, 3), min_size=2, max_size=2),
        offer_minutes=st.lists(st.integers(15, 90), min_size=2, max_size=2),
        cutoff_hours=st.lists(st.integers(0, 8), min_size=2, max_size=2),
        allow_late=st.lists(st.booleans(), min_size=2, max_size=2),
    )
    def start_with_policies(self, manual: list[bool], ttl_hours: list[int], offer_minutes: list[int],
                            cutoff_hours: list[int], allow_late: list[bool]) -> None:
        # Short lifetimes, so that requests and offers expire within a run of the machine; a
        # cancellation cutoff within the calendar's reach, so that students' cancellations are late.
        for teacher, is_manual, hours, mins, cutoff, late in zip(self.teachers, manual, ttl_hours, offer_minutes,
                                                                 cutoff_hours, allow_late, strict=True):
            services.set_policy(teacher, approval_mode="manual" if is_manual else "auto", request_ttl_hours=hours,
                                waitlist_offer_ttl_minutes=mins, cancellation_cutoff_hours=cutoff,
                                allow_late_cancellation=late)

    @initialize(classes=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 16), st.sampled_from(DURATIONS),
                                           st.integers(1, 3)), min_size=1, max_size=4))
    def start_with_classes(self, classes: list[tuple[int, int, int, int]]) -> None:
        # Group sessions from the first step, so that seats fill up and lines form early in a run.
        for teacher, offset, duration, capacity in classes:
            self.schedule(teacher, offset, duration, capacity)

    @rule(
        teacher=st.integers(0, 1),
        approval=st.sampled_from(["auto", "manual", "manual_for_new_students"]),
        ttl_hours=st.integers(1, 3),
        offer_minutes=st.integers(15, 90),
        cutoff_hours=st.integers(0, 3),
        allow_late=st.booleans(),
    )
    def change_policy(self, teacher: int, approval: str, ttl_hours: int, offer_minutes: int, cutoff_hours: int,
                      allow_late: bool) -> None:
        self._call("set_policy", services.set_policy, self.teachers[teacher], approval_mode=approval,
                   request_ttl_hours=ttl_hours, waitlist_offer_ttl_minutes=offer_minutes,
                   cancellation_cutoff_hours=cutoff_hours, allow_late_cancellation=allow_late)

    # --- time ---------------------------------------------------------------------------------

    # Now and then a long jump: past the lessons' starts (outcomes) and past the outcome window (completion).
    @rule(minutes=st.one_of(st.integers(5, 180), st.integers(240, 5000)))
    def advance_clock(self, minutes: int) -> None:
        self.now += dt.timedelta(minutes=minutes)
        event("advance_clock")

    @precondition(lambda self: self.booking_pks)
    @rule(pick=picks, minutes=st.integers(0, 72 * 60 + 180))
    def clock_reaches_a_lesson(self, pick: int, minutes: int) -> None:
        """The clock moves (forward only) to some minutes after a lesson's start: outcomes become possible."""
        start = get_booking_model().objects.get(pk=self.booking_pks[pick % len(self.booking_pks)]).start_at_utc
        self.now = max(self.now, start + dt.timedelta(minutes=minutes))
        event("advance_clock")

    # The sweep with nothing due is a no-op: spend the steps elsewhere.
    @precondition(lambda self: self.something_due)
    @rule()
    def sweep(self) -> None:
        counts = services.process_due(now=self.now)
        assert set(counts) == {"expired_requests", "expired_offers", "offers_made", "expired_reschedules", "completed",
                               "notifications_sent", "idempotency_keys_deleted"}
        assert all(value >= 0 for value in counts.values())
        expired = counts["expired_requests"] or counts["expired_offers"]
        event(f"process_due: {'expired something' if expired else 'idle'}")

    # --- sessions -----------------------------------------------------------------------------

    @rule(teacher=st.integers(0, 1), offset=st.integers(0, 16), duration=st.sampled_from(DURATIONS),
          capacity=st.integers(1, 3))
    def schedule(self, teacher: int, offset: int, duration: int, capacity: int) -> None:
        self._call("schedule_session", services.schedule_session, self.teachers[teacher], start=self._slot(offset),
                   duration=duration, capacity=capacity, now=self.now)

    @precondition(lambda self: self.session_pks)
    @rule(pick=picks, role=actors)
    def cancel_session(self, pick: int, role: str) -> None:
        session = get_session_model().objects.get(pk=self.session_pks[pick % len(self.session_pks)])
        actor = self._actor(role, student_id=None, teacher_id=session.teacher_id)
        self._call("cancel_session", services.cancel_session, session, actor=actor, now=self.now)

    # --- bookings -----------------------------------------------------------------------------

    @precondition(lambda self: self.group_pks)
    @rule(pick=picks, student=st.integers(0, 3))
    def book_seat(self, pick: int, student: int) -> None:
        session = get_session_model().objects.get(pk=self.group_pks[pick % len(self.group_pks)])
        self._call("book_seat", services.book_seat, self.students[student], session, now=self.now)

    @precondition(lambda self: self.group_pks)
    @rule(pick=picks, students=st.permutations(range(4)))
    def rush(self, pick: int, students: list[int]) -> None:
        """Every student wants a seat in one class: they book in turn, and queue once it is full."""
        session_pk = self.group_pks[pick % len(self.group_pks)]
        for student in students:
            session = get_session_model().objects.get(pk=session_pk)
            if self._call("book_seat", services.book_seat, self.students[student], session, now=self.now) is None:
                self._call("join_waitlist", services.join_waitlist, self.students[student], session, now=self.now)

    @rule(student=st.integers(0, 3), teacher=st.integers(0, 1), offset=st.integers(0, 16),
          duration=st.sampled_from(DURATIONS))
    def request_lesson(self, student: int, teacher: int, offset: int, duration: int) -> None:
        self._call("request_lesson", services.request_lesson, self.students[student], self.teachers[teacher],
                   start=self._slot(offset), duration=duration, now=self.now)

    @precondition(lambda self: self.booking_pks)
    @rule(pick=picks, decision=st.sampled_from(["confirm", "decline", "cancel"]), role=actors, any_row=st.booleans())
    def decide(self, pick: int, decision: str, role: str, any_row: bool) -> None:
        # Any booking, finished ones included, or an active one, so that seats really free up.
        pool = self.booking_pks if any_row or not self.active_booking_pks else self.active_booking_pks
        booking = get_booking_model().objects.get(pk=pool[pick % len(pool)])
        actor = self._actor(role, student_id=booking.student_id, teacher_id=booking.teacher_id)
        service = {"confirm": services.confirm_booking, "decline": services.decline_booking,
                   "cancel": services.cancel_booking}[decision]
        self._call(f"{decision}_booking", service, booking, actor=actor, now=self.now)

    @precondition(lambda self: self.active_booking_pks)
    @rule(pick=picks)
    def student_cancels(self, pick: int) -> None:
        """The student cancels their own booking: the one cancellation the cutoff binds, late or refused."""
        booking = get_booking_model().objects.get(pk=self.active_booking_pks[pick % len(self.active_booking_pks)])
        self._call("cancel_booking", services.cancel_booking, booking, actor=self._user(booking.student_id),
                   now=self.now)

    @precondition(lambda self: self.contested_booking_pks)
    @rule(pick=picks, decision=st.sampled_from(["decline", "cancel"]),
          role=st.sampled_from(["student", "teacher", "system"]))
    def give_up_contested_seat(self, pick: int, decision: str, role: str) -> None:
        """A seat in a class with a line comes free: it must be offered to the first in line."""
        booking = get_booking_model().objects.get(pk=self.contested_booking_pks[pick % len(self.contested_booking_pks)])
        actor = self._actor(role, student_id=booking.student_id, teacher_id=booking.teacher_id)
        service = {"decline": services.decline_booking, "cancel": services.cancel_booking}[decision]
        self._call(f"{decision}_booking", service, booking, actor=actor, now=self.now)

    # --- series of 1:1 lessons ----------------------------------------------------------------

    @rule(student=st.integers(0, 3), teacher=st.integers(0, 1), offset=st.integers(0, 16),
          duration=st.sampled_from(DURATIONS), count=st.integers(2, 4), on_conflict=st.sampled_from(["skip", "fail"]))
    def create_series(self, student: int, teacher: int, offset: int, duration: int, count: int,
                      on_conflict: str) -> None:
        self._call("create_series", services.create_series, self.students[student], self.teachers[teacher],
                   first_start=self._slot(offset), duration=duration, rrule=f"FREQ=WEEKLY;COUNT={count}",
                   timezone="UTC", on_conflict=on_conflict, now=self.now)

    @precondition(lambda self: self.series_pks)
    @rule(pick=picks, decision=st.sampled_from(["confirm", "decline"]), role=actors)
    def decide_series(self, pick: int, decision: str, role: str) -> None:
        series = BookingSeries.objects.get(pk=self.series_pks[pick % len(self.series_pks)])
        actor = self._actor(role, student_id=series.student_id, teacher_id=series.teacher_id)
        service = {"confirm": services.confirm_series, "decline": services.decline_series}[decision]
        self._call(f"{decision}_series", service, series, actor=actor, now=self.now)

    # Hourly too: a 90-minute class repeated every hour would overlap itself, and must be refused.
    @rule(teacher=st.integers(0, 1), offset=st.integers(0, 16), duration=st.sampled_from(DURATIONS),
          capacity=st.integers(1, 3), freq=st.sampled_from(["WEEKLY", "DAILY", "HOURLY"]), count=st.integers(2, 4))
    def schedule_recurring(self, teacher: int, offset: int, duration: int, capacity: int, freq: str,
                           count: int) -> None:
        self._call("schedule_recurring_sessions", services.schedule_recurring_sessions, self.teachers[teacher],
                   first_start=self._slot(offset), duration=duration, capacity=capacity,
                   rrule=f"FREQ={freq};COUNT={count}", timezone="UTC", now=self.now)

    @precondition(lambda self: self.recurrence_keys)
    @rule(pick=picks, student=st.integers(0, 3), on_conflict=st.sampled_from(["skip", "fail"]))
    def subscribe(self, pick: int, student: int, on_conflict: str) -> None:
        key = self.recurrence_keys[pick % len(self.recurrence_keys)]
        self._call("subscribe_to_recurring_sessions", services.subscribe_to_recurring_sessions,
                   self.students[student], key, on_conflict=on_conflict, now=self.now)

    @precondition(lambda self: self.series_pks)
    @rule(pick=picks, role=actors, following=st.one_of(st.none(), st.integers(0, 14)))
    def cancel_series(self, pick: int, role: str, following: int | None) -> None:
        series = BookingSeries.objects.get(pk=self.series_pks[pick % len(self.series_pks)])
        actor = self._actor(role, student_id=series.student_id, teacher_id=series.teacher_id)
        # None cancels every upcoming occurrence; a number of days cancels this-and-following.
        from_start = None if following is None else self.now + dt.timedelta(days=following)
        self._call("cancel_series", services.cancel_series, series, actor=actor, from_start=from_start, now=self.now)

    # --- moving lessons, seats and classes; changing classes ------------------------------------

    @precondition(lambda self: self.active_group_booking_pks and self.group_pks)
    @rule(pick=picks, to=picks, role=actors, same_teacher=st.booleans())
    def move_seat(self, pick: int, to: int, role: str, same_teacher: bool) -> None:
        pool = self.active_group_booking_pks
        booking = get_booking_model().objects.get(pk=pool[pick % len(pool)])
        # Mostly another class of the same teacher (the move that may work), else any class at all.
        targets = list(get_session_model().objects.filter(kind=SessionKind.GROUP, teacher_id=booking.teacher_id)
                       .exclude(pk=booking.session_id).values_list("pk", flat=True)) if same_teacher else []
        targets = targets or self.group_pks
        session = get_session_model().objects.get(pk=targets[to % len(targets)])
        actor = self._actor(role, student_id=booking.student_id, teacher_id=booking.teacher_id)
        self._call("move_seat", services.move_seat, booking, session, actor=actor, now=self.now)

    @precondition(lambda self: self.group_pks)
    @rule(pick=picks, offset=st.integers(0, 16), duration=st.one_of(st.none(), st.sampled_from(DURATIONS)),
          role=actors)
    def reschedule_class(self, pick: int, offset: int, duration: int | None, role: str) -> None:
        session = get_session_model().objects.get(pk=self.group_pks[pick % len(self.group_pks)])
        actor = self._actor(role, student_id=None, teacher_id=session.teacher_id)
        self._call("reschedule_session", services.reschedule_session, session, start=self._slot(offset),
                   duration=duration, actor=actor, now=self.now)

    @precondition(lambda self: self.session_pks)
    @rule(pick=picks, capacity=st.one_of(st.none(), st.integers(1, 4)), link=st.booleans(), role=actors)
    def update_class(self, pick: int, capacity: int | None, link: bool, role: str) -> None:
        session = get_session_model().objects.get(pk=self.session_pks[pick % len(self.session_pks)])
        actor = self._actor(role, student_id=None, teacher_id=session.teacher_id)
        self._call("update_session", services.update_session, session, actor=actor, capacity=capacity,
                   meeting_url=f"https://meet.example.org/{session.pk}" if link else None, now=self.now)

    @precondition(lambda self: self.active_lesson_pks)
    @rule(pick=picks, offset=st.integers(0, 16), role=st.sampled_from(["student", "teacher", "other_student"]))
    def propose_new_time(self, pick: int, offset: int, role: str) -> None:
        booking = get_booking_model().objects.get(pk=self.active_lesson_pks[pick % len(self.active_lesson_pks)])
        actor = self._actor(role, student_id=booking.student_id, teacher_id=booking.teacher_id)
        self._call("request_reschedule", services.request_reschedule, booking, start=self._slot(offset),
                   actor=actor, now=self.now)

    @precondition(lambda self: self.proposal_pks)
    @rule(pick=picks, action=st.sampled_from(["accept", "decline", "withdraw"]),
          role=st.sampled_from(["student", "teacher", "system", "other_teacher"]))
    def answer_proposal(self, pick: int, action: str, role: str) -> None:
        proposal = RescheduleRequest.objects.select_related("booking").get(
            pk=self.proposal_pks[pick % len(self.proposal_pks)])
        actor = self._actor(role, student_id=proposal.booking.student_id, teacher_id=proposal.booking.teacher_id)
        service = {"accept": services.accept_reschedule, "decline": services.decline_reschedule,
                   "withdraw": services.withdraw_reschedule}[action]
        self._call(f"{action}_reschedule", service, proposal, actor=actor, now=self.now)

    @precondition(lambda self: self.booking_pks)
    @rule(pick=picks, outcome=st.sampled_from(["completed", "no_show", "teacher_no_show"]), role=actors,
          started=st.booleans())
    def record_outcome(self, pick: int, outcome: str, role: str, started: bool) -> None:
        # Mostly a lesson under way or over (where an outcome may be recorded), else any booking.
        pool = self.started_booking_pks if started and self.started_booking_pks else self.booking_pks
        booking = get_booking_model().objects.get(pk=pool[pick % len(pool)])
        actor = self._actor(role, student_id=booking.student_id, teacher_id=booking.teacher_id)
        self._call("record_outcome", services.record_outcome, booking, outcome=outcome, actor=actor, now=self.now)

    @precondition(lambda self: self.started_booking_pks)
    @rule(pick=picks, account=st.sampled_from(["teacher:completed", "teacher:no_show", "student:teacher_no_show",
                                              "system:completed", "system:no_show"]))
    def attend(self, pick: int, account: str) -> None:
        """A party (or the system) says what happened in a lesson under way or over: records and disputes."""
        role, outcome = account.split(":")
        booking = get_booking_model().objects.get(pk=self.started_booking_pks[pick % len(self.started_booking_pks)])
        actor = self._actor(role, student_id=booking.student_id, teacher_id=booking.teacher_id)
        self._call("record_outcome", services.record_outcome, booking, outcome=outcome, actor=actor, now=self.now)

    # --- waitlists ----------------------------------------------------------------------------

    @precondition(lambda self: self.group_pks)
    @rule(pick=picks, student=st.integers(0, 3))
    def join_waitlist(self, pick: int, student: int) -> None:
        session = get_session_model().objects.get(pk=self.group_pks[pick % len(self.group_pks)])
        self._call("join_waitlist", services.join_waitlist, self.students[student], session, now=self.now)

    @precondition(lambda self: self.entry_pks)
    @rule(pick=picks, action=st.sampled_from(["accept", "decline", "leave"]), role=actors)
    def answer_waitlist(self, pick: int, action: str, role: str) -> None:
        self._answer(self.entry_pks[pick % len(self.entry_pks)], action, role)

    @precondition(lambda self: self.offered_entry_pks)
    @rule(pick=picks, action=st.sampled_from(["accept", "decline", "leave"]),
          role=st.sampled_from(["student", "system"]))
    def answer_offer(self, pick: int, action: str, role: str) -> None:
        """The holder of an offer answers it, in time or (after a clock move) too late."""
        self._answer(self.offered_entry_pks[pick % len(self.offered_entry_pks)], action, role)

    def _answer(self, entry_pk: Any, action: str, role: str) -> None:
        entry = SessionWaitlist.objects.select_related("session").get(pk=entry_pk)
        actor = self._actor(role, student_id=entry.student_id, teacher_id=entry.session.teacher_id)
        service = {"accept": services.accept_offer, "decline": services.decline_offer,
                   "leave": services.leave_waitlist}[action]
        name = {"accept": "accept_offer", "decline": "decline_offer", "leave": "leave_waitlist"}[action]
        self._call(name, service, entry, actor=actor, now=self.now)

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def seats_match_bookings_and_offers(self) -> None:
        assert_seat_counters()

    @invariant()
    def no_free_seat_while_someone_waits(self) -> None:
        # A seat freed in a session that has started goes back to the pool, not to the line.
        stranded = list(
            get_session_model().objects.filter(status=SessionStatus.SCHEDULED, start_at_utc__gt=self.now)
            .annotate(waiting=Count("waitlist_entries", filter=Q(waitlist_entries__status=WaitlistStatus.WAITING)))
            .filter(waiting__gt=0).values_list("pk", "seats_taken", "capacity", "waiting")
        )
        assert not [row for row in stranded if row[1] < row[2]], stranded

    @invariant()
    def one_active_booking_and_one_open_entry(self) -> None:
        assert_one_active_booking_per_student()

    @invariant()
    def teachers_never_double_booked(self) -> None:
        scheduled = get_session_model().objects.filter(status=SessionStatus.SCHEDULED).order_by(
            "teacher_id", "start_at_utc")
        rows = list(scheduled.values_list("teacher_id", "start_at_utc", "end_at_utc", "pk"))
        for (teacher_a, _, end_a, pk_a), (teacher_b, start_b, _, pk_b) in itertools.pairwise(rows):
            assert teacher_a != teacher_b or end_a <= start_b, f"sessions {pk_a} and {pk_b} overlap"

    @invariant()
    def statuses_only_move_forward(self) -> None:
        Booking, Session = get_booking_model(), get_session_model()
        self._check_moves("booking", self.seen_bookings, dict(Booking.objects.values_list("pk", "status")),
                          BOOKING_MOVES, first=set(ACTIVE_BOOKING_STATUSES))
        entries = dict(SessionWaitlist.objects.values_list("pk", "status"))
        self._check_moves("waitlist entry", self.seen_entries, entries, ENTRY_MOVES, first={WaitlistStatus.WAITING})
        sessions = dict(Session.objects.values_list("pk", "status"))
        self._check_moves("session", self.seen_sessions, sessions, SESSION_MOVES, first={SessionStatus.SCHEDULED})
        # What the next rules pick from.
        self.session_pks = sorted(sessions)
        self.group_pks = sorted(Session.objects.filter(kind=SessionKind.GROUP).values_list("pk", flat=True))
        self.booking_pks = sorted(self.seen_bookings)
        self.entry_pks = sorted(self.seen_entries)
        self.series_pks = sorted(BookingSeries.objects.values_list("pk", flat=True))
        self.active_booking_pks = sorted(pk for pk, status in self.seen_bookings.items()
                                         if status in ACTIVE_BOOKING_STATUSES)
        lines = SessionWaitlist.objects.filter(status=WaitlistStatus.WAITING).values("session_id")
        self.contested_booking_pks = sorted(Booking.objects.filter(status__in=ACTIVE_BOOKING_STATUSES,
                                                                   session_id__in=lines).values_list("pk", flat=True))
        self.offered_entry_pks = sorted(pk for pk, status in self.seen_entries.items()
                                        if status == WaitlistStatus.OFFERED)
        active = Booking.objects.filter(status__in=ACTIVE_BOOKING_STATUSES)
        self.active_group_booking_pks = sorted(active.filter(kind=SessionKind.GROUP).values_list("pk", flat=True))
        self.active_lesson_pks = sorted(active.filter(kind=SessionKind.ONE_ON_ONE).values_list("pk", flat=True))
        self.started_booking_pks = sorted(Booking.objects.filter(
            status__in=[BookingStatus.CONFIRMED, *_RECORDED, BookingStatus.DISPUTED], start_at_utc__lte=self.now)
            .values_list("pk", flat=True))
        proposals = dict(RescheduleRequest.objects.values_list("pk", "status"))
        self._check_moves("reschedule request", self.seen_proposals, proposals, PROPOSAL_MOVES,
                          first={RescheduleStatus.PENDING, RescheduleStatus.ACCEPTED})
        self.proposal_pks = sorted(pk for pk, status in proposals.items() if status == RescheduleStatus.PENDING)
        self.recurrence_keys = sorted(Session.objects.exclude(recurrence_key="").exclude(recurrence_key=None)
                                      .values_list("recurrence_key", flat=True).distinct())
        window = dt.timedelta(hours=72)
        self.something_due = (
            Booking.objects.due_to_expire(self.now).exists()
            or SessionWaitlist.objects.filter(status=WaitlistStatus.OFFERED, offer_expires_at__lte=self.now).exists()
            or RescheduleRequest.objects.due_to_expire(self.now).exists()
            or Booking.objects.filter(status=BookingStatus.CONFIRMED, end_at_utc__lt=self.now - window).exists()
        )

    @staticmethod
    def _check_moves(what: str, seen: dict[Any, str], current: dict[Any, str], moves: dict[str, set[str]],
                     first: set[str]) -> None:
        assert set(seen) <= set(current), f"a {what} row disappeared: {sorted(set(seen) - set(current))}"
        for pk, status in current.items():
            before = seen.get(pk)
            if before is None:
                assert status in first, f"{what} {pk} appeared as {status}"
            elif status != before:
                assert status in moves.get(before, set()), f"{what} {pk} moved {before} -> {status}"
                event(f"{what}: {before} -> {status}")
            seen[pk] = status

    @invariant()
    def every_change_of_a_booking_left_one_history_row(self) -> None:
        # Its own record of the statuses seen (the invariants run in no promised order): a new
        # booking and each status move count one row each; the rules count moves in time.
        for pk, status in get_booking_model().objects.values_list("pk", "status"):
            if self.event_statuses.get(pk) != status:
                self.expected_events[pk] = self.expected_events.get(pk, 0) + 1
                self.event_statuses[pk] = status
        stored = dict(BookingEvent.objects.values("booking_id").annotate(n=Count("pk")).values_list("booking_id", "n"))
        expected = {pk: n for pk, n in self.expected_events.items() if n}
        assert stored == expected, {pk: (stored.get(pk), expected.get(pk))
                                    for pk in set(stored) | set(expected) if stored.get(pk) != expected.get(pk)}


fuzz = settings(
    max_examples=int(os.environ.get("LIVECLASS_FUZZ_EXAMPLES", "30")),
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.django_db
def test_random_service_sequences_keep_the_invariants() -> None:
    # Lessons anywhere on the calendar: availability windows have tests of their own, and here
    # they would only turn most lesson requests into refusals.
    with override_settings(LIVECLASS_BOOKING={"REQUIRE_AVAILABILITY": False}):
        run_state_machine_as_test(BookingMachine, settings=fuzz)
