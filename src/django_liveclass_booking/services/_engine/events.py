"""Signals after commit: once per transition, never for a rolled-back change."""

from __future__ import annotations

import copy
import functools
from typing import Any

from django.db.models import Model
from django.dispatch import Signal

from . import db, outbox


@functools.cache
def _signal_names() -> dict[int, str]:
    from ... import signals

    return {id(value): name for name, value in vars(signals).items() if isinstance(value, Signal)}


def snapshot(obj: Model) -> Model:
    """A shallow copy of a model instance (its field values and state), far cheaper than copy.copy."""
    snap = obj.__class__.__new__(obj.__class__)
    snap.__dict__ = obj.__dict__.copy()
    snap._state = copy.copy(obj._state)
    snap._state.fields_cache = dict(obj._state.fields_cache)
    return snap


def send_after_commit(signal: Signal, sender: type, **kwargs: Any) -> None:
    """Send ``signal`` once the transaction commits; never for a rolled-back change.

    ``send_robust`` so that one failing receiver (a mail server down) neither hides the others nor
    reaches the caller, whose booking has already committed; Django logs the receiver's error.
    """
    # The outbox keeps what the announcement tells now, to write its messages in this transaction.
    outbox.plan(_signal_names().get(id(signal), ""), kwargs)
    if not signal.has_listeners(sender):
        return  # no receiver connected: nothing to copy, nothing to send
    # A copy: a later change in the same transaction must not show in this transition's signal.
    frozen = {name: snapshot(value) if isinstance(value, Model) else value for name, value in kwargs.items()}

    def send_signal() -> None:
        signal.send_robust(sender=sender, **frozen)

    db.on_commit(send_signal)
