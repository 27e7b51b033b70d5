"""Who acts: a user, or ``SYSTEM`` for trusted jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...exceptions import BookingError, NotAllowed

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
    """Refuse a missing, anonymous or unsaved actor before any permission hook sees it."""
    if is_system(actor):
        return
    if actor is None or not getattr(actor, "is_authenticated", False) or getattr(actor, "pk", None) is None:
        raise NotAllowed("This action needs a signed-in user (or services.SYSTEM) as the actor.")


def require(allowed: bool, message: str) -> None:
    if not allowed:
        raise NotAllowed(message)


def actor_id(actor: Any) -> Any:
    return None if is_system(actor) else actor.pk


def require_user(user: Any, role: str) -> None:
    """A student or teacher argument must be a saved, real user: not None, anonymous or ``SYSTEM``."""
    if getattr(user, "is_anonymous", False) is True:
        raise NotAllowed(f"The {role} must be a signed-in user.", params={"field": role})
    if (user is None or is_system(user) or not getattr(user, "is_authenticated", False)
            or getattr(user, "pk", None) is None or not hasattr(user, "_meta")):
        raise BookingError(f"The {role} must be a saved, signed-in user.", code="invalid_user",
                           params={"field": role})
