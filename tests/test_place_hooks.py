"""The adapter's transactional hooks: every path that takes or gives back a place calls the right hook
once per booking, inside the service's transaction; a refusal from ``on_place_taken`` refuses the
whole call, and an error in ``on_place_released`` rolls the release back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connections, router

from django_liveclass_booking import services
from django_liveclass_booking.adapter import DefaultBookingAdapter
from django_liveclass_booking.exceptions import BookingError
from django_liveclass_booking.models import (
    BookingEvent,
    BookingSeries,
    BookingStatus,
    SessionWaitlist,
    WaitlistStatus,
    get_booking_model,
    get_session_model,
)

from .test_refusals_leave_objects import fields

pytestmark = pytest.mark.django_db

ADAPTER = f"{__name__}.RecordingAdapter"


class RecordingAdapter(DefaultBookingAdapter):
    """Records every hook call with what the hook saw of the transaction and the booking row.

    ``refuse_taken`` / ``fail_released`` make the next calls raise.
    """

    calls: list[tuple[str, Any, str | None]] = []
    seen: list[dict[str, Any]] = []
    refuse_taken: BookingError | None = None
    fail_released: Exception | None = None

    @classmethod
    def reset(cls) -> None:
        cls.calls, cls.seen, cls.refuse_taken, cls.fail_released = [], [], None, None

    def _observe(self, booking: Any) -> None:
        Booking = type(booking)
        alias = router.db_for_write(Booking)
        row = Booking.objects.using(alias).filter(pk=booking.pk).values_list("status", flat=True).first()
        type(self).seen.append({"atomic": connections[alias].in_atomic_block, "stored_status": row,
                                "status": booking.status})

    def on_place_taken(self, booking: Any) -> None:
        type(self).calls.append(("taken", booking.pk, None))
        self._observe(booking)
        if type(self).refuse_taken is not None:
            raise type(self).refuse_taken

    def on_place_released(self, booking: Any, reason: str) -> None:
        type(self).calls.append(("released", booking.pk, reason))
        self._observe(booking)
        if type(self).fail_released is not None:
            raise type(self).fail_released


@pytest.fixture
def hooks(settings: Any) -> Iterator[type[RecordingAdapter]]:
    RecordingAdapter.reset()
    settings.LIVECLASS_BOOKING = {"ADAPTER": ADAPTER}
    yield RecordingAdapter
    RecordingAdapter.reset()


@pytest.fixture
def open_week(teacher: Any) -> Any:
    services.set_policy(teacher, timezone="UTC")
    for weekday in range(7):
        services.add_availability(teacher, weekday=weekday, start_time=dt.time(8), end_time=dt.time(18),
                                  timezone="UTC")
    return teacher


def lesson_at(now: dt.datetime, days: int = 2, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(now.date() + dt.timedelta(days=days), dt.time(hour), tzinfo=dt.UTC)


def weekly(student: Any, teacher: Any, now: dt.datetime, count: int = 3, **kwargs: Any) -> BookingSeries:
    return services.create_series(student, teacher, first_start=lesson_at(now), duration=60,
                                  rrule=f"FREQ=WEEKLY;COUNT={count}", timezone="UTC", now=now, **kwargs)


def series_pks(series: BookingSeries) -> list[Any]:
    return list(get_booking_model().objects.filter(series_item__series=series).order_by("start_at_utc")
                .values_list("pk", flat=True))


def offered(make_session: Callable[..., Any], make_user: Callable[..., Any], now: dt.datetime) -> SessionWaitlist:
    """A waitlist entry holding an offer: a full one-seat session whose only booking was cancelled."""
    session = make_session(capacity=1)
    holder = services.book_seat(make_user(), session, now=now)
    services.join_waitlist(make_user(), session, now=now)
    services.cancel_booking(holder, actor=holder.student, now=now)
    entry = SessionWaitlist.objects.get(session=session, status=WaitlistStatus.OFFERED)
    return entry


# --- a place taken ---------------------------------------------------------------------------------


def test_book_seat_calls_on_place_taken_once_inside_the_transaction(hooks, session, student, now):
    booking = services.book_seat(student, session, now=now)
    assert hooks.calls == [("taken", booking.pk, None)]
    assert hooks.seen == [{"atomic": True, "stored_status": "confirmed", "status": "confirmed"}]


def test_a_pending_seat_takes_its_place_too(hooks, session, student, set_policy, now):
    set_policy(approval_mode="manual")
    booking = services.book_seat(student, session, now=now)
    assert booking.status == "pending"
    assert hooks.calls == [("taken", booking.pk, None)]
    assert hooks.seen[0]["stored_status"] == "pending"


def test_request_lesson_calls_on_place_taken_once(hooks, open_week, student, now):
    booking = services.request_lesson(student, open_week, start=lesson_at(now), duration=60, now=now)
    assert hooks.calls == [("taken", booking.pk, None)]
    assert hooks.seen == [{"atomic": True, "stored_status": "confirmed", "status": "confirmed"}]


def test_accept_offer_calls_on_place_taken_once(hooks, make_session, make_user, now):
    entry = offered(make_session, make_user, now)
    hooks.reset()
    booking = services.accept_offer(entry, actor=entry.student, now=now)
    assert hooks.calls == [("taken", booking.pk, None)]
    assert hooks.seen[0]["atomic"] and hooks.seen[0]["stored_status"] == "confirmed"


def test_create_series_calls_on_place_taken_once_per_occurrence(hooks, open_week, student, now):
    series = weekly(student, open_week, now, count=3)
    pks = series_pks(series)
    assert len(pks) == 3
    assert sorted(hooks.calls, key=lambda c: c[1]) == [("taken", pk, None) for pk in sorted(pks)]
    assert all(s["atomic"] and s["stored_status"] == "confirmed" for s in hooks.seen)


def test_subscribe_calls_on_place_taken_once_per_seat(hooks, teacher, student, now):
    sessions = services.schedule_recurring_sessions(teacher, first_start=lesson_at(now), duration=60, capacity=3,
                                                    rrule="FREQ=WEEKLY;COUNT=3", timezone="UTC", now=now)
    series = services.subscribe_to_recurring_sessions(student, sessions[0].recurrence_key, now=now)
    pks = series_pks(series)
    assert len(pks) == 3
    assert sorted(hooks.calls, key=lambda c: c[1]) == [("taken", pk, None) for pk in sorted(pks)]
    assert all(s["atomic"] and s["stored_status"] == "confirmed" for s in hooks.seen)


# --- a place given back ----------------------------------------------------------------------------


def test_cancel_releases_with_cancelled(hooks, session, student, now):
    booking = services.book_seat(student, session, now=now)
    hooks.reset()
    services.cancel_booking(booking, actor=student, now=now)
    assert hooks.calls == [("released", booking.pk, "cancelled")]
    # The hook sees the row already moved, inside the transaction.
    assert hooks.seen == [{"atomic": True, "stored_status": "cancelled", "status": "cancelled"}]


def test_a_late_cancel_releases_with_late_cancelled(hooks, session, student, set_policy, now):
    set_policy(cancellation_cutoff_hours=48, allow_late_cancellation=True)
    booking = services.book_seat(student, session, now=now)
    hooks.reset()
    services.cancel_booking(booking, actor=student, now=now)
    assert booking.late_cancellation is True
    assert hooks.calls == [("released", booking.pk, "late_cancelled")]


def test_a_teacher_cancelling_inside_the_cutoff_is_not_late(hooks, session, student, teacher, set_policy, now):
    set_policy(cancellation_cutoff_hours=48, allow_late_cancellation=True)
    booking = services.book_seat(student, session, now=now)
    hooks.reset()
    services.cancel_booking(booking, actor=teacher, now=now)
    assert hooks.calls == [("released", booking.pk, "cancelled")]


def test_decline_releases_with_declined(hooks, session, student, teacher, set_policy, now):
    set_policy(approval_mode="manual")
    booking = services.book_seat(student, session, now=now)
    hooks.reset()
    services.decline_booking(booking, actor=teacher, now=now)
    assert hooks.calls == [("released", booking.pk, "declined")]


def test_confirm_neither_takes_nor_releases(hooks, session, student, teacher, set_policy, now):
    set_policy(approval_mode="manual")
    booking = services.book_seat(student, session, now=now)
    hooks.reset()
    services.confirm_booking(booking, actor=teacher, now=now)
    assert hooks.calls == []


def test_process_due_releases_expired_requests(hooks, make_session, make_user, set_policy, open_week, now):
    set_policy(approval_mode="manual", request_ttl_hours=1)
    seat = services.book_seat(make_user(), make_session(), now=now)
    lesson = services.request_lesson(make_user(), open_week, start=lesson_at(now), duration=60, now=now)
    hooks.reset()
    counts = services.process_due(now=now + dt.timedelta(hours=2))
    assert counts["expired_requests"] == 2
    assert sorted(hooks.calls, key=lambda c: c[1]) == sorted(
        [("released", seat.pk, "expired"), ("released", lesson.pk, "expired")], key=lambda c: c[1])
    assert all(s["atomic"] and s["stored_status"] == "expired" for s in hooks.seen)
    # The sweep again finds nothing and releases nothing twice.
    hooks.reset()
    services.process_due(now=now + dt.timedelta(hours=3))
    assert hooks.calls == []


def test_cancel_session_releases_every_active_booking_once(hooks, session, make_user, teacher, set_policy, now):
    bookings = [services.book_seat(make_user(), session, now=now) for _ in range(2)]
    gone = services.book_seat(make_user(), session, now=now)
    services.cancel_booking(gone, actor=gone.student, now=now)
    hooks.reset()
    services.cancel_session(session, actor=teacher, now=now)
    assert sorted(hooks.calls) == sorted(("released", b.pk, "session_cancelled") for b in bookings)
    assert all(s["atomic"] and s["stored_status"] == "cancelled" for s in hooks.seen)


def test_cancel_series_releases_each_upcoming_booking(hooks, open_week, student, now):
    series = weekly(student, open_week, now, count=3)
    pks = series_pks(series)
    hooks.reset()
    assert services.cancel_series(series, actor=student, now=now) == 3
    assert sorted(hooks.calls) == sorted(("released", pk, "cancelled") for pk in pks)


def test_cancel_series_reports_late_occurrences_as_late(hooks, open_week, student, now):
    services.set_policy(open_week, cancellation_cutoff_hours=72, allow_late_cancellation=True)
    series = weekly(student, open_week, now, count=3)
    first, *rest = series_pks(series)
    hooks.reset()
    services.cancel_series(series, actor=student, now=now)
    assert sorted(hooks.calls) == sorted([("released", first, "late_cancelled"),
                                          *(("released", pk, "cancelled") for pk in rest)])


def test_decline_series_releases_each_pending_booking(hooks, open_week, student, now):
    services.set_policy(open_week, approval_mode="manual", request_ttl_hours=72)
    series = weekly(student, open_week, now, count=3)
    pks = series_pks(series)
    hooks.reset()
    services.decline_series(series, actor=open_week, now=now)
    assert sorted(hooks.calls) == sorted(("released", pk, "declined") for pk in pks)


# --- on_place_taken refuses: the whole call is refused and writes nothing --------------------------


def snapshot() -> dict[str, Any]:
    Session = get_session_model()
    return {
        "bookings": get_booking_model().objects.count(),
        "events": BookingEvent.objects.count(),
        "series": BookingSeries.objects.count(),
        "sessions": sorted(Session.objects.values_list("pk", "seats_taken", "status")),
        "waitlist": sorted(SessionWaitlist.objects.values_list("pk", "status")),
    }


def refused_alike(hooks: type[RecordingAdapter], call: Callable[[], Any], signal_log: Any, capture: Any,
                  *passed: Any) -> None:
    before = snapshot()
    kept = [fields(obj) for obj in passed]
    hooks.refuse_taken = BookingError("You have no lesson credits left.", code="no_credits")
    with capture(execute=True), pytest.raises(BookingError) as refused:
        call()
    assert refused.value.code == "no_credits"
    assert str(refused.value) == "You have no lesson credits left."
    assert hooks.calls and {c[0] for c in hooks.calls} == {"taken"}
    assert snapshot() == before
    assert signal_log.names == []
    assert [fields(obj) for obj in passed] == kept


def test_a_refused_book_seat_writes_nothing(hooks, session, student, now, signal_log,
                                            django_capture_on_commit_callbacks):
    refused_alike(hooks, lambda: services.book_seat(student, session, now=now), signal_log,
                  django_capture_on_commit_callbacks, session, student)
    assert session.seats_taken == 0


def test_a_refused_pending_book_seat_writes_nothing(hooks, session, student, set_policy, now, signal_log,
                                                    django_capture_on_commit_callbacks):
    set_policy(approval_mode="manual", max_pending_requests=3)
    refused_alike(hooks, lambda: services.book_seat(student, session, now=now), signal_log,
                  django_capture_on_commit_callbacks, session, student)


def test_a_refused_request_lesson_writes_nothing(hooks, open_week, student, now, signal_log,
                                                 django_capture_on_commit_callbacks):
    refused_alike(hooks, lambda: services.request_lesson(student, open_week, start=lesson_at(now), duration=60,
                                                         now=now),
                  signal_log, django_capture_on_commit_callbacks, open_week, student)


def test_a_refused_accept_offer_keeps_the_offer(hooks, make_session, make_user, now, signal_log,
                                                django_capture_on_commit_callbacks):
    entry = offered(make_session, make_user, now)
    hooks.reset()
    signal_log.sent.clear()
    refused_alike(hooks, lambda: services.accept_offer(entry, actor=entry.student, now=now), signal_log,
                  django_capture_on_commit_callbacks, entry)
    assert SessionWaitlist.objects.get(pk=entry.pk).status == WaitlistStatus.OFFERED


def test_a_refused_series_writes_nothing(hooks, open_week, student, now, signal_log,
                                         django_capture_on_commit_callbacks):
    refused_alike(hooks, lambda: weekly(student, open_week, now, count=3), signal_log,
                  django_capture_on_commit_callbacks, open_week, student)


@pytest.mark.parametrize("mode", ["skip", "fail"])
def test_a_refused_subscription_writes_nothing(hooks, teacher, student, now, signal_log,
                                               django_capture_on_commit_callbacks, mode):
    sessions = services.schedule_recurring_sessions(teacher, first_start=lesson_at(now), duration=60, capacity=3,
                                                    rrule="FREQ=WEEKLY;COUNT=3", timezone="UTC", now=now)
    refused_alike(hooks, lambda: services.subscribe_to_recurring_sessions(student, sessions[0].recurrence_key,
                                                                          on_conflict=mode, now=now),
                  signal_log, django_capture_on_commit_callbacks, student)


def test_a_subscription_skips_the_occurrences_the_hook_refuses(settings, teacher, student, now):
    """With ``on_conflict="skip"`` a refusal is one occurrence's: it is skipped with the hook's code."""
    sessions = services.schedule_recurring_sessions(teacher, first_start=lesson_at(now), duration=60, capacity=3,
                                                    rrule="FREQ=WEEKLY;COUNT=3", timezone="UTC", now=now)
    settings.LIVECLASS_BOOKING = {"ADAPTER": f"{__name__}.TwoCreditsAdapter"}
    TwoCreditsAdapter.left = 2
    series = services.subscribe_to_recurring_sessions(student, sessions[0].recurrence_key, now=now)
    items = list(series.items.order_by("index").values_list("status", "skip_reason"))
    assert items == [("booked", ""), ("booked", ""), ("skipped", "no_credits")]
    assert get_session_model().objects.get(pk=sessions[2].pk).seats_taken == 0
    assert not get_booking_model().objects.filter(session_id=sessions[2].pk).exists()


class TwoCreditsAdapter(DefaultBookingAdapter):
    left = 0

    def on_place_taken(self, booking: Any) -> None:
        if type(self).left <= 0:
            raise BookingError("You have no lesson credits left.", code="no_credits")
        type(self).left -= 1


# --- on_place_released fails: the release rolls back -----------------------------------------------


def test_an_error_in_on_place_released_rolls_the_cancel_back(hooks, session, student, now, signal_log,
                                                             django_capture_on_commit_callbacks):
    booking = services.book_seat(student, session, now=now)
    signal_log.sent.clear()
    before, kept = snapshot(), fields(booking)
    hooks.reset()
    hooks.fail_released = RuntimeError("the ledger is down")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        services.cancel_booking(booking, actor=student, now=now)
    assert hooks.calls == [("released", booking.pk, "cancelled")]
    assert snapshot() == before
    assert fields(booking) == kept and booking.status == BookingStatus.CONFIRMED
    assert get_booking_model().objects.get(pk=booking.pk).status == BookingStatus.CONFIRMED
    assert signal_log.names == []


def test_an_error_in_on_place_released_rolls_the_session_cancel_back(hooks, session, make_user, teacher, now):
    services.book_seat(make_user(), session, now=now)
    before = snapshot()
    hooks.fail_released = BookingError("Refunds are closed.", code="refunds_closed")
    with pytest.raises(BookingError) as refused:
        services.cancel_session(session, actor=teacher, now=now)
    assert refused.value.code == "refunds_closed"
    assert snapshot() == before
    assert session.status == "scheduled"


@pytest.mark.django_db(transaction=True)
def test_outside_a_test_transaction_the_hooks_still_run_inside_the_services(hooks, session, student, now):
    """Without the test case's own transaction around it, ``in_atomic_block`` is the service's alone."""
    alias = router.db_for_write(get_booking_model())
    assert not connections[alias].in_atomic_block
    booking = services.book_seat(student, session, now=now)
    services.cancel_booking(booking, actor=student, now=now)
    assert hooks.calls == [("taken", booking.pk, None), ("released", booking.pk, "cancelled")]
    assert [s["atomic"] for s in hooks.seen] == [True, True]
    assert not connections[alias].in_atomic_block
