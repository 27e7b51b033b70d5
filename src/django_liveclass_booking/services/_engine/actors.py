"""Who acts: a user, or ``SYSTEM`` for trusted jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model

from ...exceptions import BookingError, NotAllowed
from . import db, reads

if TYPE_CHECKING:
    from typing_extensions import TypeIs


class SystemActor:
    """The actor for trusted jobs (sweeps, imports): passes every permission check."""

    _instance: SystemActor | None = None

    def __new__(cls) -> SystemActor:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "SYSTEM"

    pk = None
    is_authenticated = True


SYSTEM = SystemActor()


def is_system(actor: object) -> TypeIs[SystemActor]:
    return actor is SYSTEM


def require_actor(actor: Any) -> None:
    """Refuse a missing, anonymous, unsaved or deleted actor before any permission hook sees it."""
    if is_system(actor):
        return
    if (actor is None or getattr(actor, "is_authenticated", False) is not True or getattr(actor, "pk", None) is None
            or not isinstance(actor, get_user_model()) or not reads.stored_user_pks({actor.pk})):
        raise NotAllowed("This action needs a signed-in user (or services.SYSTEM) as the actor.")


def require(allowed: bool, message: str) -> None:
    if not allowed:
        raise NotAllowed(message)


def actor_id(actor: Any) -> Any:
    return None if is_system(actor) else actor.pk


def require_user(user: Any, role: str) -> None:
    """A student or teacher argument must be a saved, real user: not None, anonymous, deleted or ``SYSTEM``."""
    require_users(**{role: user})


def require_users(*, stored: bool = True, **users: Any) -> None:
    """``require_user`` for each user argument, named by its role, with one query for all of them.

    ``stored=False`` leaves out the query, for a caller whose own statement checks that the user still
    exists (the seat claim does).
    """
    for role, user in users.items():
        if getattr(user, "is_anonymous", False) is True:
            raise NotAllowed(f"The {role} must be a signed-in user.", params={"field": role})
        if (user is None or is_system(user) or getattr(user, "is_authenticated", False) is not True
                or getattr(user, "pk", None) is None or not isinstance(user, get_user_model())):
            raise invalid_user(role)
    if not stored:
        return
    found = reads.stored_user_pks({user.pk for user in users.values()})
    for role, user in users.items():
        if user.pk not in found:
            raise invalid_user(role)


def invalid_user(role: str) -> BookingError:
    return BookingError(f"The {role} must be a saved, signed-in user.", code="invalid_user", params={"field": role})


def stored_users() -> Any:
    """The users as the booking database holds them.

    A user deleted after being loaded keeps its pk; rows pointing at it would break a foreign key,
    which PostgreSQL and SQLite only report at commit, as an IntegrityError.
    """
    return get_user_model()._base_manager.using(db.alias())
