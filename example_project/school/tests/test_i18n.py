"""The school in the visitor's language: LocaleMiddleware reads the switcher's cookie or the browser's
Accept-Language, and refusals read in that language on the pages and in the API, whatever the code.

Run by tests/test_example_credits.py with the rest of the school's tests.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import translation

from django_liveclass_booking import services
from django_liveclass_booking.errors import message_for
from school.adapter import add_credits
from school.models import CreditEntry, Lesson

pytestmark = pytest.mark.django_db

START = dt.datetime(2030, 5, 7, 9, 0, tzinfo=dt.UTC)  # a Tuesday, ahead of the real clock
_names = itertools.count(1)


def make_user(prefix: str, credits: int = 0) -> Any:
    user = get_user_model().objects.create_user(f"{prefix}{next(_names)}", password="pw")
    if credits:
        with transaction.atomic():
            add_credits(user, credits, CreditEntry.Reason.GIFT)
    return user


@pytest.fixture
def full_class() -> Lesson:
    """A one-seat class whose seat another student has taken."""
    teacher = make_user("teacher")
    lesson = services.schedule_session(teacher, start=START, duration=60, capacity=1, title="Algebra",
                                       now=START - dt.timedelta(days=2))
    services.book_seat(make_user("first", credits=1), lesson, now=START - dt.timedelta(days=2))
    return lesson  # type: ignore[return-value]


def spanish(code: str, **params: Any) -> str:
    with translation.override("es"):
        return message_for(code, params)


def test_the_five_languages_are_offered_and_the_switcher_posts_to_set_language() -> None:
    assert [code for code, _ in settings.LANGUAGES] == ["en", "es", "fr", "de", "pt-br"]
    page = Client().get(reverse("login"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert f'action="{reverse("set_language")}"' in page
    assert '<select id="school-language" name="language">' in page
    assert '<option value="es" lang="es" selected>Español</option>' in page
    assert '<html lang="es">' in page and "Iniciar sesión" in page and "Cuentas de demostración" in page
    # No inline script or style: only the static script file.
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/liveclass_booking/liveclass_booking.js" defer>']
    assert "<style" not in page and " style=" not in page


def test_the_switcher_keeps_the_choice_in_a_cookie() -> None:
    client = Client()
    response = client.post(reverse("set_language"), {"language": "fr", "next": reverse("login")})
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fr"
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert '<html lang="fr">' in page and "Se connecter" in page  # the cookie wins over the header


def test_booking_a_full_class_is_refused_in_spanish(full_class: Lesson) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="es")
    client.force_login(make_user("student", credits=1))
    response = client.post(reverse("liveclass_booking:book_seat", args=[full_class.pk]))
    page = response.content.decode()
    expected = spanish("session_full")
    assert expected.startswith("Esta sesión no tiene ninguna plaza libre")
    assert f'<div role="alert" id="action-error"><ul class="errorlist"><li>{expected}</li></ul></div>' in page
    assert "no free seat" not in page
    # Dates follow the language too: Django's localisation names the day and month in Spanish.
    listing = client.get(reverse("liveclass_booking:session_list")).content.decode()
    spanish_day = "<td>mar, 7 de mayo de 2030 a las 09:00–10:00 (UTC)</td>"  # martes
    assert re.findall(r"<td>[^<]*2030[^<]*</td>", listing) == [spanish_day]
    listing = client.get(reverse("liveclass_booking:session_list"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert re.findall(r"<td>[^<]*2030[^<]*</td>", listing) == ["<td>Di, 7. Mai 2030 09:00–10:00 (UTC)</td>"]


def test_a_host_code_reads_in_the_language_of_the_page() -> None:
    # The school's own no_credits refusal: a lazy message, rendered when the page shows it.
    teacher = make_user("teacher")
    lesson = services.schedule_session(teacher, start=START, duration=60, capacity=3, title="Algebra",
                                       now=START - dt.timedelta(days=2))
    client = Client(HTTP_ACCEPT_LANGUAGE="de")
    client.force_login(make_user("broke"))
    page = client.post(reverse("liveclass_booking:book_seat", args=[lesson.pk])).content.decode()
    assert "Sie haben keine Credits für Stunden mehr." in page


def test_the_credit_page_and_its_flash_message_in_portuguese() -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="pt-BR")
    client.force_login(make_user("student", credits=1))
    page = client.post(reverse("buy_credits"), follow=True).content.decode()
    assert "5 créditos adicionados: seu saldo é 6." in page
    assert 'Saldo: <strong id="credit-balance">6</strong> créditos.' in page
    assert "Créditos de boas-vindas" in page and "Compra" in page


def test_the_api_answers_a_refusal_in_the_requests_language(full_class: Lesson) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="es")
    client.force_login(make_user("student", credits=1))
    response = client.post(f"/api/sessions/{full_class.pk}/bookings/", content_type="application/json",
                           HTTP_IDEMPOTENCY_KEY="full-class")
    assert response.status_code == 409, response.content
    answer = json.loads(response.content)
    assert answer["code"] == "session_full"  # the stable code, whatever the language
    assert answer["detail"] == spanish("session_full", **answer["params"])
    assert response["Content-Language"] == "es"
    english = Client()
    english.force_login(make_user("student", credits=1))
    answer = json.loads(english.post(f"/api/sessions/{full_class.pk}/bookings/", content_type="application/json",
                                     HTTP_IDEMPOTENCY_KEY="full-class-en").content)
    assert answer["code"] == "session_full" and answer["detail"].startswith("This session has no free seat")
