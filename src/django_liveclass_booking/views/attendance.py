"""Recording what happened in a lesson once it started: the teacher marks each student as present
(``completed``) or absent (``no_show``) on the roster; a student reports that the teacher did not
come (``teacher_no_show``) on the booking's page.

Outcomes are recorded from the session's start until ``OUTCOME_WINDOW_HOURS`` after its end. An
outcome the adapter does not let the viewer record answers 404; the service asks again.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .. import services
from ..adapter import get_adapter
from ..exceptions import BookingError
from ..forms import OutcomeForm
from ._common import AuthenticatedRequest, safe_next, visible_bookings
from .lifecycle import allowed_outcomes, outcome_window_open
from .site import require_POST

#: The message shown once each outcome is recorded.
RECORDED = {
    "completed": _("Recorded: the lesson took place."),
    "no_show": _("Recorded: the student did not come."),
    "teacher_no_show": _("Recorded: the teacher did not come."),
}


def roster_rows(user: Any, session: Any, bookings: Any, now: Any) -> list[tuple[Any, list[tuple[str, Any]]]]:
    """Each booking of a roster with the outcomes ``user`` may record for it now."""
    if not outcome_window_open(session, now):
        return [(booking, []) for booking in bookings]
    rows = []
    for booking in bookings:
        booking.session = session  # already loaded: the window check reads it
        rows.append((booking, allowed_outcomes(user, booking, now)))
    return rows


@login_required
@require_POST
def record_outcome(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Record ``completed``, ``no_show`` or ``teacher_no_show`` for one booking."""
    booking = get_object_or_404(visible_bookings(request.user), pk=pk)
    form = OutcomeForm(request.POST)
    if not form.is_valid():
        raise Http404("No such outcome.")
    outcome = form.cleaned_data["outcome"]
    if not get_adapter().can_record_outcome(request.user, booking, outcome):
        raise Http404("No such booking.")
    try:
        services.record_outcome(booking, outcome=outcome, actor=request.user, note=form.cleaned_data["note"])
    except BookingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, RECORDED[outcome])
    return safe_next(request, reverse("liveclass_booking:booking_detail", args=[booking.pk]))
