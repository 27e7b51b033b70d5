"""Teacher pages: answer requests, schedule classes, see a roster, edit the policy and availability.

Every POST calls one service with the signed-in teacher as the actor. A refusal is shown next to
the form field it concerns (or, for a button in a list, as a message) and nothing is written.
Which sessions, bookings, series and windows a viewer reaches is the adapter's
``teacher_rows_managed_by``: by default a teacher's own, and everyone's for a booking manager.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Min, Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from .. import services
from ..adapter import get_adapter
from ..exceptions import BookingError, NotAllowed
from ..forms.teacher import (
    REPEATS,
    ReasonForm,
    ScheduleForm,
    TimeOffForm,
    WindowForm,
)
from ..models import (
    OUTCOME_STATUSES,
    BookingSeries,
    BookingStatus,
    SeriesStatus,
    SessionKind,
    SessionStatus,
    SessionWaitlist,
    TeacherAvailability,
    TeacherTimeOff,
    WaitlistStatus,
    get_booking_model,
    get_session_model,
)
from ..models.bookings import live_at
from ._common import (
    AuthenticatedRequest,
    add_booking_error,
    local,
    render_page,
    safe_next,
    teacher_required,
    viewer_timezone,
)
from .attendance import roster_rows
from .confirm import confirm_page, next_path
from .lifecycle import outcome_window_open, proposals_to_answer
from .site import require_POST

#: The dashboard lists at most this many upcoming sessions (the roster pages show the rest).
UPCOMING_LIMIT = 100

SCHEDULE_ERRORS = {
    "teacher_unavailable": "start", "start_in_past": "start", "naive_datetime": "start",
    "invalid_datetime": "start", "invalid_duration": "duration", "invalid_capacity": "capacity",
    "invalid_timezone": "timezone", "too_many_occurrences": "weeks", "invalid_rrule": "repeat",
}
WINDOW_ERRORS = {"invalid_weekday": "weekday", "end_before_start": "end_time", "invalid_timezone": "timezone"}
TIME_OFF_ERRORS = {"end_before_start": "end", "naive_datetime": "start", "invalid_datetime": "start"}


# --- helpers --------------------------------------------------------------------------------


def _own(queryset: QuerySet, user: Any) -> QuerySet:
    """The rows the adapter lets ``user`` manage on the teacher pages (others 404)."""
    return get_adapter().teacher_rows_managed_by(user, queryset)


def _back(request: AuthenticatedRequest, default: str) -> HttpResponse:
    """Redirect to the page the button was on (``next``, if it is ours), else to ``default``."""
    return safe_next(request, default)


def _row_action(request: AuthenticatedRequest, call: Callable[[], Any], success: str, default: str) -> HttpResponse:
    """Run one service call for a button in a list; a refusal becomes a message, never a write."""
    try:
        call()
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except BookingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, success)
    return _back(request, default)


def _reason(request: AuthenticatedRequest) -> str | None:
    """The posted reason, or None (with an error message) when it is unusable."""
    form = ReasonForm(request.POST)
    if form.is_valid():
        return form.cleaned_data["reason"]
    messages.error(request, " ".join(str(e) for e in form.errors.get("reason", [])))
    return None


def _dashboard_url() -> str:
    return reverse("liveclass_booking:teacher_dashboard")


def _name(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def _when(request: AuthenticatedRequest, instant: Any) -> str:
    start = local(instant, request)
    return f"{date_format(start, 'l j F Y, H:i')} ({start.tzinfo})"


def _may(allowed: bool) -> None:
    """A confirmation page only for whom the adapter lets act: others get the 403 the POST would."""
    if not allowed:
        raise PermissionDenied(_("You may not do this."))


def _confirm(request: AuthenticatedRequest, question: str, name: str, pk: int, yes: str, note: str, *,
             fallback: str | None = None, reason: bool = True) -> HttpResponse:
    """The confirmation page of a teacher's destructive button (its GET): nothing is written."""
    back = next_path(request, fallback or _dashboard_url())
    return confirm_page(request, question=question, notes=[note], hidden=[("next", back)],
                        form=ReasonForm() if reason else None, yes=yes, keep=_("Keep it"), keep_url=back,
                        action=reverse(f"liveclass_booking:{name}", args=[pk]))


# --- the dashboard and decisions ------------------------------------------------------------


