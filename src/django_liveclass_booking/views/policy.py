"""The teacher's policy page: the rules students see, grouped, in human units, every problem at once."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from .. import services
from ..exceptions import BookingError
from ..forms.policy import PolicyForm
from ..forms.teacher import POLICY_FIELDS
from ..models import TeacherBookingPolicy
from ._common import AuthenticatedRequest, add_booking_error, render_page, teacher_required, viewer_timezone
from .rules import policy_rules

# set_policy names the fields of a bad value itself, except for a timezone it refuses up front.
POLICY_ERRORS = {"invalid_timezone": "timezone"}


@teacher_required
def policy(request: AuthenticatedRequest) -> HttpResponse:
    """Edit the teacher's booking policy; only the changed fields go to ``set_policy``.

    The form checks every value itself, so one submission shows every problem; ``set_policy``
    (the adapter's ``can_manage_teacher`` and the model's bounds) still decides and writes.
    """
    current = TeacherBookingPolicy.for_teacher(request.user)
    initial = {name: getattr(current, name) for name in POLICY_FIELDS}
    initial["lesson_durations"] = ", ".join(str(m) for m in current.lesson_durations or [])
    form = PolicyForm(request.POST if request.method == "POST" else None, initial=initial)
    if form.is_bound and form.is_valid():
        changes = {name: value for name, value in form.cleaned_data.items() if value != getattr(current, name)}
        try:
            if changes:
                services.set_policy(request.user, actor=request.user, **changes)
        except BookingError as exc:
            add_booking_error(form, exc, POLICY_ERRORS)
        else:
            messages.success(request, _("Your booking policy is saved.") if changes else _("Nothing changed."))
            return redirect("liveclass_booking:teacher_policy")
    return render_page(request, "liveclass_booking/teacher/policy.html", {
        "form": form, "rules": policy_rules(current, viewer_timezone(request))})
