"""The code samples of the documentation run, against the test database, and do what the docs say.

``docs/examples/*.py`` are included into the pages with ``literalinclude``; these tests run them.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
import sys
import zoneinfo
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import reverse

from django_liveclass_booking import services
from django_liveclass_booking.conf import DEFAULTS
from django_liveclass_booking.exceptions import PolicyViolation
from django_liveclass_booking.models import (
    BookingSource,
    BookingStatus,
    SessionKind,
    SessionWaitlist,
    TeacherBookingPolicy,
    WaitlistStatus,
    get_booking_model,
)
from django_liveclass_booking.policy import BookingRequest

from .invariants import assert_all

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def load_example(name: str) -> ModuleType:
    """Import ``docs/examples/<name>.py`` as module ``docs_examples_<name>`` (so dotted paths reach it)."""
    module_name = f"docs_examples_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


# --- the tutorial ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_tutorial_books_a_seat_confirms_a_lesson_and_serves_the_waitlist(django_capture_on_commit_callbacks,
                                                                          signal_log):
    tutorial = load_example("tutorial")

    with django_capture_on_commit_callbacks(execute=True):
        outcome = tutorial.run()

    tina, (sam, alex) = outcome["teacher"], outcome["students"]
    session, seat, lesson = outcome["session"], outcome["seat"], outcome["lesson"]
    seat.refresh_from_db()
    lesson.refresh_from_db()
    session.refresh_from_db()

    # A booked seat, given up later in the tutorial.
    assert seat.student_id == sam.pk and seat.session_id == session.pk
    assert seat.status == BookingStatus.CANCELLED
    assert session.timezone_snapshot == "Europe/London" and session.capacity == 1

    # A 1:1 lesson, requested (pending: the teacher approves by hand), then confirmed.
    assert outcome["lesson_requested_as"] == BookingStatus.PENDING
    assert lesson.status == BookingStatus.CONFIRMED and lesson.kind == SessionKind.ONE_ON_ONE
    assert lesson.teacher_id == tina.pk and lesson.student_id == sam.pk and lesson.decided_by_id == tina.pk
    assert lesson.end_at_utc - lesson.start_at_utc == dt.timedelta(minutes=60)
    assert lesson.expires_at is None

    # A waitlist offer, made when Sam gave the seat up, accepted by Alex.
    entry = SessionWaitlist.objects.get(pk=outcome["entry"].pk)
    assert outcome["entry_joined_as"] == WaitlistStatus.WAITING
    assert entry.status == WaitlistStatus.ACCEPTED and entry.student_id == alex.pk
    alex_seat = outcome["seat_from_waitlist"]
    assert entry.booking_id == alex_seat.pk
    assert alex_seat.status == BookingStatus.CONFIRMED and alex_seat.source == BookingSource.WAITLIST
    assert session.seats_taken == 1

    assert signal_log.names == [
        "booking_confirmed",          # Sam's seat
        "booking_requested",          # Sam's lesson request
        "booking_confirmed",          # ... confirmed by Tina
        "waitlist_joined",            # Alex in line
        "booking_cancelled",          # Sam gives the seat up
        "waitlist_seat_offered",      # ... and it is offered to Alex
        "waitlist_offer_accepted",    # Alex accepts
        "booking_confirmed",          # ... and holds a confirmed booking
    ]
    assert_all()


@pytest.mark.django_db
def test_the_tutorials_lesson_lies_in_an_availability_window():
    tutorial = load_example("tutorial")
    outcome = tutorial.run()

    lesson = outcome["lesson"]
    local = lesson.start_at_utc.astimezone(zoneinfo.ZoneInfo("Europe/London"))
    assert local.weekday() < 5
    assert dt.time(9) <= local.time() and (local + dt.timedelta(minutes=60)).time() <= dt.time(17)
    # The group class holds its hour on Tina's calendar: the lesson does not overlap it.
    session = outcome["session"]
    assert not (lesson.start_at_utc < session.end_at_utc and session.start_at_utc < lesson.end_at_utc)


# --- the custom policy rules -----------------------------------------------------------------------

#: The host's credit records, for the tests: student pk -> credits.
CREDITS: dict[Any, int] = {}


def balance(student: Any) -> int:
    """The ``balance`` function a host points ``HasLessonCredits`` at (here: a dict)."""
    return CREDITS.get(student.pk, 0)


def example_rules() -> list[dict[str, Any]]:
    """The documented ``POLICY_RULES``, with the host's dotted paths pointing at the example module."""
    module = load_example("credit_rule").__name__
    rules = []
    for entry in load_example("credit_rule").RULES:
        entry = {**entry, "NAME": entry["NAME"].replace("credits.policy.", f"{module}.")}
        if "OPTIONS" in entry:
            entry["OPTIONS"] = {**entry["OPTIONS"], "balance": f"{__name__}.balance"}
        rules.append(entry)
    return rules


