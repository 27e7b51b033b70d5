from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from django_liveclass_booking import services, signals
from django_liveclass_booking.models import TeacherBookingPolicy
from django_liveclass_booking.services._engine import copies, preparing

SWAPPED = getattr(settings, "LIVECLASS_BOOKING_SESSION_MODEL", "").startswith("testapp.")
#: tests.settings_router: a router puts the booking models on the "booking" alias.
ROUTED = "booking" in settings.DATABASES
#: tests.settings_replica: reads go to a streaming PostgreSQL replica on the "replica" alias.
REPLICATED = "replica" in settings.DATABASES
#: LIVECLASS_PG_POOLED=1: PostgreSQL through PgBouncer in transaction pooling (tests/pgbouncer.py).
POOLED = getattr(settings, "PG_POOLED", False)

#: A fixed "now" for every test: bookings are judged against it, never the wall clock.
NOW = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    # Tests marked "swapped" need the swapped-model settings (tests.settings_swapped), tests marked
    # "router" the router settings (tests.settings_router); other runs deselect them and CI runs
    # each in a run of its own. A router run is only the "router" tests: the others ask for the
    # default database alone, where the router keeps no booking table. Tests marked "replica" need
    # tests.settings_replica, whose runs are those tests and the concurrency tests (the races with
    # the replica router installed). Tests marked "own_models" write the package's own tables by
    # hand and are left out of the swapped runs. Tests marked "pgbouncer" run only through PgBouncer
    # (LIVECLASS_PG_POOLED=1).
    def wanted(item: Any) -> bool:
        if item.get_closest_marker("pgbouncer") and not POOLED:
            return False
        if ROUTED:
            return item.get_closest_marker("router") is not None
        if REPLICATED:
            return (any(item.get_closest_marker(name) for name in ("replica", "concurrency"))
                    and not any(item.get_closest_marker(name) for name in ("router", "swapped")))
        return (not item.get_closest_marker("router") and not item.get_closest_marker("replica")
                and (SWAPPED or not item.get_closest_marker("swapped"))
                and not (SWAPPED and item.get_closest_marker("own_models")))

    keep, dropped = [], []
    for item in items:
        (keep if wanted(item) else dropped).append(item)
    if REPLICATED:
        # The threads of a concurrency test read through the replica router like any other code:
        # the replica is one of their databases.
        for item in keep:
            marker = item.get_closest_marker("django_db")
            if marker is not None and "databases" not in marker.kwargs:
                both = pytest.mark.django_db(*marker.args, **marker.kwargs, databases=["default", "replica"])
                item.add_marker(both, append=False)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


_counter = itertools.count(1)


@pytest.fixture(autouse=True)
def _forget_policy_copies() -> None:
    # Each test starts as a new process would: on SQLite a rolled-back test's ids come back, and a
    # copy of an earlier test's policy would cost a query budget its stale-copy retry.
    copies.forget_all()
    # A test that shows the fallback when the server lost a prepared statement leaves none behind.
    preparing.forget_refusals()


@pytest.fixture
def make_user(db: Any) -> Callable[..., Any]:
    def make(username: str | None = None, **extra: Any) -> Any:
        name = username or f"user{next(_counter)}"
        return get_user_model().objects.create_user(username=name, password="pw", **extra)

    return make


@pytest.fixture
def teacher(make_user: Callable[..., Any]) -> Any:
    return make_user("teacher")


@pytest.fixture
def student(make_user: Callable[..., Any]) -> Any:
    return make_user("student")


@pytest.fixture
def other_student(make_user: Callable[..., Any]) -> Any:
    return make_user("other")


@pytest.fixture
def now() -> dt.datetime:
    return NOW


@pytest.fixture
def make_session(teacher: Any, now: dt.datetime) -> Callable[..., Any]:
    starts = itertools.count(0)

    def make(capacity: int = 10, *, who: Any = None, start: dt.datetime | None = None, duration: int = 60,
             **kwargs: Any) -> Any:
        when = start or now + dt.timedelta(days=1, hours=2 * next(starts))
        return services.schedule_session(who or teacher, start=when, duration=duration, capacity=capacity,
                                         now=now, **kwargs)

    return make


@pytest.fixture
def session(make_session: Callable[..., Any]) -> Any:
    return make_session(capacity=3, title="Algebra II")


