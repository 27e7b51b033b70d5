"""Names for the domain's types in signatures."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias, Union

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from .actors import _System

#: A user of the host project (``AUTH_USER_MODEL``).
User: TypeAlias = "AbstractBaseUser"
#: Who performs an action: a user, or ``services.SYSTEM`` for trusted jobs.
Actor: TypeAlias = Union["AbstractBaseUser", "_System"]
