"""Database routers of tests.settings_router: the booking models live on the ``booking`` alias."""

from __future__ import annotations

from typing import Any

BOOKING = "booking"
DEFAULT = "default"

#: The booking app and everything its foreign keys reach, which Django cannot relate across
#: databases: users (auth), their permissions' content types, and the admin log that points at both.
BOOKING_APPS = frozenset({"liveclass_booking", "auth", "contenttypes", "admin", "testapp"})


def alias_of(app_label: str) -> str:
    return BOOKING if app_label in BOOKING_APPS else DEFAULT


class BookingRouter:
    """Booking models, users and content types on ``booking``; sessions and the rest on ``default``."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return alias_of(model._meta.app_label)

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return alias_of(model._meta.app_label)

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return alias_of(obj1._meta.app_label) == alias_of(obj2._meta.app_label)

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == alias_of(app_label)
