"""iCalendar (RFC 5545) documents: a user's feed, and one booking as a downloadable ``.ics``.

Needs the optional ``icalendar`` package (``pip install "django-liveclass-booking[ics]"``). It is
imported when a calendar is built, never when this module is imported, so that a host without the
extra can still import the URLconf and every other view.

What a feed contains, and why:

* one event per **confirmed** booking the user holds as a student, and one per **scheduled**
  session the user teaches (1:1 lessons still awaiting the teacher's decision appear to the teacher
  as ``STATUS:TENTATIVE``; group sessions and decided lessons as ``STATUS:CONFIRMED``);
* from 30 days ago onward, nearest first, at most ``FEED_MAX_EVENTS`` events;
* cancelled, declined, expired and pending bookings and cancelled sessions are left out rather
  than published as ``STATUS:CANCELLED``: a subscribed calendar replaces its copy of the feed on
  every refresh, so an event that disappears is removed from the user's calendar, and the feed
  does not keep growing with history;
* times in UTC (``...Z``), so no ``VTIMEZONE`` is needed and every client agrees on the instant;
* text as people typed it, escaped (``\\``, ``;``, ``,``, line breaks as ``\n``) and folded the
  way RFC 5545 says, so no stored value can end a line or start a property of its own; control
  characters, which no TEXT value may hold, are dropped. A person's name, the meeting details and
  the calendar's name are kept on one line: a line break in them would pass for a line of the
  description (a fake "Join:" link) or break a calendar list;
* the meeting link (``URL`` and in ``DESCRIPTION``) and the meeting passcode (``DESCRIPTION``) only
  to the teacher and to the holder of a confirmed booking, the same people who see them on the
  booking pages. Including the passcode is deliberate: a calendar entry is only useful to join
  from if it carries what joining needs. The feed address is itself a bearer secret as strong as a
  passcode (256-bit token), it is revocable, and whoever holds it is already trusted with the
  user's whole schedule.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from email.utils import parseaddr
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Prefetch
from django.utils.translation import gettext as _

from .models import (
    ACTIVE_BOOKING_STATUSES,
    BookingStatus,
    SessionKind,
    SessionStatus,
    get_booking_model,
    get_session_model,
)

#: ``PRODID`` of every calendar this package writes.
PRODID = "-//django-liveclass-booking//EN"

#: Right-hand side of every event ``UID`` unless ``LIVECLASS_BOOKING["ICS_UID_DOMAIN"]`` names the host's own.
UID_DOMAIN = "liveclass-booking"

#: Most events one feed carries (the nearest ones); bounds the work and the response size.
FEED_MAX_EVENTS = 500

#: How far back a feed reaches: recent lessons stay visible, older history is left out.
FEED_PAST_WINDOW = dt.timedelta(days=30)

#: Suggested polling interval for subscribing clients (``REFRESH-INTERVAL``/``X-PUBLISHED-TTL``).
FEED_REFRESH_INTERVAL = dt.timedelta(hours=1)

INSTALL_HINT = 'pip install "django-liveclass-booking[ics]"'

#: CONTROL characters of RFC 5545 other than the tab and the line breaks: no TEXT value may hold them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: Every way text can break a line, Unicode's own separators included.
_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
#: What no URI value may hold (the link is then left to the description).
_NOT_IN_URI = re.compile(r"[\s\x00-\x1f\x7f]")


def _icalendar() -> Any:
    """The ``icalendar`` module, or ``ImproperlyConfigured`` naming the extra to install."""
    try:
        import icalendar
    except ImportError as exc:
        raise ImproperlyConfigured(
            "Calendar feeds need the optional 'icalendar' package: install the extra "
            f"django-liveclass-booking[ics] ({INSTALL_HINT})."
        ) from exc
    return icalendar


def require_icalendar() -> None:
    """Raise ``ImproperlyConfigured`` unless ``icalendar`` is installed (the views call it first)."""
    _icalendar()


def uid_domain() -> str:
    """The domain of every ``UID``: stable, so a refreshed feed or a later invitation updates the same event."""
    from .conf import booking_settings

    return str(booking_settings.ICS_UID_DOMAIN)


def booking_uid(booking: Any) -> str:
    """Stable ``UID`` of a booking's event."""
    return f"booking-{booking.pk}@{uid_domain()}"


