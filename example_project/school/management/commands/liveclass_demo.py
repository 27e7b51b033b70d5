"""Migrate and fill the example project with demo data; ``--serve`` then starts the development server.

The data is seeded once: a later run finds the ``DemoSeeding`` row and adds nothing, so what a person
deleted or changed since stays so. ``--reset`` empties the database and seeds it again. With
``--serve`` the address is checked first, before anything is written. While it serves, a background
thread runs ``process_due()`` every ``--sweep-every`` seconds, as a scheduler would in production:
requests and offers expire, freed seats are offered, and reminders go out on their own; it stops
with the server.
"""

from __future__ import annotations

import datetime as dt
import errno
import socket
import threading
import traceback
import zoneinfo
from io import TextIOBase
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from django_liveclass_booking import services
from django_liveclass_booking.exceptions import BookingError
from django_liveclass_booking.models import (
    ApprovalMode,
    RescheduleRequest,
    SessionWaitlist,
    TeacherAvailability,
    TeacherBookingPolicy,
    Weekday,
    get_booking_model,
)
from school.adapter import add_credits
from school.models import CreditAccount, CreditEntry, DemoSeeding, Lesson

ADDRESS = "127.0.0.1:8000"
#: Seconds between two background runs of process_due() while --serve runs.
SWEEP_EVERY = 30
#: A lesson whose teacher proposes a new time: the student answers it on the lesson's page.
PROPOSAL = {"teacher": "t.jones", "student": "s.chen", "minutes": 60, "subject": "Mathematics",
            "message": "Something came up that morning: could we move to later in the week?"}
#: Every demo teacher and student logs in with this password.
DEMO_PASSWORD = "demo"

TEACHERS = {
    "t.jones": {"first_name": "Tom", "last_name": "Jones", "timezone": "Europe/London",
                "approval_mode": ApprovalMode.AUTO},
    "m.garcia": {"first_name": "María", "last_name": "García", "timezone": "Europe/Madrid",
                 "approval_mode": ApprovalMode.MANUAL},
}
STUDENTS = {"s.ahmed": ("Sara", "Ahmed"), "s.chen": ("Li", "Chen"), "s.kowalski": ("Jan", "Kowalski"),
            "s.okafor": ("Ada", "Okafor")}
AVAILABILITY = [
    ("t.jones", Weekday.MONDAY, dt.time(9), dt.time(12)),
    ("t.jones", Weekday.WEDNESDAY, dt.time(9), dt.time(12)),
    ("t.jones", Weekday.FRIDAY, dt.time(14), dt.time(18)),
    ("m.garcia", Weekday.TUESDAY, dt.time(15), dt.time(19)),
    ("m.garcia", Weekday.THURSDAY, dt.time(15), dt.time(19)),
]
# key, teacher, subject, title, days from today, local start hour, minutes, capacity
LESSONS = [
    ("demo-algebra", "t.jones", "Mathematics", "Algebra basics", 1, 17, 60, 8),
    ("demo-fractions", "t.jones", "Mathematics", "Fractions clinic", 3, 17, 45, 2),
    ("demo-conversation", "m.garcia", "Spanish", "Conversation A2", 2, 18, 60, 5),
    ("demo-geometry", "t.jones", "Mathematics", "Geometry", 8, 17, 60, 6),
    ("demo-grammar", "m.garcia", "Spanish", "Grammar workshop", 9, 18, 90, 10),
    ("demo-exam", "t.jones", "Physics", "Exam preparation", 12, 16, 90, 10),
]
# Seats taken through the services. m.garcia approves by hand, so his bookings start pending;
# the demo confirms the ones listed in CONFIRMED_BY_TEACHER and leaves the other one waiting.
BOOKINGS = [
    ("demo-algebra", "s.ahmed"), ("demo-algebra", "s.chen"), ("demo-algebra", "s.kowalski"),
    ("demo-fractions", "s.ahmed"), ("demo-fractions", "s.okafor"),
    ("demo-geometry", "s.chen"),
    ("demo-conversation", "s.okafor"), ("demo-conversation", "s.kowalski"),
]
CONFIRMED_BY_TEACHER = {("demo-conversation", "s.okafor")}
# The full "Fractions clinic" gets a line: a seat freed there is offered to s.chen first.
WAITLIST = [("demo-fractions", "s.chen")]
# A weekly club: one session per week, all sharing one recurrence key (students can book them all).
CLUB = {"key": "demo-club", "teacher": "t.jones", "subject": "Mathematics", "title": "Maths club",
        "days": 4, "hour": 16, "minutes": 45, "capacity": 6, "weeks": 6}