@pytest.fixture
def credit_rules():
    CREDITS.clear()
    with override_settings(LIVECLASS_BOOKING={"POLICY_RULES": example_rules()}):
        yield
    CREDITS.clear()


def weekday_start(now: dt.datetime, weekday: int) -> dt.datetime:
    """17:00 UTC on the next ``weekday`` (0 = Monday) at least two days after ``now``."""
    day = (now + dt.timedelta(days=2)).date()
    day += dt.timedelta(days=(weekday - day.weekday()) % 7)
    return dt.datetime.combine(day, dt.time(17), tzinfo=dt.UTC)


def test_the_documented_rules_are_the_builtins_plus_the_host_rules():
    names = [entry["NAME"] for entry in load_example("credit_rule").RULES]

    assert names[:7] == [entry["NAME"] for entry in DEFAULTS["POLICY_RULES"]]
    assert names[7:] == ["credits.policy.HasLessonCredits", "credits.policy.WeekendNeedsApproval"]


@pytest.mark.django_db
def test_a_student_without_enough_credits_is_refused_and_nothing_is_written(credit_rules, teacher, student, now):
    session = services.schedule_session(teacher, start=weekday_start(now, 1), duration=60, capacity=5, now=now)
    CREDITS[student.pk] = 1

    with pytest.raises(PolicyViolation) as refused:
        services.book_seat(student, session, now=now)

    assert refused.value.codes == ["no_credits"]
    assert refused.value.params == {"needed": 2, "have": 1}
    assert "you have 1" in str(refused.value)
    session.refresh_from_db()
    assert session.seats_taken == 0
    assert not get_booking_model().objects.exists()


@pytest.mark.django_db
def test_check_booking_reports_the_missing_credits_beside_the_builtin_violations(credit_rules, teacher, student, now):
    services.set_policy(teacher, min_notice_minutes=30 * 24 * 60)
    session = services.schedule_session(teacher, start=weekday_start(now, 1), duration=60, capacity=5, now=now)

    decision = services.check_booking(student, session=session, now=now)

    assert not decision.allowed
    assert decision.codes == ["min_notice", "no_credits"]


@pytest.mark.django_db
def test_a_student_with_credits_books_a_weekday_class_at_once(credit_rules, teacher, student, now):
    session = services.schedule_session(teacher, start=weekday_start(now, 2), duration=60, capacity=5, now=now)
    CREDITS[student.pk] = 2

    booking = services.book_seat(student, session, now=now)

    assert booking.status == BookingStatus.CONFIRMED


@pytest.mark.django_db
def test_a_weekend_class_waits_for_the_teacher(credit_rules, teacher, student, now):
    services.set_policy(teacher, timezone="Europe/London")
    session = services.schedule_session(teacher, start=weekday_start(now, 5), duration=60, capacity=5, now=now)
    CREDITS[student.pk] = 5

    decision = services.check_booking(student, session=session, now=now)
    booking = services.book_seat(student, session, now=now)

    assert decision.allowed and decision.requires_approval
    assert decision.approval_reasons == ["WeekendNeedsApproval"]
    assert booking.status == BookingStatus.PENDING


@pytest.mark.django_db
def test_the_rule_asks_for_the_balance_once_per_booking(credit_rules, teacher, student, now):
    session = services.schedule_session(teacher, start=weekday_start(now, 3), duration=60, capacity=5, now=now)
    CREDITS[student.pk] = 3
    calls = []
    rule = load_example("credit_rule").HasLessonCredits(balance=f"{__name__}.balance", min_credits=2)
    rule.balance = lambda who: calls.append(who) or CREDITS[who.pk]
    request = BookingRequest(student=student, teacher_id=teacher.pk, kind=SessionKind.GROUP,
                             start=session.start_at_utc, end=session.end_at_utc, now=now,
                             policy=TeacherBookingPolicy.for_teacher(teacher), session=session)
    assert rule.check(request) == []
    assert rule.check(request) == []
    assert calls == [student]


# --- the README's quickstart -----------------------------------------------------------------------

README = EXAMPLES.parent.parent / "README.md"


