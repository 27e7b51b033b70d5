"""Settings of the example project for ``bench/http_rush.py``: PostgreSQL through PgBouncer, as a pooled host runs.

The example project's settings, with these changes:

* ``DATABASES`` points at the database ``liveclass_rush`` through PgBouncer in transaction pooling
  mode (``LIVECLASS_RUSH_DB_PORT``, set by the script; the script itself seeds and checks the
  database on PostgreSQL's own port). A pooled host needs:

  - ``DISABLE_SERVER_SIDE_CURSORS = True``: a server-side cursor (``.iterator()``) lives across
    transactions, and in transaction pooling the next transaction may run on another server
    connection, where the cursor does not exist;
  - ``CONN_MAX_AGE = 0``: PgBouncer is the pool, so each request opens a cheap client connection
    to it and closes it at the end;
  - psycopg's default client-side binding (no ``server_side_binding``): prepared statements live in
    one server connection, which PgBouncer 1.18 in transaction pooling does not keep for a client;
  - no ``SET`` at connection time: PgBouncer's database entry sets ``timezone=UTC``, so Django
    finds the connection already in UTC and sends no ``SET TIME ZONE``.

* ``DEBUG = False``, a fast password hasher (1,000 students log in during a run), emails to the
  dummy backend (the outbox rows are still written in each booking's transaction), and errors
  logged to the console, where gunicorn's log shows the traceback of any 500.
"""

import os

from example_project.settings import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("LIVECLASS_RUSH_DB_NAME", "liveclass_rush"),
        "USER": os.environ.get("LIVECLASS_PG_USER", "postgres"),
        "PASSWORD": os.environ.get("LIVECLASS_PG_PASSWORD", ""),
        "HOST": "127.0.0.1",
        "PORT": os.environ.get("LIVECLASS_RUSH_DB_PORT", "5432"),
        "CONN_MAX_AGE": 0,
        "DISABLE_SERVER_SIDE_CURSORS": True,
        # Behind PgBouncer 1.18 in transaction pooling: nothing prepared, by psycopg or the package.
        "OPTIONS": {"prepare_threshold": None},
    }
}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False}},
}