MEETING_URL = "https://meet.example.org/{key}"
#: Every booking costs a credit (school.adapter); each demo student starts with these.
WELCOME_CREDITS = 10
#: A student and a teacher with an API token each, printed at the end of every run for a first curl.
API_USERS = ("s.chen", "t.jones")


class Command(BaseCommand):
    help = "Migrate, add demo teachers, students, lessons and bookings, and optionally run the server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--serve", action="store_true", help="Run the development server after seeding.")
        parser.add_argument("--address", default=ADDRESS, help=f"Where --serve listens (default {ADDRESS}).")
        parser.add_argument("--sweep-every", type=int, default=SWEEP_EVERY, metavar="SECONDS",
                            help=f"With --serve, run process_due() every SECONDS in the background "
                                 f"(default {SWEEP_EVERY}; 0: never).")
        parser.add_argument("--reset", action="store_true",
                            help="Empty the database (every row, the demo's and any other) and seed the demo anew.")

    created = 0

    def handle(self, *args: Any, serve: bool = False, address: str = ADDRESS, sweep_every: int = SWEEP_EVERY,
               reset: bool = False, **options: Any) -> None:
        if sweep_every < 0:
            raise CommandError(f"--sweep-every must be 0 or more seconds, not {sweep_every}.")
        if serve:
            # Before anything is written: a busy port found after seeding leaves a seeded database behind.
            check_address_free(address)
        call_command("migrate", interactive=False, verbosity=options["verbosity"])
        if reset:
            call_command("flush", interactive=False, verbosity=0)
            self.stdout.write("Emptied the database (--reset).")
        seeded = DemoSeeding.objects.order_by("seeded_at").first()
        if seeded is None:
            tokens = self.seed()
            DemoSeeding.objects.create()
            if self.created:
                self.stdout.write(self.style.SUCCESS(f"Created {self.created} demo objects."))
            else:  # a database seeded before the demo kept a record of it
                self.stdout.write("Nothing new: the demo data is already there.")
        else:
            self.stdout.write(f"Nothing new: the demo data was seeded on {seeded.seeded_at:%Y-%m-%d %H:%M} UTC "
                              f"and is not seeded again, so what was deleted or changed since stays so. "
                              f"Run with --reset to start over.")
            tokens = dict(Token.objects.filter(user__username__in=API_USERS)
                          .values_list("user__username", "key"))
        self.stdout.write(f"Open http://{address}/ and log in as a student (s.ahmed, s.chen, s.kowalski, "
                          f"s.okafor) or a teacher (t.jones, m.garcia), password {DEMO_PASSWORD!r}; "
                          f"the admin is at http://{address}/admin/ as admin / admin.")
        if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend"):
            self.stdout.write(f"The emails are written to {settings.EMAIL_FILE_PATH}; staff (admin) read them at "
                              f"http://{address}/outbox/.")
        for username, key in tokens.items():
            self.stdout.write(f"API token for {username}: {key}")
        if API_USERS[0] in tokens:
            self.stdout.write(f"Try the API: curl -H \"Authorization: Token {tokens[API_USERS[0]]}\" "
                              f"http://{address}/api/sessions/ (its schema in Swagger UI: "
                              f"http://{address}/api-docs/).")
        if serve:
            self.serve(address, sweep_every)

    def seed(self) -> dict[str, str]:
        """Every piece of the demo; the API tokens of ``API_USERS``."""
        users = self.seed_users()
        self.seed_availability(users)
        self.seed_credits(users)
        lessons = self.seed_lessons(users)
        self.seed_bookings(users, lessons)
        self.seed_waitlist(users, lessons)
        self.seed_club(users)
        self.seed_proposal(users)
        return self.seed_tokens(users)

    def serve(self, address: str, sweep_every: int) -> None:
        """The development server, and beside it the sweep every ``sweep_every`` seconds until the server stops."""
        stop = threading.Event()
        sweep = None
        if sweep_every:
            self.stdout.write(f"process_due() runs every {sweep_every} s in the background.")
            # A daemon as well: should the server end in a way that skips the finally below, the process still ends.
            sweep = threading.Thread(target=sweep_forever, args=(sweep_every, self.stdout, self.stderr, stop),
                                     name="liveclass-sweep", daemon=True)
            sweep.start()
        try:
            # Without the reloader: a reload would start this whole command again.
            call_command("runserver", address, use_reloader=False)
        finally:
            # Control-C ends runserver with SystemExit: the sweep stops with it, after its current run.
            stop.set()
            if sweep is not None:
                sweep.join(timeout=60)

    def note(self, message: str) -> None:
        self.created += 1
        self.stdout.write(f"  + {message}")

    def seed_users(self) -> dict[str, Any]:
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", "admin")
            self.note("superuser admin (password admin)")
        users = {}
        for username, profile in TEACHERS.items():
            users[username] = self.user(username, profile["first_name"], profile["last_name"])
            _, created = TeacherBookingPolicy.objects.get_or_create(
                teacher=users[username],
                defaults={"timezone": profile["timezone"], "approval_mode": profile["approval_mode"]},
            )
            if created:
                self.note(f"booking policy of {username}: {profile['approval_mode']} approval, {profile['timezone']}")
        for username, (first, last) in STUDENTS.items():
            users[username] = self.user(username, first, last)
        return users

    def user(self, username: str, first_name: str, last_name: str) -> Any:
        user, created = get_user_model().objects.get_or_create(
            username=username,
            defaults={"first_name": first_name, "last_name": last_name, "email": f"{username}@example.com"},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
            self.note(f"user {username} ({first_name} {last_name}), password {DEMO_PASSWORD!r}")
        elif not user.email:
            # Users of a demo seeded before it sent emails: without an address they get none.
            user.email = f"{username}@example.com"
            user.save(update_fields=["email"])
            self.note(f"email address {user.email} for {username}")
        return user

    def seed_tokens(self, users: dict[str, Any]) -> dict[str, str]:
        """An API token for each of ``API_USERS``: one already there (perhaps regenerated in the admin) is kept."""
        tokens = {}
        for username in API_USERS:
            token, created = Token.objects.get_or_create(user=users[username])
            if created:
                self.note(f"API token of {username}")
            tokens[username] = token.key
        return tokens

    def seed_credits(self, users: dict[str, Any]) -> None:
        for username in STUDENTS:
            if CreditAccount.objects.filter(student=users[username]).exists():
                continue
            with transaction.atomic():
                add_credits(users[username], WELCOME_CREDITS, CreditEntry.Reason.GIFT)
            self.note(f"{WELCOME_CREDITS} lesson credits for {username}")

    def seed_availability(self, users: dict[str, Any]) -> None:
        for username, weekday, start, end in AVAILABILITY:
            tz_name = TEACHERS[username]["timezone"]
            _, created = TeacherAvailability.objects.get_or_create(
                teacher=users[username], weekday=weekday, start_time=start, end_time=end, timezone=tz_name
            )
            if created:
                self.note(f"availability of {username}: {weekday.label} {start:%H:%M}-{end:%H:%M} {tz_name}")

    def seed_lessons(self, users: dict[str, Any]) -> dict[str, Any]:
        lessons = {lesson.external_ref: lesson for lesson in Lesson.objects.filter(external_ref__startswith="demo-")}
        today = timezone.localdate()
        for key, username, subject, title, days, hour, length, capacity in LESSONS:
            if key in lessons:
                continue
            tz_name = TEACHERS[username]["timezone"]
            start = dt.datetime.combine(today + dt.timedelta(days=days), dt.time(hour),
                                        tzinfo=zoneinfo.ZoneInfo(tz_name))
            try:
                lesson = services.schedule_session(users[username], start=start, duration=length,
                                                   capacity=capacity, title=title, timezone=tz_name,
                                                   meeting_provider="Example Meet",
                                                   meeting_url=MEETING_URL.format(key=key),
                                                   meeting_passcode=key.removeprefix("demo-")[:4] + "42")
            except BookingError as exc:
                self.stdout.write(self.style.WARNING(f"  - lesson {title!r} not scheduled: {exc} ({exc.code})"))
                continue
            # The service knows nothing of the host's own fields; the key makes the next run skip it.
            lesson.subject, lesson.external_ref = subject, key
            lesson.save(update_fields=["subject", "external_ref"])
            lessons[key] = lesson
            self.note(f"lesson {title!r} ({subject}) with {username} on {start:%a %d %b %H:%M} {tz_name}, "
                      f"{capacity} seats")
        return lessons

    def seed_bookings(self, users: dict[str, Any], lessons: dict[str, Any]) -> None:
        Booking = get_booking_model()
        for key, username in BOOKINGS:
            lesson, student = lessons.get(key), users[username]
            if lesson is None or Booking.objects.filter(session=lesson, student=student).exists():
                continue
            try:
                booking = services.book_seat(student, lesson)
                if (key, username) in CONFIRMED_BY_TEACHER:
                    services.confirm_booking(booking, actor=lesson.teacher)
            except BookingError as exc:
                # Typically a lesson of an earlier run that has started since.
                self.stdout.write(self.style.WARNING(f"  - {username} not booked into {lesson.title!r}: {exc}"))
                continue
            self.note(f"booking of {username} in {lesson.title!r}: {booking.status}")

    def seed_waitlist(self, users: dict[str, Any], lessons: dict[str, Any]) -> None:
        for key, username in WAITLIST:
            lesson, student = lessons.get(key), users[username]
            if lesson is None or SessionWaitlist.objects.filter(session=lesson, student=student).exists():
                continue
            try:
                entry = services.join_waitlist(student, lesson)
            except BookingError as exc:
                self.stdout.write(self.style.WARNING(f"  - {username} not on the waitlist of {lesson.title!r}: {exc}"))
                continue
            self.note(f"{username} on the waitlist of {lesson.title!r} ({entry.status})")

    def seed_proposal(self, users: dict[str, Any]) -> None:
        """A 1:1 lesson of s.chen with t.jones, and a new time t.jones proposes for it, waiting for s.chen."""
        if RescheduleRequest.objects.exists():
            return
        teacher, student = users[PROPOSAL["teacher"]], users[PROPOSAL["student"]]
        now = timezone.now()
        slots = services.available_slots(teacher, start=now + dt.timedelta(days=2), end=now + dt.timedelta(days=16),
                                         duration=PROPOSAL["minutes"])
        if len(slots) < 2:
            self.stdout.write(self.style.WARNING("  - no free 1:1 slots of t.jones for the reschedule example"))
            return
        try:
            lesson = services.request_lesson(student, teacher, start=slots[0][0], duration=PROPOSAL["minutes"])
            # The service knows nothing of the host's own fields.
            Lesson.objects.filter(pk=lesson.session_id).update(subject=PROPOSAL["subject"])
            services.request_reschedule(lesson, start=slots[-1][0], actor=teacher, message=PROPOSAL["message"])
        except BookingError as exc:
            self.stdout.write(self.style.WARNING(f"  - reschedule example not made: {exc} ({exc.code})"))
            return
        self.note(f"1:1 lesson of {student.username} with {teacher.username} on {slots[0][0]:%a %d %b %H:%M} UTC, "
                  f"and a new time proposed by the teacher: {slots[-1][0]:%a %d %b %H:%M} UTC")

    def seed_club(self, users: dict[str, Any]) -> None:
        if Lesson.objects.filter(external_ref__startswith=CLUB["key"] + "-").exists():
            return
        tz_name = TEACHERS[CLUB["teacher"]]["timezone"]
        first = dt.datetime.combine(timezone.localdate() + dt.timedelta(days=CLUB["days"]), dt.time(CLUB["hour"]),
                                    tzinfo=zoneinfo.ZoneInfo(tz_name))
        try:
            sessions = services.schedule_recurring_sessions(
                users[CLUB["teacher"]], first_start=first, duration=CLUB["minutes"], capacity=CLUB["capacity"],
                rrule=f"FREQ=WEEKLY;COUNT={CLUB['weeks']}", timezone=tz_name, title=CLUB["title"],
                meeting_provider="Example Meet", meeting_url=MEETING_URL.format(key=CLUB["key"]),
            )
        except BookingError as exc:
            self.stdout.write(self.style.WARNING(f"  - {CLUB['title']!r} not scheduled: {exc} ({exc.code})"))
            return
        for index, session in enumerate(sessions):
            session.subject, session.external_ref = CLUB["subject"], f"{CLUB['key']}-{index}"
            session.save(update_fields=["subject", "external_ref"])
        self.note(f"weekly {CLUB['title']!r} with {CLUB['teacher']}: {len(sessions)} sessions from "
                  f"{first:%a %d %b %H:%M} {tz_name}")


def check_address_free(address: str) -> None:
    """Raise ``CommandError`` unless the development server can listen on ``address`` (``[host:]port``).

    The probe binds as runserver does (``SO_REUSEADDR``), so a port whose last connections are still
    closing is not taken for busy, while one another server listens on is.
    """
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if host == "0":
        host = "0.0.0.0"  # as runserver reads it
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"--address {address!r}: give a port, or host:port such as {ADDRESS}.")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError as exc:
            reason = "another program is listening there" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise CommandError(f"Cannot serve on {address}: {reason}. Nothing was written; stop that program or "
                               f"choose another address, e.g. --address 127.0.0.1:{int(port) + 1}.") from exc


