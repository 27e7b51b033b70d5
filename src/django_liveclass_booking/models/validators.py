from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ..exceptions import BookingError

#: Longest 1:1 lesson a policy may allow, in minutes (one day), the most the lesson forms accept too.
MAX_LESSON_MINUTES = 24 * 60
#: Most lengths one policy may list; each is offered to students as a choice.
MAX_LESSON_DURATIONS = 24


def validate_timezone_name(value: str) -> None:
    # Imported here: the models load before the services, and the one zone parser is the engine's.
    from ..services._engine.timezones import find_zone

    if find_zone(value) is None:
        raise ValidationError(
            _("%(value)s is not a known IANA timezone (e.g. Europe/London)."),
            code="invalid_timezone",
            params={"value": value},
        )


def _is_lesson_length(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_LESSON_MINUTES


def validate_lesson_durations(value: object) -> None:
    """A list of distinct whole minutes, each from 1 to ``MAX_LESSON_MINUTES``, at most ``MAX_LESSON_DURATIONS``.

    The lengths are added to times when slots are listed, so an unbounded one would overflow there.
    """
    if (
        not isinstance(value, list)
        or len(value) > MAX_LESSON_DURATIONS
        or not all(_is_lesson_length(v) for v in value)
        or len(set(value)) != len(value)
    ):
        raise ValidationError(
            _("Lesson durations must be a list of at most %(count)d different whole minutes from 1 to %(max)d, "
              "e.g. [30, 60]."),
            code="invalid_lesson_durations",
            params={"count": MAX_LESSON_DURATIONS, "max": MAX_LESSON_MINUTES},
        )


def no_nul_bytes(value: object) -> None:
    """Refuse text holding NUL characters, which PostgreSQL cannot store in a text column."""
    if isinstance(value, str) and "\x00" in value:
        raise ValidationError(_("Null characters are not allowed."), code="null_characters_not_allowed")


def clean_text(value: object, *, field: str, max_length: int | None) -> str:
    """``value`` if it is text every supported database stores as given, else ``BookingError`` ``invalid_text``.

    Refused: anything but a ``str``, NUL characters (PostgreSQL refuses them), lone surrogates (no
    database can encode them) and more than ``max_length`` characters (``None``: no limit), which
    MariaDB would truncate or refuse. ``params`` name the ``field`` (also as ``fields``).
    """
    params: dict[str, object] = {"field": field, "fields": [field]}
    if not isinstance(value, str):
        raise BookingError(f"{field} must be text, not {type(value).__name__}.", code="invalid_text", params=params)
    if "\x00" in value:
        raise BookingError(f"{field} must not contain null characters.", code="invalid_text", params=params)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BookingError(f"{field} is not valid Unicode text.", code="invalid_text", params=params) from None
    if max_length is not None and len(value) > max_length:
        raise BookingError(f"{field} must be at most {max_length} characters long (it has {len(value)}).",
                           code="invalid_text", params={**params, "max_length": max_length})
    return value
