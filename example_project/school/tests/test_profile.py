"""The school keeps each person's time zone on their profile: it outlives logging out."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from school.models import Profile

pytestmark = pytest.mark.django_db


def test_the_zone_sent_by_the_browser_is_kept_across_logins(client: Any) -> None:
    user = get_user_model().objects.create_user("s.zone", password="demo")
    client.force_login(user)
    assert "data-detect-timezone" in client.get(reverse("liveclass_booking:my_bookings")).content.decode()
    response = client.post(reverse("liveclass_booking:set_timezone"), {"timezone": "america/new_york", "detected": "1"})
    assert response.status_code == 204
    assert Profile.objects.get(user=user).timezone == "America/New_York"
    client.logout()
    client.force_login(user)
    page = client.get(reverse("liveclass_booking:my_bookings")).content.decode()
    assert "Times in America/New_York" in page and "data-detect-timezone" not in page


def test_refusals_look_like_the_schools_pages(client: Any) -> None:
    user = get_user_model().objects.create_user("s.lost", password="demo")
    client.force_login(user)
    response = client.get("/teach/")
    assert response.status_code == 403 and "Riverside Online School" in response.content.decode()
    response = client.get("/bookings/999999/")
    assert response.status_code == 404 and "Riverside Online School" in response.content.decode()
