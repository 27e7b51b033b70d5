"""Test settings. ``LIVECLASS_TEST_DB`` picks the backend: sqlite (default), postgres or mariadb."""

import os
import tempfile

DB = os.environ.get("LIVECLASS_TEST_DB", "sqlite")
# Lets several test runs share one server without sharing a test database.
SUFFIX = os.environ.get("LIVECLASS_TEST_DB_SUFFIX", "")

# LIVECLASS_PG_POOLED=1: the tests connect as a host behind PgBouncer in transaction pooling does
# (.ci/pgbouncer.sh starts one on 127.0.0.1:6432, the default port then). The test database is created,
# migrated and dropped through PgBouncer too (its "*" entry reaches any database), as a host's
# deployment would migrate. tests/conftest.py refuses to run when no PgBouncer in transaction pooling
# answers there, refuses statements whose state would outlive their transaction, and ends PgBouncer's
# idle server connections to the test database before the runner drops it.
PG_POOLED = os.environ.get("LIVECLASS_PG_POOLED") == "1"
# LIVECLASS_PG_SERVER_BINDING=1: psycopg binds parameters on the server (Django's default binds them
# on the client).
PG_SERVER_BINDING = os.environ.get("LIVECLASS_PG_SERVER_BINDING") == "1"

if DB == "postgres":
    PG_OPTIONS: dict[str, object] = {}
    if PG_SERVER_BINDING:
        PG_OPTIONS["server_side_binding"] = True
    if PG_POOLED:
        # A statement psycopg prepares by name lives on one server connection; the next transaction
        # may run on another, where it does not exist. None never prepares (Django's default, said
        # here so that no default can change it).
        PG_OPTIONS["prepare_threshold"] = None
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("LIVECLASS_PG_NAME", "test"),
            "USER": os.environ.get("LIVECLASS_PG_USER", "postgres"),
            "PASSWORD": os.environ.get("LIVECLASS_PG_PASSWORD", ""),
            "HOST": os.environ.get("LIVECLASS_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("LIVECLASS_PG_PORT", "6432" if PG_POOLED else "5432"),
            "OPTIONS": PG_OPTIONS,
            # A server-side cursor (.iterator()) outside a transaction is declared WITH HOLD and read
            # in later transactions, which PgBouncer may send to another server connection.
            "DISABLE_SERVER_SIDE_CURSORS": PG_POOLED,
            "TEST": {"NAME": f"test_liveclass_booking{SUFFIX}"},
        }
    }
elif DB in ("mariadb", "mysql"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": os.environ.get("LIVECLASS_MYSQL_NAME", "test"),
            "USER": os.environ.get("LIVECLASS_MYSQL_USER", "root"),
            "PASSWORD": os.environ.get("LIVECLASS_MYSQL_PASSWORD", ""),
            "HOST": os.environ.get("LIVECLASS_MYSQL_HOST", "127.0.0.1"),
            "PORT": os.environ.get("LIVECLASS_MYSQL_PORT", "3306"),
            "OPTIONS": {"charset": "utf8mb4"},
            "TEST": {
                "NAME": f"test_liveclass_booking{SUFFIX}", "CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci",
            },
        }
    }
elif DB == "sqlite":
    # A file, not :memory:, so that threads in the concurrency tests share one database and
    # wait for each other's write lock (IMMEDIATE) instead of failing on a shared-cache lock.
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(tempfile.gettempdir(), "liveclass_booking_dev.sqlite3"),
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30},
            "TEST": {"NAME": os.path.join(tempfile.gettempdir(), f"liveclass_booking_test_{os.getpid()}.sqlite3")},
        }
    }
else:
    raise RuntimeError(f"Unknown LIVECLASS_TEST_DB={DB!r}: use sqlite, postgres or mariadb.")

SECRET_KEY = "tests-only-not-secret"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_liveclass_booking",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # The pages must work under a strict policy: no inline script or style (see tests/csp.py).
    "tests.csp.StrictContentSecurityPolicyMiddleware",
]
ROOT_URLCONF = "tests.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(os.path.dirname(__file__), "templates")],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
# The live server of the browser tests serves static files under this prefix.
STATIC_URL = "/static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
