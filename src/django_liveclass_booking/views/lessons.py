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
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from .. import services
from ..adapter import get_adapter
from ..conf import booking_settings
from ..errors import message_for
from ..exceptions import BookingError
from ..forms import (
    CancelForm,
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
    viewer_when,
)
from .confirm import confirm_page
from .rules import policy_rules
from .series_summary import add_series_problems, series_summary

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


def _week_search(request: AuthenticatedRequest, teacher: Any) -> tuple[SlotSearchForm, Any, int]:
    """The week and lesson length asked for in the query string (``?week=&duration=``), checked."""
    durations = _policy_durations(teacher)
    search = SlotSearchForm(request.GET or None, durations=durations)
    week, duration = None, durations[0]
    if search.is_valid():
        week = search.cleaned_data["week"]
        duration = search.cleaned_data["duration"] or duration
    return search, week, duration


def _lesson_page(request: AuthenticatedRequest, teacher: Any, form: LessonRequestForm | None = None) -> HttpResponse:
    tz = viewer_timezone(request)
    search, week, duration = _week_search(request, teacher)
    form = form or LessonRequestForm(initial={"duration": duration})
    context = {
        "teacher": teacher, "search": search, "form": form, "duration": duration,
        "selected": request.POST.get("start", ""), **free_week(teacher, week, duration, tz),
        "rules": policy_rules(TeacherBookingPolicy.for_teacher(teacher), tz, group=False),
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
    """Book the same 1:1 lesson every week for a number of weeks (at the student's local time).

    The first lesson is one of the teacher's free times of the week shown (``?week=``), or a date
    and time typed in; the summary afterwards says what was booked, requested and skipped.
    """
    teacher = get_object_or_404(_teachers(), pk=pk)
    tz = viewer_timezone(request)
    search, week, duration = _week_search(request, teacher)
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
                add_series_problems(form, exc, SERIES_FIELDS, tz)
            else:
                messages.add_message(request, *series_summary(series, tz))
                return redirect("liveclass_booking:series_detail", pk=series.pk)
        duration = form.cleaned_data.get("duration") or duration
    else:
        initial: dict[str, Any] = {"duration": duration, "weeks": 4}
        try:
            first = parse_instant(request.GET.get("start", "")).astimezone(tz)
        except (forms.ValidationError, OverflowError):
            pass  # no usable start given: the student picks one
        else:
            initial.update(first_date=first.date(), start_time=first.time().replace(second=0, microsecond=0))
        duration = small_int(request.GET.get("duration"), limit=24 * 60) or duration
        initial["duration"] = duration
        form = SeriesForm(initial=initial, tz=tz)
    return render_page(request, "liveclass_booking/student/create_series.html", {
        "teacher": teacher, "form": form, "viewer_zone": tz.key, "duration": duration,
        "selected": request.POST.get("start", ""), **free_week(teacher, week, duration, tz),
        "rules": policy_rules(TeacherBookingPolicy.for_teacher(teacher), tz, group=False)})


def _visible_series(user: Any) -> QuerySet[BookingSeries]:
    return get_adapter().series_visible_to(user, BookingSeries.objects.select_related("student", "teacher"))


def _series_page(request: AuthenticatedRequest, series: BookingSeries,
                 form: SeriesCancelForm | None = None) -> HttpResponse:
    items = list(series.items.select_related("booking").order_by("index"))
    for item in items:
        # What a skipped week means, in words: the code's registered message.
        item.skip_message = message_for(item.skip_reason) if item.skip_reason else ""  # type: ignore[attr-defined]
    current = _now()
    context = {"series": series, "items": items, "form": form or SeriesCancelForm(), "now": current,
               # Only lessons still booked are offered as a point to cancel from.
               "future_items": [i for i in items if i.start_at_utc > current and i.booking is not None
                                and i.booking.status in ACTIVE_BOOKING_STATUSES]}
    return render_page(request, "liveclass_booking/student/series_detail.html", context)


@login_required
def series_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _series_page(request, get_object_or_404(_visible_series(request.user), pk=pk))


def _lesson_at(series: BookingSeries, start: dt.datetime | None) -> Any:
    """The booking of the series' lesson starting at ``start`` (else its next one) that can still be cancelled."""
    items = series.items.select_related("booking").filter(
        start_at_utc__gt=_now(), booking__status__in=ACTIVE_BOOKING_STATUSES).order_by("start_at_utc")
    item = (items.filter(start_at_utc=start) if start is not None else items).first()
    return item.booking if item is not None else None


def _cancel_scope(series: BookingSeries, data: dict[str, Any]) -> tuple[str, Any]:
    """What the form asks to cancel: ("one", booking), ("following", start) or ("all", None)."""
    scope, start = data.get("scope") or "following", data.get("from_start")
    if scope == "one":
        return scope, _lesson_at(series, start)
    if scope == "all" or start is None:
        return "all", None
    return scope, start


def _confirm_series_cancel(request: AuthenticatedRequest, series: BookingSeries,
                           form: SeriesCancelForm) -> HttpResponse:
    scope, target = _cancel_scope(series, form.cleaned_data)
    back = reverse("liveclass_booking:series_detail", args=[series.pk])
    if scope == "one":
        if target is None:
            messages.error(request, _("That lesson can no longer be cancelled."))
            return redirect(back)
        question = _("Cancel your lesson on %(when)s?") % {"when": _when(request, target.start_at_utc)}
        note = _("Only this lesson is cancelled; the rest of the series stays booked.")
    elif scope == "following":
        question = _("Cancel your lesson on %(when)s and every later lesson of this series?") % {
            "when": _when(request, target)}
        note = _("The lessons before it stay booked.")
    else:
        question, note = _("Cancel every future lesson of this series?"), _("Past lessons stay as they are.")
    start = form.cleaned_data.get("from_start")
    hidden = [("scope", scope), ("from_start", start.isoformat() if start else "")]
    return confirm_page(request, question=question, notes=[note], form=CancelForm(), hidden=hidden,
                        action=reverse("liveclass_booking:cancel_series", args=[series.pk]),
                        yes=_("Yes, cancel"), keep=_("Keep them"), keep_url=back)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def cancel_series(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """GET (the series page's form) asks to confirm; POST cancels one lesson, the later ones, or all."""
    series = get_object_or_404(_visible_series(request.user), pk=pk)
    form = SeriesCancelForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        return _series_page(request, series, form)
    if request.method != "POST":
        if not get_adapter().can_cancel_series(request.user, series):
            raise PermissionDenied("You may not cancel this series.")
        return _confirm_series_cancel(request, series, form)
    scope, target = _cancel_scope(series, form.cleaned_data)
    reason = form.cleaned_data["reason"]
    try:
        if scope == "one":
            if target is None:
                raise BookingError(code="invalid_transition")
            services.cancel_booking(target, actor=request.user, reason=reason)
            count = 1
        else:
            count = services.cancel_series(series, actor=request.user, from_start=target, reason=reason)
    except BookingError as exc:
        add_booking_error(form, exc, {"cancellation_window": "from_start"})
        return _series_page(request, series, form)
    messages.success(request, ngettext("%(count)d lesson cancelled.", "%(count)d lessons cancelled.", count)
                     % {"count": count})
    return redirect("liveclass_booking:series_detail", pk=series.pk)


def _when(request: AuthenticatedRequest, instant: dt.datetime) -> str:
    return viewer_when(request, instant)


