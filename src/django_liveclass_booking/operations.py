"""Migration operations that only some backends run."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.migrations.operations.base import Operation

#: Name of the PostgreSQL exclusion constraint on the session table; services look for it in errors.
OVERLAP_CONSTRAINT = "liveclass_teacher_no_overlap"


class AddTeacherOverlapExclusion(Operation):
    """On PostgreSQL: the database itself refuses two overlapping scheduled sessions of one teacher.

    ``EXCLUDE USING gist (teacher WITH =, tstzrange(start, end) WITH &&) WHERE status = 'scheduled'``,
    with the btree_gist extension. The services already lock the teacher and check for overlap; the
    constraint also holds against writes that bypass them. It lives outside the model state (so
    ``makemigrations`` stays clean on every backend) and is a no-op on other databases, which have
    no equivalent constraint. It targets the active session model, swapped or not.
    """

    reversible = True

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def _applies(self, schema_editor: Any, state: Any) -> bool:
        # A router may keep the session table off this database: migrating it then adds nothing here.
        return schema_editor.connection.vendor == "postgresql" and self.allow_migrate_model(
            schema_editor.connection.alias, state.apps.get_model(settings.LIVECLASS_BOOKING_SESSION_MODEL))

    def _table_and_columns(self, state: Any) -> tuple[str, str, str, str, str]:
        model = state.apps.get_model(settings.LIVECLASS_BOOKING_SESSION_MODEL)
        column = lambda name: model._meta.get_field(name).column  # noqa: E731
        return model._meta.db_table, column("teacher"), column("start_at_utc"), column("end_at_utc"), column("status")

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if not self._applies(schema_editor, to_state):
            return
        table, teacher, start, end, status = (schema_editor.quote_name(n) for n in self._table_and_columns(to_state))
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        schema_editor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {schema_editor.quote_name(OVERLAP_CONSTRAINT)} "
            f"EXCLUDE USING gist ({teacher} WITH =, tstzrange({start}, {end}) WITH &&) "
            f"WHERE ({status} = 'scheduled')"
        )

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if not self._applies(schema_editor, from_state):
            return
        table = schema_editor.quote_name(self._table_and_columns(from_state)[0])
        constraint = schema_editor.quote_name(OVERLAP_CONSTRAINT)
        schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {constraint}")

    def describe(self) -> str:
        return "Add the teacher overlap exclusion constraint (PostgreSQL only)"

    @property
    def migration_name_fragment(self) -> str:
        return "teacher_overlap_exclusion"
