"""Signals, sent only by the services, only after the transaction commits, once per transition.

Every signal is sent with ``sender`` = the model class of the object it is about. Receivers run
with ``robust=True`` semantics: an exception in one receiver is logged and does not stop the others
(the booking has committed by then).
"""

from django.dispatch import Signal

#: A booking was created ``pending``: the teacher must decide. kwargs: ``booking``.
booking_requested = Signal()
#: A booking became ``confirmed`` (created confirmed, or confirmed by the teacher). kwargs: ``booking``.
booking_confirmed = Signal()
#: A pending booking was declined. kwargs: ``booking``.
booking_declined = Signal()
#: A booking was cancelled (by the student, the teacher, the system, or with its session). kwargs: ``booking``.
booking_cancelled = Signal()
#: A pending request passed its time to live or its start. kwargs: ``booking``.
booking_expired = Signal()
#: A session was cancelled (its bookings each get ``booking_cancelled`` too). kwargs: ``session``.
session_cancelled = Signal()
#: A recurring booking series was created. kwargs: ``series``.
series_created = Signal()
#: A student joined a session's waitlist. kwargs: ``entry``.
waitlist_joined = Signal()
#: A freed seat was offered to a waiting student. kwargs: ``entry``.
waitlist_seat_offered = Signal()
#: A waiting student accepted an offer. kwargs: ``entry``, ``booking``.
waitlist_offer_accepted = Signal()
#: An offer passed its expiry without an answer. kwargs: ``entry``.
waitlist_offer_expired = Signal()
#: A new time was proposed for a 1:1 lesson and waits for the other party. kwargs: ``request``.
reschedule_requested = Signal()
#: A proposed new time was declined. kwargs: ``request``.
reschedule_declined = Signal()
#: A proposed new time was withdrawn by whoever proposed it. kwargs: ``request``.
reschedule_withdrawn = Signal()
#: A proposed new time passed its expiry without an answer. kwargs: ``request``.
reschedule_expired = Signal()
#: A booking moved to a new time or another session. kwargs: ``booking``, ``previous_start``, ``previous_end``.
booking_rescheduled = Signal()
#: A whole class moved to a new time (its bookings each get ``booking_rescheduled`` too). kwargs:
#: ``session``, ``previous_start``, ``previous_end``.
session_rescheduled = Signal()
#: A session's title, capacity or meeting details changed. kwargs: ``session``.
session_updated = Signal()
#: The outcome of a booking was recorded (``completed``, ``no_show``, ``teacher_no_show``, ``disputed``).
#: kwargs: ``booking``, ``outcome``.
booking_outcome_recorded = Signal()
