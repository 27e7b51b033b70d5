"""The optional Celery task, run by a real Celery worker against the local Redis."""

import datetime as dt
import os
import socket
import subprocess
import sys
import uuid

import pytest

from django_liveclass_booking import services

REDIS_URL = os.environ.get("LIVECLASS_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


def test_the_tasks_module_imports_without_celery():
    code = ("import sys; sys.modules['celery'] = None\n"
            "import django_liveclass_booking.tasks as t\n"
            "assert t.CELERY_AVAILABLE is False and t.process_due is None\n"
            "print('ok')")
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": src})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_sweep(make_session, make_user, set_policy, now):
    if not redis_up():
        # CI sets LIVECLASS_REQUIRE_REDIS so that this test can never be skipped there.
        if os.environ.get("LIVECLASS_REQUIRE_REDIS"):
            pytest.fail("Redis is not running on 127.0.0.1:6379")
        pytest.skip("no Redis on 127.0.0.1:6379")
    from celery import Celery
    from celery.contrib.testing.worker import start_worker

    from django_liveclass_booking import tasks

    set_policy(approval_mode="manual", request_ttl_hours=1)
    services.book_seat(make_user(), make_session(), now=now)

    app = Celery("liveclass_booking_tests", broker=REDIS_URL, backend=REDIS_URL)
    # A queue of its own: two test runs sharing this Redis must not take each other's tasks.
    app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                    task_default_queue=f"liveclass-booking-tests-{uuid.uuid4().hex}")
    assert "liveclass_booking.process_due" in app.tasks
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        result = tasks.process_due.apply_async(args=[(now + dt.timedelta(hours=2)).isoformat()])
        counts = result.get(timeout=60)
    assert counts == {"expired_requests": 1, "expired_offers": 0, "offers_made": 0,
                      "expired_reschedules": 0, "completed": 0,
                      "notifications_sent": 0, "idempotency_keys_deleted": 0}