def session_uid(session: Any) -> str:
    """Stable ``UID`` of a session's event in its teacher's feed."""
    return f"session-{session.pk}@{uid_domain()}"


def display_name(user: Any) -> str:
    """A user's full name if the user model has one, else the username; on one line either way."""
    full = getattr(user, "get_full_name", None)
    name = _one_line(full()).strip() if callable(full) else ""
    if name:
        return name
    username = getattr(user, "get_username", None)
    return _one_line(username() if callable(username) else str(user))


def _text(value: str) -> Any:
    """``value`` as an iCalendar TEXT value: control characters dropped, every line break a plain ``\\n``.

    ``vText`` then escapes backslashes, semicolons, commas and line breaks, and the calendar folds
    long lines; a bare string would be written raw into a property ``icalendar`` does not know.
    """
    return _icalendar().vText(_LINE_BREAK.sub("\n", _CONTROL.sub("", value)))


def _one_line(value: str) -> str:
    """``value`` with its line breaks (and the spaces around them) turned into one space each."""
    return " ".join(value.split()) if _LINE_BREAK.search(value) else value


def _utc(value: dt.datetime) -> dt.datetime:
    # tzinfo=UTC is what makes icalendar write the "Z" form (no TZID, no VTIMEZONE needed).
    return value.astimezone(dt.UTC)


def _meeting_lines(session: Any) -> list[str]:
    lines = []
    if session.meeting_provider:
        lines.append(_("Meeting: %(provider)s") % {"provider": _one_line(session.meeting_provider)})
    if session.meeting_url:
        lines.append(_("Join: %(url)s") % {"url": _one_line(session.meeting_url)})
    if session.meeting_passcode:
        lines.append(_("Passcode: %(passcode)s") % {"passcode": _one_line(session.meeting_passcode)})
    return lines


def _new_calendar(name: str) -> Any:
    ical = _icalendar()
    calendar = ical.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", _text(_one_line(name)))
    return calendar


def _event(*, uid: str, start: dt.datetime, end: dt.datetime, stamp: dt.datetime, summary: str,
           description: Iterable[str], status: str, url: str = "", modified: dt.datetime | None = None) -> Any:
    event = _icalendar().Event()
    event.add("uid", uid)
    event.add("dtstamp", _utc(stamp))
    event.add("dtstart", _utc(start))
    event.add("dtend", _utc(end))
    event.add("summary", _text(summary))
    text = "\n".join(line for line in description if line)
    if text:
        event.add("description", _text(text))
    if url and not _NOT_IN_URI.search(url):
        event.add("url", url)
    if modified is not None:
        event.add("last-modified", _utc(modified))
    event.add("status", status)
    event.add("transp", "OPAQUE")
    return event


def _booking_summary(booking: Any, *, for_teacher: bool = False) -> str:
    session = booking.session
    if session.title:
        return session.title
    if booking.kind == SessionKind.ONE_ON_ONE:
        if for_teacher:
            return _("1:1 lesson with %(student)s") % {"student": display_name(booking.student)}
        return _("1:1 lesson with %(teacher)s") % {"teacher": display_name(booking.teacher)}
    return _("Group class with %(teacher)s") % {"teacher": display_name(booking.teacher)}


def _shows_meeting(viewer: Any, session: Any, booking: Any) -> bool:
    """The adapter decides who sees meeting details, in a calendar file as on a page."""
    from .adapter import get_adapter

    return viewer is None or get_adapter().can_see_meeting_details(viewer, session, booking)


