"""Settings of the example project: a school that swaps the session model for ``school.Lesson``."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "example-project-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_liveclass_booking",
    "school",
    # The HTTP API at /api/ (the package's `api` extra), signed in by session or by token.
    "rest_framework",
    "rest_framework.authtoken",
    # Swagger UI of the API's schema at /api-docs/ (its templates).
    "drf_spectacular",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After the sessions, before CommonMiddleware: each request is answered in the language of its
    # cookie (the switcher in the header sets it) or, failing that, of its Accept-Language header.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The school's own templates come first: they override the booking pages it restyles.
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                # LANGUAGE_CODE for the pages' <html lang>.
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # Whether the navigation shows the outbox (the adapter decides).
                "school.context_processors.school_nav",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("LIVECLASS_DEMO_DB", str(BASE_DIR / "db.sqlite3")),
        # Concurrent bookings then wait for the write lock instead of failing with "database is locked".
        "OPTIONS": {"transaction_mode": "IMMEDIATE"},
    }
}

# The booking app stores every time in UTC and requires this.
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
USE_I18N = True
# The languages the booking app ships catalogs for; the header's switcher offers these.
LANGUAGES = [
    ("en", "English"),
    ("es", "Español"),
    ("fr", "Français"),
    ("de", "Deutsch"),
    ("pt-br", "Português (Brasil)"),
]
# The school's own strings (its templates and pages); the booking app brings its own catalogs.
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LIVECLASS_BOOKING_SESSION_MODEL = "school.Lesson"
# Every booking costs a lesson credit, charged and refunded inside the booking transaction.
LIVECLASS_BOOKING = {
    "ADAPTER": "school.adapter.SchoolAdapter",
    # Every booking change tells the people concerned by email; `liveclass_demo --serve` also runs
    # process_due() in the background, so reminders, offers and expiries go out on their own.
    "NOTIFICATIONS": {
        "ENABLED": True,
        "SITE_URL": "http://127.0.0.1:8000",
        "SITE_NAME": "Riverside Online School",
    },
}

# The emails are written to files in a folder rather than printed by the console backend, so the
# runserver output stays readable; staff read them at /outbox/. The folder lies beside the SQLite
# database (a demo on another database file writes its own), and the backend creates it.
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = Path(DATABASES["default"]["NAME"]).parent / "sent_emails"
DEFAULT_FROM_EMAIL = "Riverside Online School <school@example.com>"

# The API takes a token (`Authorization: Token <key>`, `liveclass_demo` prints one per demo user)
# or the session of a signed-in browser. Token authentication comes first: DRF answers a request
# without credentials with the first class's challenge, so that is a 401 with
# `WWW-Authenticate: Token` rather than a 403. /api/ pages in a browser render the browsable API.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "liveclass_booking:session_list"
LOGOUT_REDIRECT_URL = "login"
