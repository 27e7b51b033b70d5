"""Test settings with a streaming PostgreSQL replica: ``default`` on 5432, ``replica`` on 5433.

The replica (``.ci/replica.sh``) copies the primary's whole cluster, so the test database Django
creates on the primary appears on it by replication: its ``TEST`` is ``{"MIRROR": "default"}``,
which makes Django use the test database's name and keep the replica's own host and port. The
replica router and the read-your-writes middleware are installed. Only the tests marked
``replica`` and ``concurrency`` run with these settings (see tests/conftest.py).
"""

import copy
import os

from .settings import *  # noqa: F403
from .settings import DATABASES, DB, MIDDLEWARE

if DB != "postgres":
    raise RuntimeError("tests.settings_replica needs PostgreSQL: set LIVECLASS_TEST_DB=postgres.")

_replica = copy.deepcopy(DATABASES["default"])
_replica["PORT"] = os.environ.get("LIVECLASS_PG_REPLICA_PORT", "5433")
_replica["TEST"] = {"MIRROR": "default"}

DATABASES = {"default": DATABASES["default"], "replica": _replica}
DATABASE_ROUTERS = ["django_liveclass_booking.routers.ReplicaRouter"]
LIVECLASS_BOOKING_REPLICAS = {"default": ["replica"]}
LIVECLASS_BOOKING_READ_YOUR_WRITES_SECONDS = 30
MIDDLEWARE = ["django_liveclass_booking.routers.ReadYourWritesMiddleware", *MIDDLEWARE]
