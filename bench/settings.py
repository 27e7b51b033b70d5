"""Benchmark settings. ``LIVECLASS_BENCH_DB`` (set by bench/run.py from ``--db``) picks the backend.

Server, user and password come from the same environment variables as ``tests/settings.py``; the
database is ``liveclass_bench`` (``LIVECLASS_BENCH_DB_NAME`` names another, so that two runs can share
one server), created fresh by the run and dropped at its end.
"""

import os
import tempfile

DB = os.environ.get("LIVECLASS_BENCH_DB", "postgres")
NAME = os.environ.get("LIVECLASS_BENCH_DB_NAME", "liveclass_bench")

if DB == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": NAME,
            "USER": os.environ.get("LIVECLASS_PG_USER", "postgres"),
            "PASSWORD": os.environ.get("LIVECLASS_PG_PASSWORD", ""),
            "HOST": os.environ.get("LIVECLASS_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("LIVECLASS_PG_PORT", "5432"),
            "TEST": {"NAME": NAME},
            # LIVECLASS_BENCH_SERVER_BINDING=1: psycopg binds parameters on the server.
            # LIVECLASS_BENCH_PREPARE_THRESHOLD=5 makes psycopg prepare a statement from its fifth run,
            # as the raw baseline's connection (psycopg's defaults) does. Without either, the OPTIONS
            # are Django's defaults (no prepare_threshold key at all: the package then prepares its
            # booking statement itself, see PREPARE_STATEMENTS).
            "OPTIONS": {
                **({"server_side_binding": True} if os.environ.get("LIVECLASS_BENCH_SERVER_BINDING") == "1" else {}),
                **({"prepare_threshold": int(os.environ["LIVECLASS_BENCH_PREPARE_THRESHOLD"])}
                   if os.environ.get("LIVECLASS_BENCH_PREPARE_THRESHOLD") else {}),
            },
        }
    }
elif DB in ("mariadb", "mysql"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": NAME,
            "USER": os.environ.get("LIVECLASS_MYSQL_USER", "root"),
            "PASSWORD": os.environ.get("LIVECLASS_MYSQL_PASSWORD", ""),
            "HOST": os.environ.get("LIVECLASS_MYSQL_HOST", "127.0.0.1"),
            "PORT": os.environ.get("LIVECLASS_MYSQL_PORT", "3306"),
            "OPTIONS": {"charset": "utf8mb4"},
            "TEST": {"NAME": NAME, "CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"},
        }
    }
elif DB == "sqlite":
    _path = os.path.join(tempfile.gettempdir(), f"{NAME}.sqlite3")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _path,
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 60},
            "TEST": {"NAME": _path},
        }
    }
else:
    raise RuntimeError(f"Unknown LIVECLASS_BENCH_DB={DB!r}: use postgres, mariadb or sqlite.")

SECRET_KEY = "bench-only-not-secret"
USE_TZ = True
TIME_ZONE = "UTC"
DEBUG = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django_liveclass_booking",
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
