"""The teacher's page to change a session: a group class's time, its title and seats, and the
meeting details (a 1:1 lesson has the meeting details only; its time moves by a proposal the
student answers, see ``reschedule``).

Two forms, each one service call: the time goes to ``reschedule_session``, the rest to
``update_session`` with only the fields that changed. The page answers 404 for a session outside
the viewer's teacher pages and 403 when the adapter's ``can_manage_session`` refuses them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _

from .. import services
from ..adapter import get_adapter
from ..exceptions import BookingError
from ..forms import SessionDetailsForm, SessionTimeForm
from ..models import SessionKind, SessionStatus, get_session_model
from ._common import AuthenticatedRequest, add_booking_error, local, render_page, teacher_required, viewer_timezone

TIME_ERRORS = {
    "teacher_unavailable": "start", "start_in_past": "start", "naive_datetime": "start",
    "invalid_datetime": "start", "invalid_duration": "duration",
}
DETAILS_ERRORS = {"capacity_below_taken": "capacity", "invalid_capacity": "capacity"}


def _time_initial(request: AuthenticatedRequest, session: Any) -> dict[str, Any]:
    start = local(session.start_at_utc, request).replace(tzinfo=None)
    return {"start": start, "duration": session.duration_minutes}


def _details_initial(session: Any) -> dict[str, Any]:
    return {name: getattr(session, name) for name in SessionDetailsForm.base_fields}


@teacher_required
def edit_session(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """GET shows both forms; POST (``part`` = ``time`` or ``details``) sends one to its service."""
    user = request.user
    session = get_object_or_404(get_adapter().teacher_rows_managed_by(user, get_session_model().objects.all()),
                                pk=pk)
    if not get_adapter().can_manage_session(user, session):
        raise PermissionDenied(_("You may not change this session."))
    tz = viewer_timezone(request)
    group = session.kind == SessionKind.GROUP
    editable = session.status == SessionStatus.SCHEDULED
    time_form: SessionTimeForm | None = None
    # A class that started keeps its time; a 1:1 lesson's time moves by a proposal.
    if group and editable and session.start_at_utc > get_adapter().now():
        time_form = SessionTimeForm(initial=_time_initial(request, session), tz=tz, prefix="time")
    details_form = SessionDetailsForm(initial=_details_initial(session), group=group, prefix="details")
    part = request.POST.get("part") if request.method == "POST" else None
    if part == "time" and time_form is not None:
        time_form = SessionTimeForm(request.POST, tz=tz, prefix="time")
        if time_form.is_valid():
            data = time_form.cleaned_data
            # The wall-clock time shown, sent back unchanged, keeps the instant it stood for: the second
            # of two equal times on a fall-back night reads back as the first otherwise.
            shown = local(session.start_at_utc, request).replace(tzinfo=None)
            start = session.start_at_utc if data["start"].astimezone(tz).replace(tzinfo=None) == shown \
                else data["start"]
            try:
                services.reschedule_session(
                    session, start=start, actor=user,
                    duration=data["duration"] if data["duration"] != session.duration_minutes else None)
            except BookingError as exc:
                add_booking_error(time_form, exc, TIME_ERRORS)
            else:
                messages.success(request, _("The class is moved; its students see the new time."))
                return redirect("liveclass_booking:session_roster", pk=pk)
    elif part == "details" and editable:
        details_form = SessionDetailsForm(request.POST, group=group, prefix="details")
        if details_form.is_valid():
            changes = details_form.changes(session)
            try:
                if changes:
                    services.update_session(session, actor=user, **changes)
            except BookingError as exc:
                add_booking_error(details_form, exc, DETAILS_ERRORS)
            else:
                messages.success(request, _("The session is saved.") if changes else _("Nothing changed."))
                return redirect("liveclass_booking:session_roster", pk=pk)
    return render_page(request, "liveclass_booking/teacher/edit_session.html", {
        "session": session, "time_form": time_form, "details_form": details_form, "editable": editable,
    })
