"""Every error of the HTTP API is JSON ``{"code", "detail", "params"}``, with a status for its code.

A service's refusal keeps the service's code: 409 for a conflict with the current state (a full
class, a taken slot, a pending proposal), 403 for ``not_allowed``, 404 for ``not_found``, and 400
for everything else (bad input, a policy rule). Django REST framework's own errors (no credentials,
a bad body, an unknown address) get codes of the registry too.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response
from rest_framework.views import set_rollback

from ..errors import message_for
from ..exceptions import BookingError, PolicyViolation, render_message

#: The detail of a 404: the same for what does not exist and what the user may not see.
NOT_FOUND_DETAIL = _("Not found: nothing here, or nothing this user may see.")

#: Codes answered with 409 Conflict: the request was fine, the current state refuses it.
CONFLICT_CODES = frozenset({
    "session_full", "already_booked", "already_waitlisted", "seats_available", "offer_pending",
    "offer_expired", "offer_not_due", "not_first_in_line", "teacher_unavailable", "reschedule_pending",
    "reschedule_expired", "invalid_transition", "capacity_below_taken", "session_closed", "waitlist_disabled",
    "session_not_started", "outcome_window_closed",
})

#: Status of the codes that are neither a conflict nor a 400.
STATUS_BY_CODE: Mapping[str, int] = {
    **dict.fromkeys(CONFLICT_CODES, 409),
    "not_allowed": 403,
    "not_found": 404,
    "not_authenticated": 401,
    "authentication_failed": 401,
    "method_not_allowed": 405,
    "not_acceptable": 406,
    "unsupported_media_type": 415,
    "idempotency_key_reused": 422,
    "throttled": 429,
}

class DrfCode(NamedTuple):
    """A DRF exception class and the registry code it is answered with."""

    kind: type[exceptions.APIException]
    code: str


#: DRF's exception classes, most specific first, and their codes.
DRF_CODES: tuple[DrfCode, ...] = (
    DrfCode(exceptions.NotAuthenticated, code="not_authenticated"),
    DrfCode(exceptions.AuthenticationFailed, code="authentication_failed"),
    DrfCode(exceptions.PermissionDenied, code="not_allowed"),
    DrfCode(exceptions.NotFound, code="not_found"),
    DrfCode(exceptions.MethodNotAllowed, code="method_not_allowed"),
    DrfCode(exceptions.NotAcceptable, code="not_acceptable"),
    DrfCode(exceptions.UnsupportedMediaType, code="unsupported_media_type"),
    DrfCode(exceptions.Throttled, code="throttled"),
    DrfCode(exceptions.ParseError, code="parse_error"),
    DrfCode(exceptions.ValidationError, code="invalid_request"),
)


def status_for(code: str) -> int:
    """The HTTP status a refusal with ``code`` is answered with (400 unless listed above)."""
    return STATUS_BY_CODE.get(code, 400)


def jsonable(value: Any) -> Any:
    """``value`` as JSON can carry it: instants in ISO 8601, durations in minutes, objects by their key."""
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(item) for item in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / 60
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    pk = getattr(value, "pk", None)
    return pk if pk is not None else str(value)


def unknown_fields(names: Iterable[str]) -> exceptions.ValidationError:
    """The 400 ``invalid_request`` for body fields an operation does not take, each under its name."""
    problem = [ErrorDetail(message_for("unknown_field"), code="unknown_field")]
    return exceptions.ValidationError({str(name): problem for name in names})


def error_body(code: str, detail: Any, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The body of every error response."""
    return {"code": code, "detail": str(detail), "params": jsonable(dict(params or {}))}


def booking_error_body(error: BookingError) -> dict[str, Any]:
    """A refusal's body; a policy refusal lists every violation in ``params["violations"]``."""
    params = dict(error.params)
    if isinstance(error, PolicyViolation) and error.violations:
        params["violations"] = [error_body(v.code, v.message, v.params) for v in error.violations]
    return error_body(error.code, error.message, params)


def _field_errors(detail: Any) -> Any:
    """DRF's nested validation detail as ``{field: [{"code", "detail"}, ...]}``."""
    if isinstance(detail, Mapping):
        return {str(key): _field_errors(item) for key, item in detail.items()}
    if isinstance(detail, list):
        return [_field_errors(item) for item in detail]
    return {"code": getattr(detail, "code", "invalid"), "detail": str(detail)}


def _api_error(exc: exceptions.APIException) -> tuple[str, dict[str, Any], int]:
    code = next((code for kind, code in DRF_CODES if isinstance(exc, kind)), "invalid_request")
    params: dict[str, Any] = {}
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, Mapping) else {"non_field_errors": exc.detail}
        params["fields"] = _field_errors(detail)
    elif isinstance(exc, exceptions.MethodNotAllowed):
        params["method"] = str(exc.detail).split('"')[1] if '"' in str(exc.detail) else ""
    elif isinstance(exc, exceptions.PermissionDenied) and str(exc.detail) != str(exc.default_detail):
        # DRF's own reason, e.g. a session-authenticated POST without its CSRF token.
        params["reason"] = str(exc.detail)
    elif isinstance(exc, exceptions.Throttled) and getattr(exc, "wait", None) is not None:
        params["wait"] = int(getattr(exc, "wait", 0))
    return code, params, exc.status_code


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """The API views' exception handler: every error as ``{"code", "detail", "params"}``.

    A ``BookingError`` keeps its code and params; an unexpected exception is left to Django (500).
    """
    if isinstance(exc, BookingError):
        set_rollback()
        return Response(booking_error_body(exc), status_for(exc.code))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, SuspiciousOperation):
        # Too many query fields, a body over DATA_UPLOAD_MAX_MEMORY_SIZE: a request not to be read.
        exc = exceptions.ParseError()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    code, params, status_code = _api_error(exc)
    detail = NOT_FOUND_DETAIL if code == "not_found" else render_message(code, params)
    response = Response(error_body(code, detail, params), status_code)
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        response["WWW-Authenticate"] = auth_header
    if "wait" in params:
        response["Retry-After"] = str(params["wait"])
    set_rollback()
    return response


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any address under the API's prefix that names no operation: a JSON 404, not an HTML page.

    Whatever the method: exempt from CSRF like the API's views, or a POST would get Django's HTML 403.
    """
    response = JsonResponse(error_body("not_found", NOT_FOUND_DETAIL))
    response.status_code = 404
    return response
