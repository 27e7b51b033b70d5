"""What every optional view shares: the viewer's timezone, who is a teacher, and errors on forms.

The views change nothing themselves: each POST calls one service, which checks permissions and
writes (or raises a ``BookingError`` and writes nothing). A refusal is shown on the form, next to
the field it concerns.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils import timezone as dj_timezone

from .. import services
from ..adapter import get_adapter
from ..exceptions import BookingError, PolicyViolation
from ..models import TeacherBookingPolicy
from ..services._engine.timezones import find_zone
from ..services._engine.types import User
from ..templatetags.liveclass_booking import when


class AuthenticatedRequest(HttpRequest):
    """A request that has passed ``login_required``: its user is signed in."""

    user: User


def viewer_timezone(request: HttpRequest) -> zoneinfo.ZoneInfo:
    """The zone times are shown in: the adapter's (the viewer's pick), else the teacher policy's."""
    candidates = [get_adapter().get_viewer_timezone(request)]
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        candidates.append(
            TeacherBookingPolicy.objects.filter(teacher=user).values_list("timezone", flat=True).first()
        )
    candidates.append(settings.TIME_ZONE)
    for name in candidates:
        if not name:
            continue
        found = find_zone(str(name))
        if found is not None:
            return found
    return zoneinfo.ZoneInfo("UTC")


def viewer_when(request: HttpRequest, value: dt.datetime) -> str:
    """``value`` in the pages' one date style, in the viewer's zone, the zone named (for messages)."""
    with dj_timezone.override(viewer_timezone(request)):
        return when(value)


def needs_timezone(request: HttpRequest) -> bool:
    """Whether the page should ask the browser for its zone: signed in, and no zone known for the viewer."""
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and not get_adapter().get_viewer_timezone(request))


def is_teacher(user: Any) -> bool:
    """Whether ``user`` may use the teacher pages (the adapter decides)."""
    return bool(user.is_authenticated and get_adapter().is_teacher(user))


def teacher_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login required, then 403 for anyone the adapter does not count as a teacher."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_teacher(request.user):
            from .site import permission_denied

            return permission_denied(request, PermissionDenied("Only teachers can open this page."))
        return view(request, *args, **kwargs)

    return wrapped


def add_booking_error(form: forms.BaseForm, error: BookingError, fields: Mapping[str, str] | None = None) -> None:
    """Put a refused call's message(s) on ``form``: next to the field its code maps to, else on top.

    ``fields`` maps an error code to a field name, e.g. ``{"duration_not_allowed": "duration"}``.
    A ``PolicyViolation`` adds one message per violation. ``error.params["fields"]`` (set by the
    teacher services for bad input) names fields directly.
    """
    fields = dict(fields or {})
    problems = error.violations if isinstance(error, PolicyViolation) and error.violations else [error]
    for problem in problems:
        code, message = problem.code, str(getattr(problem, "message", problem))
        targets = [fields[code]] if code in fields else [
            f for f in (problem.params or {}).get("fields", []) if f in form.fields
        ]
        for target in targets or [None]:
            # Several violations may say the same thing (one per week of a series): say it once.
            if message not in form.errors.get(target or NON_FIELD_ERRORS, []):
                form.add_error(target, forms.ValidationError(message, code=code))


def small_int(value: str | None, limit: int = 2**31 - 1) -> int | None:
    """A query-string number: ASCII digits within ``limit``, else None (``'²'.isdigit()`` is True)."""
    if value and value.isascii() and value.isdigit() and len(value) <= 10 and int(value) <= limit:
        return int(value)
    return None


def safe_next(request: HttpRequest, fallback: str) -> HttpResponse:
    """Redirect to the POSTed ``next`` when it is a path on this site, else to the URL name ``fallback``."""
    from django.http import HttpResponseRedirect
    from django.shortcuts import redirect
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next", "")
    # A bare word would be taken for a URL name by redirect(); only absolute paths are ours.
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return redirect(fallback)


def local(value: Any, request: HttpRequest) -> Any:  # noqa: D103
    """``value`` (an aware datetime) in the viewer's timezone."""
    return dj_timezone.localtime(value, viewer_timezone(request))


@functools.cache
def calendar_feeds_available() -> bool:
    """Whether the optional ``icalendar`` package (the ``ics`` extra) is installed."""
    import importlib.util

    return importlib.util.find_spec("icalendar") is not None


def render_page(request: HttpRequest, template: str, context: dict[str, Any] | None = None,
                status: int = 200) -> HttpResponse:
    """``render`` with what ``liveclass_booking/base.html`` needs: the viewer's timezone and role."""
    from django.shortcuts import render

    page = {"viewer_tz": viewer_timezone(request), "viewer_is_teacher": is_teacher(request.user),
            "calendar_feeds": calendar_feeds_available(), "detect_timezone": needs_timezone(request)}
    page.update(context or {})
    return render(request, template, page, status=status)


def visible_bookings(user: Any) -> Any:
    """Bookings ``user`` may open, as the adapter decides (any other answers 404)."""
    from ..models import get_booking_model

    bookings = get_booking_model().objects.select_related("session", "student", "teacher")
    return get_adapter().bookings_visible_to(user, bookings)


def visible_sessions(user: Any) -> Any:
    """Sessions ``user`` may open, as the adapter decides (any other answers 404)."""
    from ..models import get_session_model

    return get_adapter().sessions_visible_to(user, get_session_model().objects.select_related("teacher"))


def free_week(teacher: Any, week: dt.date | None, duration: int, tz: zoneinfo.ZoneInfo) -> dict[str, Any]:
    """A week of the teacher's free 1:1 times for the slot pickers, as template context.

    ``days``: (local day, [(start, end), ...]) in the viewer's zone; ``week`` (never before today) and
    its neighbours ``previous_week``/``next_week``; ``slots_error``: the refusal if the times could not
    be read.
    """
    today = get_adapter().now().astimezone(tz).date()
    week = week if week and week >= today else today
    start = dt.datetime.combine(week, dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(week + dt.timedelta(days=7), dt.time(0), tzinfo=tz)
    slots_error: BookingError | None = None
    try:
        slots = services.available_slots(teacher, start=start, end=end, duration=duration)
    except BookingError as exc:
        slots, slots_error = [], exc
    days: list[tuple[dt.date, list[tuple[dt.datetime, dt.datetime]]]] = []
    for slot_start, slot_end in slots:
        day = slot_start.astimezone(tz).date()
        if not days or days[-1][0] != day:
            days.append((day, []))
        days[-1][1].append((slot_start, slot_end))
    return {"days": days, "week": week, "previous_week": max(today, week - dt.timedelta(days=7)),
            "next_week": week + dt.timedelta(days=7), "slots_error": slots_error}
