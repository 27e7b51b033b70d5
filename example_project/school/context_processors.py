"""What the school's base template needs on every page, the booking app's pages included."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from django_liveclass_booking.adapter import get_adapter


def school_nav(request: HttpRequest) -> dict[str, Any]:
    """``viewer_reads_outbox``: whether the navigation links the outbox, asked of the adapter.

    A callable, so the template asks only when it renders the navigation.
    """

    def reads_outbox() -> bool:
        user = getattr(request, "user", None)
        return bool(user is not None and user.is_authenticated and get_adapter().is_staff_manager(user))

    return {"viewer_reads_outbox": reads_outbox}
