"""``manage.py liveclass_booking JOB``.

``process`` runs the background sweep once (from cron, a timer or a worker); ``import_legacy``
imports a legacy booking export (see :mod:`django_liveclass_booking.legacy`). Django's common options
(``-v``, ``--settings``, ``--traceback``...) are taken before or after the job's name.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import legacy, services


def counted(number: int, noun: str) -> str:
    """``number`` and ``noun``, plural unless one: "1 offer", "0 offers" (the command speaks English)."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


class Command(BaseCommand):
    help = ("Booking jobs. 'process' runs everything that is due: it expires pending requests and waitlist "
            "offers past their expiry, offers the freed seats to the next in line and sends the due notifications. "
            "'import_legacy' imports "
            "a legacy export (a dry run unless --apply).")

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # Django's common options (-v, --settings, --traceback, --no-color...), as add_base_argument adds them.
        self.common_options: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_base_argument(self, parser: CommandParser, *args: Any, **kwargs: Any) -> None:
        super().add_base_argument(parser, *args, **kwargs)
        if kwargs.get("action") != "version":
            self.common_options.append((args, kwargs))

    def add_job_parser(self, sub: Any, name: str, **kwargs: Any) -> CommandParser:
        """A job's parser, taking Django's common options too: argparse hands everything after the job's
        name to the job's parser, which would refuse them there."""
        job_parser: CommandParser = sub.add_parser(name, **kwargs)
        common = list(self.common_options)
        if self.requires_system_checks:  # Django adds it with add_argument, not add_base_argument
            common.append((("--skip-checks",), {"action": "store_true", "help": "Skip system checks."}))
        for args, options in common:
            # Given after the job, an option overrides the one given before it; absent, it leaves it be.
            job_parser.add_argument(*args, **{**options, "default": argparse.SUPPRESS})
        return job_parser

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="job", required=True, metavar="JOB")
        process = self.add_job_parser(sub, "process", help="Run everything that is due, once.")
        process.add_argument("--now", help="Treat this ISO 8601 time (with offset) as now; for replays and tests.")
        process.add_argument("--json", action="store_true", help="Print the counts as JSON.")
        imp = self.add_job_parser(sub, "import_legacy", help="Import a legacy export: a JSON file or a folder of "
                                  "CSV files. A dry run unless --apply.")
        imp.add_argument("path", metavar="PATH", help="The export: a .json file, or a folder with sessions.csv, "
                         "bookings.csv and one_on_one_bookings.csv.")
        imp.add_argument("--apply", action="store_true", help="Write the import (in one transaction); "
                         "without it nothing is written.")
        imp.add_argument("--json", action="store_true", help="Print the report as JSON.")
        imp.add_argument("--now", help="Treat this ISO 8601 time (with offset) as now; for replays and tests.")
        imp.add_argument("--database", help="The database alias to import into (default: the booking models' "
                         "database, as the router gives it).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["job"] == "process":
            self.process(options)
        elif options["job"] == "import_legacy":
            self.import_legacy(options)

    @staticmethod
    def _now(options: dict[str, Any]) -> dt.datetime | None:
        if not options.get("now"):
            return None
        try:
            now = dt.datetime.fromisoformat(options["now"])
        except ValueError as exc:
            raise CommandError(f"--now: {exc}") from exc
        if now.tzinfo is None:
            raise CommandError("--now needs a UTC offset, e.g. 2026-05-04T09:00:00+00:00.")
        return now

    def process(self, options: dict[str, Any]) -> None:
        now = self._now(options)
        counts = services.process_due(now=now)
        if options.get("json"):
            self.stdout.write(json.dumps(counts, sort_keys=True))
            return
        if options["verbosity"] == 0:
            return
        self.stdout.write(
            f"Expired {counted(counts['expired_requests'], 'request')}, {counted(counts['expired_offers'], 'offer')} "
            f"and {counted(counts['expired_reschedules'], 'reschedule proposal')}; "
            f"made {counted(counts['offers_made'], 'offer')}; completed {counted(counts['completed'], 'lesson')}; "
            f"sent {counted(counts['notifications_sent'], 'notification')}."
        )

    def import_legacy(self, options: dict[str, Any]) -> None:
        try:
            report = legacy.import_path(options["path"], apply=options["apply"], now=self._now(options),
                                        using=options["database"])
        except legacy.LegacyImportError as exc:
            raise CommandError(str(exc)) from exc
        # Problem rows are part of the report, not a failure: the exit status stays 0.
        if options.get("json"):
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        self._write_report(report)

    def _write_report(self, report: legacy.ImportReport) -> None:
        verb = "Created" if report.applied else "Would create"
        self.stdout.write(f"{verb} {counted(report.sessions_created, 'session')} and "
                          f"{counted(report.bookings_created, 'booking')}; "
                          f"{counted(report.unchanged, 'row')} imported before (unchanged).")
        if report.adjusted:
            self.stdout.write(f"{counted(len(report.adjusted), 'row')} imported with another status:")
            for item in report.adjusted:
                self.stdout.write(f"  {item.ref}: {item.reason}")
        if report.problems:
            self.stdout.write(self.style.WARNING(f"{counted(len(report.problems), 'row')} not imported:"))
            for item in report.problems:
                self.stdout.write(f"  {item.ref}: {item.reason}")
        if not report.applied:
            self.stdout.write("Dry run: nothing was written. Run again with --apply to import.")
