"""The admin's read-only history: booking events (inline and list), reschedule proposals, the outcome statuses."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_liveclass_booking import legacy, services
from django_liveclass_booking.admin import (
    BookingEventAdmin,
    BookingEventInline,
    LiveClassBookingAdmin,
    LiveClassSessionAdmin,
    RescheduleRequestAdmin,
)
from django_liveclass_booking.admin.history import describe
from django_liveclass_booking.models import (
    BookingEvent,
    BookingStatus,
    RescheduleRequest,
    get_booking_model,
    get_session_model,
)

pytestmark = pytest.mark.django_db

if settings.LIVECLASS_BOOKING_BOOKING_MODEL != "liveclass_booking.LiveClassBooking":
    # What a host's admin.py does for swapped models (see test_admin.py); before the first URLconf load.
    for model, model_admin in ((get_session_model(), LiveClassSessionAdmin),
                               (get_booking_model(), LiveClassBookingAdmin)):
        if not admin.site.is_registered(model):
            admin.site.register(model, model_admin)

Session, Booking = get_session_model(), get_booking_model()
NOW = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)


def url(obj_or_model: Any, view: str, *args: Any) -> str:
    opts = obj_or_model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def in_days(days: int, hour: int = 10) -> dt.datetime:
    day = (timezone.now() + dt.timedelta(days=days)).date()
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def new_user(username: str) -> Any:
    return get_user_model().objects.create_user(username=username, email=f"{username}@example.com", password="pw")


@pytest.fixture
def teacher() -> Any:
    return new_user("teacher")


@pytest.fixture
def student() -> Any:
    return new_user("student")


@pytest.fixture
def session(teacher: Any) -> Any:
    return services.schedule_session(teacher, start=in_days(3), duration=60, capacity=5, title="Algebra")


@pytest.fixture
def cancelled(session: Any, student: Any) -> Any:
    """A booking made and then cancelled by its student: two events."""
    booking = services.book_seat(student, session)
    return services.cancel_booking(booking, actor=student, reason="Feeling ill")


@pytest.fixture
def proposal(cancelled: Any, student: Any) -> RescheduleRequest:
    start = in_days(5)
    return RescheduleRequest.objects.create(
        booking=cancelled, proposed_by=student, start_at_utc=start, end_at_utc=start + dt.timedelta(hours=1),
        previous_start_at_utc=cancelled.start_at_utc, previous_end_at_utc=cancelled.end_at_utc,
        expires_at=start - dt.timedelta(hours=2), message="Could we move it?",
    )


@pytest.fixture
def imported(make_user: Any) -> Any:
    """Bookings with outcomes, as the legacy import writes them: completed, no_show, confirmed."""
    for name in ("t.jones", "alice", "bob", "carol"):
        make_user(name)
    rows = {
        "sessions": [dict(id=1, teacher="t.jones", scheduled_start="2026-04-27T18:00:00Z", timezone="UTC",
                          duration_minutes=45, total_seats=4, status="completed")],
        "bookings": [dict(id=1, student="alice", session=1, status="attended"),
                     dict(id=2, student="bob", session=1, status="no_show"),
                     dict(id=3, student="carol", session=1, status="confirmed")],
    }
    report = legacy.import_rows(rows, apply=True, now=NOW)
    assert report.bookings_created == 3, report.problems
    return {b.external_ref: b for b in Booking.objects.all()}


def inline_events(response: Any) -> list[BookingEvent]:
    (formset,) = [f for f in response.context["inline_admin_formsets"] if isinstance(f.opts, BookingEventInline)]
    return [form.instance for form in formset.formset.forms]


# --- pages render -----------------------------------------------------------------------------------


def test_history_and_proposal_pages_render(admin_client: Any, cancelled: Any, proposal: RescheduleRequest) -> None:
    event = BookingEvent.objects.filter(booking=cancelled).last()
    assert event is not None
    for page in (url(BookingEvent, "changelist"), url(event, "change", event.pk),
                 url(RescheduleRequest, "changelist"), url(proposal, "change", proposal.pk),
                 url(Booking, "change", cancelled.pk), url(Booking, "changelist")):
        assert admin_client.get(page).status_code == 200, page


def test_the_proposal_list_shows_its_columns_and_filters_by_status(admin_client: Any,
                                                                    proposal: RescheduleRequest) -> None:
    response = admin_client.get(url(RescheduleRequest, "changelist"))
    text = response.content.decode()
    assert str(proposal) in text and "student" in text and "Awaiting an answer" in text
    assert list(response.context["cl"].result_list) == [proposal]
    assert "Could we move it?" in admin_client.get(url(proposal, "change", proposal.pk)).content.decode()
    pending = admin_client.get(url(RescheduleRequest, "changelist"), {"status__exact": "pending"})
    assert list(pending.context["cl"].result_list) == [proposal]
    declined = admin_client.get(url(RescheduleRequest, "changelist"), {"status__exact": "declined"})
    assert list(declined.context["cl"].result_list) == []
    found = admin_client.get(url(RescheduleRequest, "changelist"), {"q": f"#{proposal.booking_id}"})
    assert list(found.context["cl"].result_list) == [proposal]


# --- the booking's history inline -------------------------------------------------------------------


def test_the_booking_page_shows_its_history_in_order(admin_client: Any, cancelled: Any, student: Any) -> None:
    response = admin_client.get(url(Booking, "change", cancelled.pk))
    events = inline_events(response)
    assert [e.kind for e in events] == ["confirmed", "cancelled"]
    assert events[-1].actor == student
    text = response.content.decode()
    assert "History" in text and "Feeling ill" in text and ">student<" in text
    assert "status: cancelled" in text


def test_the_history_inline_allows_no_add_change_or_delete(rf: Any, admin_user: Any, cancelled: Any) -> None:
    request = rf.get("/")
    request.user = admin_user
    inline = BookingEventInline(Booking, admin.site)
    assert not inline.has_add_permission(request, cancelled)
    assert not inline.has_change_permission(request, cancelled)
    assert not inline.has_delete_permission(request, cancelled)
    assert inline.has_view_permission(request, cancelled)
    assert isinstance(admin.site._registry[Booking], LiveClassBookingAdmin)
    assert BookingEventInline in admin.site._registry[Booking].inlines


def test_a_post_of_the_booking_page_leaves_the_history_alone(admin_client: Any, cancelled: Any) -> None:
    before = list(BookingEvent.objects.order_by("pk").values())
    events = [row["id"] for row in before]
    data: dict[str, Any] = {"events-TOTAL_FORMS": len(events) + 1, "events-INITIAL_FORMS": len(events),
                            "events-MIN_NUM_FORMS": 0, "events-MAX_NUM_FORMS": 1000, "_save": "Save"}
    for i, pk in enumerate(events):
        data |= {f"events-{i}-id": pk, f"events-{i}-booking": cancelled.pk, f"events-{i}-kind": "imported",
                 f"events-{i}-DELETE": "on"}
    data |= {f"events-{len(events)}-kind": "disputed", f"events-{len(events)}-at": "2026-01-01 00:00"}
    response = admin_client.post(url(Booking, "change", cancelled.pk), data)
    assert response.status_code == 302
    assert list(BookingEvent.objects.order_by("pk").values()) == before


# --- the events list --------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [BookingEvent, RescheduleRequest])
def test_nothing_is_added_changed_or_deleted_here(admin_client: Any, proposal: RescheduleRequest, model: Any) -> None:
    obj = model.objects.first()
    assert admin_client.get(url(model, "add")).status_code == 403
    assert admin_client.post(url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    before = list(model.objects.values())
    response = admin_client.post(url(model, "change", obj.pk), {"kind": "imported", "status": "declined"})
    assert response.status_code == 403
    assert list(model.objects.values()) == before
    model_admin = admin.site._registry[model]
    assert isinstance(model_admin, BookingEventAdmin | RescheduleRequestAdmin)
    assert "delete_selected" not in model_admin.get_actions(response.wsgi_request)


def test_events_filter_by_kind_and_search_by_booking(admin_client: Any, cancelled: Any, imported: Any) -> None:
    changelist = url(BookingEvent, "changelist")

    def listed(**params: str) -> list[tuple[Any, str]]:
        response = admin_client.get(changelist, params)
        assert response.status_code == 200
        return sorted((e.booking_id, e.kind) for e in response.context["cl"].result_list)

    assert listed(kind__exact="cancelled") == [(cancelled.pk, "cancelled")]
    assert len(listed(kind__exact="imported")) == 3
    assert listed(q=str(cancelled.pk)) == [(cancelled.pk, "cancelled"), (cancelled.pk, "confirmed")]
    assert listed(q=f"#{cancelled.pk}") == listed(q=str(cancelled.pk))
    alice = imported["bookings:1"]
    assert listed(q="bookings:1") == [(alice.pk, "imported")]  # the external reference
    assert listed(q="no such booking") == []
    assert listed(q="#") == []


def test_the_events_list_shows_the_details_readably(admin_client: Any, imported: Any) -> None:
    text = admin_client.get(url(BookingEvent, "changelist"), {"kind__exact": "imported"}).content.decode()
    assert "legacy_status: attended" in text and "legacy_ref: bookings:2" in text
    event = BookingEvent.objects.get(booking=imported["bookings:1"])
    page = admin_client.get(url(event, "change", event.pk)).content.decode()
    assert "legacy_ref: bookings:1<br>legacy_status: attended<br>source: import<br>status: completed" in page


def test_describe_escapes_and_formats_values() -> None:
    assert describe({}) is None and describe(None) is None
    assert describe({"status": "cancelled", "reason": "<b>late</b>"}) == (
        "reason: &lt;b&gt;late&lt;/b&gt;<br>status: cancelled")
    assert describe({"seats": 2, "times": {"from": "09:00", "to": "10:00"}}) == (
        'seats: 2<br>times: {&quot;from&quot;: &quot;09:00&quot;, &quot;to&quot;: &quot;10:00&quot;}')
    assert describe(["odd"]) == "[&quot;odd&quot;]"  # type: ignore[arg-type]


def test_the_events_list_query_count_does_not_grow_with_rows(admin_client: Any, session: Any) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get(url(BookingEvent, "changelist")).status_code == 200
        return len(ctx.captured_queries)

    first = services.book_seat(new_user("s0"), session)
    services.cancel_booking(first, actor=first.student)
    one = queries()
    for i in range(1, 4):
        services.book_seat(new_user(f"s{i}"), session)
    assert queries() == one


# --- the outcome statuses in the booking admin ---------------------------------------------------------


def test_the_booking_status_filter_and_column_show_the_outcomes(admin_client: Any, imported: Any) -> None:
    response = admin_client.get(url(Booking, "changelist"))
    (status_filter,) = [f for f in response.context["cl"].filter_specs if getattr(f, "field_path", "") == "status"]
    labels = {str(choice["display"]) for choice in status_filter.choices(response.context["cl"])}
    for status in (BookingStatus.COMPLETED, BookingStatus.NO_SHOW, BookingStatus.TEACHER_NO_SHOW,
                   BookingStatus.DISPUTED):
        assert str(status.label) in labels
    completed = admin_client.get(url(Booking, "changelist"), {"status__exact": "completed"})
    assert list(completed.context["cl"].result_list) == [imported["bookings:1"]]
    assert "Student did not attend" in response.content.decode()
    page = admin_client.get(url(Booking, "change", imported["bookings:2"].pk))
    assert [e.kind for e in inline_events(page)] == ["imported"]
    assert "Student did not attend" in page.content.decode()


def test_a_manager_accepts_and_declines_proposals_from_the_list(admin_client: Any, settings: Any, teacher: Any,
                                                                 student: Any) -> None:
    settings.LIVECLASS_BOOKING = {"REQUIRE_AVAILABILITY": False}
    services.set_policy(teacher, approval_mode="manual", timezone="UTC")
    lessons = []
    for day in (2, 3):
        start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=day)
        lessons.append(services.request_lesson(student, teacher, start=start, duration=60))
    services.set_policy(teacher, approval_mode="auto")
    proposals = [services.request_reschedule(b, start=b.start_at_utc + dt.timedelta(hours=2), actor=teacher)
                 for b in lessons]
    changelist = url(RescheduleRequest, "changelist")
    response = admin_client.post(changelist, {"action": "accept_proposals", "_selected_action": [proposals[0].pk]})
    assert response.status_code == 302
    response = admin_client.post(changelist, {"action": "decline_proposals", "_selected_action": [proposals[1].pk],
                                              "reason": "The room is taken"})
    assert response.status_code == 302
    first, second = (RescheduleRequest.objects.get(pk=p.pk) for p in proposals)
    assert (first.status, second.status, second.reason) == ("accepted", "declined", "The room is taken")
    moved = get_booking_model().objects.get(pk=lessons[0].pk)
    assert moved.start_at_utc == proposals[0].start_at_utc
    assert list(moved.events.values_list("kind", flat=True)) == ["requested", "rescheduled"]
    # A second accept of an answered proposal is refused by the service and reported, not applied.
    response = admin_client.post(changelist, {"action": "accept_proposals", "_selected_action": [proposals[1].pk]},
                                 follow=True)
    assert "invalid_transition" in response.content.decode()
