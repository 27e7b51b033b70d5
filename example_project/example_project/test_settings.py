"""The example project's settings for its own tests, on the database ``LIVECLASS_TEST_DB`` names.

``sqlite`` (default), ``postgres`` or ``mariadb``, with the same connection variables as the
package's tests (tests/settings.py); ``LIVECLASS_TEST_DB_SUFFIX`` keeps parallel runs apart.
"""

import os
import tempfile

from .settings import *  # noqa: F403

DB = os.environ.get("LIVECLASS_TEST_DB", "sqlite")
TEST_NAME = f"test_liveclass_school{os.environ.get('LIVECLASS_TEST_DB_SUFFIX', '')}"

if DB == "postgres":
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("LIVECLASS_PG_NAME", "test"),
        "USER": os.environ.get("LIVECLASS_PG_USER", "postgres"),
        "PASSWORD": os.environ.get("LIVECLASS_PG_PASSWORD", ""),
        "HOST": os.environ.get("LIVECLASS_PG_HOST", "127.0.0.1"),
        "PORT": os.environ.get("LIVECLASS_PG_PORT", "5432"),
        "TEST": {"NAME": TEST_NAME},
    }}
elif DB in ("mariadb", "mysql"):
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.mysql",
        "NAME": os.environ.get("LIVECLASS_MYSQL_NAME", "test"),
        "USER": os.environ.get("LIVECLASS_MYSQL_USER", "root"),
        "PASSWORD": os.environ.get("LIVECLASS_MYSQL_PASSWORD", ""),
        "HOST": os.environ.get("LIVECLASS_MYSQL_HOST", "127.0.0.1"),
        "PORT": os.environ.get("LIVECLASS_MYSQL_PORT", "3306"),
        "OPTIONS": {"charset": "utf8mb4"},
        "TEST": {"NAME": TEST_NAME, "CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"},
    }}
elif DB == "sqlite":
    # A file, so that the threads of the race tests share one database and wait for its write lock.
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(tempfile.gettempdir(), "liveclass_school_dev.sqlite3"),
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30},
        "TEST": {"NAME": os.path.join(tempfile.gettempdir(), f"{TEST_NAME}_{os.getpid()}.sqlite3")},
    }}
else:
    raise RuntimeError(f"Unknown LIVECLASS_TEST_DB={DB!r}: use sqlite, postgres or mariadb.")

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The tests read the messages from django.core.mail.outbox; nothing is written beside the database.
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
