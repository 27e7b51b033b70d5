"""A new row's values as ``save()`` would send them, at a fraction of the CPU.

``Field.get_db_prep_save`` runs several conversions per field; for the plain types of Django's own
fields they hand the value on unchanged, and only those are skipped here: a ``str`` for a
``CharField``, an ``int`` for an integer field or a foreign key to one, a ``bool`` for a
``BooleanField``, ``None`` for any of them, and on PostgreSQL (whose driver takes them as they are)
an aware ``datetime`` for a ``DateTimeField``. Any other field or value, a host's own field types
included, goes through ``get_db_prep_save`` as before.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models

_STR = (models.CharField, models.TextField)
_INT = (models.IntegerField, models.BigIntegerField, models.SmallIntegerField, models.PositiveIntegerField,
        models.PositiveSmallIntegerField, models.PositiveBigIntegerField, models.AutoField, models.BigAutoField)


def _kind(field: Any, vendor: str) -> str:
    cls = type(field)
    if isinstance(field, models.ForeignKey):
        return "int" if type(field.target_field) in _INT else ""
    if cls in _STR:
        return "str"
    if cls in _INT:
        return "int"
    if cls is models.BooleanField:
        return "bool"
    # model_utils' timestamp and monitor fields only add a pre_save to DateTimeField.
    if isinstance(field, models.DateTimeField) and cls.get_db_prep_save is models.DateTimeField.get_db_prep_save \
            and cls.get_db_prep_value is models.DateTimeField.get_db_prep_value and vendor == "postgresql":
        return "datetime"
    return ""


#: Plans per (model, fields, vendor), found by the identity of the fields' tuple: the callers pass
#: tuples built once, and hashing twenty fields per booking would cost more than the lookup saves.
_plans: dict[tuple[Any, int, str], tuple[tuple[Any, ...], tuple[tuple[Any, bool, str], ...]]] = {}


def _own_pre_save(field: Any) -> bool:
    # A field's pre_save that does more than read the attribute: a timestamp, a monitor. A plain
    # DateTimeField's (no auto_now, no auto_now_add) only reads it, as Field's does.
    cls = type(field)
    if cls is models.DateTimeField and not (field.auto_now or field.auto_now_add):
        return False
    return cls.pre_save is not models.Field.pre_save


def _plan(model: Any, fields: tuple[Any, ...], vendor: str) -> tuple[tuple[Any, bool, str], ...]:
    key = (model, id(fields), vendor)
    found = _plans.get(key)
    if found is None or found[0] is not fields:
        found = _plans[key] = (fields, tuple((f, _own_pre_save(f), _kind(f, vendor)) for f in fields))
    return found[1]


def prepared(obj: Any, fields: tuple[Any, ...], connection: Any) -> list[Any]:
    """The values of a new row of ``obj`` for ``fields``, as ``save()`` sends them."""
    out = []
    for field, own, kind in _plan(obj.__class__, fields, connection.vendor):
        value = field.pre_save(obj, True) if own else getattr(obj, field.attname)
        if kind and (value is None or (kind == "str" and isinstance(value, str))
                     or (kind == "int" and type(value) is int) or (kind == "bool" and type(value) is bool)
                     or (kind == "datetime" and type(value) is dt.datetime and value.tzinfo is not None)):
            out.append(value)
        else:
            out.append(field.get_db_prep_save(value, connection))
    return out


def from_values(values: dict[str, Any], fields: Any, connection: Any) -> list[Any]:
    """A new row's values for ``fields`` taken from ``values`` by attribute name (a field missing there
    gets its default), as ``save()`` would send them."""
    return [f.get_db_prep_save(values[f.attname] if f.attname in values else f.get_default(), connection)
            for f in fields]
