"""Run a callable in many real threads at once, each with its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connections


def run_at_once(worker: Callable[[Any], Any], args: Iterable[Any]) -> list[Any]:
    """Call ``worker(arg)`` for every arg in its own thread, releasing them together.

    Returns each call's result, or the exception it raised. Every thread closes its connection so
    the test database can be dropped afterwards.
    """
    items = list(args)
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
