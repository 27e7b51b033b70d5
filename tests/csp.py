"""A strict Content Security Policy on every response of the test site.

``default-src 'self'`` allows the static stylesheet and script and the same-origin fetches, and
refuses any inline ``<script>``, inline ``<style>``, ``style=`` attribute and event handler: the
browser tests read Chromium's console for the refusals (``Browser.csp_refusals``), so a page that
needs one fails them.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

POLICY = "default-src 'self'"


class StrictContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        return response
