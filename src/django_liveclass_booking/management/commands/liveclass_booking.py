"""``manage.py liveclass_booking process``: run the background sweep once (from cron, a timer or a worker)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import services


class Command(BaseCommand):
    help = ("Booking jobs. 'process' runs everything that is due: it expires pending requests and waitlist "
            "offers past their expiry and offers the freed seats to the next in line.")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="job", required=True, metavar="JOB")
        process = sub.add_parser("process", help="Run everything that is due, once.")
        process.add_argument("--now", help="Treat this ISO 8601 time (with offset) as now; for replays and tests.")
        process.add_argument("--json", action="store_true", help="Print the counts as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["job"] == "process":
            self.process(options)

    def process(self, options: dict[str, Any]) -> None:
        now = None
        if options.get("now"):
            try:
                now = dt.datetime.fromisoformat(options["now"])
            except ValueError as exc:
                raise CommandError(f"--now: {exc}") from exc
            if now.tzinfo is None:
                raise CommandError("--now needs a UTC offset, e.g. 2026-05-04T09:00:00+00:00.")
        counts = services.process_due(now=now)
        if options.get("json"):
            self.stdout.write(json.dumps(counts, sort_keys=True))
            return
        self.stdout.write(
            f"Expired {counts['expired_requests']} request(s) and {counts['expired_offers']} offer(s); "
            f"made {counts['offers_made']} offer(s)."
        )