@pytest.fixture
def set_policy(teacher: Any) -> Callable[..., TeacherBookingPolicy]:
    def set_(who: Any = None, **fields: Any) -> TeacherBookingPolicy:
        policy, _ = TeacherBookingPolicy.objects.update_or_create(
            teacher=who or teacher, defaults={**TeacherBookingPolicy.defaults(), **fields}
        )
        return policy

    return set_


class SignalRecorder:
    """Records (signal name, kwargs) for every booking signal sent."""

    NAMES = [
        "booking_requested", "booking_confirmed", "booking_declined", "booking_cancelled", "booking_expired",
        "session_cancelled", "series_created", "waitlist_joined", "waitlist_seat_offered",
        "waitlist_offer_accepted", "waitlist_offer_expired",
    ]

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self._receivers: list[tuple[Any, Any]] = []
        for name in self.NAMES:
            def receiver(sender: Any, _name: str = name, **kwargs: Any) -> None:
                kwargs.pop("signal", None)
                self.sent.append((_name, {"sender": sender, **kwargs}))

            getattr(signals, name).connect(receiver, weak=False)
            self._receivers.append((getattr(signals, name), receiver))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.sent]

    def disconnect(self) -> None:
        for signal, receiver in self._receivers:
            signal.disconnect(receiver)

    close = disconnect


@pytest.fixture
def signal_log() -> Any:
    recorder = SignalRecorder()
    yield recorder
    recorder.disconnect()


@pytest.fixture
def smtp() -> Any:
    """A real SMTP server on 127.0.0.1 for one test (``tests.smtp``); stopped and restartable inside it."""
    from .smtp import SMTPServer

    server = SMTPServer()
    server.start()
    yield server
    server.stop()


class Api:
    """Calls the HTTP API as a user signed in through the session (``None``: anonymous), JSON in and out."""

    def __init__(self, user: Any = None) -> None:
        from rest_framework.test import APIClient

        self.client = APIClient()
        self.user = user
        if user is not None:
            self.client.force_login(user)

    def __call__(self, method: str, path: str, data: Any = None, **headers: str) -> Any:
        call = getattr(self.client, method.lower())
        extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
        if method.lower() == "get":
            return call(f"/api/{path}", data, **extra)
        return call(f"/api/{path}", data, format="json", **extra)

    def get(self, path: str, data: Any = None, **headers: str) -> Any:
        return self("get", path, data, **headers)

    def post(self, path: str, data: Any = None, **headers: str) -> Any:
        return self("post", path, data, **headers)


@pytest.fixture
def api(db: Any) -> Callable[[Any], Api]:
    """``api(user)``: an API caller signed in as ``user`` (``api(None)``: nobody signed in)."""
    return Api


@pytest.fixture(autouse=True)
def _checks_read_the_primary(request: Any) -> Any:
    """With the replica router, a test's own reads (its setup and its checks) go to the primary.

    The code under test routes for itself: the services pin themselves to the primary, and the
    threads of a concurrency test start without this pin. A check that read a lagging replica
    would judge the code by an older state. The replica tests route their reads on purpose.
    """
    if not REPLICATED or request.node.get_closest_marker("replica"):
        yield
        return
    from django_liveclass_booking.routers import use_primary

    with use_primary():
        yield


if POOLED:
    from django.db.backends.signals import connection_created

    from tests import pgbouncer

    def pytest_configure(config: Any) -> None:
        # A pooled run without PgBouncer in transaction pooling where the settings point fails here,
        # before any test: it must not pass on a direct connection.
        pgbouncer.require_transaction_pooling()

    def refuse_session_state(sender: Any, connection: Any, **kwargs: Any) -> None:
        # Once per connection object: a reconnect signals again.
        if pgbouncer.refuse_session_state not in connection.execute_wrappers:
            connection.execute_wrappers.append(pgbouncer.refuse_session_state)

    # Every connection of the run, the concurrency tests' threads' too, refuses session state.
    connection_created.connect(refuse_session_state, dispatch_uid="pgbouncer-refuse-session-state")

    @pytest.fixture(scope="session")
    def django_db_setup(django_db_setup: Any) -> Any:
        # PgBouncer keeps the server connections to the test database open after the tests' clients
        # leave; they are ended before the runner drops it.
        yield
        pgbouncer.close_servers_of(settings.DATABASES["default"]["NAME"])
