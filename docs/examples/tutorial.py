"""The tutorial of the documentation (``docs/tutorial.rst``), as code the test suite runs.

Each function is one step of the tutorial; ``run()`` plays them in order, against the database of
a configured project, and returns what the reader looks at along the way.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import SessionFull


def create_people() -> tuple[Any, Any, Any]:
    User = get_user_model()
    tina = User.objects.create_user("tina", email="tina@example.com")  # the teacher
    sam = User.objects.create_user("sam", email="sam@example.com")     # two students
    alex = User.objects.create_user("alex", email="alex@example.com")
    return tina, sam, alex


def schedule_a_class(teacher: Any) -> Any:
    services.set_policy(teacher, timezone="Europe/London")
    next_week = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=7)
    return services.schedule_session(
        teacher,
        start=next_week,          # any timezone-aware datetime; stored in UTC
        duration=60,              # minutes, or a timedelta
        capacity=1,               # one seat, so the waitlist comes into play below
        title="Conversation club",
        timezone="Europe/London",
    )


def book_a_seat(student: Any, session: Any) -> Any:
    booking = services.book_seat(student, session)
    # booking.status == "confirmed": the default policy confirms bookings at once.
    # session.seats_taken is now 1 in the database: the class is full.
    return booking


def open_for_lessons(teacher: Any) -> None:
    # From now on every booking with Tina waits for her answer, and lessons last 30 or 60 minutes.
    services.set_policy(teacher, approval_mode="manual", lesson_durations=[30, 60])
    for weekday in range(5):  # Monday to Friday, 09:00 to 17:00 in the policy's timezone
        services.add_availability(teacher, weekday=weekday, start_time=dt.time(9), end_time=dt.time(17))


def request_a_lesson(student: Any, teacher: Any) -> Any:
    tomorrow = timezone.now() + dt.timedelta(days=1)
    slots = services.available_slots(teacher, start=tomorrow, end=tomorrow + dt.timedelta(days=7), duration=60)
    start, end = slots[0]  # UTC datetimes, on a 15-minute grid inside Tina's windows
    lesson = services.request_lesson(student, teacher, start=start, duration=60, message="Exam practice")
    # lesson.status == "pending"; lesson.expires_at is when the request lapses unanswered.
    return lesson


def confirm_the_lesson(teacher: Any, lesson: Any) -> Any:
    return services.confirm_booking(lesson, actor=teacher)  # lesson.status == "confirmed"


def wait_for_a_seat(student: Any, session: Any) -> Any:
    try:
        return services.book_seat(student, session)
    except SessionFull:
        return services.join_waitlist(student, session)  # entry.status == "waiting"


def give_up_the_seat(student: Any, booking: Any) -> Any:
    # In the same transaction the freed seat is offered to the first student in line.
    return services.cancel_booking(booking, actor=student, reason="Can't make it")


def accept_the_offer(student: Any, entry: Any) -> Any:
    entry.refresh_from_db()
    # entry.status == "offered"; the offer holds the seat until entry.offer_expires_at.
    return services.accept_offer(entry, actor=student)  # a confirmed booking, source "waitlist"


def run() -> dict[str, Any]:
    tina, sam, alex = create_people()
    session = schedule_a_class(tina)
    seat = book_a_seat(sam, session)
    open_for_lessons(tina)
    lesson = request_a_lesson(sam, tina)
    requested_as = lesson.status
    confirm_the_lesson(tina, lesson)
    entry = wait_for_a_seat(alex, session)
    joined_as = entry.status
    give_up_the_seat(sam, seat)
    alex_seat = accept_the_offer(alex, entry)
    return {
        "teacher": tina, "students": (sam, alex), "session": session, "seat": seat, "lesson": lesson,
        "lesson_requested_as": requested_as, "entry": entry, "entry_joined_as": joined_as,
        "seat_from_waitlist": alex_seat,
    }
