"""Optional Celery task running the sweep: ``liveclass_booking.process_due``.

Importing this module is safe without Celery installed (``CELERY_AVAILABLE`` is then False and
no task is defined). With Celery (``pip install django-liveclass-booking[celery]``) schedule it
with Celery beat, e.g. every minute::

    CELERY_BEAT_SCHEDULE = {
        "liveclass-booking-process-due": {"task": "liveclass_booking.process_due", "schedule": 60.0},
    }
"""

from __future__ import annotations

import datetime as dt
from typing import Any

try:
    from celery import shared_task
except ImportError:  # Celery is an optional extra
    shared_task = None

CELERY_AVAILABLE = shared_task is not None


def run_process_due(now: str | None = None) -> dict[str, int]:
    """Run ``services.process_due``; ``now`` is an ISO 8601 time with offset (for replays), or None."""
    from . import services

    return services.process_due(now=dt.datetime.fromisoformat(now) if now else None)


process_due: Any = None
if shared_task is not None:
    process_due = shared_task(name="liveclass_booking.process_due")(run_process_due)
