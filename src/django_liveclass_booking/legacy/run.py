"""The whole import: read, parse, load the context, plan and (unless it is a dry run) apply, in one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from django.db import transaction

from ..services._engine import db
from ..services._engine.inputs import resolve_now
from .apply import apply_plan
from .context import load_context
from .parse import parse_rows
from .plan import plan_import
from .read import read_export
from .report import ImportReport


def import_rows(rows: Mapping[str, Iterable[Any]], *, apply: bool = False, now: dt.datetime | None = None,
                using: str | None = None) -> ImportReport:
    """Import legacy rows (dicts per table, as in the export); a dry run unless ``apply``.

    With ``apply`` everything is written in one transaction on ``using`` (default: the booking
    models' database, as the router gives it), or nothing is. ``now`` (aware) decides what is in
    the past; default: the adapter's clock. Rows that cannot be imported are reported, never
    raised; only database errors raise (and roll the whole import back).
    """
    current = resolve_now(now)
    alias = using or db.alias()
    parsed = parse_rows(rows)
    if not apply:
        plan = plan_import(parsed, load_context(parsed, current, using=alias, lock=False))
    else:
        with transaction.atomic(using=alias):
            plan = plan_import(parsed, load_context(parsed, current, using=alias, lock=True))
            apply_plan(plan, using=alias)
    return ImportReport(applied=apply, sessions_created=len(plan.sessions), bookings_created=len(plan.bookings),
                        unchanged=plan.unchanged, problems=plan.problems, adjusted=plan.adjusted)


def import_path(path: str | Path, **options: Any) -> ImportReport:
    """Read an export (JSON file or CSV folder) and import it; options as :func:`import_rows`."""
    return import_rows(read_export(path), **options)
