"""What every admin class of the app shares: user search, the reason field of the actions, read-only rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ..exceptions import BookingError
from ..services import User


def user_search_fields(*relations: str) -> list[str]:
    """Search lookups for the user's login name and e-mail through ``relations``, for any user model."""
    User = get_user_model()
    names = [User.USERNAME_FIELD]
    email = User.get_email_field_name()
    if email != User.USERNAME_FIELD and any(f.name == email for f in User._meta.get_fields()):
        names.append(email)
    return [f"{relation}__{name}" for relation in relations for name in names]


def acting_user(request: HttpRequest) -> User:
    """The signed-in user an admin page acts for (the admin site lets no anonymous visitor in)."""
    user = request.user
    if not isinstance(user, AbstractBaseUser):
        raise PermissionDenied
    return user


class ReasonActionForm(ActionForm):
    """The action bar with an optional reason, passed to the services by decline and cancel."""

    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)


def run_for_each(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, operation: Callable[[Any], Any],
    done_message: Callable[[int], str],
) -> None:
    """Apply ``operation`` to each row on its own: a refused row is reported and the others still run."""
    done = 0
    for obj in queryset.order_by("pk"):
        try:
            operation(obj)
        except BookingError as exc:
            model_admin.message_user(request, f"{obj}: {exc.message} (code: {exc.code})", messages.ERROR)
        else:
            done += 1
    if done:
        model_admin.message_user(request, done_message(done), messages.SUCCESS)


class ReadOnlyInline(admin.TabularInline):
    """An inline that lists related rows without letting anyone add, change or delete them."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def with_extra_fields(model: type[Model], fieldsets: Iterable[tuple[Any, Any]],
                      skip: Iterable[str] = ()) -> list[tuple[Any, Any]]:
    """``fieldsets`` plus one for the editable fields a swapped model adds, so hosts need not redeclare them."""
    fieldsets = list(fieldsets)
    placed = {*flatten_fieldsets(fieldsets), *skip}
    extra = [f.name for f in model._meta.concrete_fields if f.editable and not f.primary_key and f.name not in placed]
    return [*fieldsets, (_("Additional fields"), {"fields": extra})] if extra else fieldsets


class ViewOnlyAdmin(admin.ModelAdmin):
    """For rows only the services write: listed and viewable, never added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
