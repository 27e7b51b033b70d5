"""Student pages: group classes, the waitlist and the student's bookings.

A page shows only what its viewer may see: another student's booking, waitlist entry or series is
a 404, never a 403, so its existence is not revealed. Every change is one service call.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from .. import services
from ..adapter import get_adapter
from ..exceptions import BookingError
from ..forms import (
    CancelForm,
)
from ..models import (
    ACTIVE_BOOKING_STATUSES,
    OPEN_WAITLIST_STATUSES,
    BookingSeries,
    SessionKind,
    SessionStatus,
    SessionWaitlist,
    TeacherBookingPolicy,
    WaitlistStatus,
    get_booking_model,
    get_session_model,
)
from ._common import (
    AuthenticatedRequest,
    add_booking_error,
    render_page,
    safe_next,
    small_int,
    viewer_timezone,
    viewer_when,
)
from .confirm import confirm_page, next_path
from .lifecycle import booking_lifecycle
from .rules import policy_rules, seat_choice, waitlist_place
from .site import require_POST


def _now() -> dt.datetime:
    return get_adapter().now()


def _visible_bookings(user: Any) -> QuerySet[Any]:
    """Bookings ``user`` may open, as the adapter decides."""
    bookings = get_booking_model().objects.select_related("session", "student", "teacher")
    return get_adapter().bookings_visible_to(user, bookings)


def _visible_sessions(user: Any) -> QuerySet[Any]:
    """Sessions ``user`` may open, as the adapter decides."""
    return get_adapter().sessions_visible_to(user, get_session_model().objects.select_related("teacher"))


def _shows_meeting(user: Any, session: Any, booking: Any | None) -> bool:
    return get_adapter().can_see_meeting_details(user, session, booking)


# --- Group classes -------------------------------------------------------------------------------

@login_required
def session_list(request: AuthenticatedRequest) -> HttpResponse:
    """Upcoming group classes, with the viewer's own booking or waitlist place on each."""
    upcoming = get_session_model().objects.upcoming(_now()).filter(kind=SessionKind.GROUP).select_related("teacher")
    sessions = get_adapter().sessions_visible_to(request.user, upcoming).order_by("start_at_utc", "pk")
    teacher_id = small_int(request.GET.get("teacher"))
    if teacher_id is not None:
        sessions = sessions.filter(teacher_id=teacher_id)
    page = Paginator(sessions, 50).get_page(request.GET.get("page"))
    ids = [s.pk for s in page]
    booked = dict(get_booking_model().objects.filter(student=request.user, session_id__in=ids,
                                                     status__in=ACTIVE_BOOKING_STATUSES)
                  .values_list("session_id", "status"))
    waiting = dict(SessionWaitlist.objects.filter(student=request.user, session_id__in=ids,
                                                  status__in=OPEN_WAITLIST_STATUSES)
                   .values_list("session_id", "status"))
    rows = [(s, booked.get(s.pk), waiting.get(s.pk)) for s in page]
    return render_page(request, "liveclass_booking/student/session_list.html", {"page": page, "rows": rows})


def _session_page(request: AuthenticatedRequest, session: Any, *, error: BookingError | None = None) -> HttpResponse:
    user = request.user
    booking = (get_booking_model().objects.filter(session=session, student=user, status__in=ACTIVE_BOOKING_STATUSES)
               .first())
    entry = SessionWaitlist.objects.filter(session=session, student=user, status__in=OPEN_WAITLIST_STATUSES).first()
    waiting = SessionWaitlist.objects.filter(session=session, status=WaitlistStatus.WAITING).count()
    current = _now()
    bookable = (session.status == SessionStatus.SCHEDULED and session.start_at_utc > current
                and session.kind == SessionKind.GROUP and user.pk != session.teacher_id)
    tz = viewer_timezone(request)
    context = {
        "session": session,
        "booking": booking,
        "entry": entry,
        "waiting_count": waiting,
        "is_teacher_of_session": user.pk == session.teacher_id,
        "show_meeting": _shows_meeting(user, session, booking),
        "bookable": bookable,
        "rules": policy_rules(TeacherBookingPolicy.for_teacher(session.teacher_id), tz, start=session.start_at_utc),
        # Only asked when neither booked nor waiting: then the buttons follow the services' dry run.
        "seat": seat_choice(user, session) if bookable and booking is None and entry is None else None,
        "place": waitlist_place(entry),
        "error": error,
    }
    return render_page(request, "liveclass_booking/student/session_detail.html", context)


@login_required
def session_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(_visible_sessions(request.user), pk=pk)
    return _session_page(request, session)


