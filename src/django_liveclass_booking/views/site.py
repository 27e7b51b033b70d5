"""What every page of the site shares: the viewer's time zone, and the pages for refused requests.

``permission_denied``, ``page_not_found`` and ``method_not_allowed`` render inside the site's layout
(``liveclass_booking/error.html``). A host points its ``handler403`` and ``handler404`` at the
first two so that every refusal of the site looks like one of its pages.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from ..adapter import get_adapter
from ..forms import TimezoneForm
from ..zones import zone_names
from ._common import AuthenticatedRequest, render_page, safe_next


def _error_page(request: HttpRequest, status: int, title: str, explanation: str,
                back: str | None = None) -> HttpResponse:
    back = back or reverse("liveclass_booking:session_list")
    return render_page(request, "liveclass_booking/error.html",
                       {"title": title, "explanation": explanation, "back": back, "status": status}, status=status)


def permission_denied(request: HttpRequest, exception: BaseException | None = None) -> HttpResponse:
    """403 inside the site's layout (a host's ``handler403``)."""
    return _error_page(request, 403, _("You cannot open this page"),
                       _("This page is for another person or role, for example a teacher's page."))


def page_not_found(request: HttpRequest, exception: BaseException | None = None) -> HttpResponse:
    """404 inside the site's layout (a host's ``handler404``)."""
    return _error_page(request, 404, _("Page not found"),
                       _("The address is wrong, or the page is no longer there, or it belongs to someone else."))


def method_not_allowed(request: HttpRequest, allowed: list[str]) -> HttpResponse:
    """405 inside the site's layout: an address a button sends a form to, opened (or reloaded) directly."""
    referer = request.headers.get("referer", "")
    back = referer if referer.startswith(request.build_absolute_uri("/")) else None
    response = _error_page(request, 405, _("Nothing to show at this address"),
                           _("This address only takes the form of a button on another page; opening it again "
                             "(for example by reloading the page) does nothing. Go back and use the button."),
                           back)
    response["Allow"] = ", ".join(allowed)
    return response


def require_POST(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Only POST reaches ``view``; any other method gets the friendly 405 page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            return method_not_allowed(request, ["POST"])
        return view(request, *args, **kwargs)

    return wrapped


@login_required
@require_POST
def set_timezone(request: AuthenticatedRequest) -> HttpResponse:
    """Remember the zone the viewer wants times shown in, through the adapter.

    ``detected=1``: the page's script sends the browser's zone; the answer is 204 or 400, no message.
    """
    form = TimezoneForm(request.POST)
    detected = request.POST.get("detected") == "1"
    if form.is_valid():
        get_adapter().set_viewer_timezone(request, form.cleaned_data["timezone"])
        if detected:
            return HttpResponse(b"", None, 204)
    elif detected:
        return HttpResponseBadRequest()
    else:
        messages.error(request, " ".join(str(e) for e in form.errors["timezone"]))
    return safe_next(request, "liveclass_booking:session_list")


@require_GET
@cache_control(public=True, max_age=24 * 3600)
def timezone_names(request: HttpRequest) -> JsonResponse:
    """The zone names the picker offers, one list for every page (the browser caches it for a day)."""
    return JsonResponse(zone_names(), safe=False)
