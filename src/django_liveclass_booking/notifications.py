"""Messages of the outbox: what a ``Notification`` row says, rendered for its recipient, sent by email.

A row keeps what it tells as it was when written (``data``: the times, a reason, the calendar
sequence); rendering adds the people and the session as they are now. Each message is rendered
with the templates ``liveclass_booking/email/<kind>_subject.txt``, ``<kind>.txt`` and
``<kind>.html`` (override them in a host template directory), in the recipient's language
(adapter ``get_user_language``) and timezone (adapter ``get_user_timezone``, else the session's),
every time followed by the zone's name. Bookings' messages carry an iCalendar invitation
(``METHOD:REQUEST`` when confirmed or moved, ``METHOD:CANCEL`` when cancelled) with the booking's
stable ``UID`` and a ``SEQUENCE`` that grows with each move, so calendar clients update one event.

Links point at the optional pages when they are installed and ``NOTIFICATIONS["SITE_URL"]`` is set.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import zoneinfo
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from email.message import MIMEPart
from email.mime.text import MIMEText
from typing import TYPE_CHECKING, Any

import django
from django.conf import settings as django_settings
from django.core.exceptions import FieldDoesNotExist
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .conf import booking_settings
from .models import NotificationKind, SessionKind

if TYPE_CHECKING:
    from .models import Notification

logger = logging.getLogger("django_liveclass_booking.notifications")

__all__ = ["RenderedMessage", "render", "email_message", "send_email", "one_connection", "planned_start",
           "TEMPLATE_DIR"]

#: Where the templates of each kind live.
TEMPLATE_DIR = "liveclass_booking/email"

Kind = NotificationKind

#: Kinds whose message shows how to join (meeting link and passcode).
MEETING_KINDS = {Kind.BOOKING_CONFIRMED, Kind.BOOKING_RESCHEDULED, Kind.SESSION_RESCHEDULED, Kind.SESSION_UPDATED,
                 Kind.REMINDER}


@dataclass(frozen=True)
class RenderedMessage:
    """A notification as its recipient reads it."""

    subject: str
    text: str
    html: str
    #: The iCalendar invitation, if the message carries one, and its ``METHOD``.
    calendar: bytes | None = None
    method: str = ""


def _instant(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and value:
        return dt.datetime.fromisoformat(value)
    return None


def planned_start(notification: Notification) -> dt.datetime | None:
    """The start time the message tells about (as it was when the row was written)."""
    return _instant(notification.data.get("start"))


def _zone(name: Any) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _zone_name(zone: dt.tzinfo) -> str:
    return getattr(zone, "key", None) or "UTC"


def format_instant(value: dt.datetime, zone: dt.tzinfo) -> str:
    """A moment in ``zone``, in the active language's formats, with the zone named.

    "Tuesday, March 3, 2026, 2 p.m. (Europe/Berlin)" in English, "Dienstag, 3. März 2026, 14:00
    (Europe/Berlin)" in German.
    """
    local = value.astimezone(zone)
    return _("%(day)s, %(date)s, %(time)s (%(zone)s)") % {
        "day": formats.date_format(local, "l"), "date": formats.date_format(local, "DATE_FORMAT"),
        "time": formats.time_format(local, "TIME_FORMAT"), "zone": _zone_name(zone)}


def format_span(start: dt.datetime, end: dt.datetime | None, zone: dt.tzinfo) -> str:
    """A start and end in ``zone``, in the active language's formats, with the zone named once."""
    if end is None:
        return format_instant(start, zone)
    local, local_end = start.astimezone(zone), end.astimezone(zone)
    if local_end.date() != local.date():
        return _("%(start)s to %(end)s") % {
            "start": format_instant(start, zone).rsplit(" (", 1)[0], "end": format_instant(end, zone)}
    return _("%(day)s, %(date)s, %(start)s–%(end)s (%(zone)s)") % {
        "day": formats.date_format(local, "l"), "date": formats.date_format(local, "DATE_FORMAT"),
        "start": formats.time_format(local, "TIME_FORMAT"), "end": formats.time_format(local_end, "TIME_FORMAT"),
        "zone": _zone_name(zone)}


def starts_in(minutes: int) -> str:
    """A reminder's offset in words: "1 day", "24 hours" is "1 day", "90 minutes"."""
    if minutes % 1440 == 0:
        days = minutes // 1440
        return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    if minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


def _link(name: str, *args: Any) -> str:
    site = booking_settings.NOTIFICATIONS["SITE_URL"]
    if not site:
        return ""
    try:
        return site + reverse(f"liveclass_booking:{name}", args=args)
    except NoReverseMatch:
        return ""


def _page(notification: Notification, role: str) -> tuple[str, str]:
    """The page to act on and its button text."""
    kind, booking, session = notification.kind, notification.booking, notification.session
    if kind == Kind.BOOKING_REQUESTED:
        return _link("teacher_dashboard"), _("Confirm or decline")
    if kind == Kind.SEAT_OFFERED and session is not None:
        return _link("session_detail", session.pk), _("Accept the seat")
    if kind == Kind.RESCHEDULE_REQUESTED and booking is not None:
        return _link("booking_detail", booking.pk), _("Answer the proposal")
    if booking is not None:
        return _link("booking_detail", booking.pk), _("Open the booking")
    if session is not None and role == "teacher":
        return _link("session_roster", session.pk), _("Open the class")
    if session is not None:
        return _link("session_detail", session.pk), _("Open the class")
    return "", ""


