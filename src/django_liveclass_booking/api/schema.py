"""How each operation is described in the OpenAPI schema: its body, its answer and every refusal.

``operation(...)`` wraps drf-spectacular's ``extend_schema``: it lists the codes an operation may
answer with, under the status each gets (see :mod:`.errors`), and names them in the description,
so a client knows every ``code`` to branch on from the schema alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers

from .errors import status_for, unknown_fields
from .idempotency import HEADER, REPLAYED_HEADER


class ErrorSerializer(serializers.Serializer):
    """Every error response: a stable ``code``, a ``detail`` a person can read, and its ``params``."""

    code = serializers.CharField(help_text="A stable code, listed in the operation's description.")
    detail = serializers.CharField(help_text="A message a person can act on, in the request's language.")
    params = serializers.DictField(
        help_text="The values the message is built from. A field error lists each field's problems "
        "under `fields`; a policy refusal lists every rule broken under `violations`.")


#: Every operation can answer these: bad input, no credentials, no permission, a refused body type.
COMMON_CODES = ("invalid_request", "not_authenticated", "authentication_failed", "not_allowed",
                "not_acceptable", "throttled")
#: What a POST, PUT or PATCH can answer on top.
BODY_CODES = ("parse_error", "unsupported_media_type")
#: Statuses without codes of their own in a list, and what they mean.
STATUS_TEXT = {
    400: "Bad input, or a rule of the teacher's policy refuses it.",
    401: "No credentials, or credentials the host's authentication refused.",
    403: "The user may not do this (or, with session authentication, is not signed in).",
    404: "Nothing there, or nothing this user may see (or a page past the last).",
    405: "The address does not take this method.",
    406: "No format the request accepts.",
    409: "The current state refuses it (a full class, a taken time, a decided request...).",
    415: "The body is not JSON.",
    422: "The Idempotency-Key was used for another request.",
    429: "Too many requests.",
}

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Any unique string (e.g. a UUID) of 1 to 255 printable ASCII characters. A retry with the same "
    f"key by the same user gets the first response (marked with the `{REPLAYED_HEADER}: true` header) and "
    "creates nothing more; the same key with another body is refused (422).",
)


def operation(*, summary: str, codes: Iterable[str] = (), request: Any = None, response: Any = None,
              status: int = 200, method: str = "get", detail: bool = True, idempotent: bool = False,
              parameters: Iterable[Any] = (), description: str = "") -> Callable[[Any], Any]:
    """``extend_schema`` for one operation, with every refusal ``codes`` lists (and the common ones).

    ``detail``: the address names an object (a 404 is possible); ``idempotent``: the operation takes
    the ``Idempotency-Key`` header.
    """
    parameters = list(parameters)
    every = [*COMMON_CODES, *(BODY_CODES if method != "get" else ()), *codes]
    # A page past the last is a 404 too.
    if detail or any(getattr(parameter, "name", None) == "page" for parameter in parameters):
        every.append("not_found")
    if idempotent:
        every += ["invalid_idempotency_key", "idempotency_key_reused"]
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys(every):
        by_status.setdefault(status_for(code), []).append(code)
    # Without credentials, session authentication (no WWW-Authenticate scheme) makes DRF answer 403.
    by_status[403].append("not_authenticated")
    responses: dict[int, Any] = {status: response if response is not None else OpenApiResponse(
        description="Done; no body.")}
    for answered, listed in sorted(by_status.items()):
        responses[answered] = OpenApiResponse(
            ErrorSerializer, description=f"{STATUS_TEXT.get(answered, '')} Codes: "
            + ", ".join(f"`{code}`" for code in listed) + ".")
    refusals = [code for code in dict.fromkeys(codes)]
    text = description
    if refusals:
        text += ("\n\n" if text else "") + "Refusals: " + ", ".join(
            f"`{code}` ({status_for(code)})" for code in refusals) + "."
    params = [*parameters, *([IDEMPOTENCY_PARAMETER] if idempotent else [])]
    extend = extend_schema(summary=summary, description=text, request=request, responses=responses,
                           parameters=params or None)

    def decorate(view_method: Any) -> Any:
        if method != "get" and request is None and status != 204 and method != "delete":
            view_method = takes_no_body(view_method)
        # extend_schema builds on the host's DEFAULT_SCHEMA_CLASS unless the method names one: name
        # drf-spectacular's, so the schema is right whatever the host's REST_FRAMEWORK says.
        kwargs = getattr(view_method, "kwargs", None)
        if kwargs is None:
            view_method.kwargs = kwargs = {}
        kwargs.setdefault("schema", AutoSchema)
        return extend(view_method)

    return decorate


def takes_no_body(view_method: Any) -> Any:
    """An operation without a body refuses one (a field it would silently ignore, such as ``student``,
    must not look accepted); an empty JSON object is no body."""

    @functools.wraps(view_method)
    def checked(view: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        data = request.data
        if data:
            raise unknown_fields(data if isinstance(data, Mapping) else ["non_field_errors"])
        return view_method(view, request, *args, **kwargs)

    return checked


def fields_body(name: str, **fields: serializers.Field) -> Any:
    """An inline request body of ``fields`` named ``name`` in the schema."""
    return inline_serializer(name, fields)
