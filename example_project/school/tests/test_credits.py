"""The school's lesson credits: one credit per booking, charged and refunded inside the booking
transaction by ``school.adapter.SchoolAdapter``; the "My credits" page; and the race the row lock wins.

Run by tests/test_example_credits.py on the package's test database (SQLite, PostgreSQL, MariaDB).
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.urls import reverse

from django_liveclass_booking import services
from django_liveclass_booking.adapter import DefaultBookingAdapter, get_adapter
from django_liveclass_booking.exceptions import BookingError
from django_liveclass_booking.models import BookingEvent, get_booking_model
from school.adapter import SchoolAdapter, add_credits
from school.models import CreditAccount, CreditEntry, Lesson

NOW = dt.datetime(2030, 5, 6, 9, 0, tzinfo=dt.UTC)
_names = itertools.count(1)
Reason = CreditEntry.Reason


@pytest.fixture
def make_user(db: Any) -> Callable[..., Any]:
    def make(prefix: str = "user") -> Any:
        return get_user_model().objects.create_user(f"{prefix}{next(_names)}", password="pw")

    return make


def credit(student: Any, amount: int) -> None:
    with transaction.atomic():
        add_credits(student, amount, Reason.GIFT)


def balance(student: Any) -> int:
    return CreditAccount.objects.get(student=student).balance


def ledger(student: Any) -> list[tuple[str, int]]:
    return list(CreditEntry.objects.filter(account__student=student).order_by("at", "pk")
                .values_list("reason", "delta"))


def group(teacher: Any, hours: int = 26, capacity: int = 5) -> Lesson:
    return services.schedule_session(teacher, start=NOW + dt.timedelta(hours=hours), duration=60,
                                     capacity=capacity, now=NOW)  # type: ignore[return-value]


@pytest.fixture
def teacher(make_user: Callable[..., Any]) -> Any:
    return make_user("teacher")


@pytest.fixture
def student(make_user: Callable[..., Any]) -> Any:
    user = make_user("student")
    credit(user, 3)
    return user


def test_the_example_project_uses_the_school_adapter() -> None:
    assert isinstance(get_adapter(), SchoolAdapter)


@pytest.mark.django_db
class TestLedger:
    def test_a_booking_costs_one_credit(self, teacher: Any, student: Any) -> None:
        booking = services.book_seat(student, group(teacher), now=NOW)
        assert balance(student) == 2
        assert ledger(student) == [(Reason.GIFT, 3), (Reason.CHARGE, -1)]
        assert CreditEntry.objects.get(reason=Reason.CHARGE).booking_id == booking.pk

    def test_without_credits_the_booking_is_refused_and_nothing_is_written(self, teacher: Any,
                                                                         make_user: Callable[..., Any]) -> None:
        poor = make_user("student")
        credit(poor, 0)
        session = group(teacher)
        with pytest.raises(BookingError) as refused:
            services.book_seat(poor, session, now=NOW)
        assert refused.value.code == "no_credits"
        assert "no lesson credits" in str(refused.value)
        assert session.seats_taken == 0 and Lesson.objects.get(pk=session.pk).seats_taken == 0
        assert not get_booking_model().objects.exists() and not BookingEvent.objects.exists()
        assert ledger(poor) == [(Reason.GIFT, 0)]

    def test_a_student_without_an_account_has_no_credits(self, teacher: Any, make_user: Callable[..., Any]) -> None:
        with pytest.raises(BookingError) as refused:
            services.book_seat(make_user("student"), group(teacher), now=NOW)
        assert refused.value.code == "no_credits"
        assert not CreditAccount.objects.exists()

    def test_cancelling_in_time_refunds(self, teacher: Any, student: Any) -> None:
        booking = services.book_seat(student, group(teacher), now=NOW)
        services.cancel_booking(booking, actor=student, now=NOW)
        assert balance(student) == 3
        assert ledger(student)[1:] == [(Reason.CHARGE, -1), (Reason.REFUND, 1)]

    def test_a_late_cancellation_keeps_the_credit(self, teacher: Any, student: Any) -> None:
        services.set_policy(teacher, cancellation_cutoff_hours=48, allow_late_cancellation=True)
        booking = services.book_seat(student, group(teacher), now=NOW)
        services.cancel_booking(booking, actor=student, now=NOW)
        assert booking.late_cancellation
        assert balance(student) == 2
        assert ledger(student)[1:] == [(Reason.CHARGE, -1), (Reason.FORFEIT, 0)]

    def test_declined_expired_and_session_cancelled_places_are_refunded(self, teacher: Any, student: Any,
                                                                       make_user: Callable[..., Any]) -> None:
        services.set_policy(teacher, approval_mode="manual", request_ttl_hours=1)
        declined = services.book_seat(student, group(teacher, hours=26), now=NOW)
        services.book_seat(student, group(teacher, hours=30), now=NOW)  # expires
        assert balance(student) == 1
        services.decline_booking(declined, actor=teacher, now=NOW)
        services.process_due(now=NOW + dt.timedelta(hours=2))
        assert balance(student) == 3
        services.set_policy(teacher, approval_mode="auto")
        session = group(teacher, hours=34)
        services.book_seat(student, session, now=NOW + dt.timedelta(hours=3))
        services.cancel_session(session, actor=teacher, now=NOW + dt.timedelta(hours=3))
        assert balance(student) == 3
        assert [r for r, _ in ledger(student)].count(Reason.REFUND) == 3

    def test_a_refund_is_paid_once_however_often_the_release_is_reported(self, teacher: Any, student: Any) -> None:
        booking = services.book_seat(student, group(teacher), now=NOW)
        services.cancel_booking(booking, actor=teacher, now=NOW)
        with transaction.atomic():
            SchoolAdapter().on_place_released(booking, "cancelled")
            SchoolAdapter().on_place_released(booking, "session_cancelled")
        assert balance(student) == 3
        assert [r for r, _ in ledger(student)].count(Reason.REFUND) == 1

    def test_a_move_nets_zero(self, teacher: Any, student: Any) -> None:
        """A move gives the old place back (``moved``) and takes the new one with the same booking."""
        booking = services.book_seat(student, group(teacher), now=NOW)
        before = ledger(student)
        with transaction.atomic():
            SchoolAdapter().on_place_released(booking, "moved")
            SchoolAdapter().on_place_taken(booking)
        assert balance(student) == 2 and ledger(student) == before
        # Moved and then cancelled in time: the one credit it paid comes back, once.
        services.cancel_booking(booking, actor=student, now=NOW)
        assert balance(student) == 3

    def test_a_moved_booking_is_not_refused_for_want_of_credits(self, teacher: Any,
                                                                make_user: Callable[..., Any]) -> None:
        last = make_user("student")
        credit(last, 1)
        booking = services.book_seat(last, group(teacher), now=NOW)
        assert balance(last) == 0
        with transaction.atomic():
            SchoolAdapter().on_place_released(booking, "moved")
            SchoolAdapter().on_place_taken(booking)
        assert balance(last) == 0 and [r for r, _ in ledger(last)].count(Reason.CHARGE) == 1

    def test_a_series_is_charged_per_occurrence_or_refused_whole(self, teacher: Any, student: Any) -> None:
        services.set_policy(teacher, timezone="UTC")
        for weekday in range(7):
            services.add_availability(teacher, weekday=weekday, start_time=dt.time(8), end_time=dt.time(18),
                                      timezone="UTC")
        start = NOW + dt.timedelta(days=1, hours=1)

        def weekly(count: int) -> Any:
            return services.create_series(student, teacher, first_start=start, duration=60,
                                          rrule=f"FREQ=WEEKLY;COUNT={count}", timezone="UTC", now=NOW)

        with pytest.raises(BookingError) as refused:
            weekly(4)
        assert refused.value.code == "no_credits"
        assert balance(student) == 3 and not get_booking_model().objects.exists()
        weekly(3)
        assert balance(student) == 0
        assert [r for r, _ in ledger(student)].count(Reason.CHARGE) == 3

    def test_the_balance_cannot_go_below_zero_in_the_database(self, student: Any) -> None:
        from django.db import DataError, IntegrityError

        # MariaDB stores it UNSIGNED and refuses the value itself; the others check the constraint.
        with pytest.raises((IntegrityError, DataError)), transaction.atomic():
            CreditAccount.objects.filter(student=student).update(balance=-1)


@pytest.mark.django_db
class TestPage:
    def test_the_page_needs_a_login(self, client: Any) -> None:
        response = client.get(reverse("my_credits"))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]

    def test_the_page_shows_the_balance_and_the_ledger(self, client: Any, teacher: Any, student: Any) -> None:
        services.book_seat(student, group(teacher), now=NOW)
        client.force_login(student)
        page = client.get(reverse("my_credits")).content.decode()
        assert '<strong id="credit-balance">2</strong>' in page
        assert "Welcome credits" in page and "Booked" in page and "+3" in page and "-1" in page
        assert 'href="/credits/"' in page  # the nav link of the school's base template

    def test_buying_adds_five_credits_by_post_only(self, client: Any, student: Any) -> None:
        client.force_login(student)
        assert client.get(reverse("buy_credits")).status_code == 405
        response = client.post(reverse("buy_credits"), follow=True)
        assert response.redirect_chain[-1][0] == reverse("my_credits")
        assert balance(student) == 8 and ledger(student)[-1] == (Reason.PURCHASE, 5)
        assert "5 credits added" in response.content.decode()

    def test_buying_needs_the_csrf_token(self, student: Any) -> None:
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        client.force_login(student)
        assert client.post(reverse("buy_credits")).status_code == 403
        page = client.get(reverse("my_credits")).content.decode()
        assert 'name="csrfmiddlewaretoken"' in page
        assert balance(student) == 3

    def test_a_new_student_sees_a_zero_balance(self, client: Any, make_user: Callable[..., Any]) -> None:
        client.force_login(make_user("student"))
        page = client.get(reverse("my_credits")).content.decode()
        assert '<strong id="credit-balance">0</strong>' in page and "No credits yet." in page
        assert not CreditAccount.objects.exists()


# --- the race: one credit, two bookings at once ----------------------------------------------------


def run_at_once(worker: Callable[[Any], Any], args: list[Any]) -> list[Any]:
    """``worker(arg)`` in one real thread per arg, released together; each result or exception."""
    barrier = threading.Barrier(len(args))
    results: list[Any] = [None] * len(args)

    def run(i: int) -> None:
        from django.db import connections

        try:
            barrier.wait(timeout=60)
            results[i] = worker(args[i])
        except Exception as exc:  # returned, so the test asserts on every outcome
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(args))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


class NaiveCreditAdapter(DefaultBookingAdapter):
    """The classic mistake: read the balance without a lock, decrement in Python, write it back.

    Every thread holds between its read and its write until all have read, the widest window.
    """

    barrier: threading.Barrier | None = None

    def on_place_taken(self, booking: Any) -> None:
        account = CreditAccount.objects.get(student_id=booking.student_id)
        if account.balance < 1:
            raise BookingError("You have no lesson credits left.", code="no_credits")
        if type(self).barrier is not None:
            type(self).barrier.wait(timeout=30)
        account.balance -= 1
        account.save(update_fields=["balance"])
        CreditEntry.objects.create(account=account, booking=booking, delta=-1, reason=Reason.CHARGE)


def one_credit_two_classes(make_user: Callable[..., Any], round_: int) -> tuple[Any, list[Lesson]]:
    student = make_user("student")
    credit(student, 1)
    sessions = [group(make_user("teacher"), hours=26 + 3 * round_ + i) for i in range(2)]
    return student, sessions


@pytest.mark.django_db(transaction=True)
def test_one_credit_books_exactly_one_of_two_classes_at_once(make_user: Callable[..., Any]) -> None:
    """On PostgreSQL and MariaDB the two bookings really overlap; SQLite serialises them on its write lock."""
    for round_ in range(3):
        student, sessions = one_credit_two_classes(make_user, round_)
        results = run_at_once(lambda s, who=student: services.book_seat(who, s, now=NOW), sessions)
        errors = [r for r in results if isinstance(r, Exception)]
        assert len(errors) == 1, results
        assert isinstance(errors[0], BookingError) and errors[0].code == "no_credits", errors
        assert get_booking_model().objects.filter(student=student).count() == 1
        assert balance(student) == 0
        assert ledger(student) == [(Reason.GIFT, 1), (Reason.CHARGE, -1)]
        assert sorted(Lesson.objects.filter(pk__in=[s.pk for s in sessions]).values_list("seats_taken", flat=True)) \
            == [0, 1]


@pytest.mark.django_db(transaction=True)
def test_control_naive_credit_check_lets_both_bookings_pass(settings: Any, make_user: Callable[..., Any]) -> None:
    """Without the row lock both threads read one credit and both book: the race the lock closes."""
    if connection.vendor == "sqlite":
        pytest.skip("SQLite runs one write transaction at a time: the hook's read cannot interleave")
    settings.LIVECLASS_BOOKING = {"ADAPTER": f"{__name__}.NaiveCreditAdapter"}
    NaiveCreditAdapter.barrier = threading.Barrier(2)
    try:
        student, sessions = one_credit_two_classes(make_user, 0)
        results = run_at_once(lambda s: services.book_seat(student, s, now=NOW), sessions)
    finally:
        NaiveCreditAdapter.barrier = None
    assert not [r for r in results if isinstance(r, Exception)], results
    assert get_booking_model().objects.filter(student=student).count() == 2
    # Two charges paid for with one credit: the second write overwrote the first.
    assert balance(student) == 0
    assert [r for r, _ in ledger(student)].count(Reason.CHARGE) == 2
