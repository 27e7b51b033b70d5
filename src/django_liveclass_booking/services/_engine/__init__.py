"""The booking engine: the private machinery under the public services, one invariant per module.

- ``db``: the database the booking models live on; every transaction and raw statement uses it.
- ``locks``: teacher rows, then sessions by ascending pk; refuses to run outside a transaction.
- ``seats``: the only code that writes ``seats_taken``.
- ``transitions``: the allowed status moves of every model, and the helpers that write a status (a
  new row's first one included).
- ``timezones``, ``intervals``, ``dberrors``: one parser, one interval set, one constraint translator.
- ``inputs``, ``actors``, ``guard``, ``events``: checked arguments, who acts, instances untouched by a
  refusal, signals after commit.
- ``calendar``, ``seating``, ``lifecycle``, ``expiry``, ``line``, ``series``: the steps the services compose.

Only the services and the legacy import (which writes rows as the services would) use it; the public
service modules beside it hold only public functions.
"""
