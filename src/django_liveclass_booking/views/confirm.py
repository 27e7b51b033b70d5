"""The confirmation step of every destructive action, without JavaScript.

A list or detail page links to the action's URL; its GET answers with a page that asks the
question ("Cancel your booking for ... on ...?") and holds the POST form that does it, beside a
link back that changes nothing. The GET writes nothing; the POST is the action as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

from ._common import render_page


def next_path(request: HttpRequest, fallback: str) -> str:
    """The ``next`` of the query string (then of the POST) when it is a path on this site, else ``fallback``."""
    target = request.GET.get("next") or request.POST.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(fallback)


def confirm_page(request: HttpRequest, *, question: str, action: str, yes: str, keep: str, keep_url: str,
                 notes: Iterable[str] = (), form: forms.BaseForm | None = None,
                 hidden: Iterable[tuple[str, Any]] = (), danger: bool = True) -> HttpResponse:
    """The page asking ``question``: the POST form to ``action`` (button ``yes``), and ``keep`` back to ``keep_url``.

    ``notes`` say what follows (late cancellation, who is told); ``form`` adds its fields (a
    reason); ``hidden`` carries the choices made on the page before (and ``next``).
    """
    return render_page(request, "liveclass_booking/confirm.html", {
        "question": question, "action": action, "yes": yes, "keep": keep, "keep_url": keep_url,
        "notes": [note for note in notes if note], "form": form, "hidden": list(hidden), "danger": danger,
    })
