"""Student pages for 1:1 lessons: teachers, free slots, a lesson request, weekly series and their pages.

A page shows only what its viewer may see (the adapter decides): another student's series is a 404.
Every change is one service call.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .. import services
from ..adapter import get_adapter
from ..conf import booking_settings
from ..exceptions import BookingError
from ..forms import (
    LessonRequestForm,
    SeriesCancelForm,
    SeriesForm,
    SlotSearchForm,
    parse_instant,
)
from ..models import (
    ACTIVE_BOOKING_STATUSES,
    BookingSeries,
    TeacherAvailability,
    TeacherBookingPolicy,
)
from ._common import (
    AuthenticatedRequest,
    add_booking_error,
    free_week,
    render_page,
    small_int,
    viewer_timezone,
)
from .site import require_POST

#: Lesson lengths offered when the teacher's policy allows any.
DEFAULT_DURATIONS = [30, 45, 60, 90]
#: Where a slot or series refusal is shown on the form.
LESSON_FIELDS = {
    "outside_availability": "start", "teacher_unavailable": "start", "min_notice": "start",
    "max_advance": "start", "naive_datetime": "start", "duration_not_allowed": "duration",
}
SERIES_FIELDS = {
    "outside_availability": "start_time", "teacher_unavailable": "start_time", "min_notice": "first_date",
    "max_advance": "first_date", "duration_not_allowed": "duration", "too_many_occurrences": "weeks",
    "invalid_timezone": "start_time",
}


def _now() -> dt.datetime:
    return get_adapter().now()


def _policy_durations(teacher: Any) -> list[int]:
    durations = TeacherBookingPolicy.for_teacher(teacher).lesson_durations
    return sorted(int(d) for d in durations) if durations else DEFAULT_DURATIONS


def _teachers() -> QuerySet[Any]:
    """Teachers who take 1:1 requests: those with availability windows (or any policy when not required)."""
    User = get_user_model()
    ids: QuerySet[Any, Any] = (TeacherAvailability.objects.values("teacher_id") if booking_settings.REQUIRE_AVAILABILITY
                               else TeacherBookingPolicy.objects.values("teacher_id"))
    return User._default_manager.filter(pk__in=ids, is_active=True).order_by(User.USERNAME_FIELD)


@login_required
def teacher_list(request: AuthenticatedRequest) -> HttpResponse:
    teachers = list(_teachers())
    policies = {p.teacher_id: p for p in TeacherBookingPolicy.objects.filter(teacher__in=teachers)}
    rows = [(t, policies.get(t.pk)) for t in teachers]
    return render_page(request, "liveclass_booking/student/teacher_list.html", {"rows": rows})


def _lesson_page(request: AuthenticatedRequest, teacher: Any, form: LessonRequestForm | None = None) -> HttpResponse:
    tz = viewer_timezone(request)
    durations = _policy_durations(teacher)
    search = SlotSearchForm(request.GET or None, durations=durations)
    week, duration = None, durations[0]
    if search.is_valid():
        week = search.cleaned_data["week"]
        duration = search.cleaned_data["duration"] or duration
    form = form or LessonRequestForm(initial={"duration": duration})
    context = {
        "teacher": teacher, "search": search, "form": form, "duration": duration,
        "selected": request.POST.get("start", ""), **free_week(teacher, week, duration, tz),
    }
    return render_page(request, "liveclass_booking/student/request_lesson.html", context)


@login_required
def request_lesson(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """List the teacher's free slots for a week; POST asks for one of them."""
    teacher = get_object_or_404(_teachers(), pk=pk)
    if request.method != "POST":
        return _lesson_page(request, teacher)
    form = LessonRequestForm(request.POST)
    if form.is_valid():
        try:
            booking = services.request_lesson(request.user, teacher, start=form.cleaned_data["start"],
                                              duration=form.cleaned_data["duration"],
                                              message=form.cleaned_data["message"])
        except BookingError as exc:
            add_booking_error(form, exc, LESSON_FIELDS)
        else:
            if booking.status == booking.Status.PENDING:
                messages.success(request, _("Lesson requested: the teacher will confirm or decline it."))
            else:
                messages.success(request, _("Lesson booked."))
            return redirect("liveclass_booking:booking_detail", pk=booking.pk)
    return _lesson_page(request, teacher, form)


@login_required
def create_series(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Book the same 1:1 lesson every week for a number of weeks (at the student's local time)."""
    teacher = get_object_or_404(_teachers(), pk=pk)
    tz = viewer_timezone(request)
    if request.method == "POST":
        form = SeriesForm(request.POST, tz=tz)
        if form.is_valid():
            try:
                series = services.create_series(
                    request.user, teacher, first_start=form.cleaned_data["first_start"],
                    duration=form.cleaned_data["duration"], rrule=form.rrule, timezone=tz,
                    on_conflict=form.cleaned_data["on_conflict"],
                )
            except BookingError as exc:
                add_booking_error(form, exc, SERIES_FIELDS)
            else:
                messages.success(request, _("Weekly lessons booked."))
                return redirect("liveclass_booking:series_detail", pk=series.pk)
    else:
        initial: dict[str, Any] = {"duration": _policy_durations(teacher)[0], "weeks": 4}
        try:
            first = parse_instant(request.GET.get("start", "")).astimezone(tz)
        except (forms.ValidationError, OverflowError):
            pass  # no usable start given: the student picks one
        else:
            initial.update(first_date=first.date(), start_time=first.time().replace(second=0, microsecond=0))
        duration = small_int(request.GET.get("duration"), limit=24 * 60)
        if duration:
            initial["duration"] = duration
        form = SeriesForm(initial=initial, tz=tz)
    return render_page(request, "liveclass_booking/student/create_series.html",
                       {"teacher": teacher, "form": form, "viewer_zone": tz.key})


def _visible_series(user: Any) -> QuerySet[BookingSeries]:
    return get_adapter().series_visible_to(user, BookingSeries.objects.select_related("student", "teacher"))


def _series_page(request: AuthenticatedRequest, series: BookingSeries,
                 form: SeriesCancelForm | None = None) -> HttpResponse:
    items = series.items.select_related("booking").order_by("index")
    current = _now()
    context = {"series": series, "items": items, "form": form or SeriesCancelForm(), "now": current,
               # Only lessons still booked are offered as a point to cancel from.
               "future_items": [i for i in items if i.start_at_utc > current and i.booking is not None
                                and i.booking.status in ACTIVE_BOOKING_STATUSES]}
    return render_page(request, "liveclass_booking/student/series_detail.html", context)


@login_required
def series_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _series_page(request, get_object_or_404(_visible_series(request.user), pk=pk))


@login_required
@require_POST
def cancel_series(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    series = get_object_or_404(_visible_series(request.user), pk=pk)
    form = SeriesCancelForm(request.POST)
    if not form.is_valid():
        return _series_page(request, series, form)
    try:
        count = services.cancel_series(series, actor=request.user, from_start=form.cleaned_data["from_start"],
                                       reason=form.cleaned_data["reason"])
    except BookingError as exc:
        add_booking_error(form, exc, {"cancellation_window": "from_start"})
        return _series_page(request, series, form)
    messages.success(request, ngettext("%(count)d lesson cancelled.", "%(count)d lessons cancelled.", count)
                     % {"count": count})
    return redirect("liveclass_booking:series_detail", pk=series.pk)


