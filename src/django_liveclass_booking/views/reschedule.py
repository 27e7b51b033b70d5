"""Pages that move a booking: a new time for a 1:1 lesson (proposed, then answered) and a group
booking's seat moved to another date of the same class.

The student or the teacher of a lesson proposes; the other one accepts or declines; whoever proposed
may withdraw. A button the adapter does not allow the viewer answers 404, like an object they may
not see. Every change is one service call; a refusal is shown with the service's message.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from .. import services
from ..adapter import get_adapter
from ..exceptions import BookingError
from ..forms import AnswerForm, MoveForm, RescheduleForm, SlotSearchForm
from ..models import RescheduleRequest, RescheduleStatus, SessionKind
from ._common import (
    AuthenticatedRequest,
    add_booking_error,
    free_week,
    render_page,
    safe_next,
    viewer_timezone,
    viewer_when,
    visible_bookings,
    visible_sessions,
)
from .lifecycle import pending_proposal
from .site import require_POST

#: Where a refused proposal's message is shown (codes not listed go above the form).
RESCHEDULE_FIELDS = {"naive_datetime": "when", "invalid_datetime": "when", "invalid_duration": "when"}


def _booking_url(booking: Any) -> str:
    return reverse("liveclass_booking:booking_detail", args=[booking.pk])


def _when(request: AuthenticatedRequest, value: dt.datetime) -> str:
    """``value`` as the viewer reads it in a message."""
    return viewer_when(request, value)


# --- proposing a new time -----------------------------------------------------------------------


def _name(user: Any) -> str:
    return str(user.get_full_name() or user.get_username())


def _answering(user: Any, booking: Any) -> str:
    """Who answers a proposal ``user`` made: the other party (either of them for a manager)."""
    if user.pk == booking.student_id:
        return _name(booking.teacher)
    if user.pk == booking.teacher_id:
        return _name(booking.student)
    return _("%(teacher)s or %(student)s") % {"teacher": _name(booking.teacher), "student": _name(booking.student)}


def _lesson_for_proposal(request: AuthenticatedRequest, pk: int) -> Any:
    """The 1:1 booking, if the viewer may see it and propose a new time for it; else 404."""
    booking = get_object_or_404(visible_bookings(request.user), pk=pk, kind=SessionKind.ONE_ON_ONE)
    if not get_adapter().can_propose_reschedule(request.user, booking):
        raise Http404("No such lesson.")
    return booking


def _propose_page(request: AuthenticatedRequest, booking: Any, form: RescheduleForm) -> HttpResponse:
    tz = viewer_timezone(request)
    minutes = booking.session.duration_minutes
    search = SlotSearchForm(request.GET or None, durations=[minutes])
    week = search.cleaned_data["week"] if search.is_valid() else None
    return render_page(request, "liveclass_booking/student/propose_reschedule.html", {
        "booking": booking, "session": booking.session, "form": form, "search": search,
        "selected": request.POST.get("start", ""), **free_week(booking.teacher, week, minutes, tz),
        "proposal": pending_proposal(booking, get_adapter().now()),
    })


@login_required
def propose(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A week of the teacher's free times (or a typed date and time); POST proposes the one picked."""
    booking = _lesson_for_proposal(request, pk)
    tz = viewer_timezone(request)
    if request.method != "POST":
        return _propose_page(request, booking, RescheduleForm(tz=tz))
    form = RescheduleForm(request.POST, tz=tz)
    if form.is_valid():
        try:
            proposal = services.request_reschedule(booking, start=form.cleaned_data["new_start"],
                                                   actor=request.user, message=form.cleaned_data["message"])
        except BookingError as exc:
            add_booking_error(form, exc, RESCHEDULE_FIELDS)
        else:
            when = _when(request, proposal.start_at_utc)
            if proposal.status == RescheduleStatus.ACCEPTED:
                # A student's proposal to a teacher who confirms without approval is applied at once.
                messages.success(request, _("The lesson is moved to %(when)s.") % {"when": when})
            else:
                messages.success(request, _("New time proposed (%(when)s); waiting for %(who)s to accept or "
                                            "decline it. The lesson keeps its time until then.")
                                 % {"when": when, "who": _answering(request.user, booking)})
            return redirect(_booking_url(booking))
    return _propose_page(request, booking, form)


# --- answering a proposal -----------------------------------------------------------------------


def _proposal_for(request: AuthenticatedRequest, pk: int, action: str) -> RescheduleRequest:
    """The proposal, if its booking is visible to the viewer and the adapter lets them ``action`` it; else 404."""
    visible = visible_bookings(request.user).values("pk")
    proposal = get_object_or_404(RescheduleRequest.objects.select_related("booking").filter(booking__in=visible),
                                 pk=pk)
    if not get_adapter().can_answer_reschedule(request.user, proposal, action):
        raise Http404("No such proposal.")
    return proposal


@login_required
@require_POST
def accept(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    proposal = _proposal_for(request, pk, "accept")
    try:
        booking = services.accept_reschedule(proposal, actor=request.user)
    except BookingError as exc:
        messages.error(request, exc.message)
    else:
        when = _when(request, booking.start_at_utc)
        messages.success(request, _("The lesson is moved to %(when)s.") % {"when": when})
    return safe_next(request, _booking_url(proposal.booking))


@login_required
@require_POST
def decline(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    proposal = _proposal_for(request, pk, "decline")
    form = AnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for e in form.errors.get("reason", [])))
        return safe_next(request, _booking_url(proposal.booking))
    try:
        services.decline_reschedule(proposal, actor=request.user, reason=form.cleaned_data["reason"])
    except BookingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The new time is declined: the lesson stays as it was."))
    return safe_next(request, _booking_url(proposal.booking))


@login_required
@require_POST
def withdraw(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    proposal = _proposal_for(request, pk, "withdraw")
    try:
        services.withdraw_reschedule(proposal, actor=request.user)
    except BookingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your proposal is withdrawn: the lesson stays as it was."))
    return safe_next(request, _booking_url(proposal.booking))


# --- moving a seat to another date of the class -------------------------------------------------


@login_required
@require_POST
def move(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Move a group booking to the session posted (another date of the same class)."""
    booking = get_object_or_404(visible_bookings(request.user), pk=pk, kind=SessionKind.GROUP)
    form = MoveForm(request.POST)
    if not form.is_valid():
        raise Http404("No such class.")
    session = get_object_or_404(visible_sessions(request.user), pk=form.cleaned_data["session"],
                                kind=SessionKind.GROUP)
    if not get_adapter().can_move_booking(request.user, booking, session):
        raise Http404("No such class.")
    try:
        moved = services.move_seat(booking, session, actor=request.user)
    except BookingError as exc:
        messages.error(request, exc.message)
        return redirect(_booking_url(booking))
    messages.success(request, _("Your seat is moved to %(when)s.") % {"when": _when(request, moved.start_at_utc)})
    return redirect(_booking_url(moved))
