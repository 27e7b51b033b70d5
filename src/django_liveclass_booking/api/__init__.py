"""The HTTP API (extra ``api``): Django REST framework views over the services, for apps and SPAs.

Mount it with ``path("api/", include("django_liveclass_booking.api.urls"))``; the OpenAPI 3 schema
is served at ``api/schema/``. Authentication is the host's (``REST_FRAMEWORK``'s
``DEFAULT_AUTHENTICATION_CLASSES``); every view needs an authenticated user and decides nothing
itself: each write is one service call as ``request.user``, and what a user may see comes from the
adapter, as on the pages.
"""

from importlib.util import find_spec

from django.core.exceptions import ImproperlyConfigured

_MISSING = [name for name in ("rest_framework", "drf_spectacular") if find_spec(name) is None]
if _MISSING:
    raise ImproperlyConfigured(
        "The HTTP API of django-liveclass-booking needs its 'api' extra "
        f"(missing: {', '.join(_MISSING)}): pip install 'django-liveclass-booking[api]'."
    )