def _name(user: Any) -> str:
    from .ics import display_name

    return display_name(user) if user is not None else ""


#: Attribute holding a row's actor once read (by :func:`load_actors`, for a whole batch at once).
_ACTOR = "_liveclass_booking_actor"


def load_actors(notifications: list[Notification]) -> None:
    """Read the users who made the changes of these rows in one query (rendering then needs none)."""
    from django.contrib.auth import get_user_model

    wanted = {n.data.get("actor") for n in notifications} - {None}
    users = get_user_model()._default_manager.in_bulk(wanted) if wanted else {}
    for notification in notifications:
        setattr(notification, _ACTOR, users.get(notification.data.get("actor")))


def _actor_name(notification: Notification) -> str:
    actor = notification.data.get("actor")
    if actor is None or actor == notification.recipient_id:
        return ""
    if not hasattr(notification, _ACTOR):
        load_actors([notification])
    return _name(getattr(notification, _ACTOR))


def _title(session: Any, booking: Any, role: str) -> str:
    if session is not None and session.title:
        return str(session.title)
    if booking is not None and booking.kind == SessionKind.ONE_ON_ONE:
        if role == "teacher":
            return _("1:1 lesson with %(student)s") % {"student": _name(booking.student)}
        return _("1:1 lesson with %(teacher)s") % {"teacher": _name(booking.teacher)}
    teacher = session.teacher if session is not None else None
    return _("Group class with %(teacher)s") % {"teacher": _name(teacher)} if teacher else _("Group class")


def _changed(session: Any, names: list[str]) -> str:
    """The session fields a change touched, by their names in the active language: "title, meeting link"."""
    if session is None:
        return ""
    labels = []
    for name in names:
        try:
            labels.append(str(session._meta.get_field(name).verbose_name))
        except FieldDoesNotExist:  # a field the host's model has renamed: named as stored
            labels.append(name)
    return ", ".join(labels)


def _language_and_zone(notification: Notification) -> tuple[str, dt.tzinfo]:
    from .adapter import get_adapter

    adapter = get_adapter()
    recipient = notification.recipient
    language = adapter.get_user_language(recipient) or django_settings.LANGUAGE_CODE
    session = notification.session
    planned_in = session.timezone_snapshot if session is not None else None
    zone_name = adapter.get_user_timezone(recipient) or planned_in or "UTC"
    return language, _zone(zone_name)


def context(notification: Notification, zone: dt.tzinfo) -> dict[str, Any]:
    """The template context of a message (rendered in the active language)."""
    from .adapter import get_adapter

    data = notification.data
    booking = notification.booking
    session = notification.session or (booking.session if booking is not None else None)
    teacher = booking.teacher if booking is not None else (session.teacher if session is not None else None)
    teacher_id = teacher.pk if teacher is not None else None
    role = "teacher" if notification.recipient_id == teacher_id else "student"
    start, end = _instant(data.get("start")), _instant(data.get("end"))
    previous_start, previous_end = _instant(data.get("previous_start")), _instant(data.get("previous_end"))
    proposed_start, proposed_end = _instant(data.get("proposed_start")), _instant(data.get("proposed_end"))
    offer_expires = _instant(data.get("offer_expires_at"))
    if start is None and session is not None:
        start, end = session.start_at_utc, session.end_at_utc
    if notification.kind.startswith("reschedule_") and previous_start is None:
        previous_start, previous_end = start, end
    meeting = session if (notification.kind in MEETING_KINDS and session is not None and session.meeting_url != ""
                          and get_adapter().can_see_meeting_details(notification.recipient, session, booking)) \
        else None
    link, link_label = _page(notification, role)
    return {
        "notification": notification,
        "kind": notification.kind,
        "recipient": notification.recipient,
        "recipient_name": _name(notification.recipient),
        "role": role,
        "is_lesson": bool(data.get("lesson", booking is not None and booking.kind == SessionKind.ONE_ON_ONE)),
        "title": _title(session, booking, role),
        "teacher_name": _name(teacher),
        "student_name": _name(booking.student) if booking is not None else "",
        "actor_name": _actor_name(notification),
        "when": format_span(start, end, zone) if start else "",
        "previous_when": format_span(previous_start, previous_end, zone) if previous_start else "",
        "proposed_when": format_span(proposed_start, proposed_end, zone) if proposed_start else "",
        "timezone_name": _zone_name(zone),
        "offer_expires": format_instant(offer_expires, zone) if offer_expires else "",
        "reason": data.get("reason", ""),
        "message": data.get("message", ""),
        "starts_in": starts_in(int(data["minutes"])) if data.get("minutes") else "",
        "changed": _changed(session, data.get("changed") or []),
        "meeting_provider": meeting.meeting_provider if meeting is not None else "",
        "meeting_url": meeting.meeting_url if meeting is not None else "",
        "meeting_passcode": meeting.meeting_passcode if meeting is not None else "",
        "link": link,
        "link_label": link_label if link else "",
        "site_name": booking_settings.NOTIFICATIONS["SITE_NAME"],
        "has_calendar": False,
    }


