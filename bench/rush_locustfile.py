"""Locust users of ``bench/http_rush.py``: students in a booking rush, and teachers who approve by hand.

Run by the script (``locust -f bench/rush_locustfile.py --headless ...``), which passes the seeded
accounts in the environment:

* ``LIVECLASS_RUSH_STUDENTS``: how many students there are (``rush.s0000`` upwards);
* ``LIVECLASS_RUSH_TEACHERS``: the usernames of the teachers who approve bookings by hand;
* ``LIVECLASS_RUSH_PASSWORD``: every account's password;
* ``LIVECLASS_RUSH_OUTCOMES``: a file where the counts of what the users did are written at the end.

Everything goes through the site's pages, as a browser would: each POST sends the CSRF token of
the form it submits, read from the page just fetched. Every request is named by page, so Locust's
statistics are per page. A refusal the page shows (the class is full, already booked...) is a
normal answer; any 5xx is an error, and so is a 4xx or a status the page never answers.
"""

from __future__ import annotations

import html as html_text
import itertools
import json
import os
import random
import re
import time
from collections import Counter
from typing import Any

from locust import HttpUser, between, events, task

STUDENTS = int(os.environ.get("LIVECLASS_RUSH_STUDENTS", "1000"))
TEACHERS = [name for name in os.environ.get("LIVECLASS_RUSH_TEACHERS", "").split(",") if name]
PASSWORD = os.environ.get("LIVECLASS_RUSH_PASSWORD", "rush")
OUTCOMES_FILE = os.environ.get("LIVECLASS_RUSH_OUTCOMES", "")

#: Share of visits that cancel one of the student's bookings.
CANCEL_SHARE = 0.3
#: Shares of visits by a student who waits for a seat (back to look for an offer, as its email says)
#: and by one who booked (back to look, and perhaps cancel, which hands the seat to the line).
WAITING_SHARE, BOOKED_SHARE = 0.25, 0.25
#: Returning waiting students are among the earliest to join: the heads of the lines, offered seats first.
LINE_HEADS = 20
#: The first classes of the list are the popular ones: this many times as likely to be picked.
POPULAR, POPULAR_WEIGHT = 5, 5

FORM_RE = re.compile(r'<form\b[^>]*\baction="([^"]+)"[^>]*>(.*?)</form>', re.S)
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SESSION_LINK_RE = re.compile(r'href="(/sessions/\d+/)"')
BOOKING_LINK_RE = re.compile(r'href="(/bookings/\d+/)"')
CANCEL_LINK_RE = re.compile(r'href="(/bookings/\d+/cancel/)"')
ERROR_RE = re.compile(r'<ul class="errorlist[^>]*>\s*<li>(.*?)</li>', re.S)
MESSAGE_ERROR_RE = re.compile(r'<li class="error">(.*?)</li>', re.S)

# One Locust process runs every user (gevent): these are shared by all of them.
outcomes: Counter[str] = Counter()
_next_student = itertools.count()
_next_teacher = itertools.count()
#: Students who joined a waitlist, in the order they joined, and students who booked a seat.
waiting_students: list[str] = []
booked_students: list[str] = []


def forms(html: str) -> dict[str, str]:
    """``{action: csrf token}`` of every POST form of the page."""
    found = {}
    for action, body in FORM_RE.findall(html):
        token = CSRF_RE.search(body)
        if token:
            found[action] = token.group(1)
    return found


def first_form(html: str, suffix: str) -> tuple[str, str] | None:
    """The first form whose action ends with ``suffix``, as ``(action, csrf token)``."""
    for action, token in forms(html).items():
        if action.endswith(suffix):
            return action, token
    return None


def refusal(html: str) -> str:
    """The message of an action the page refused, shown above its form."""
    found = ERROR_RE.search(html)
    return html_text.unescape(found.group(1).strip()) if found else "no message"


def judge(response: Any, expected: tuple[int, ...]) -> bool:
    """Mark the response failed unless its status is one the page answers; True if it is."""
    status = response.status_code
    if status in expected:
        response.success()
        return True
    if status >= 500:
        response.failure(f"HTTP {status} server error")
    elif status:
        response.failure(f"HTTP {status} unexpected")
    else:
        response.failure(f"no response: {response.error!r}")
    return False


class SiteUser(HttpUser):
    abstract = True

    def page(self, path: str, name: str, expected: tuple[int, ...] = (200,)) -> str | None:
        """GET a page that must answer 200 (or another of ``expected``); its HTML, "" for an expected
        redirect, or None."""
        with self.client.get(path, name=name, allow_redirects=False, catch_response=True) as response:
            if not judge(response, expected):
                return None
            return response.text if response.status_code == 200 else ""

    def post(self, path: str, name: str, token: str, data: dict[str, str] | None = None,
             expected: tuple[int, ...] = (302,)) -> Any | None:
        """POST a form with its CSRF token; the response if its status is expected, else None."""
        payload = {"csrfmiddlewaretoken": token, **(data or {})}
        with self.client.post(path, data=payload, name=name, allow_redirects=False, catch_response=True,
                               headers={"Referer": (self.host or "") + path}) as response:
            return response if judge(response, expected) else None

    def log_in(self, username: str) -> bool:
        html = self.page("/accounts/login/", "login page")
        form = html and first_form(html, "/accounts/login/")
        if not form:
            return False
        response = self.post(form[0], "login", form[1], {"username": username, "password": PASSWORD})
        return response is not None

    def log_out(self, html: str | None) -> None:
        form = html and first_form(html, "/accounts/logout/")
        if form:
            self.post(form[0], "logout", form[1])
        self.client.cookies.clear()


