"""Test settings with a router that puts the booking models, users and content types on ``booking``.

Two aliases of the same backend (``LIVECLASS_TEST_DB``): ``default`` keeps sessions, ``booking``
the rest (see tests.routers). Only the tests marked ``router`` run with these settings.
"""

import copy
import os
import tempfile

from .settings import *  # noqa: F403
from .settings import DATABASES, DB, SUFFIX

if DB == "sqlite":
    # Two files, each with IMMEDIATE transactions, so that threads wait for the booking file's write lock.
    _booking = copy.deepcopy(DATABASES["default"])
    _booking["NAME"] = os.path.join(tempfile.gettempdir(), "liveclass_booking_b_dev.sqlite3")
    _booking["TEST"] = {"NAME": os.path.join(tempfile.gettempdir(), f"liveclass_booking_b_test_{os.getpid()}.sqlite3")}
else:
    _booking = copy.deepcopy(DATABASES["default"])
    _booking["TEST"]["NAME"] = f"test_liveclass_booking_b{SUFFIX}"

DATABASES = {"default": DATABASES["default"], "booking": _booking}
DATABASE_ROUTERS = ["tests.routers.BookingRouter"]
