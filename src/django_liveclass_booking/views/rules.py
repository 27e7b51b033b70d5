"""What a booking page states up front: the teacher's rules, and what the viewer can do now.

The rules come from the teacher's policy as stored; whether the viewer may book a seat is the
services' own dry run (``services.check_booking``) and the adapter's ``can_book_for``, so a page
never offers a button the service would refuse, and no rule is written twice.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.utils import timezone as dj_timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .. import services
from ..adapter import get_adapter
from ..errors import message_for
from ..exceptions import BookingError
from ..models import ApprovalMode, SessionWaitlist, TeacherBookingPolicy, WaitlistStatus

#: Refusals of a seat that joining the waitlist answers (any other refusal stands for both).
FULL_CODES = frozenset({"session_full"})


def human_minutes(minutes: int) -> str:
    """``minutes`` in the largest whole unit that reads well: "2 days", "3 hours", "90 minutes"."""
    if minutes and minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    if minutes and minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


def policy_rules(policy: TeacherBookingPolicy, tz: zoneinfo.ZoneInfo, *, start: dt.datetime | None = None,
                 group: bool = True) -> dict[str, Any]:
    """The rules of ``policy`` as ``liveclass_booking/_rules.html`` shows them.

    ``start``: the session's start, for the cancellation deadline as a time in ``tz``. ``group``:
    whether the waitlist applies (1:1 lessons have none).
    """
    cutoff_hours = policy.cancellation_cutoff_hours or 0
    deadline = None
    if start is not None and cutoff_hours:
        deadline = dj_timezone.localtime(start - dt.timedelta(hours=cutoff_hours), tz)
    limits = []
    if policy.max_bookings_per_day:
        limits.append(ngettext("at most %(count)d booking a day with this teacher",
                               "at most %(count)d bookings a day with this teacher",
                               policy.max_bookings_per_day) % {"count": policy.max_bookings_per_day})
    if policy.max_bookings_per_week:
        limits.append(ngettext("at most %(count)d booking a week with this teacher",
                               "at most %(count)d bookings a week with this teacher",
                               policy.max_bookings_per_week) % {"count": policy.max_bookings_per_week})
    if policy.max_pending_requests:
        limits.append(ngettext("at most %(count)d request waiting for an answer at a time",
                               "at most %(count)d requests waiting for an answer at a time",
                               policy.max_pending_requests) % {"count": policy.max_pending_requests})
    if policy.min_notice_minutes:
        limits.append(_("book at least %(notice)s ahead") % {"notice": human_minutes(policy.min_notice_minutes)})
    if policy.max_advance_days:
        limits.append(_("book at most %(days)s ahead") % {"days": human_minutes(policy.max_advance_days * 24 * 60)})
    return {
        "approval_mode": policy.approval_mode,
        "instant": policy.approval_mode == ApprovalMode.AUTO,
        "new_students_only": policy.approval_mode == ApprovalMode.MANUAL_FOR_NEW_STUDENTS,
        "request_ttl": human_minutes(policy.request_ttl_hours * 60) if policy.request_ttl_hours else "",
        "cutoff": human_minutes(cutoff_hours * 60) if cutoff_hours else "",
        "cancel_deadline": deadline,
        "allow_late": policy.allow_late_cancellation,
        "limits": limits,
        "waitlist": group,
        "waitlist_enabled": policy.waitlist_enabled,
        "offer_ttl": human_minutes(policy.waitlist_offer_ttl_minutes),
        "zone": tz.key,
    }


def seat_choice(user: Any, session: Any) -> dict[str, Any]:
    """What the session page offers ``user``: book, join the waitlist, or neither, and why.

    ``can_book``/``can_wait`` and ``refusals`` (the messages of what stands in the way) come from
    the adapter and the services' dry run; ``pending``: whether a booking would await approval.
    """
    adapter = get_adapter()
    if not adapter.can_book_for(user, user):
        return {"can_book": False, "can_wait": False, "pending": False,
                "refusals": [message_for("not_allowed")]}
    try:
        decision = services.check_booking(user, session=session)
    except BookingError as exc:
        return {"can_book": False, "can_wait": False, "pending": False, "refusals": [str(exc)]}
    full = bool(set(decision.codes) & FULL_CODES)
    # Messages in order, each once: several rules may say the same thing.
    others = list(dict.fromkeys(v.message for v in decision.violations if v.code not in FULL_CODES))
    waitlist = TeacherBookingPolicy.for_teacher(session.teacher_id).waitlist_enabled
    if full and not others and not waitlist:
        # session_full's message points to the waitlist, which this teacher does not keep.
        others = [_("This class is full.")]
    return {"can_book": decision.allowed, "can_wait": full and not others and waitlist,
            "pending": decision.requires_approval, "refusals": others}


def waitlist_place(entry: SessionWaitlist | None) -> dict[str, int]:
    """The viewer's place among those still waiting and how many wait ("place 2 of 2")."""
    if entry is None or entry.status != WaitlistStatus.WAITING:
        return {}
    waiting = SessionWaitlist.objects.filter(session_id=entry.session_id, status=WaitlistStatus.WAITING)
    ahead = waiting.filter(position__lt=entry.position).count()
    return {"place": ahead + 1, "of": waiting.count()}
