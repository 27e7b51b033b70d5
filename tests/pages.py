"""Helpers of the page tests: an app URL by name, a start a few days ahead, a signed-in test client."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_liveclass_booking.adapter import TIMEZONE_SESSION_KEY


def url(name: str, *args: Any) -> str:
    return reverse(f"liveclass_booking:{name}", args=args)


def soon(days: int = 3, hour: int = 10) -> dt.datetime:
    day = timezone.now().astimezone(dt.UTC).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def login(user: Any, zone: str | None = None) -> Client:
    """A client signed in as ``user``, with ``zone`` picked for the pages (None: none yet)."""
    client = Client()
    client.force_login(user)
    if zone:
        session = client.session
        session[TIMEZONE_SESSION_KEY] = zone
        session.save()
    return client
