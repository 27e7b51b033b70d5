"""Import the legacy tables (0002) into lessons and bookings, with the app's legacy importer.

The rows are read through ``apps.get_model`` (the historical legacy models) and handed to
``django_liveclass_booking.legacy.import_rows`` as dicts, so this migration plans and writes
exactly as ``manage.py liveclass_booking import_legacy`` does: the same mapping, the same checks
of every invariant, the same ``external_ref`` (so running the command afterwards on an export of
the same rows changes nothing).

Caveat: the importer writes through the *current* session, booking and policy models, not the
historical ones. That is safe while those models' tables match the code, which holds when this
migration runs after the app's migrations that it depends on and before any later migration
changes those tables. With no legacy rows (a fresh database) it touches no current model at all,
so a fresh ``migrate`` is always safe. Rows the importer cannot import are printed and left in
the legacy tables; fix them and import them later with the command.
"""

from django.db import migrations

TABLE_FIELDS = {
    "sessions": ("LegacyClass", ["id", "teacher__username", "title", "scheduled_start", "timezone",
                                 "duration_minutes", "total_seats", "meeting_url", "status"]),
    "bookings": ("LegacyBooking", ["id", "student__username", "session_id", "status", "created"]),
    "one_on_one_bookings": ("LegacyOneOnOneBooking", ["id", "student__username", "teacher__username",
                                                      "scheduled_start", "timezone", "duration_minutes", "status",
                                                      "created"]),
}
#: The export's column names for the lookups above.
RENAMES = {"teacher__username": "teacher", "student__username": "student", "session_id": "session"}


def legacy_rows(apps, alias):
    """Every legacy row as the export's dicts (one query per table)."""
    rows = {}
    for table, (model_name, fields) in TABLE_FIELDS.items():
        model = apps.get_model("school", model_name)
        rows[table] = [{RENAMES.get(k, k): v for k, v in row.items()}
                       for row in model.objects.using(alias).order_by("pk").values(*fields)]
    return rows


def import_legacy_tables(apps, schema_editor):
    alias = schema_editor.connection.alias
    rows = legacy_rows(apps, alias)
    if not any(rows.values()):
        return
    # Imported here, not at module level: the importer needs the app registry ready.
    from django_liveclass_booking import legacy

    report = legacy.import_rows(rows, apply=True, using=alias)
    sessions, bookings = report.sessions_created, report.bookings_created
    print(f"\n  Imported {sessions} session{'' if sessions == 1 else 's'} and {bookings} "
          f"booking{'' if bookings == 1 else 's'} from the legacy tables; {report.unchanged} imported before.")
    for item in [*report.adjusted, *report.problems]:
        print(f"    {item.ref}: {item.reason}")


class Migration(migrations.Migration):
    dependencies = [
        ("school", "0002_legacy_tables"),
        # Every table the importer writes (sessions, bookings, teacher policies) and the overlap
        # exclusion constraint it must respect on PostgreSQL.
        ("liveclass_booking", "0003_teacher_overlap_exclusion"),
    ]

    operations = [
        # Not reversible by deleting: imported bookings may have changed since. Unapplying keeps them.
        migrations.RunPython(import_legacy_tables, migrations.RunPython.noop),
    ]