def _sender() -> str:
    return str(booking_settings.NOTIFICATIONS["FROM_EMAIL"] or django_settings.DEFAULT_FROM_EMAIL)


def _address(user: Any) -> str:
    field = user.get_email_field_name() if hasattr(user, "get_email_field_name") else "email"
    return str(getattr(user, field, "") or "")


def _calendar(notification: Notification, ctx: dict[str, Any]) -> tuple[bytes | None, str]:
    method = notification.data.get("method", "")
    booking = notification.booking
    if not method or booking is None:
        return None, ""
    try:
        from . import ics

        ics.require_icalendar()
    except Exception:  # the ics extra is not installed: the message goes without an invitation
        return None, ""
    from .adapter import get_adapter

    start, end = _instant(notification.data.get("start")), _instant(notification.data.get("end"))
    body = ics.invitation(
        booking, method=method, sequence=int(notification.data.get("sequence", 0)),
        start=start or booking.start_at_utc, end=end or booking.end_at_utc, organizer=_sender(),
        attendee=_address(notification.recipient) or "unknown@invalid", now=get_adapter().now(),
        for_teacher=ctx["role"] == "teacher", viewer=notification.recipient)
    return body, method


_SPACE = re.compile(r"\s+")


def render(notification: Notification) -> RenderedMessage:
    """The message of a row in its recipient's language and timezone."""
    language, zone = _language_and_zone(notification)
    with translation.override(language), timezone.override(zone):
        ctx = context(notification, zone)
        calendar, method = _calendar(notification, ctx)
        ctx["has_calendar"] = calendar is not None
        base = f"{TEMPLATE_DIR}/{notification.kind}"
        subject = _SPACE.sub(" ", render_to_string(f"{base}_subject.txt", ctx)).strip()
        text = render_to_string(f"{base}.txt", ctx)
        html = render_to_string(f"{base}.html", ctx)
    return RenderedMessage(subject=subject, text=text, html=html, calendar=calendar, method=method)


def email_message(notification: Notification, *, connection: Any = None) -> EmailMultiAlternatives | None:
    """The email of a row (plain text, HTML alternative, invitation attached); None without an address."""
    address = _address(notification.recipient)
    if not address:
        return None
    rendered = render(notification)
    message = EmailMultiAlternatives(rendered.subject, rendered.text, _sender(), [address], connection=connection)
    message.attach_alternative(rendered.html, "text/html")
    if rendered.calendar is not None:
        message.attach(_calendar_part(rendered.calendar, rendered.method))
    return message


def _new_connection() -> Any:
    """An instance of the default email backend: Django 6.1's ``mailers.default``, ``get_connection()`` before."""
    try:
        from django.core.mail import mailers
    except ImportError:
        return get_connection()
    return mailers.default


def _calendar_part(calendar: bytes, method: str) -> Any:
    """The invitation as an attachment: an ``email.message.MIMEPart`` where Django takes one (6.1+, where a
    ``MIMEBase`` is deprecated), a ``MIMEText`` before."""
    text = calendar.decode("utf-8")
    if django.VERSION >= (6, 1):
        part = MIMEPart()
        part.set_content(text, subtype="calendar", charset="utf-8", params={"method": method},
                         disposition="attachment", filename="invite.ics")
        return part
    legacy = MIMEText(text, "calendar", "utf-8")
    legacy.set_param("method", method)
    legacy.add_header("Content-Disposition", "attachment", filename="invite.ics")
    return legacy


#: The email connection a batch of deliveries shares (see :func:`one_connection`), if any.
_shared: ContextVar[Any] = ContextVar("liveclass_booking_email_connection", default=None)


@contextlib.contextmanager
def one_connection() -> Iterator[None]:
    """Send the emails of the block over one connection of the email backend: one SMTP session for a
    batch, not one per message. Opened with the first email, closed at the end."""
    connection = _new_connection()
    token = _shared.set(connection)
    try:
        yield
    finally:
        _shared.reset(token)
        with contextlib.suppress(Exception):  # a connection already gone has nothing left to close
            connection.close()


def send_email(notification: Notification) -> None:
    """Send a row's email through Django's email backend (raises if the backend fails)."""
    connection = _shared.get()
    message = email_message(notification, connection=connection)
    if message is None:
        logger.info("Notification %s not sent: user %s has no email address.", notification.pk,
                    notification.recipient_id)
        return
    if connection is None:
        message.send(fail_silently=False)
        return
    try:
        connection.open()  # once per batch; a no-op while it is open
        message.send(fail_silently=False)
    except Exception:
        # A broken session must not fail the rest of the batch: the next message opens a new one.
        with contextlib.suppress(Exception):
            connection.close()
        raise
