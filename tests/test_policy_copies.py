"""A process books with its remembered copy of a teacher's policy only while the claim finds it current.

The copy is not told of changes: ``save()`` gives the row a new revision, and the seat claim
compares. Each test first shows that the process still remembers the old rules (the control: a
cache without the check would book by them), then that the booking follows the stored ones.
"""

from __future__ import annotations

import datetime as dt

import pytest

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import AlreadyBooked, PolicyViolation, SessionFull
from django_liveclass_booking.models import BookingStatus, TeacherBookingPolicy, get_booking_model
from django_liveclass_booking.services._engine import copies

pytestmark = pytest.mark.django_db


def test_every_save_gives_the_row_a_new_revision(set_policy):
    policy = set_policy(approval_mode="auto")
    first = policy.revision
    policy.save(update_fields=["approval_mode"])
    second = TeacherBookingPolicy.objects.get(pk=policy.pk).revision
    assert second != first
    policy.save(update_fields=[])  # saves nothing, as in Django
    assert TeacherBookingPolicy.objects.get(pk=policy.pk).revision == second


def test_a_row_created_after_the_copy_of_the_defaults_is_followed(teacher, make_user, make_session, now):
    session = make_session(capacity=5)
    TeacherBookingPolicy.objects.filter(teacher=teacher).delete()  # scheduling stored one: back to none
    assert services.book_seat(make_user(), session, now=now).status == BookingStatus.CONFIRMED
    assert copies.remembered(teacher.pk).revision is None
    # Stored without set_policy, so nothing in this process hears of it.
    TeacherBookingPolicy.objects.create(teacher=teacher, **{**TeacherBookingPolicy.defaults(),
                                                            "approval_mode": "manual"})
    assert copies.remembered(teacher.pk).policy.approval_mode == "auto"

    booking = services.book_seat(make_user(), session, now=now)

    assert booking.status == BookingStatus.PENDING
    assert copies.remembered(teacher.pk).policy.approval_mode == "manual"


def test_a_changed_row_is_followed(teacher, make_user, make_session, set_policy, now):
    policy = set_policy(approval_mode="manual")
    session = make_session(capacity=5)
    assert services.book_seat(make_user(), session, now=now).status == BookingStatus.PENDING
    policy.approval_mode = "auto"
    policy.save()
    assert copies.remembered(teacher.pk).policy.approval_mode == "manual"

    assert services.book_seat(make_user(), session, now=now).status == BookingStatus.CONFIRMED


def test_a_deleted_row_is_followed_by_the_defaults(teacher, make_user, make_session, set_policy, now):
    set_policy(approval_mode="manual")
    session = make_session(capacity=5)
    assert services.book_seat(make_user(), session, now=now).status == BookingStatus.PENDING
    TeacherBookingPolicy.objects.filter(teacher=teacher).delete()
    assert copies.remembered(teacher.pk).policy.approval_mode == "manual"

    assert services.book_seat(make_user(), session, now=now).status == BookingStatus.CONFIRMED


def test_new_rules_that_refuse_refuse_and_write_nothing(teacher, make_user, make_session, set_policy, now):
    policy = set_policy(min_notice_minutes=0)
    session = make_session(capacity=5, start=now + dt.timedelta(hours=2))
    services.book_seat(make_user(), session, now=now)
    policy.min_notice_minutes = 24 * 60
    policy.save()
    assert copies.remembered(teacher.pk).policy.min_notice_minutes == 0
    student = make_user()
    before = session.seats_taken

    with pytest.raises(PolicyViolation) as refused:
        services.book_seat(student, session, now=now)

    assert refused.value.code == "min_notice"
    assert not get_booking_model().objects.filter(student=student).exists()
    session.refresh_from_db()
    assert session.seats_taken == before


def test_a_full_session_is_still_full_with_a_current_copy(make_user, make_session, now):
    session = make_session(capacity=1)
    services.book_seat(make_user(), session, now=now)
    with pytest.raises(SessionFull) as refused:
        services.book_seat(make_user(), session, now=now)
    assert refused.value.code == "session_full"


def test_a_stale_copy_then_an_active_booking_is_already_booked(teacher, make_user, make_session, set_policy, now):
    policy = set_policy(approval_mode="auto")
    session = make_session(capacity=5)
    student = make_user()
    services.book_seat(student, session, now=now)
    policy.save()  # a new revision: this process's copy is stale

    # The claim finds the copy stale, the booking starts over with the row, and then the
    # student's active booking refuses it: the refusal, not the database's error, reaches the caller.
    with pytest.raises(AlreadyBooked):
        services.book_seat(student, session, now=now)
    assert get_booking_model().objects.filter(student=student).count() == 1


def test_rules_that_change_again_while_read_are_read_under_the_teachers_lock(teacher, make_user, make_session,
                                                                            set_policy, now, monkeypatch):
    policy = set_policy(approval_mode="auto")
    session = make_session(capacity=5)
    services.book_seat(make_user(), session, now=now)
    policy.approval_mode = "manual"
    policy.save()
    read = copies.fresh

    def changed_again_after_each_read(teacher_id):
        copy = read(teacher_id)
        TeacherBookingPolicy.objects.get(teacher_id=teacher_id).save()  # the copy read is already stale
        return copy

    monkeypatch.setattr(copies, "fresh", changed_again_after_each_read)

    booking = services.book_seat(make_user(), session, now=now)

    assert booking.status == BookingStatus.PENDING  # judged by the stored rules all the same


def test_a_refusal_by_stale_rules_is_judged_again_by_the_row(teacher, make_user, make_session, set_policy, now):
    policy = set_policy(min_notice_minutes=24 * 60)
    session = make_session(capacity=5, start=now + dt.timedelta(hours=2))
    with pytest.raises(PolicyViolation):
        services.book_seat(make_user(), session, now=now)
    policy.min_notice_minutes = 0
    policy.save()
    assert copies.remembered(teacher.pk).policy.min_notice_minutes == 24 * 60

    assert services.book_seat(make_user(), session, now=now).status == BookingStatus.CONFIRMED


# Outside a transaction PostgreSQL books in one statement that commits on its own: the same rules.
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", ["stricter", "looser", "already_booked"])
def test_the_one_statement_booking_follows_the_stored_rules(teacher, make_user, make_session, set_policy, now,
                                                            change):
    policy = set_policy(approval_mode="auto", min_notice_minutes=0 if change != "looser" else 24 * 60)
    session = make_session(capacity=5, start=now + dt.timedelta(hours=2))
    student = make_user()
    if change == "looser":
        with pytest.raises(PolicyViolation):
            services.book_seat(student, session, now=now)
        policy.min_notice_minutes = 0
    else:
        services.book_seat(student if change == "already_booked" else make_user(), session, now=now)
        policy.approval_mode = "manual"
    policy.save()

    if change == "already_booked":
        with pytest.raises(AlreadyBooked):
            services.book_seat(student, session, now=now)
        return
    booking = services.book_seat(student, session, now=now)
    assert booking.status == (BookingStatus.PENDING if change == "stricter" else BookingStatus.CONFIRMED)
    assert get_booking_model().objects.get(pk=booking.pk).status == booking.status
