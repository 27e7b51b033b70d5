"""Import a legacy booking export (group sessions, seat bookings, 1:1 bookings) into the unified models.

Three steps, so that a dry run and the real import share every decision:

1. **Read** (:func:`read_export`, in ``read``): a JSON document, or a folder of CSV files, into
   plain row dicts.
2. **Plan** (:func:`parse_rows` in ``parse``, :func:`load_context` in ``context``,
   :func:`plan_import` in ``plan``): validate and map every row. Pure: it gets the database facts
   it needs (users, rows imported before, the teachers' calendars and policies) in a context
   loaded in a constant number of queries, and returns a plan of model field values plus one
   :class:`Problem` per row it cannot import.
3. **Apply** (:func:`apply_plan`, in ``apply``): bulk inserts, in one transaction with the context.

:func:`import_rows` (in ``run``) runs them; ``manage.py liveclass_booking import_legacy`` and data
migrations call it. Every imported row keeps ``external_ref = "<table>:<id>"``, so a second run
only finds rows it imported before ("unchanged") and writes nothing for them. Nothing already
imported is ever updated. The import sends no signals: it records history, nobody is to be
notified of it.
"""

from __future__ import annotations

from .apply import apply_plan
from .context import load_context
from .parse import localize, parse_rows
from .plan import plan_import
from .read import TABLES, LegacyImportError, read_export
from .report import ImportReport, Problem
from .run import import_path, import_rows

__all__ = [
    "TABLES",
    "ImportReport",
    "LegacyImportError",
    "Problem",
    "apply_plan",
    "import_path",
    "import_rows",
    "load_context",
    "localize",
    "parse_rows",
    "plan_import",
    "read_export",
]