def readme_section_code(heading: str) -> str:
    """The ```python blocks of the README's section ``## <heading>``, joined in their order."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end != -1 else None]
    return "\n".join(re.findall(r"^```python\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL))


def test_the_quickstart_code_is_found() -> None:
    code = readme_section_code("Quickstart")
    # Every name the quickstart uses is made by the quickstart: nothing comes from nowhere.
    for made_here in ("teacher = ", "alice = ", "bob = ", "add_availability(", "request_lesson("):
        assert made_here in code
    compile(code, "README.md", "exec")


@pytest.mark.django_db
def test_the_readme_quickstart_runs_as_written_on_an_empty_database(capsys: pytest.CaptureFixture[str]) -> None:
    User = get_user_model()
    assert not User.objects.exists()
    namespace: dict[str, Any] = {"__name__": "readme_quickstart"}

    exec(compile(readme_section_code("Quickstart"), "README.md", "exec"), namespace)  # noqa: S102

    teacher, alice, bob = namespace["teacher"], namespace["alice"], namespace["bob"]
    assert [user.username for user in (teacher, alice, bob)] == ["teacher", "alice", "bob"]
    session, booking, lesson = namespace["session"], namespace["booking"], namespace["lesson"]
    session.refresh_from_db()
    booking.refresh_from_db()
    lesson.refresh_from_db()
    # Alice's seat, given up; Bob's seat, taken beside it; nothing printed, as nothing was refused.
    assert booking.student_id == alice.pk and booking.status == BookingStatus.CANCELLED
    assert namespace["decision"].allowed
    assert get_booking_model().objects.get(session=session, student=bob).status == BookingStatus.CONFIRMED
    assert session.capacity == 12 and session.seats_taken == 1
    assert capsys.readouterr().out == ""
    # Bob's 1:1 lesson: in the teacher's Wednesday window, after the class, 45 minutes long.
    london = zoneinfo.ZoneInfo("Europe/London")
    local = lesson.start_at_utc.astimezone(london)
    assert lesson.kind == SessionKind.ONE_ON_ONE and lesson.student_id == bob.pk and lesson.teacher_id == teacher.pk
    assert lesson.status == BookingStatus.CONFIRMED
    assert local.weekday() == 2 and local.time() == dt.time(9)
    assert lesson.end_at_utc - lesson.start_at_utc == dt.timedelta(minutes=45)
    assert lesson.start_at_utc > session.end_at_utc
    assert_all()


# --- the templates docs/installation.rst tells a host to add ----------------------------------------

INSTALLATION = EXAMPLES.parent / "installation.rst"


def documented_templates() -> dict[str, str]:
    """The ``html+django`` blocks of docs/installation.rst, by the path their first line names."""
    blocks = re.findall(r"^\.\. code-block:: html\+django\n\n((?:   .*\n|\n)+)", INSTALLATION.read_text(),
                        flags=re.MULTILINE)
    templates = {}
    for block in blocks:
        text = "\n".join(line[3:] for line in block.splitlines()).strip() + "\n"
        name = re.match(r"\{# templates/(\S+) #\}\n", text)
        assert name is not None, text
        templates[name.group(1)] = text
    return templates


@pytest.fixture
def host_templates(tmp_path: Path, settings: Any) -> None:
    for name, text in documented_templates().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    # Only the documented templates: not tests/templates' own login page.
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]


def test_the_installation_page_documents_a_login_and_a_logout_template() -> None:
    assert set(documented_templates()) == {"registration/login.html", "liveclass_booking/base.html"}


@pytest.mark.django_db
def test_the_documented_login_template_logs_in_and_the_pages_then_offer_to_log_out(client, make_user, settings,
                                                                                   host_templates) -> None:
    make_user("alice")
    page = client.get(reverse("liveclass_booking:my_bookings"))
    assert page.status_code == 302 and page["Location"].startswith(reverse("login"))

    login = client.get(page["Location"])
    assert login.status_code == 200 and b'name="password"' in login.content
    logged_in = client.post(page["Location"], {"username": "alice", "password": "pw",
                                               "next": reverse("liveclass_booking:my_bookings")})
    assert logged_in.status_code == 302 and logged_in["Location"] == reverse("liveclass_booking:my_bookings")

    bookings = client.get(logged_in["Location"])
    assert bookings.status_code == 200
    assert f'action="{reverse("logout")}"'.encode() in bookings.content and b"Log out" in bookings.content
    settings.LOGOUT_REDIRECT_URL = "login"
    logged_out = client.post(reverse("logout"))
    assert logged_out.status_code == 302 and logged_out["Location"] == reverse("login")
    assert client.get(reverse("liveclass_booking:my_bookings")).status_code == 302
