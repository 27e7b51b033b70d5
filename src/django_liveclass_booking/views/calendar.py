"""Calendar feeds: the page that issues/revokes a user's feed address, the feed, and one booking's ``.ics``.

The feed is the one view without a login: a calendar program fetches it with the secret token in
its address, so the token is the credential (see ``services.calendar`` and ``docs/calendar.rst``).
Without the optional ``icalendar`` package each of them answers 404, its body naming the extra to install.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotFound
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from .. import ics
from ..adapter import get_adapter
from ..models import CalendarFeedToken, get_booking_model
from ..services import calendar as calendar_services
from ._common import AuthenticatedRequest, render_page
from .confirm import confirm_page

CALENDAR_CONTENT_TYPE = "text/calendar; charset=utf-8"

logger = logging.getLogger("django_liveclass_booking.calendar")


def _missing_icalendar(request: HttpRequest) -> HttpResponse | None:
    """A 404 whose body names the ``ics`` extra if ``icalendar`` is not installed, else None.

    Not a 500: the site works, one optional part of it is not installed. The log tells the operator.
    """
    try:
        ics.require_icalendar()
    except ImproperlyConfigured as exc:
        logger.warning("%s answered 404: %s", request.path, exc)
        return HttpResponseNotFound(f"{exc}\n", content_type="text/plain; charset=utf-8")
    return None


def _calendar_response(body: bytes, *, filename: str, attachment: bool) -> HttpResponse:
    response = HttpResponse(body, content_type=CALENDAR_CONTENT_TYPE)
    disposition = "attachment" if attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    # Personal data: shared caches must not keep it.
    patch_cache_control(response, private=True)
    return response


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def feed_settings(request: AuthenticatedRequest) -> HttpResponse:
    """Show whether the user has a feed address; POST ``action=issue`` (re)generates it, ``revoke`` revokes it.

    A new address is shown once, on the response to the POST that made it: only its hash is stored,
    so it cannot be shown again later (regenerate to get a new one).
    """
    # Fail before issuing a token nobody could use.
    if (missing := _missing_icalendar(request)) is not None:
        return missing
    feed_url = ""
    if request.method != "POST" and request.GET.get("confirm") == "revoke":
        back = reverse("liveclass_booking:calendar_feed")
        return confirm_page(request, question=_("Revoke your calendar feed address?"), notes=[
            _("Calendar programs subscribed to it stop getting your bookings; you can make a new address later.")],
            hidden=[("action", "revoke")], action=back, yes=_("Yes, revoke"), keep=_("Keep it"), keep_url=back)
    if request.method != "POST" and request.GET.get("confirm") == "regenerate":
        back = reverse("liveclass_booking:calendar_feed")
        return confirm_page(request, question=_("Replace your calendar feed address with a new one?"), notes=[
            _("The old address stops working: calendar programs subscribed to it need the new one.")],
            hidden=[("action", "issue")], action=back, yes=_("Yes, make a new address"), keep=_("Keep it"),
            keep_url=back)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "issue":
            token = calendar_services.issue_feed_token(request.user)
            feed_url = request.build_absolute_uri(reverse("liveclass_booking:calendar_feed_ics", args=[token]))
            messages.success(request, _("Your calendar feed address is ready. Copy it now: it is shown only once."))
        elif action == "revoke":
            if calendar_services.revoke_feed_token(request.user):
                messages.success(request, _("Your calendar feed address no longer works."))
            else:
                messages.info(request, _("You had no calendar feed address."))
            return redirect("liveclass_booking:calendar_feed")
        else:
            messages.error(request, _("Unknown action."))
            return redirect("liveclass_booking:calendar_feed")
    live_token = CalendarFeedToken.objects.live().filter(user=request.user).order_by("-created").first()
    context = {
        "live_token": live_token,
        "feed_url": feed_url,
        # webcal:// makes most systems open the calendar program and subscribe in one click.
        "webcal_url": "webcal://" + feed_url.split("://", 1)[1] if feed_url else "",
    }
    response = render_page(request, "liveclass_booking/calendar/feed_settings.html", context)
    if feed_url:
        # The page holds a live secret: no cache (browser back/forward included) may keep it.
        patch_cache_control(response, no_store=True, private=True)
    return response


@require_safe
def feed(request: HttpRequest, token: str) -> HttpResponse:
    """The iCalendar feed of the token's owner; 404 for an unknown or revoked token. No login."""
    if (missing := _missing_icalendar(request)) is not None:
        return missing
    adapter = get_adapter()
    now = adapter.now()
    user = calendar_services.feed_user(token, now=now)
    if user is None:
        # The same 404 for "never existed" and "revoked": the response reveals nothing about tokens.
        raise Http404("No such calendar feed.")
    response = _calendar_response(ics.feed_calendar(user, now), filename="liveclass-booking.ics", attachment=False)
    # The address is a secret: keep it out of Referer headers and search indexes.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@login_required
@require_safe
def booking_ics(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """One booking as a ``booking-<pk>.ics`` download, for its student, its teacher or a manager (else 404)."""
    if (missing := _missing_icalendar(request)) is not None:
        return missing
    user = request.user
    # 404, not 403, for someone else's booking: do not confirm that the booking exists.
    bookings = get_booking_model().objects.select_related("session", "teacher", "student")
    booking = get_adapter().bookings_visible_to(user, bookings).filter(pk=pk).first()
    if booking is None:
        raise Http404("No such booking.")
    calendar = ics.booking_calendar(booking, for_teacher=user.pk == booking.teacher_id, viewer=user)
    return _calendar_response(calendar, filename=f"booking-{booking.pk}.ics", attachment=True)
