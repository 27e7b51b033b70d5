"""Benchmark of django-liveclass-booking: throughput, growth, series, the sweep, queries per call.

    python bench/run.py --db postgres     # the main target; also --db mariadb, --db sqlite
    python bench/run.py --only throughput --quick     # the throughput table alone, in a minute or two

A script, not a test. It creates a fresh database ``liveclass_bench`` (``LIVECLASS_BENCH_DB_NAME``
names another) with Django's test-database machinery, migrates it, runs the selected measurements
and drops the database at the end, also when a measurement fails. It prints one plain-text table.
Seeds are fixed; wall-clock timings vary.

Throughput has two shapes, each beside a raw-SQL baseline doing the least work a booking can be:
*spread*, 1,600 seats booked over 200 group classes of 10, and *hot*, a rush on one session.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "src") not in sys.path:
    sys.path.insert(1, str(ROOT / "src"))

SEED = 20260504
SECTIONS = ("growth", "throughput", "series", "process_due", "queries", "cpu")
SHAPES = ("spread", "hot")
#: The spread shape: this many bookings, each by a new student, over this many group classes of this capacity.
SPREAD_BOOKINGS, SPREAD_CLASSES, SPREAD_CAPACITY = 1600, 200, 10
UTC = dt.UTC


def setup_django(db: str) -> None:
    os.environ["LIVECLASS_BENCH_DB"] = db
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    import django

    django.setup()


# --- the bookings a worker makes (the same functions run in a spawned process or in a test) ----------


def library_bookings(plan, warmup, duration, ready=None):
    """Book ``plan``, (session pk, student pk) pairs in order, with ``services.book_seat``; (bookings, seconds).

    The session and user instances are loaded once, before the clock starts, as a site keeps them
    between requests. ``warmup`` (a pair, or None) is booked first and not timed: the rules are loaded
    and the connection is in use. ``ready`` is called just before the clock starts (the barrier that
    releases all workers together). With a ``duration`` the worker stops after that many seconds,
    without one it books the whole plan.
    """
    from django.contrib.auth import get_user_model

    from django_liveclass_booking import services
    from django_liveclass_booking.models import get_session_model

    pairs = [*plan, *([warmup] if warmup else [])]
    users = get_user_model().objects.in_bulk({student for _, student in pairs})
    sessions = get_session_model().objects.in_bulk({pk for pk, _ in pairs})
    work = [(users[student], sessions[pk]) for pk, student in plan]
    if warmup:
        services.book_seat(users[warmup[1]], sessions[warmup[0]])
    if ready:
        ready()
    t0 = time.perf_counter()
    done = 0
    for student, session in work:
        services.book_seat(student, session)
        done += 1
        if duration is not None and time.perf_counter() - t0 >= duration:
            break
    return done, time.perf_counter() - t0


def _raw_connect(db, conf):
    if db == "postgres":
        import psycopg

        return psycopg.connect(host=conf["HOST"], port=conf["PORT"], user=conf["USER"], password=conf["PASSWORD"],
                               dbname=conf["NAME"], autocommit=True)
    if db in ("mariadb", "mysql"):
        import MySQLdb

        return MySQLdb.connect(host=conf["HOST"], port=int(conf["PORT"]), user=conf["USER"],
                               passwd=conf["PASSWORD"], db=conf["NAME"], charset="utf8mb4", autocommit=True)
    import sqlite3

    return sqlite3.connect(conf["NAME"], isolation_level=None, timeout=60)


def raw_bookings(db, conf, tables, plan, warmup, duration, ready=None):
    """The raw baseline: the minimal same work per booking, sent straight through the driver.

    One transaction per booking: a conditional UPDATE that claims the seat (the session is still
    scheduled, in the future and not full), then the INSERT of the booking row with the columns the
    library writes. ``plan`` holds (session, student pk) pairs, a session being a dict of ``pk``,
    ``teacher``, ``start`` and ``end``; the rest as for ``library_bookings``.
    """
    conn = _raw_connect(db, conf)
    session_table, booking_table = tables
    ph = "?" if db == "sqlite" else "%s"
    now_sql = "now()" if db == "postgres" else ph
    update = (f"UPDATE {session_table} SET seats_taken = seats_taken + 1 WHERE id = {ph} "
              f"AND status = 'scheduled' AND start_at_utc > {now_sql} AND seats_taken < capacity")
    columns = ("created", "modified", "session_id", "student_id", "teacher_id", "kind", "start_at_utc",
               "end_at_utc", "status", "status_changed", "decided_by_id", "decided_at", "cancelled_by_id",
               "cancelled_at", "reason", "message", "expires_at", "late_cancellation", "source", "external_ref")
    insert = (f"INSERT INTO {booking_table} ({', '.join(columns)}) VALUES ({', '.join([ph] * len(columns))})"
              + (" RETURNING id" if db in ("postgres", "sqlite") else ""))
    begin = "BEGIN IMMEDIATE" if db == "sqlite" else "BEGIN"

    def moment(value):
        if db == "postgres":
            return value
        value = value.replace(tzinfo=None)
        return value.isoformat(" ") if db == "sqlite" else value

    def prepared(session, student):
        return session["pk"], student, session["teacher"], moment(session["start"]), moment(session["end"])

    cur = conn.cursor()

    def book(pk, student, teacher, start, end):
        stamp = moment(dt.datetime.now(UTC))
        cur.execute(begin)
        try:
            cur.execute(update, (pk,) if db == "postgres" else (pk, stamp))
            if cur.rowcount != 1:
                raise RuntimeError(f"raw baseline: no seat claimed in session {pk}")
            cur.execute(insert, (stamp, stamp, pk, student, teacher, "group", start, end, "confirmed", stamp, None,
                                 stamp, None, None, "", "", None, False, "direct", None))
            if db in ("postgres", "sqlite"):
                cur.fetchone()
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    work = [prepared(session, student) for session, student in plan]
    if warmup:
        book(*prepared(*warmup))
    if ready:
        ready()
    t0 = time.perf_counter()
    done = 0
    for args in work:
        book(*args)
        done += 1
        if duration is not None and time.perf_counter() - t0 >= duration:
            break
    took = time.perf_counter() - t0
    conn.close()
    return done, took


def spread_plan(classes, students, workers, rng):
    """Split ``students`` evenly over ``workers``, each cycling over all ``classes`` in its own order.

    Each student books once. A worker whose share is not a whole number of rounds over the classes
    ends part-way through one; those parts are cut in turn from one shared shuffled round, so every
    class gets the same number of bookings: len(students) / len(classes) when that divides.
    """
    n = len(classes)
    shared = list(range(n))
    rng.shuffle(shared)
    plans, first, cursor = [], 0, 0
    for w in range(workers):
        share = len(students) // workers + (w < len(students) % workers)
        extra = [shared[(cursor + i) % n] for i in range(share % n)]
        cursor += len(extra)
        taken = set(extra)
        rest = [c for c in range(n) if c not in taken]
        rng.shuffle(extra)
        rng.shuffle(rest)
        order = extra + rest  # the classes booked once more than the others come first
        plans.append([(classes[order[i % n]], s) for i, s in enumerate(students[first:first + share])])
        first += share
    return plans


# --- worker processes (spawned: each one sets Django up and opens its own connection) -------------


def _worker(kind, db, args, duration, barrier, results):
    try:
        if kind == "library":
            setup_django(db)
            from django.db import connection

            connection.ensure_connection()
            done, took = library_bookings(*args, duration, ready=barrier.wait)
            connection.close()
        else:
            done, took = raw_bookings(db, *args, duration, ready=barrier.wait)
        results.put(("ok", done, took))
    except BaseException:
        results.put(("error", traceback.format_exc(), 0.0))
        with contextlib.suppress(Exception):
            barrier.abort()


def run_workers(kind, db, per_worker_args, duration):
    """One process per worker, released together; (bookings/second over the slowest worker, bookings timed)."""
    ctx = mp.get_context("spawn")
    n = len(per_worker_args)
    barrier = ctx.Barrier(n + 1)
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(kind, db, args, duration, barrier, results))
             for args in per_worker_args]
    for p in procs:
        p.start()
    try:
        barrier.wait(timeout=120)
        out = [results.get(timeout=(duration or 600) + 120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
    errors = [o[1] for o in out if o[0] != "ok"]
    if errors:
        raise RuntimeError(f"{kind} worker failed:\n" + errors[0])
    total = sum(o[1] for o in out)
    return total / max(o[2] for o in out), total


# --- the benchmark (main process) ----------------------------------------------------------------


class Bench:
    def __init__(self, db: str, duration: float, quick: bool, *, sections: tuple[str, ...] = SECTIONS,
                 workers: tuple[int, ...] = (1, 4, 8), shapes: tuple[str, ...] = SHAPES, rounds: int = 3) -> None:
        self.db = db
        self.duration = duration
        self.quick = quick
        self.sections = sections
        self.workers = workers
        self.shapes = shapes
        self.rounds = rounds
        self.rows: list[tuple[str, str, str, str]] = []
        self.notes: list[str] = []
        self.rng = random.Random(SEED)
        from django.contrib.auth import get_user_model
        from django.db import connection

        from django_liveclass_booking.models import get_booking_model, get_session_model

        self.User = get_user_model()
        self.Session = get_session_model()
        self.Booking = get_booking_model()
        self.connection = connection
        self.now = dt.datetime.now(UTC).replace(microsecond=0)
        self.teacher_slot: dict[int, int] = {}
        self._user_no = 0

    # helpers ----------------------------------------------------------------------------------

    def row(self, section: str, measure: str, result: str, target: str = "") -> None:
        self.rows.append((section, measure, result, target))
        print(f"  [{section}] {measure}: {result} {target}", file=sys.stderr, flush=True)

    def users(self, n: int, prefix: str) -> list[int]:
        start = self._user_no
        self._user_no += n
        objs = [self.User(username=f"{prefix}{i}", password="!") for i in range(start, start + n)]
        self.User.objects.bulk_create(objs, batch_size=5000)
        names = [o.username for o in objs]
        found = dict(self.User.objects.filter(username__in=names).values_list("username", "pk")) if len(names) < 30000 \
            else dict(self.User.objects.filter(username__startswith=prefix).values_list("username", "pk"))
        return [found[name] for name in names]

    def bulk(self, model, fields: list[str], rows: list[tuple]) -> None:
        """Insert many rows fast: COPY on PostgreSQL, bulk_create in batches elsewhere."""
        if not rows:
            return
        if self.db == "postgres":
            cols = ", ".join(model._meta.get_field(f).column for f in fields)
            copy_sql = f"COPY {model._meta.db_table} ({cols}) FROM STDIN"
            with self.connection.cursor() as c, c.cursor.copy(copy_sql) as copy:
                for r in rows:
                    copy.write_row(r)
        else:
            names = [model._meta.get_field(f).attname for f in fields]
            model.objects.bulk_create([model(**dict(zip(names, r, strict=True))) for r in rows], batch_size=2000)

    def analyze(self) -> None:
        with self.connection.cursor() as c:
            if self.db == "postgres":
                # As autovacuum leaves a table that grew, and with the rows just copied written out: the
                # growth rows measure the tables' size, not a checkpoint of 200,000 rows running beside them.
                c.execute("VACUUM ANALYZE")
                c.execute("CHECKPOINT")
            elif self.db == "sqlite":
                c.execute("ANALYZE")
            else:
                c.execute(f"ANALYZE TABLE {self.Session._meta.db_table}, {self.Booking._meta.db_table}")

    def next_start(self, teacher_id: int, base: dt.datetime, step: dt.timedelta) -> dt.datetime:
        k = self.teacher_slot.get(teacher_id, 0)
        self.teacher_slot[teacher_id] = k + 1
        return base + k * step

    def sessions_bulk(self, specs: list[tuple[int, dt.datetime, int, int, str]]) -> list[int]:
        """(teacher_id, start, capacity, seats_taken, title) -> pks, in order."""
        now = self.now
        rows = [(t, "group", title, s, s + dt.timedelta(minutes=60), 60, "UTC", "", "", "", cap, taken, "scheduled",
                 now, "", now, now) for t, s, cap, taken, title in specs]
        fields = ["teacher", "kind", "title", "start_at_utc", "end_at_utc", "duration_minutes", "timezone_snapshot",
                  "meeting_provider", "meeting_url", "meeting_passcode", "capacity", "seats_taken", "status",
                  "status_changed", "cancellation_reason", "created", "modified"]
        before = self.Session.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        self.bulk(self.Session, fields, rows)
        got = dict(((t, s), pk) for pk, t, s in self.Session.objects.filter(pk__gt=before)
                   .values_list("pk", "teacher_id", "start_at_utc"))
        return [got[(t, s)] for t, s, *_ in specs]

    def count_queries(self, call):
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(self.connection) as ctx:
            result = call()
        return len(ctx.captured_queries), result, ctx.captured_queries

    # background data ----------------------------------------------------------------------------

    def prepare(self) -> None:
        t0 = time.perf_counter()
        self.bg_teachers = self.users(500, "bgteacher")
        self.pool = self.users(40000, "student")
        self.bg_students = self.pool[:20000]
        self.fixed_teacher = self.users(1, "slots_teacher")[0]
        self.note(f"setup: 40,501 users in {time.perf_counter() - t0:.1f} s")
        from django_liveclass_booking.models import TeacherAvailability

        TeacherAvailability.objects.bulk_create([
            TeacherAvailability(teacher_id=self.fixed_teacher, weekday=d, start_time=dt.time(8), end_time=dt.time(20))
            for d in range(7)])
        # The slots teacher's own calendar: the same in both growth states.
        first = (self.now + dt.timedelta(days=1)).replace(hour=9, minute=0)
        specs = [(self.fixed_teacher, first + dt.timedelta(days=d, hours=h), 10, 3, "own")
                 for d in range(0, 31, 1) for h in (0, 5)]
        self.sessions_bulk(specs)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print("  " + text, file=sys.stderr, flush=True)

    def add_background(self, n_bookings: int) -> None:
        """Group sessions of 500 teachers over two years, 20 bookings each from 20k students."""
        t0 = time.perf_counter()
        per_session = 20
        n_sessions = n_bookings // per_session
        base = self.now - dt.timedelta(days=365)
        step = dt.timedelta(days=23, hours=7)
        specs, plans = [], []
        for i in range(n_sessions):
            teacher = self.bg_teachers[i % len(self.bg_teachers)]
            start = self.next_start(teacher, base + dt.timedelta(minutes=(i % 97) * 5), step)
            students = self.rng.sample(self.bg_students, per_session)
            future = start > self.now
            choices, weights = ((["confirmed", "cancelled", "pending"], [70, 20, 10]) if future
                                else (["confirmed", "cancelled"], [80, 20]))
            statuses = [self.rng.choices(choices, weights)[0] for _ in students]
            taken = sum(s != "cancelled" for s in statuses)
            specs.append((teacher, start, 30, taken, "bg"))
            plans.append((teacher, start, students, statuses))
        pks = self.sessions_bulk(specs)
        now = self.now
        rows = []
        for pk, (teacher, start, students, statuses) in zip(pks, plans, strict=True):
            end = start + dt.timedelta(minutes=60)
            for student, status in zip(students, statuses, strict=True):
                rows.append((pk, student, teacher, "group", start, end, status, now,
                             now if status == "confirmed" else None, now if status == "cancelled" else None,
                             start if status == "pending" else None, "", "", False, "direct", now, now))
        fields = ["session", "student", "teacher", "kind", "start_at_utc", "end_at_utc", "status", "status_changed",
                  "decided_at", "cancelled_at", "expires_at", "reason", "message", "late_cancellation", "source",
                  "created", "modified"]
        self.bulk(self.Booking, fields, rows)
        self.analyze()
        total = self.Booking.objects.count()
        self.note(f"background: +{len(rows):,} bookings in {n_sessions:,} sessions ({total:,} in all) "
                  f"in {time.perf_counter() - t0:.1f} s")

    # 2. growth -----------------------------------------------------------------------------------

    def measure_growth_state(self) -> tuple[float, float]:
        from django_liveclass_booking import services

        start = self.next_start(self.fixed_teacher, (self.now + dt.timedelta(days=40)).replace(hour=10, minute=0),
                                dt.timedelta(hours=2))
        session = services.schedule_session(self.User.objects.get(pk=self.fixed_teacher), start=start, duration=60,
                                            capacity=100000)
        rounds, per_round = 3, 200 if not self.quick else 50
        students = list(self.User.objects.filter(pk__in=self.rng.sample(self.bg_students, rounds * per_round + 1)))
        self.rng.shuffle(students)
        teacher = self.User.objects.get(pk=self.fixed_teacher)
        book_means, slot_means = [], []
        it = iter(students)
        # warm-up
        services.book_seat(next(it), session)
        services.available_slots(teacher, start=self.now + dt.timedelta(days=1),
                                 end=self.now + dt.timedelta(days=32), duration=60)
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(per_round):
                services.book_seat(next(it), session)
            book_means.append((time.perf_counter() - t0) / per_round)
            t0 = time.perf_counter()
            n_slots = 20 if not self.quick else 5
            for _ in range(n_slots):
                services.available_slots(teacher, start=self.now + dt.timedelta(days=1),
                                         end=self.now + dt.timedelta(days=32), duration=60)
            slot_means.append((time.perf_counter() - t0) / n_slots)
        return statistics.median(book_means), statistics.median(slot_means)

    # 1. throughput -------------------------------------------------------------------------------

    def throughput(self) -> None:
        from django.conf import settings

        self.raw_conf = dict(settings.DATABASES["default"])
        self.tables = (self.Session._meta.db_table, self.Booking._meta.db_table)
        self.tp_teacher = self.users(1, "rush_teacher")[0]
        self.spread_teachers = self.users(SPREAD_CLASSES // 2, "spread_teacher")
        for shape in self.shapes:
            for workers in self.workers:
                rates: dict[str, list[float]] = {"library": [], "raw": []}
                for r in range(self.rounds):
                    # Both sides take turns, and which goes first alternates, so both see similar load.
                    for kind in ("library", "raw") if r % 2 == 0 else ("raw", "library"):
                        run = self.hot_round if shape == "hot" else self.spread_round
                        rates[kind].append(run(kind, workers))
                load = os.getloadavg()[0]  # the last minute: mostly this row's own rounds
                lib, raw = statistics.median(rates["library"]), statistics.median(rates["raw"])
                ratio = lib / raw
                goal = ({"hot": 0.8, "spread": 0.5}[shape] if workers == 4 and self.db == "postgres" else None)
                target = "" if goal is None else f"ratio >= {goal}" + ("  MET" if ratio >= goal else "  NOT MET")
                what = "one session" if shape == "hot" else f"{SPREAD_CLASSES} classes of {SPREAD_CAPACITY}"
                self.row("1 throughput", f"book_seat {shape}, {workers} process{'es' if workers > 1 else ''}, {what}",
                         f"library {lib:5.0f}/s [{min(rates['library']):.0f}-{max(rates['library']):.0f}]   "
                         f"raw {raw:5.0f}/s [{min(rates['raw']):.0f}-{max(rates['raw']):.0f}]   "
                         f"ratio {ratio:.2f}   load {load:.1f}", target)

    def hot_round(self, kind: str, workers: int) -> float:
        """A rush on one session of ample capacity, for the set duration; bookings per second."""
        available = self.pool[20000:]  # students with no background bookings; each round its own session
        per = len(available) // workers
        start = self.next_start(self.tp_teacher, self.now + dt.timedelta(days=10), dt.timedelta(hours=2))
        pk = self.sessions_bulk([(self.tp_teacher, start, 1_000_000, 0, f"rush {kind} {workers}")])[0]
        session = pk if kind == "library" else {"pk": pk, "teacher": self.tp_teacher, "start": start,
                                                "end": start + dt.timedelta(minutes=60)}
        chunks = [available[i * per:(i + 1) * per] for i in range(workers)]
        plans = [([(session, s) for s in chunk[1:]], (session, chunk[0])) for chunk in chunks]
        rate, timed = self.run_side(kind, plans, self.duration)
        seats = self.Session.objects.get(pk=pk).seats_taken
        booked = self.Booking.objects.filter(session_id=pk).count()
        if not seats == booked == timed + workers:  # + one untimed warm-up booking per worker
            raise RuntimeError(f"hot {kind} x{workers}: {timed} + {workers} bookings reported, {booked} rows, "
                               f"{seats} seats taken")
        return rate

    def spread_round(self, kind: str, workers: int) -> float:
        """SPREAD_BOOKINGS bookings, each by a new student, over fresh classes; bookings per second."""
        specs = [(t, self.next_start(t, self.now + dt.timedelta(days=10), dt.timedelta(hours=2)), SPREAD_CAPACITY,
                  0, f"spread {kind} {workers}") for t in self.spread_teachers for _ in range(2)]
        warm = (self.tp_teacher, self.next_start(self.tp_teacher, self.now + dt.timedelta(days=10),
                                                 dt.timedelta(hours=2)), 1000, 0, "spread warm-up")
        *pks, warm_pk = self.sessions_bulk([*specs, warm])
        if kind == "library":
            classes, warm_session = pks, warm_pk
        else:
            sessions = [{"pk": pk, "teacher": t, "start": s, "end": s + dt.timedelta(minutes=60)}
                        for pk, (t, s, *_) in zip([*pks, warm_pk], [*specs, warm], strict=True)]
            classes, warm_session = sessions[:-1], sessions[-1]
        students = self.users(SPREAD_BOOKINGS + workers, "spread_student")
        plans = spread_plan(classes, students[workers:], workers, self.rng)
        rate, timed = self.run_side(kind, [(plan, (warm_session, students[w])) for w, plan in enumerate(plans)],
                                    None)
        from django.db.models import Count

        seats = dict(self.Session.objects.filter(pk__in=pks).values_list("pk", "seats_taken"))
        counts = dict(self.Booking.objects.filter(session_id__in=pks).values("session_id")
                      .annotate(n=Count("pk")).values_list("session_id", "n"))
        wrong = [pk for pk in pks if seats[pk] != counts.get(pk, 0) or seats[pk] > SPREAD_CAPACITY]
        made = sum(counts.values())
        if wrong or made != SPREAD_BOOKINGS or timed != SPREAD_BOOKINGS:
            raise RuntimeError(f"spread {kind} x{workers}: {timed} bookings reported, {made} rows; "
                               f"{len(wrong)} classes whose seats_taken is not their bookings or over capacity")
        return rate

    def run_side(self, kind: str, plans: list, duration: float | None) -> tuple[float, int]:
        if kind == "library":
            return run_workers(kind, self.db, plans, duration)
        return run_workers(kind, self.db, [(self.raw_conf, self.tables, *p) for p in plans], duration)

    # 3. series -------------------------------------------------------------------------------------

    def series(self) -> None:
        from django_liveclass_booking import services
        from django_liveclass_booking.models import TeacherAvailability

        monday = (self.now + dt.timedelta(days=7 - self.now.weekday())).replace(hour=10, minute=0, second=0)
        out = {}
        for count, repeats in ((4, 10), (26, 6), (104, 3)):
            if self.quick:
                repeats = min(repeats, 2)
            teachers = self.users(repeats + 1, f"series{count}_teacher")
            students = self.users(repeats + 1, f"series{count}_student")
            TeacherAvailability.objects.bulk_create([
                TeacherAvailability(teacher_id=t, weekday=d, start_time=dt.time(8), end_time=dt.time(20))
                for t in teachers for d in range(7)])
            tu = self.User.objects.in_bulk(teachers)
            su = self.User.objects.in_bulk(students)
            times, queries = [], None
            for i in range(repeats + 1):
                call = functools.partial(
                    services.create_series, su[students[i]], tu[teachers[i]], first_start=monday, duration=60,
                    rrule=f"FREQ=WEEKLY;COUNT={count}", timezone="UTC")
                if i == 0:  # counted (and warms up)
                    queries, series, _ = self.count_queries(call)
                    assert series.items.filter(status="booked").count() == count
                    continue
                t0 = time.perf_counter()
                call()
                times.append(time.perf_counter() - t0)
            out[count] = queries
            mean = statistics.mean(times)
            self.row("3 create_series", f"{count} weekly occurrences",
                     f"mean {mean * 1000:7.1f} ms  ({mean / count * 1000:.2f} ms/occ.), {queries} queries", "")
        self.series_queries = out

    # 4. process_due --------------------------------------------------------------------------------

    def due_offers(self, n_sessions: int, per_session: int) -> dt.datetime:
        """Sessions whose seats are all held by offers past their expiry, plus one student still waiting each."""
        from django_liveclass_booking.models import SessionWaitlist

        teachers = self.users(max(1, n_sessions // 20), "due_teacher")
        base = self.now + dt.timedelta(days=5)
        specs = []
        for i in range(n_sessions):
            t = teachers[i % len(teachers)]
            specs.append((t, self.next_start(t, base, dt.timedelta(hours=2)), per_session, per_session, "due"))
        pks = self.sessions_bulk(specs)
        expired = self.now - dt.timedelta(minutes=5)
        offered_at = self.now - dt.timedelta(minutes=65)
        rows = []
        for pk in pks:
            students = self.rng.sample(self.pool, per_session + 1)
            for pos, s in enumerate(students, 1):
                if pos <= per_session:
                    rows.append((pk, s, pos, "offered", offered_at, offered_at, expired, offered_at, offered_at))
                else:
                    rows.append((pk, s, pos, "waiting", offered_at, None, None, offered_at, offered_at))
        self.bulk(SessionWaitlist, ["session", "student", "position", "status", "status_changed", "offered_at",
                                    "offer_expires_at", "created", "modified"], rows)
        self.analyze()
        return self.now

    def process_due(self) -> None:
        from django_liveclass_booking import services
        from django_liveclass_booking.services.jobs import BATCH_SIZE

        n_sessions, per = (2000, 5) if not self.quick else (400, 5)
        # The background's past confirmed bookings are over: mark them completed, as earlier sweeps
        # would have, so that the timed sweep measures the offers and not a year of completions.
        from django_liveclass_booking.conf import booking_settings

        window = dt.timedelta(hours=booking_settings.OUTCOME_WINDOW_HOURS)
        self.Booking.objects.filter(status="confirmed", end_at_utc__lt=self.now - window).update(status="completed")
        now = self.due_offers(n_sessions, per)
        t0 = time.perf_counter()
        counts = services.process_due(now=now)
        took = time.perf_counter() - t0
        offers = n_sessions * per
        assert counts["expired_offers"] == offers, counts
        assert counts["offers_made"] == n_sessions, counts
        # Queries, on a fresh set of the same shape (2 batches), counted apart so the timing above is uncounted.
        now2 = self.due_offers(2 * BATCH_SIZE, per)
        queries, counts2, _ = self.count_queries(lambda: services.process_due(now=now2))
        assert counts2["expired_offers"] == 2 * BATCH_SIZE * per, counts2
        per_batch = queries / 2
        self.row("4 process_due", f"{offers:,} due offers in {n_sessions:,} sessions (+1 waiting each)",
                 f"total {took:6.2f} s   {took / offers * 1e6:6.0f} us/offer   "
                 f"{n_sessions // BATCH_SIZE} batches", "")
        self.process_due_per_batch = per_batch

    # 5. queries per operation ----------------------------------------------------------------------

    def queries(self) -> None:
        from django_liveclass_booking import services
        from django_liveclass_booking.models import TeacherBookingPolicy

        teacher_ids = self.users(3, "q_teacher")
        student_ids = self.users(6, "q_student")
        users = self.User.objects.in_bulk(teacher_ids + student_ids)
        t_auto, t_manual, t_cancel = (users[i] for i in teacher_ids)
        s = [users[i] for i in student_ids]
        start = (self.now + dt.timedelta(days=3)).replace(hour=10, minute=0)
        services.set_policy(t_manual, approval_mode="manual")
        sess = services.schedule_session(t_auto, start=start, duration=60, capacity=10)
        fresh = self.Session.objects.get(pk=sess.pk)
        n_book, _, statements = self.count_queries(lambda: services.book_seat(s[0], fresh))
        self.book_seat_sql = [q["sql"] for q in statements]
        self.row("5 queries", "book_seat (auto approval, fresh session instance)", f"{n_book}", self.cmp(n_book, 8))

        teacher = self.User.objects.get(pk=self.fixed_teacher)
        # A teacher's first request stores their policy row, two statements more once: counted for a
        # teacher past that, as a site's teachers are (without the growth section nothing stored it).
        TeacherBookingPolicy.for_teacher(teacher).save()
        slots = services.available_slots(teacher, start=self.now + dt.timedelta(days=1),
                                         end=self.now + dt.timedelta(days=32), duration=60)
        n_req, _, statements = self.count_queries(
            lambda: services.request_lesson(s[1], teacher, start=slots[len(slots) // 2][0], duration=60))
        self.request_sql = [q["sql"] for q in statements]
        # The budget is PostgreSQL's, where the booking and its first history row are one statement.
        self.row("5 queries", "request_lesson", f"{n_req}", self.cmp(n_req, 12 + (self.db != "postgres")))

        msess = services.schedule_session(t_manual, start=start, duration=60, capacity=10)
        pending = services.book_seat(s[2], msess)
        n_conf, _, _ = self.count_queries(lambda: services.confirm_booking(pending, actor=t_manual))
        self.row("5 queries", "confirm_booking (teacher)", f"{n_conf}", self.cmp(n_conf, 10))

        csess = services.schedule_session(t_cancel, start=start, duration=60, capacity=1)
        booking = services.book_seat(s[3], csess)
        services.join_waitlist(s[4], csess)
        n_cancel, _, statements = self.count_queries(lambda: services.cancel_booking(booking, actor=s[3]))
        self.cancel_sql = [q["sql"] for q in statements]
        self.row("5 queries", "cancel_booking, seat handed to the waitlist", f"{n_cancel}", self.cmp(n_cancel, 10))

        if hasattr(self, "series_queries"):  # counted by the series section
            q4, q26, q104 = self.series_queries[4], self.series_queries[26], self.series_queries[104]
            self.row("5 queries", "create_series 4 vs 26 vs 104 occurrences",
                     f"{q4} vs {q26} vs {q104}", "constant" + ("  MET" if q4 == q26 == q104 else "  NOT MET"))
        n_slots, _, _ = self.count_queries(lambda: services.available_slots(
            teacher, start=self.now + dt.timedelta(days=1), end=self.now + dt.timedelta(days=32), duration=60))
        self.row("5 queries", "available_slots, 31 days", f"{n_slots}", self.cmp(n_slots, 5))
        if hasattr(self, "process_due_per_batch"):  # counted by the process_due section
            self.row("5 queries", "process_due, per batch of 200 sessions", f"{self.process_due_per_batch:g}",
                     "constant")

    def cpu(self) -> None:
        """This process's CPU per call (``time.process_time``) of the calls a rush makes most, each run
        many times in a row: a profile's numbers without the profiler. The database's CPU is not in it."""
        from django_liveclass_booking import services
        from django_liveclass_booking.models import TeacherAvailability

        n = 60 if self.quick else 300
        lesson_teacher, group_teacher = (self.User.objects.get(pk=pk) for pk in self.users(2, "cpu_teacher"))
        students = [self.User(pk=pk, username=f"cpu{pk}") for pk in self.users(n + 1, "cpu_student")]
        for student in students:
            student._state.adding, student._state.db = False, self.connection.alias
        TeacherAvailability.objects.bulk_create([
            TeacherAvailability(teacher=lesson_teacher, weekday=d, start_time=dt.time(0), end_time=dt.time(23, 59))
            for d in range(7)])
        services.set_policy(lesson_teacher, min_notice_minutes=0, max_advance_days=365)
        base = (self.now + dt.timedelta(days=2)).replace(hour=0, minute=0)
        classes = [services.schedule_session(group_teacher, start=base + dt.timedelta(hours=2 * i), duration=60,
                                             capacity=10) for i in range(n // 10 + 1)]

        def timed(name: str, calls: list) -> list:
            started = time.process_time()
            done = [call() for call in calls]
            per_call = (time.process_time() - started) / len(calls) * 1000
            self.row("6 cpu", f"{name}, {len(calls)} calls", f"{per_call:.2f} ms of this process's CPU per call")
            return done

        # A first call of each, untimed: the statements are built and the rules read once per process.
        services.cancel_booking(services.request_lesson(students[n], lesson_teacher, start=base - dt.timedelta(hours=3),
                                                        duration=60), actor=students[n])
        services.cancel_booking(services.book_seat(students[n], classes[-1]), actor=students[n])
        lessons = timed("request_lesson", [
            functools.partial(services.request_lesson, students[i], lesson_teacher,
                              start=base + dt.timedelta(hours=2 * i), duration=60) for i in range(n)])
        seats = timed("book_seat (spread over classes of 10)", [
            functools.partial(services.book_seat, students[i], classes[i // 10]) for i in range(n)])
        timed("cancel_booking (a 1:1 lesson)", [
            functools.partial(services.cancel_booking, b, actor=b.student) for b in lessons])
        timed("cancel_booking (a seat, nobody waiting)", [
            functools.partial(services.cancel_booking, b, actor=b.student) for b in seats])

    @staticmethod
    def cmp(value: float, budget: float) -> str:
        return f"<= {budget}" + ("  MET" if value <= budget else "  NOT MET")

    # the run -----------------------------------------------------------------------------------------

    def run(self) -> None:
        """The selected sections, in this order: with growth, the throughput runs on its 200k bookings."""
        self.prepare()
        if "growth" in self.sections:
            self.growth()
        else:
            self.analyze()
        if "throughput" in self.sections:
            self.throughput()
        if "series" in self.sections:
            self.series()
        if "process_due" in self.sections:
            self.process_due()
        if "queries" in self.sections:
            self.queries()
        if "cpu" in self.sections:
            self.cpu()

    def growth(self) -> None:
        self.add_background(1000)
        b1, s1 = self.measure_growth_state()
        self.add_background(199_000 if not self.quick else 19_000)
        b2, s2 = self.measure_growth_state()
        big = "200k" if not self.quick else "20k"
        for name, small, large in (("book_seat", b1, b2), ("available_slots (31 days)", s1, s2)):
            ratio = large / small
            self.row("2 growth", f"{name}: 1k vs {big} bookings",
                     f"{small * 1000:6.2f} ms vs {large * 1000:6.2f} ms   ratio {ratio:.2f}",
                     "ratio <= 1.3" + ("  MET" if ratio <= 1.3 else "  NOT MET"))

    def table(self) -> str:
        head = ("section", "measure", "result", "target")
        rows = [head] + sorted(self.rows, key=lambda r: r[0][:1])
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        line = "  ".join("-" * w for w in widths)
        out = ["  ".join(c.ljust(w) for c, w in zip(rows[0], widths, strict=True)).rstrip(), line]
        previous = None
        for r in rows[1:]:
            if previous is not None and r[0] != previous:
                out.append("")
            previous = r[0]
            out.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        return "\n".join(out)


def _names(allowed: tuple[str, ...]):
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(n.strip() for n in text.split(",") if n.strip())
        unknown = [n for n in names if n not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(allowed)}")
        return tuple(n for n in allowed if n in names)  # always in the order of the run

    return parse


def _counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(n) for n in text.split(",") if n.strip())
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("positive whole numbers, comma-separated, such as 1,4,8")
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["postgres", "mariadb", "sqlite"], default="postgres")
    parser.add_argument("--sections", "--only", default=",".join(SECTIONS), type=_names(SECTIONS),
                        help=f"the sections to run, comma-separated (default all: {','.join(SECTIONS)})")
    parser.add_argument("--workers", default="1,4,8", type=_counts,
                        help="worker processes of the throughput rows (default 1,4,8; SQLite runs 1 only)")
    parser.add_argument("--shapes", default=",".join(SHAPES), type=_names(SHAPES),
                        help="throughput shapes: spread (1,600 seats over 200 classes), hot (one session) "
                        "(default both)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds per throughput row, of which the median is shown (default 3, 1 with --quick)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per hot throughput round (default 5)")
    parser.add_argument("--quick", action="store_true", help="smaller data and fewer repeats (a smoke run)")
    parser.add_argument("--sql", action="store_true", help="also print the statements of one book_seat, "
                        "request_lesson and cancel_booking (queries section)")
    args = parser.parse_args()
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    if rounds < 1:
        parser.error("--rounds must be at least 1")
    workers = args.workers
    if args.db == "sqlite" and workers != (1,):
        print("SQLite lets one writer in at a time: throughput with 1 worker only", file=sys.stderr)
        workers = (1,)
    setup_django(args.db)

    from django.db import connection

    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    old_name = connection.settings_dict["NAME"]
    print(f"creating database {connection.settings_dict['TEST']['NAME']} on {args.db} ...", file=sys.stderr, flush=True)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False, keepdb=False)
    bench = Bench(args.db, args.duration, args.quick, sections=args.sections, workers=workers, shapes=args.shapes,
                  rounds=rounds)
    try:
        bench.run()
    finally:
        connection.close()
        try:
            connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)
        except Exception:
            traceback.print_exc()
            print(f"could not drop the bench database; drop {connection.settings_dict['TEST']['NAME']} by hand",
                  file=sys.stderr)
    import platform

    print(f"django-liveclass-booking benchmark on {connection.vendor} ({args.db}), {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; throughput: {' and '.join(args.shapes)}, median of {rounds} "
          f"round{'s' if rounds > 1 else ''}, hot rounds of {args.duration:g} s; "
          f"whole run {time.perf_counter() - started:.0f} s; load average at start {load_start:.1f}, "
          f"at end {os.getloadavg()[0]:.1f}")
    for n in bench.notes:
        print(f"  {n}")
    print()
    print(bench.table())
    if args.sql and hasattr(bench, "book_seat_sql"):
        for title, sql in (("book_seat", bench.book_seat_sql), ("request_lesson", bench.request_sql),
                           ("cancel_booking with hand-over", bench.cancel_sql)):
            print(f"\nStatements of one {title}:")
            for i, statement in enumerate(sql, 1):
                print(f"  {i:2}. {statement}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