class Student(SiteUser):
    """A visit: log in, look at the classes, book one or join its waitlist, accept offers, maybe cancel."""

    wait_time = between(0.5, 2.0)
    weight = 10

    def pick_student(self) -> str:
        draw = random.random()
        if waiting_students and draw < WAITING_SHARE:
            return random.choice(waiting_students[:LINE_HEADS])
        if booked_students and draw < WAITING_SHARE + BOOKED_SHARE:
            return random.choice(booked_students)
        return f"rush.s{next(_next_student) % STUDENTS:04d}"

    def think(self) -> None:
        time.sleep(random.uniform(0.1, 0.5))  # Locust patched the standard library: only this user waits

    @task
    def visit(self) -> None:
        username = self.pick_student()
        if not self.log_in(username):
            return
        html = self.page("/", "class list")
        if html is None:
            return
        if random.random() < 0.2:
            with self.client.get("/api/sessions/", name="API sessions", catch_response=True) as response:
                judge(response, (200,))
        links = list(dict.fromkeys(SESSION_LINK_RE.findall(html)))
        if links:
            self.think()
            weights = [POPULAR_WEIGHT if i < POPULAR else 1 for i in range(len(links))]
            self.book_or_wait(username, random.choices(links, weights)[0])
        self.think()
        html = self.page("/bookings/", "my bookings")
        if html is None:
            return
        html = self.accept_offers(username, html) or html
        if random.random() < CANCEL_SHARE:
            self.cancel_one(html)
        self.log_out(html)

    def book_or_wait(self, username: str, link: str) -> None:
        html = self.page(link, "class page")
        if html is None:
            return
        book, wait = first_form(html, "/book/"), first_form(html, "/waitlist/")
        if book:
            self.submit(book, "book", username, "booked", "booking refused", booked_students)
        elif wait:
            self.submit(wait, "join waitlist", username, "joined waitlist", "waitlist refused", waiting_students)
        else:
            outcomes["nothing to do on the class page"] += 1

    def submit(self, form: tuple[str, str], name: str, username: str, done: str, refused: str,
               students: list[str]) -> None:
        """POST a class page's form: a redirect is ``done`` (the student joins ``students``), a page
        again is a refusal counted by its message."""
        response = self.post(form[0], name, form[1], expected=(200, 302))
        if response is not None and response.status_code == 302:
            outcomes[done] += 1
            students.append(username)
        elif response is not None:
            outcomes[f"{refused} ({refusal(response.text)})"] += 1

    def accept_offers(self, username: str, html: str) -> str | None:
        """Accept every seat offered on the My bookings page; the page again if any was."""
        offers = [(action, token) for action, token in forms(html).items() if action.endswith("/accept/")]
        for action, token in offers:
            response = self.post(action, "accept offer", token)
            # Accepted: to the new booking's page; refused (taken back, expired): to My bookings, with a message.
            location = response.headers.get("Location", "") if response is not None else ""
            if BOOKING_LINK_RE.search(f'href="{location}"'):
                outcomes["offers accepted"] += 1
                if username in waiting_students:
                    waiting_students.remove(username)
        if not offers:
            return None
        page = self.page("/bookings/", "my bookings")
        for message in MESSAGE_ERROR_RE.findall(page or ""):
            outcomes[f"offer refused ({html_text.unescape(message.strip())})"] += 1
        return page

    def cancel_one(self, html: str) -> None:
        links = list(dict.fromkeys(BOOKING_LINK_RE.findall(html)))
        if not links:
            return
        self.think()
        page = self.page(random.choice(links), "booking page")
        # The booking page links to the confirmation step, whose form does the cancelling.
        confirm = CANCEL_LINK_RE.search(page or "")
        # A redirect to the booking's page: cancelled meanwhile, by another visit of the same student.
        page = confirm and self.page(confirm.group(1), "cancel confirmation", expected=(200, 302))
        if page == "":
            outcomes["cancel: nothing left to cancel"] += 1
        form = page and first_form(page, "/cancel/")
        if form:
            response = self.post(form[0], "cancel", form[1], {"reason": "Plans changed."},
                                 expected=(200, 302))
            if response is not None and response.status_code == 302:
                outcomes["cancelled"] += 1
            elif response is not None:
                outcomes[f"cancel refused ({refusal(response.text)})"] += 1


class Teacher(SiteUser):
    """A teacher who approves by hand: logs in once, then confirms whatever waits on the dashboard."""

    wait_time = between(1.0, 3.0)
    # One Locust user per such teacher, whatever the user count; none without such teachers.
    fixed_count = len(TEACHERS)
    abstract = not TEACHERS

    def on_start(self) -> None:
        self.username = TEACHERS[next(_next_teacher) % len(TEACHERS)]
        self.logged_in = self.log_in(self.username)

    @task
    def confirm_pending(self) -> None:
        if not self.logged_in:
            self.logged_in = self.log_in(self.username)
            return
        html = self.page("/teach/", "teacher dashboard")
        if html is None:
            return
        confirms = [(action, token) for action, token in forms(html).items()
                    if action.startswith("/teach/bookings/") and action.endswith("/confirm/")]
        for action, token in confirms[:5]:
            response = self.post(action, "confirm", token, {"next": "/teach/"})
            if response is not None:
                outcomes["confirmed (asked)"] += 1


@events.test_stop.add_listener
def write_outcomes(**_kwargs: Any) -> None:
    if OUTCOMES_FILE:
        with open(OUTCOMES_FILE, "w", encoding="utf-8") as out:
            json.dump(dict(outcomes), out)