def booking_event(booking: Any, *, stamp: dt.datetime, for_teacher: bool = False, viewer: Any = None) -> Any:
    """The ``VEVENT`` of one booking, as its student sees it (or its teacher, with ``for_teacher``).

    ``booking`` should come with ``session`` and ``teacher`` loaded (``select_related``). Meeting
    details are included only while the booking is confirmed and its session scheduled, and, with a
    ``viewer``, only when the adapter's ``can_see_meeting_details`` lets them see them; a pending
    booking is ``TENTATIVE``, any other state ``CANCELLED``.
    """
    session = booking.session
    live = booking.status == BookingStatus.CONFIRMED and session.status == SessionStatus.SCHEDULED
    meeting = live and _shows_meeting(viewer, session, booking)
    if live:
        status = "CONFIRMED"
    elif booking.status == BookingStatus.PENDING and session.status == SessionStatus.SCHEDULED:
        status = "TENTATIVE"
    else:
        status = "CANCELLED"
    description = [
        _("Teacher: %(teacher)s") % {"teacher": display_name(booking.teacher)},
        _("Booking status: %(status)s") % {"status": booking.get_status_display()},
        *(_meeting_lines(session) if meeting else []),
    ]
    return _event(
        uid=booking_uid(booking), start=booking.start_at_utc, end=booking.end_at_utc, stamp=stamp,
        summary=_booking_summary(booking, for_teacher=for_teacher), description=description, status=status,
        url=session.meeting_url if meeting else "", modified=booking.modified,
    )


def _session_event(session: Any, *, stamp: dt.datetime, viewer: Any = None) -> Any | None:
    """A teacher's session, or ``None`` for a 1:1 session that no longer holds a live request."""
    description: list[str] = []
    status = "CONFIRMED"
    if session.kind == SessionKind.ONE_ON_ONE:
        # Prefetched: the session's active bookings (a 1:1 session has at most one).
        booking = next(iter(session.calendar_lesson_bookings), None)
        if booking is None or (
            booking.status == BookingStatus.PENDING and booking.expires_at is not None and booking.expires_at <= stamp
        ):
            # Only a request past its expiry, waiting for the sweep: the slot is free again.
            return None
        student = display_name(booking.student)
        summary = session.title or _("1:1 lesson with %(student)s") % {"student": student}
        description.append(_("Student: %(student)s") % {"student": student})
        if booking.status == BookingStatus.PENDING:
            status = "TENTATIVE"
            description.append(_("Request awaiting your decision."))
    else:
        summary = session.title or _("Group class")
        description.append(
            _("Seats taken: %(taken)s of %(capacity)s") % {"taken": session.seats_taken, "capacity": session.capacity}
        )
    meeting = _shows_meeting(viewer, session, None)
    if meeting:
        description.extend(_meeting_lines(session))
    return _event(
        uid=session_uid(session), start=session.start_at_utc, end=session.end_at_utc, stamp=stamp, summary=summary,
        description=description, status=status, url=session.meeting_url if meeting else "",
        modified=session.modified,
    )


def feed_events(user: Any, now: dt.datetime) -> list[tuple[dt.datetime, str, Any]]:
    """``(start, uid, VEVENT)`` for ``user``'s feed, nearest first, at most ``FEED_MAX_EVENTS``.

    Three queries at most, however many events: the bookings (with session and teacher), the
    sessions taught, and the active bookings of the 1:1 sessions among them (with student).
    """
    Booking, Session = get_booking_model(), get_session_model()
    since = now - FEED_PAST_WINDOW
    bookings = (
        Booking.objects.filter(
            student=user, status=BookingStatus.CONFIRMED, kind__in=[SessionKind.GROUP, SessionKind.ONE_ON_ONE],
            session__status=SessionStatus.SCHEDULED, end_at_utc__gte=since,
        )
        .select_related("session", "teacher")
        .order_by("start_at_utc", "pk")[:FEED_MAX_EVENTS]
    )
    sessions = (
        Session.objects.filter(teacher=user, status=SessionStatus.SCHEDULED, end_at_utc__gte=since)
        .prefetch_related(
            Prefetch(
                "bookings",
                # Only 1:1 bookings: the teacher's event names the student of a lesson, while a
                # group class shows its seat counter; loading group rosters would cost rows for nothing.
                queryset=Booking.objects.filter(kind=SessionKind.ONE_ON_ONE, status__in=ACTIVE_BOOKING_STATUSES)
                .select_related("student").order_by("pk"),
                to_attr="calendar_lesson_bookings",
            )
        )
        .order_by("start_at_utc", "pk")[:FEED_MAX_EVENTS]
    )
    events = [(b.start_at_utc, booking_uid(b), booking_event(b, stamp=now, viewer=user)) for b in bookings]
    for session in sessions:
        event = _session_event(session, stamp=now, viewer=user)
        if event is not None:
            events.append((session.start_at_utc, session_uid(session), event))
    events.sort(key=lambda item: (item[0], item[1]))
    return events[:FEED_MAX_EVENTS]


