"""The portable "at most one active row" device.

A partial unique index (UniqueConstraint with a condition) is ignored by MySQL/MariaDB. Instead a
stored generated column is 1 while the row is active and NULL otherwise, and a plain unique
constraint covers it: NULLs never collide on PostgreSQL, MariaDB/MySQL or SQLite, so any number of
finished rows may coexist beside one active row.
"""

from collections.abc import Iterable

from django.db import models


def active_flag(statuses: Iterable[str]) -> models.GeneratedField:
    return models.GeneratedField(
        expression=models.Case(
            models.When(status__in=list(statuses), then=models.Value(1)),
            default=None,
            output_field=models.SmallIntegerField(null=True),
        ),
        output_field=models.SmallIntegerField(null=True),
        db_persist=True,
        editable=False,
    )
