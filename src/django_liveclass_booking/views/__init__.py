"""Optional views for students and teachers; include ``django_liveclass_booking.urls`` to use them."""