def feed_calendar(user: Any, now: dt.datetime) -> bytes:
    """The iCalendar feed of ``user``: confirmed bookings as a student, scheduled sessions as a teacher."""
    calendar = _new_calendar(_("Live classes"))
    ical = _icalendar()
    # Hints for subscribing clients on how often to poll (Apple/Google/Outlook read one or the other).
    calendar.add("refresh-interval", ical.vDuration(FEED_REFRESH_INTERVAL), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", ical.vDuration(FEED_REFRESH_INTERVAL))
    for _start, _uid, event in feed_events(user, _utc(now)):
        calendar.add_component(event)
    return calendar.to_ical()


def booking_calendar(booking: Any, *, now: dt.datetime | None = None, for_teacher: bool = False,
                     viewer: Any = None) -> bytes:
    """One booking as a calendar file (``booking-<pk>.ics``), in whatever state the booking is in.

    ``now`` (default: the adapter's clock) becomes the event's ``DTSTAMP``; ``for_teacher`` names
    the student instead of the teacher in an untitled lesson's summary.
    """
    if now is None:
        from .adapter import get_adapter

        now = get_adapter().now()
    calendar = _new_calendar(_booking_summary(booking, for_teacher=for_teacher))
    calendar.add_component(booking_event(booking, stamp=_utc(now), for_teacher=for_teacher, viewer=viewer))
    return calendar.to_ical()


def invitation(booking: Any, *, method: str, sequence: int, start: dt.datetime, end: dt.datetime,
               organizer: str, attendee: str, now: dt.datetime, for_teacher: bool = False,
               viewer: Any = None) -> bytes:
    """An iTIP invitation (RFC 5546) for one booking: ``METHOD:REQUEST`` to add or update the event,
    ``METHOD:CANCEL`` to remove it.

    The ``UID`` is the booking's (the same as in the feeds), ``SEQUENCE`` grows with each move, and
    ``start``/``end`` are the times the message tells about (they may differ from the booking's
    current ones when the message is sent late). ``organizer`` is the sending address and
    ``attendee`` the recipient's.
    """
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"method must be REQUEST or CANCEL, not {method!r}")
    ical = _icalendar()
    calendar = _new_calendar(_booking_summary(booking, for_teacher=for_teacher))
    calendar.pop("method")
    calendar.add("method", method)
    cancel = method == "CANCEL"
    session = booking.session
    meeting = not cancel and booking.status == BookingStatus.CONFIRMED and session.status == SessionStatus.SCHEDULED \
        and _shows_meeting(viewer, session, booking)
    description = [
        _("Teacher: %(teacher)s") % {"teacher": display_name(booking.teacher)},
        *(_meeting_lines(session) if meeting else []),
    ]
    event = _event(
        uid=booking_uid(booking), start=start, end=end, stamp=_utc(now),
        summary=_booking_summary(booking, for_teacher=for_teacher), description=description,
        status="CANCELLED" if cancel else "CONFIRMED", url=session.meeting_url if meeting else "",
    )
    event.add("sequence", max(int(sequence), 0))
    # A sender such as "School <bookings@school.example>": the address goes in the URI, the name in CN.
    name, address = parseaddr(_one_line(organizer))
    event.add("organizer", ical.vCalAddress(f"mailto:{address or _one_line(organizer)}"),
              parameters={"CN": name} if name else None)
    event.add("attendee", ical.vCalAddress(f"mailto:{parseaddr(_one_line(attendee))[1] or _one_line(attendee)}"),
              parameters={"ROLE": "REQ-PARTICIPANT", "PARTSTAT": "ACCEPTED", "RSVP": "FALSE"})
    calendar.add_component(event)
    return calendar.to_ical()