def _with_lesson_students(sessions: list[Any], now: Any) -> list[Any]:
    """Set ``lesson_student`` on each 1:1 session: the student whose live booking it holds (one query)."""
    lessons = [s.pk for s in sessions if s.kind == SessionKind.ONE_ON_ONE]
    bookings = (get_booking_model().objects.live(now).filter(session_id__in=lessons).select_related("student")
                if lessons else [])
    students = {b.session_id: b.student for b in bookings}
    for session in sessions:
        session.lesson_student = students.get(session.pk)
    return sessions


@teacher_required
def dashboard(request: AuthenticatedRequest) -> HttpResponse:
    """Pending requests and series to answer, and the teacher's upcoming sessions."""
    user, now = request.user, get_adapter().now()
    # The rows of the user's teacher pages: their own, or more for whoever the adapter lets manage them.
    mine = functools.partial(get_adapter().teacher_rows_managed_by, user)
    pending = (
        mine(get_booking_model().objects.live(now).filter(status=BookingStatus.PENDING))
        # A pending series is answered as a whole, in its own list.
        .exclude(series_item__series__status=SeriesStatus.PENDING)
        .select_related("student", "session").order_by("start_at_utc", "pk")
    )
    live_pending = Q(items__booking__status=BookingStatus.PENDING) & (
        Q(items__booking__expires_at__isnull=True) | Q(items__booking__expires_at__gt=now))
    series = (
        mine(BookingSeries.objects.filter(status=SeriesStatus.PENDING))
        .annotate(pending_count=Count("items", filter=live_pending),
                  first_start=Min("items__start_at_utc", filter=live_pending))
        .filter(pending_count__gt=0).select_related("student").order_by("first_start", "pk")
    )
    upcoming = (
        mine(get_session_model().objects.filter(status=SessionStatus.SCHEDULED, start_at_utc__gt=now))
        .annotate(waiting=Count("waitlist_entries", filter=Q(waitlist_entries__status=WaitlistStatus.WAITING)))
        .order_by("start_at_utc", "pk")[:UPCOMING_LIMIT]
    )
    upcoming = _with_lesson_students(list(upcoming), now)
    return render_page(request, "liveclass_booking/teacher/dashboard.html", {
        "pending_bookings": pending, "pending_series": series, "upcoming": upcoming,
        "proposals": proposals_to_answer(user, now),
        "upcoming_limit": UPCOMING_LIMIT, "here": request.get_full_path(),
    })


