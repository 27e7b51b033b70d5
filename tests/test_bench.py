"""The benchmark's spread shape books what it claims: each worker exactly its share, each class evenly.

The worker functions of ``bench/run.py`` run here in the test process, one worker after another, on
the test database; the benchmark runs them in processes of their own, released together.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from bench.run import library_bookings, raw_bookings, spread_plan
from django_liveclass_booking.models import get_booking_model, get_session_model

CLASSES, CAPACITY, BOOKINGS, WORKERS = 20, 10, 160, 3


def test_every_class_gets_the_same_number_of_bookings_whatever_the_worker_count() -> None:
    for workers in (1, 3, 4, 6, 7, 8):
        plans = spread_plan(list(range(200)), list(range(1600)), workers, random.Random(workers))
        assert max(len(p) for p in plans) - min(len(p) for p in plans) <= 1  # an even split
        assert sorted(s for p in plans for _, s in p) == list(range(1600))  # each student once
        assert set(Counter(c for p in plans for c, _ in p).values()) == {8}
        for plan in plans:  # a worker visits every class before it visits one again
            first = [c for c, _ in plan[:200]]
            assert len(set(first)) == len(first)


def _classes(make_session: Callable[..., Any]) -> list[Any]:
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=30)
    return [make_session(capacity=CAPACITY, start=start + dt.timedelta(hours=2 * i)) for i in range(CLASSES + 1)]


def _students(prefix: str, n: int) -> list[int]:
    User = get_user_model()
    User.objects.bulk_create([User(username=f"{prefix}{i}", password="!") for i in range(n)])
    found = dict(User.objects.filter(username__startswith=prefix).values_list("username", "pk"))
    return [found[f"{prefix}{i}"] for i in range(n)]


def _check(classes: list[Any], warm: Any) -> None:
    seats = dict(get_session_model().objects.filter(pk__in=[c.pk for c in classes]).values_list("pk", "seats_taken"))
    booked = Counter(get_booking_model().objects.filter(session__in=classes).values_list("session_id", flat=True))
    assert seats == booked == dict.fromkeys(seats, BOOKINGS // CLASSES)
    assert get_session_model().objects.get(pk=warm.pk).seats_taken == WORKERS


@pytest.mark.django_db(transaction=True)
def test_each_library_worker_books_exactly_its_share(make_session: Callable[..., Any]) -> None:
    *classes, warm = _classes(make_session)
    students = _students("spread", BOOKINGS + WORKERS)
    plans = spread_plan([c.pk for c in classes], students[WORKERS:], WORKERS, random.Random(1))
    for w, plan in enumerate(plans):
        assert library_bookings(plan, (warm.pk, students[w]), None)[0] == len(plan)
    assert sorted(len(p) for p in plans) == [53, 53, 54]
    _check(classes, warm)


@pytest.mark.own_models  # the raw baseline writes the columns of the package's own booking model
@pytest.mark.django_db(transaction=True)
def test_each_raw_worker_books_exactly_its_share(make_session: Callable[..., Any]) -> None:
    *classes, warm = _classes(make_session)
    students = _students("spread", BOOKINGS + WORKERS)
    as_raw = [{"pk": c.pk, "teacher": c.teacher_id, "start": c.start_at_utc, "end": c.end_at_utc}
              for c in [*classes, warm]]
    plans = spread_plan(as_raw[:-1], students[WORKERS:], WORKERS, random.Random(1))
    tables = (get_session_model()._meta.db_table, get_booking_model()._meta.db_table)
    for w, plan in enumerate(plans):
        db = {"postgresql": "postgres"}.get(connection.vendor, connection.vendor)
        done, _ = raw_bookings(db, dict(connection.settings_dict), tables, plan, (as_raw[-1], students[w]), None)
        assert done == len(plan)
    _check(classes, warm)


@pytest.mark.django_db(transaction=True)
def test_the_cpu_section_times_the_calls_it_says() -> None:
    from bench.run import Bench
    from django_liveclass_booking.models import BookingStatus, SessionKind

    db = {"postgresql": "postgres"}.get(connection.vendor, connection.vendor)
    bench = Bench(db, 1.0, True, sections=("cpu",))
    bench.cpu()
    assert [measure for _, measure, _, _ in bench.rows] == [
        "request_lesson, 60 calls", "book_seat (spread over classes of 10), 60 calls",
        "cancel_booking (a 1:1 lesson), 60 calls", "cancel_booking (a seat, nobody waiting), 60 calls"]
    assert all(result.endswith("ms of this process's CPU per call") for _, _, result, _ in bench.rows)
    # Each timed call did its work: 60 lessons and 60 seats, each cancelled, plus one untimed of each.
    done = Counter(get_booking_model().objects.values_list("kind", "status"))
    assert done == {(SessionKind.ONE_ON_ONE, BookingStatus.CANCELLED): 61,
                    (SessionKind.GROUP, BookingStatus.CANCELLED): 61}
    assert not get_session_model().objects.filter(seats_taken__gt=0).exists()
