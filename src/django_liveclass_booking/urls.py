"""Optional views: ``path("booking/", include("django_liveclass_booking.urls"))`` in the host's URLconf.

Every page needs a logged-in user (``settings.LOGIN_URL``), except the calendar feed, which a
calendar program fetches with the secret token in its address.
"""

from django.urls import path

from .views import attendance, calendar, lessons, policy, reschedule, session_edit, site, student, teacher

app_name = "liveclass_booking"

urlpatterns = [
    # Students: group classes, the waitlist, their bookings.
    path("", student.session_list, name="session_list"),
    path("sessions/<int:pk>/", student.session_detail, name="session_detail"),
    path("sessions/<int:pk>/book/", student.book, name="book_seat"),
    path("sessions/<int:pk>/waitlist/", student.join_waitlist, name="join_waitlist"),
    path("sessions/<int:pk>/subscribe/", student.subscribe, name="subscribe"),
    path("bookings/", student.my_bookings, name="my_bookings"),
    path("bookings/<int:pk>/", student.booking_detail, name="booking_detail"),
    path("bookings/<int:pk>/cancel/", student.cancel, name="cancel_booking"),
    path("bookings/<int:pk>/reschedule/", reschedule.propose, name="propose_reschedule"),
    path("bookings/<int:pk>/move/", reschedule.move, name="move_booking"),
    path("bookings/<int:pk>/outcome/", attendance.record_outcome, name="record_outcome"),
    path("reschedule/<int:pk>/accept/", reschedule.accept, name="accept_reschedule"),
    path("reschedule/<int:pk>/decline/", reschedule.decline, name="decline_reschedule"),
    path("reschedule/<int:pk>/withdraw/", reschedule.withdraw, name="withdraw_reschedule"),
    path("waitlist/<int:pk>/accept/", student.accept_offer, name="accept_offer"),
    path("waitlist/<int:pk>/decline/", student.decline_offer, name="decline_offer"),
    path("waitlist/<int:pk>/leave/", student.leave_waitlist, name="leave_waitlist"),
    # Students: 1:1 lessons and weekly series with a teacher.
    path("teachers/", lessons.teacher_list, name="teacher_list"),
    path("teachers/<int:pk>/", lessons.request_lesson, name="request_lesson"),
    path("teachers/<int:pk>/series/", lessons.create_series, name="create_series"),
    path("series/<int:pk>/", lessons.series_detail, name="series_detail"),
    path("series/<int:pk>/cancel/", lessons.cancel_series, name="cancel_series"),
    path("timezone/", site.set_timezone, name="set_timezone"),
    path("timezones.json", site.timezone_names, name="timezone_names"),
    # Teachers.
    path("teach/", teacher.dashboard, name="teacher_dashboard"),
    path("teach/bookings/<int:pk>/confirm/", teacher.confirm_booking, name="confirm_booking"),
    path("teach/bookings/<int:pk>/decline/", teacher.decline_booking, name="decline_booking"),
    path("teach/series/<int:pk>/confirm/", teacher.confirm_series, name="confirm_series"),
    path("teach/series/<int:pk>/decline/", teacher.decline_series, name="decline_series"),
    path("teach/sessions/new/", teacher.schedule, name="schedule_session"),
    path("teach/sessions/<int:pk>/", teacher.session_roster, name="session_roster"),
    path("teach/sessions/<int:pk>/edit/", session_edit.edit_session, name="edit_session"),
    path("teach/sessions/<int:pk>/cancel/", teacher.cancel_session, name="cancel_session"),
    path("teach/policy/", policy.policy, name="teacher_policy"),
    path("teach/availability/", teacher.availability, name="teacher_availability"),
    path("teach/availability/<int:pk>/delete/", teacher.delete_availability, name="delete_availability"),
    path("teach/time-off/<int:pk>/delete/", teacher.delete_time_off, name="delete_time_off"),
    # Calendar feeds.
    path("calendar/", calendar.feed_settings, name="calendar_feed"),
    path("calendar/<str:token>.ics", calendar.feed, name="calendar_feed_ics"),
    path("bookings/<int:pk>/calendar.ics", calendar.booking_ics, name="booking_ics"),
]