@teacher_required
@require_POST
def confirm_booking(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Confirm one pending booking."""
    booking = get_object_or_404(_own(get_booking_model().objects.all(), request.user), pk=pk)
    return _row_action(request, lambda: services.confirm_booking(booking, actor=request.user),
                       _("The booking is confirmed."), _dashboard_url())


@teacher_required
@require_http_methods(["GET", "HEAD", "POST"])
def decline_booking(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Decline one pending booking, with an optional reason for the student; GET asks to confirm."""
    booking = get_object_or_404(_own(get_booking_model().objects.select_related("student", "session"),
                                     request.user), pk=pk)
    if request.method != "POST":
        _may(get_adapter().can_decide_booking(request.user, booking))
        what = booking.session.title or booking.session.get_kind_display()
        return _confirm(request, _("Decline %(student)s's booking for %(what)s on %(when)s?") % {
            "student": _name(booking.student), "what": what, "when": _when(request, booking.start_at_utc)},
            "decline_booking", booking.pk, _("Yes, decline"), _("The student is told, with your reason."))
    reason = _reason(request)
    if reason is None:
        return _back(request, _dashboard_url())
    return _row_action(request, lambda: services.decline_booking(booking, actor=request.user, reason=reason),
                       _("The booking is declined."), _dashboard_url())


@teacher_required
@require_POST
def confirm_series(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Confirm every pending lesson of a series at once."""
    series = get_object_or_404(_own(BookingSeries.objects.all(), request.user), pk=pk)
    return _row_action(request, lambda: services.confirm_series(series, actor=request.user),
                       _("The series is confirmed."), _dashboard_url())


@teacher_required
@require_http_methods(["GET", "HEAD", "POST"])
def decline_series(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Decline every pending lesson of a series at once; GET asks to confirm."""
    series = get_object_or_404(_own(BookingSeries.objects.select_related("student"), request.user), pk=pk)
    if request.method != "POST":
        _may(get_adapter().can_decide_series(request.user, series))
        return _confirm(request, _("Decline every pending weekly lesson of %(student)s?") % {
            "student": _name(series.student)}, "decline_series", series.pk, _("Yes, decline all"),
            _("Every lesson of the series still waiting for your answer is declined; the student is told."))
    reason = _reason(request)
    if reason is None:
        return _back(request, _dashboard_url())
    return _row_action(request, lambda: services.decline_series(series, actor=request.user, reason=reason),
                       _("The series is declined."), _dashboard_url())


# --- sessions -------------------------------------------------------------------------------


def _schedule(data: dict[str, Any], teacher: Any) -> list[Any]:
    """Call the one service the form asks for; returns the sessions it wrote."""
    start = data["start"]
    common = {name: data[name] for name in ("duration", "capacity", "title", "timezone", "meeting_provider",
                                            "meeting_url", "meeting_passcode")}
    if data["repeat"] not in REPEATS:
        return [services.schedule_session(teacher, start=start, **common)]
    rule, per_week = REPEATS[data["repeat"]]
    rrule = f"{rule};COUNT={per_week * data['weeks']}"
    return services.schedule_recurring_sessions(teacher, first_start=start, rrule=rrule, **common)


@teacher_required
def schedule(request: AuthenticatedRequest) -> HttpResponse:
    """Put a group session (or a weekly run of them) on the teacher's calendar."""
    tz = viewer_timezone(request)
    if request.method != "POST":
        form = ScheduleForm(tz=tz, initial={"timezone": tz.key, "duration": 60, "capacity": 10, "repeat": "none",
                                            "weeks": 4})
        return render_page(request, "liveclass_booking/teacher/schedule.html", {"form": form})
    form = ScheduleForm(request.POST, tz=tz)
    if form.is_valid():
        try:
            sessions = _schedule(form.cleaned_data, request.user)
        except BookingError as exc:
            add_booking_error(form, exc, SCHEDULE_ERRORS)
        else:
            messages.success(request, ngettext("%(count)d session is scheduled.", "%(count)d sessions are scheduled.",
                                               len(sessions)) % {"count": len(sessions)})
            # bulk_create sets no primary keys on MySQL: then the dashboard lists them.
            first = sessions[0].pk
            return redirect("liveclass_booking:session_roster", pk=first) if first else redirect(_dashboard_url())
    return render_page(request, "liveclass_booking/teacher/schedule.html", {"form": form})


@teacher_required
def session_roster(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """One session: who is booked, who waits, the meeting details, and a cancel button."""
    session = get_object_or_404(_own(get_session_model().objects.all(), request.user), pk=pk)
    now = get_adapter().now()
    # Live bookings, and those whose outcome is recorded (they keep their place on the roster).
    bookings = (get_booking_model().objects.filter(live_at(now) | Q(status__in=OUTCOME_STATUSES),
                                                   session_id=session.pk)
                .select_related("student").order_by("created", "pk"))
    waitlist = SessionWaitlist.objects.filter(session_id=session.pk).select_related("student").order_by(
        "position", "pk")
    return render_page(request, "liveclass_booking/teacher/roster.html", {
        "session": session, "bookings": bookings, "waitlist": waitlist, "here": request.get_full_path(),
        "rows": roster_rows(request.user, session, bookings, now),
        "can_edit": get_adapter().can_manage_session(request.user, session),
        "outcome_window_open": outcome_window_open(session, now),
        "scheduled": session.status == SessionStatus.SCHEDULED,
    })


@teacher_required
@require_http_methods(["GET", "HEAD", "POST"])
def cancel_session(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Cancel a session: its bookings are cancelled and its waitlist closed. GET asks to confirm."""
    session = get_object_or_404(_own(get_session_model().objects.all(), request.user), pk=pk)
    roster = reverse("liveclass_booking:session_roster", args=[session.pk])
    if request.method != "POST":
        _may(get_adapter().can_manage_session(request.user, session))
        booked = session.seats_taken
        return _confirm(request, _("Cancel %(what)s on %(when)s?") % {
            "what": session.title or session.get_kind_display(), "when": _when(request, session.start_at_utc)},
            "cancel_session", session.pk, _("Yes, cancel the session"), ngettext(
                "%(count)d booking is cancelled and the student is told; the waitlist is closed.",
                "%(count)d bookings are cancelled and the students are told; the waitlist is closed.",
                booked) % {"count": booked}, fallback=roster)
    reason = _reason(request)
    if reason is None:
        return redirect(roster)
    return _row_action(request, lambda: services.cancel_session(session, actor=request.user, reason=reason),
                       _("The session is cancelled."), roster)


# --- policy and availability ----------------------------------------------------------------


def _add(request: AuthenticatedRequest, form: forms.Form, call: Callable[[dict[str, Any]], Any],
         errors: dict[str, str], success: str) -> bool:
    """Validate ``form`` and call its service; False (errors on the form) when either refuses."""
    if not form.is_valid():
        return False
    try:
        call(form.cleaned_data)
    except BookingError as exc:
        add_booking_error(form, exc, errors)
        return False
    messages.success(request, success)
    return True


@teacher_required
def availability(request: AuthenticatedRequest) -> HttpResponse:
    """The teacher's weekly windows and time off, with a form to add each."""
    user, tz = request.user, viewer_timezone(request)
    window_form = WindowForm(prefix="window", initial={"timezone": tz.key})
    time_off_form = TimeOffForm(prefix="timeoff", tz=tz)
    added = False
    if request.method == "POST" and request.POST.get("add") == "window":
        window_form = WindowForm(request.POST, prefix="window")
        added = _add(request, window_form, lambda d: services.add_availability(
            user, weekday=d["weekday"], start_time=d["start_time"], end_time=d["end_time"],
            timezone=d["timezone"] or None, actor=user), WINDOW_ERRORS, _("The availability window is added."))
    elif request.method == "POST" and request.POST.get("add") == "timeoff":
        time_off_form = TimeOffForm(request.POST, prefix="timeoff", tz=tz)
        added = _add(request, time_off_form, lambda d: services.add_time_off(
            user, start=d["start"], end=d["end"], reason=d["reason"], actor=user),
            TIME_OFF_ERRORS, _("The time off is added."))
    if added:
        return redirect("liveclass_booking:teacher_availability")
    return render_page(request, "liveclass_booking/teacher/availability.html", {
        "windows": TeacherAvailability.objects.filter(teacher=user).order_by("weekday", "start_time", "pk"),
        # Past time off changes nothing any more; the admin still has it.
        "time_off": TeacherTimeOff.objects.filter(teacher=user, end_at_utc__gt=get_adapter().now())
        .order_by("start_at_utc", "pk"),
        "window_form": window_form, "time_off_form": time_off_form,
    })


@teacher_required
@require_http_methods(["GET", "HEAD", "POST"])
def delete_availability(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Remove one weekly availability window; GET asks to confirm."""
    window = get_object_or_404(_own(TeacherAvailability.objects.all(), request.user), pk=pk)
    if request.method != "POST":
        _may(get_adapter().can_manage_teacher(request.user, window.teacher_id))
        return _confirm(request, _("Remove your window on %(day)s, %(start)s–%(end)s (%(zone)s)?") % {
            "day": window.get_weekday_display(), "start": window.start_time.strftime("%H:%M"),
            "end": window.end_time.strftime("%H:%M"), "zone": window.timezone or _("your policy's timezone")},
            "delete_availability", window.pk, _("Yes, remove"),
            _("Students can no longer request lessons in it; lessons already booked stay."),
            fallback=reverse("liveclass_booking:teacher_availability"), reason=False)
    return _row_action(request, lambda: services.remove_availability(window, actor=request.user),
                       _("The availability window is removed."), reverse("liveclass_booking:teacher_availability"))


@teacher_required
@require_http_methods(["GET", "HEAD", "POST"])
def delete_time_off(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Remove one period of time off; GET asks to confirm."""
    time_off = get_object_or_404(_own(TeacherTimeOff.objects.all(), request.user), pk=pk)
    if request.method != "POST":
        _may(get_adapter().can_manage_teacher(request.user, time_off.teacher_id))
        return _confirm(request, _("Remove your time off from %(start)s until %(end)s?") % {
            "start": _when(request, time_off.start_at_utc), "end": _when(request, time_off.end_at_utc)},
            "delete_time_off", time_off.pk, _("Yes, remove"),
            _("Students can request lessons in that time again."),
            fallback=reverse("liveclass_booking:teacher_availability"), reason=False)
    return _row_action(request, lambda: services.remove_time_off(time_off, actor=request.user),
                       _("The time off is removed."), reverse("liveclass_booking:teacher_availability"))
