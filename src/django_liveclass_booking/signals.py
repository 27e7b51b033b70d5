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