@login_required
@require_POST
def book(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Take a seat (confirmed, or pending when the teacher approves bookings)."""
    session = get_object_or_404(_visible_sessions(request.user), pk=pk, kind=SessionKind.GROUP)
    try:
        booking = services.book_seat(request.user, session, actor=request.user)
    except BookingError as exc:
        return _session_page(request, session, error=exc)
    if booking.status == booking.Status.PENDING:
        messages.success(request, _("Your booking is waiting for the teacher's approval."))
    else:
        messages.success(request, _("Your seat is booked."))
    return redirect("liveclass_booking:booking_detail", pk=booking.pk)


@login_required
@require_POST
def join_waitlist(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(_visible_sessions(request.user), pk=pk, kind=SessionKind.GROUP)
    try:
        entry = services.join_waitlist(request.user, session)
    except BookingError as exc:
        return _session_page(request, session, error=exc)
    if entry.status == WaitlistStatus.OFFERED:
        messages.success(request, _("A seat is free: it is offered to you. Accept it below."))
    else:
        messages.success(request, _("You are on the waitlist. A freed seat will be offered to you in turn."))
    return redirect("liveclass_booking:session_detail", pk=session.pk)


@login_required
@require_POST
def subscribe(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A seat in every future session of a recurring class (full ones put the student on the waitlist)."""
    session = get_object_or_404(_visible_sessions(request.user), pk=pk, kind=SessionKind.GROUP,
                                recurrence_key__isnull=False)
    try:
        series = services.subscribe_to_recurring_sessions(request.user, session.recurrence_key)
    except BookingError as exc:
        return _session_page(request, session, error=exc)
    messages.success(request, _("You are booked into every future session of this class."))
    return redirect("liveclass_booking:series_detail", pk=series.pk)


# --- The student's bookings ----------------------------------------------------------------------

@login_required
def my_bookings(request: AuthenticatedRequest) -> HttpResponse:
    """The viewer's upcoming bookings, seat offers, waitlist places, series and recent history."""
    current = _now()
    mine = get_booking_model().objects.filter(student=request.user).select_related("session", "teacher")
    upcoming = mine.live(current).filter(end_at_utc__gt=current).order_by("start_at_utc", "pk")
    history = mine.exclude(pk__in=upcoming.values("pk")).order_by("-start_at_utc", "-pk")[:50]
    entries = (SessionWaitlist.objects.filter(student=request.user, status__in=OPEN_WAITLIST_STATUSES)
               .select_related("session", "session__teacher").order_by("session__start_at_utc", "pk"))
    series = (BookingSeries.objects.filter(student=request.user).select_related("teacher")
              .order_by("-created")[:50])
    context = {"upcoming": upcoming, "history": history, "entries": entries, "series_list": series,
               "now": current}
    return render_page(request, "liveclass_booking/student/my_bookings.html", context)


def _booking_page(request: AuthenticatedRequest, booking: Any, form: CancelForm | None = None) -> HttpResponse:
    context = {
        "booking": booking,
        "session": booking.session,
        "show_meeting": _shows_meeting(request.user, booking.session, booking),
        "cancellable": booking.status in ACTIVE_BOOKING_STATUSES,
        "form": form or CancelForm(),
        "here": request.get_full_path(),
        **booking_lifecycle(request.user, booking, viewer_timezone(request)),
    }
    return render_page(request, "liveclass_booking/student/booking_detail.html", context)


@login_required
def booking_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _booking_page(request, get_object_or_404(_visible_bookings(request.user), pk=pk))


def _when(request: AuthenticatedRequest, booking_or_session: Any) -> str:
    """The start of a booking or session as the confirmation pages say it, in the viewer's zone."""
    return viewer_when(request, booking_or_session.start_at_utc)


def _what(booking: Any) -> str:
    return _("1:1 lesson") if booking.kind == SessionKind.ONE_ON_ONE else (
        booking.session.title or _("Untitled class"))


def _confirm_cancel(request: AuthenticatedRequest, booking: Any, form: CancelForm) -> HttpResponse:
    """Ask before cancelling: the booking, when, and whether the cancellation would be late."""
    user, names = request.user, {"what": _what(booking), "when": _when(request, booking)}
    if user.pk == booking.student_id:
        question = _("Cancel your booking for %(what)s on %(when)s?") % names
        rules = policy_rules(TeacherBookingPolicy.for_teacher(booking.teacher_id), viewer_timezone(request),
                             start=booking.start_at_utc)
        deadline = rules["cancel_deadline"]
        if deadline is None:
            note = _("Free cancellation until the start.")
        elif _now() <= deadline:
            note = _("Free cancellation until %(deadline)s.") % {"deadline": viewer_when(request, deadline)}
        elif rules["allow_late"]:
            note = _("The free cancellation deadline has passed: this cancellation will be recorded as late.")
        else:
            note = _("The free cancellation deadline has passed: the teacher's policy no longer allows cancelling.")
    else:
        names["student"] = booking.student.get_full_name() or booking.student.get_username()
        question = _("Cancel %(student)s's booking for %(what)s on %(when)s?") % names
        note = _("The student is told, and the seat or time is freed.")
    back = next_path(request, reverse("liveclass_booking:booking_detail", args=[booking.pk]))
    return confirm_page(request, question=question, notes=[note], form=form, hidden=[("next", back)],
                        action=reverse("liveclass_booking:cancel_booking", args=[booking.pk]),
                        yes=_("Yes, cancel"), keep=_("Keep it"), keep_url=back)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def cancel(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """GET asks to confirm (and changes nothing); POST cancels the booking."""
    booking = get_object_or_404(_visible_bookings(request.user), pk=pk)
    if request.method != "POST":
        if booking.status not in ACTIVE_BOOKING_STATUSES:
            # Cancelled or decided since the page that linked here was shown (in another tab, say).
            messages.info(request, _("There is nothing to cancel: this booking is now “%(status)s”.")
                          % {"status": booking.get_status_display()})
            return redirect("liveclass_booking:booking_detail", pk=booking.pk)
        # Asked only of whom the service would let cancel it.
        if not get_adapter().can_cancel_booking(request.user, booking):
            raise PermissionDenied("You may not cancel this booking.")
        return _confirm_cancel(request, booking, CancelForm())
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _booking_page(request, booking, form)
    try:
        booking = services.cancel_booking(booking, actor=request.user, reason=form.cleaned_data["reason"])
    except BookingError as exc:
        add_booking_error(form, exc)
        return _booking_page(request, booking, form)
    if booking.late_cancellation:
        messages.warning(request, _("Booking cancelled (late: inside the teacher's cancellation window)."))
    else:
        messages.success(request, _("Booking cancelled."))
    return safe_next(request, reverse("liveclass_booking:booking_detail", args=[booking.pk]))


def _entry_for(request: AuthenticatedRequest, pk: int, action: str) -> SessionWaitlist:
    """The waitlist entry, if the adapter lets the viewer act on it; a 404 otherwise (its existence stays hidden)."""
    entry = get_object_or_404(SessionWaitlist.objects.select_related("session"), pk=pk)
    if not get_adapter().can_act_on_waitlist_entry(request.user, entry, action):
        raise Http404("No such waitlist entry.")
    return entry


def _entry_action(request: AuthenticatedRequest, pk: int, action: str) -> HttpResponse:
    entry = _entry_for(request, pk, action)
    try:
        if action == "accept":
            booking = services.accept_offer(entry, actor=request.user)
            messages.success(request, _("The seat is yours: your booking is confirmed."))
            return redirect("liveclass_booking:booking_detail", pk=booking.pk)
        if action == "decline":
            services.decline_offer(entry, actor=request.user)
            messages.success(request, _("Offer declined: the seat goes to the next person waiting."))
        else:
            services.leave_waitlist(entry, actor=request.user)
            messages.success(request, _("You left the waitlist."))
    except BookingError as exc:
        messages.error(request, str(exc))
    return redirect("liveclass_booking:my_bookings")


@login_required
@require_POST
def accept_offer(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _entry_action(request, pk, "accept")


def _confirm_entry(request: AuthenticatedRequest, pk: int, action: str) -> HttpResponse:
    """Ask before declining an offered seat or leaving a waitlist; changes nothing."""
    entry = _entry_for(request, pk, action)
    names = {"what": entry.session.title or _("Untitled class"), "when": _when(request, entry.session)}
    back = next_path(request, reverse("liveclass_booking:my_bookings"))
    if action == "decline":
        question = _("Decline the seat offered in %(what)s on %(when)s?") % names
        note, yes = _("The seat goes to the next person waiting; you leave the waitlist."), _("Yes, decline")
    else:
        question = _("Leave the waitlist of %(what)s on %(when)s?") % names
        note, yes = _("You lose your place; joining again puts you at the end."), _("Yes, leave")
    name = "liveclass_booking:decline_offer" if action == "decline" else "liveclass_booking:leave_waitlist"
    return confirm_page(request, question=question, notes=[note], yes=yes, keep=_("Keep my place"),
                        keep_url=back, action=reverse(name, args=[pk]))


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def decline_offer(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """GET asks to confirm; POST declines the offered seat."""
    if request.method != "POST":
        return _confirm_entry(request, pk, "decline")
    return _entry_action(request, pk, "decline")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def leave_waitlist(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """GET asks to confirm; POST leaves the waitlist."""
    if request.method != "POST":
        return _confirm_entry(request, pk, "leave")
    return _entry_action(request, pk, "leave")
