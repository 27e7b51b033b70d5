"""``.. liveclass-error-codes:: service|validation``: the error-code tables, built from the registry.

The codes, the classes raising them, when they are given and their messages all come from
``django_liveclass_booking.errors``, so the reference cannot drift from the code.
"""

from __future__ import annotations

import re
from typing import Any

COLUMNS = {
    "service": (("Code", 18), ("Raised as", 14), ("When", 42), ("Message", 26)),
    "validation": (("Code", 22), ("When", 48), ("Message", 30)),
    "http": (("Code", 22), ("When", 48), ("Message", 30)),
}


def _text(value: Any) -> str:
    """A message as plain reStructuredText: no character in it starts markup."""
    return re.sub(r"([*`|_\\])", r"\\\1", str(value))


def table_lines(kind: str) -> list[str]:
    """The reStructuredText list-table of the registered codes of ``kind``."""
    from django_liveclass_booking.errors import error_codes

    columns = COLUMNS[kind]
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {' '.join(str(w) for _, w in columns)}", ""]
    lines += [f"   {'*' if i == 0 else ' '} - {name}" for i, (name, _) in enumerate(columns)]
    for entry in error_codes(kind):
        cells = [f"``{entry.code}``"]
        if kind == "service":
            cells += [" or ".join(f"``{name}``" for name in entry.raised_as), entry.when]
        else:
            cells.append(entry.validation if kind == "validation" else entry.http)
        cells.append(_text(entry.message))
        lines += [f"   {'*' if i == 0 else ' '} - {cell}" for i, cell in enumerate(cells)]
    return lines + [""]


def setup(app: Any) -> dict[str, Any]:
    # Sphinx is imported here only: the tests read ``table_lines`` without it installed.
    from sphinx.util.docutils import SphinxDirective

    class ErrorCodesDirective(SphinxDirective):
        required_arguments = 1
        has_content = False

        def run(self) -> list[Any]:
            kind = self.arguments[0]
            if kind not in COLUMNS:
                raise self.error(f"liveclass-error-codes takes one of {sorted(COLUMNS)}, not {kind!r}")
            return self.parse_text_to_nodes("\n".join(table_lines(kind)))

    app.add_directive("liveclass-error-codes", ErrorCodesDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
