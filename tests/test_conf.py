import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_liveclass_booking.adapter import DefaultBookingAdapter, get_adapter
from django_liveclass_booking.conf import booking_settings
from django_liveclass_booking.models import TeacherBookingPolicy
from django_liveclass_booking.policy.loader import get_rules


def test_defaults_apply_without_a_setting():
    assert booking_settings.SLOT_STEP_MINUTES == 15
    assert booking_settings.MAX_OCCURRENCES == 104
    assert booking_settings.REQUIRE_AVAILABILITY is True
    assert booking_settings.ADAPTER is DefaultBookingAdapter
    assert [type(rule).__name__ for rule in get_rules()] == [
        "ApprovalModeRule", "MinNoticeRule", "MaxAdvanceRule", "DailyLimitRule", "WeeklyLimitRule", "MaxPendingRule",
        "LessonDurationRule",
    ]


def test_settings_reload_when_changed():
    with override_settings(LIVECLASS_BOOKING={"MAX_OCCURRENCES": 12}):
        assert booking_settings.MAX_OCCURRENCES == 12
    assert booking_settings.MAX_OCCURRENCES == 104


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"MAX_OCURRENCES": 3}, "unknown keys ['MAX_OCURRENCES']"),
        ({"SLOT_STEP_MINUTES": 0}, "'SLOT_STEP_MINUTES'] must be a positive integer"),
        ({"SLOT_STEP_MINUTES": "15"}, "must be a positive integer"),
        ({"REQUIRE_AVAILABILITY": "yes"}, "must be True or False"),
        ({"ADAPTER": "nowhere.Adapter"}, "could not import 'nowhere.Adapter'"),
        ({"DEFAULT_POLICY": {"approval": "manual"}}, "unknown fields ['approval']"),
        ({"DEFAULT_POLICY": []}, "must be a dict"),
        ({"POLICY_RULES": [{"OPTIONS": {}}]}, "needs a 'NAME'"),
        ({"POLICY_RULES": "x.Rule"}, "must be a list"),
        ({"DEFAULT_POLICY": {"approval_mode": "Manual"}}, "approval_mode: Value 'Manual' is not a valid choice"),
        ({"DEFAULT_POLICY": {"timezone": "Mars/Base"}}, "timezone: Mars/Base is not a known IANA timezone"),
        ({"DEFAULT_POLICY": {"lesson_durations": [30, 0]}}, "lesson_durations: Lesson durations must be"),
    ],
)
def test_bad_settings_raise_improperly_configured_naming_the_key(value, fragment):
    key = next(iter(value))
    with override_settings(LIVECLASS_BOOKING=value), pytest.raises(ImproperlyConfigured) as exc:
        getattr(booking_settings, key if key in ("SLOT_STEP_MINUTES", "REQUIRE_AVAILABILITY", "ADAPTER",
                                                 "DEFAULT_POLICY", "POLICY_RULES") else "MAX_OCCURRENCES")
    assert fragment in str(exc.value)


def test_a_setting_that_is_not_a_dict_is_refused():
    with override_settings(LIVECLASS_BOOKING=["x"]), pytest.raises(ImproperlyConfigured, match="must be a dict"):
        booking_settings.MAX_OCCURRENCES  # noqa: B018


def test_an_unimportable_rule_is_reported():
    with (override_settings(LIVECLASS_BOOKING={"POLICY_RULES": [{"NAME": "nowhere.Rule"}]}),
          pytest.raises(ImproperlyConfigured, match="cannot import 'nowhere.Rule'")):
        get_rules()


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError):
        booking_settings.NOT_A_SETTING  # noqa: B018


class FrozenClockAdapter(DefaultBookingAdapter):
    pass


def test_the_adapter_is_reloaded_with_the_setting():
    with override_settings(LIVECLASS_BOOKING={"ADAPTER": "tests.test_conf.FrozenClockAdapter"}):
        assert isinstance(get_adapter(), FrozenClockAdapter)
    assert type(get_adapter()) is DefaultBookingAdapter


@pytest.mark.django_db
def test_default_policy_fills_a_teacher_without_a_row(make_user):
    teacher = make_user()
    with override_settings(LIVECLASS_BOOKING={"DEFAULT_POLICY": {"approval_mode": "manual", "timezone": "Asia/Tokyo"}}):
        policy = TeacherBookingPolicy.for_teacher(teacher)
    assert policy.pk is None
    assert (policy.approval_mode, policy.timezone, policy.waitlist_offer_ttl_minutes) == ("manual", "Asia/Tokyo", 60)


def test_swappable_settings_have_defaults():
    from django.conf import settings

    assert settings.LIVECLASS_BOOKING_SESSION_MODEL
    assert settings.LIVECLASS_BOOKING_BOOKING_MODEL


@pytest.mark.django_db
def test_teachers_never_share_the_mutable_defaults(make_user):
    first = TeacherBookingPolicy.for_teacher(make_user())
    first.lesson_durations.append(45)
    assert TeacherBookingPolicy.for_teacher(make_user()).lesson_durations == []


def test_a_host_app_listed_first_can_name_the_swappable_settings(tmp_path):
    """A host model module naming settings.LIVECLASS_BOOKING_BOOKING_MODEL may load before ours."""
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "__init__.py").write_text("")
    (tmp_path / "notes" / "models.py").write_text(
        "from django.conf import settings\nfrom django.db import models\n\n"
        "class Note(models.Model):\n"
        "    booking = models.ForeignKey(settings.LIVECLASS_BOOKING_BOOKING_MODEL, on_delete=models.CASCADE)\n"
    )
    script = (
        "import django\nfrom django.conf import settings\n"
        "settings.configure(USE_TZ=True, INSTALLED_APPS=['notes', 'django.contrib.contenttypes', "
        "'django.contrib.auth', 'django_liveclass_booking'], "
        "DATABASES={'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': ':memory:'}})\n"
        "django.setup()\nfrom notes.models import Note\n"
        "print(Note._meta.get_field('booking').related_model._meta.label)\n"
    )
    src = Path(__file__).resolve().parent.parent / "src"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": f"{tmp_path}:{src}", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "liveclass_booking.LiveClassBooking"


def test_importing_the_settings_module_loads_no_other_module_of_the_package():
    """Host settings and app registries may import it early: it must not drag in models or services."""
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import sys\nfrom django.conf import settings\nsettings.configure(USE_TZ=True)\n"
        "import django_liveclass_booking.conf\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('django_liveclass_booking'))))\n"
    )
    src = Path(__file__).resolve().parent.parent / "src"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django_liveclass_booking", "django_liveclass_booking.conf"]
