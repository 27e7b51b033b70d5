"""Names for the domain's types in signatures."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias, Union

if TYPE_CHECKING:
    # django-stubs' name for the user model (as in request.user): AbstractBaseUser, and with the
    # django-stubs mypy plugin the AUTH_USER_MODEL class, the type of every foreign key to it.
    from django.contrib.auth.models import _User

    from .actors import SystemActor

#: A user of the host project (``AUTH_USER_MODEL``).
User: TypeAlias = "_User"
#: Who performs an action: a user, or ``services.SYSTEM`` for trusted jobs.
Actor: TypeAlias = Union["_User", "SystemActor"]
