"""Run a callable in many real threads at once, each with its own database connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connections

#: Seconds a streaming replica may take to replay what the primary committed before a race.
REPLICA_PATIENCE = 30


def replica_caught_up() -> None:
    """With a streaming replica configured (tests.settings_replica), wait until it has replayed all
    the primary has written so far: the threads of a race read through the replica router, and
    what the test set up before the race is then there for them, as for any reader a while later."""
    if "replica" not in connections.databases:
        return
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        target = cursor.fetchone()[0]
    deadline = time.monotonic() + REPLICA_PATIENCE
    while True:
        with connections["replica"].cursor() as cursor:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if cursor.fetchone()[0]:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"the replica did not replay up to {target} within {REPLICA_PATIENCE} s")
        time.sleep(0.01)


def run_at_once(worker: Callable[[Any], Any], args: Iterable[Any]) -> list[Any]:
    """Call ``worker(arg)`` for every arg in its own thread, releasing them together.

    Returns each call's result, or the exception it raised. Every thread closes its connection so
    the test database can be dropped afterwards.
    """
    items = list(args)
    replica_caught_up()
    barrier = threading.Barrier(len(items))

    def run(arg: Any) -> Any:
        try:
            barrier.wait(timeout=60)
            return worker(arg)
        except Exception as exc:  # returned, so the test can assert on every outcome
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(run, items))