# --- the background sweep of --serve ------------------------------------------------------------------


def sweep_once(stdout: TextIOBase, stderr: TextIOBase) -> dict[str, int] | None:
    """One run of ``process_due()``: a line on ``stdout`` if it did anything; its counts, or None if it failed.

    A failure is printed, never raised, so the thread that loops over this goes on. The run's
    database connections are closed after it: ``connections`` holds one set per thread, so these
    are this thread's alone, and nothing else closes them (Django closes a request's at its end).
    The next run opens fresh ones, so a connection broken meanwhile is not reused.
    """
    try:
        try:
            counts = services.process_due()
        finally:
            connections.close_all()
    except Exception:
        stderr.write(f"[{timezone.now():%H:%M:%S}] process_due() failed, tried again in the next run:\n"
                     f"{traceback.format_exc()}")
        return None
    done = {name: count for name, count in counts.items() if count}
    if done:
        stdout.write(f"[{timezone.now():%H:%M:%S}] process_due(): "
                     + ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in done.items()) + "\n")
    return counts


def sweep_forever(every: float, stdout: TextIOBase, stderr: TextIOBase, stop: threading.Event | None = None) -> None:
    """``sweep_once`` now and then every ``every`` seconds, until ``stop`` is set (never, for the demo's daemon)."""
    stop = stop or threading.Event()
    while True:
        sweep_once(stdout, stderr)
        if stop.wait(every):
            return
