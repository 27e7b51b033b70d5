"""django-liveclass-booking: group live classes, 1:1 lessons, policies, series and a waitlist."""

__version__ = "0.1.0.dev0"
