"""Sphinx configuration for the django-liveclass-booking documentation."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# autodoc imports the package, and the package's models need a configured Django: put the source
# tree and the repository root (for ``tests.settings``) on the path and set Django up.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"

import django  # noqa: E402

django.setup()

from django_liveclass_booking import __version__  # noqa: E402

project = "django-liveclass-booking"
author = "django-liveclass-booking contributors"
copyright = "django-liveclass-booking contributors"  # noqa: A001
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "liveclass_errors",
]

root_doc = "index"
exclude_patterns = ["_build"]
default_role = "literal"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"

html_theme = "furo"
html_title = f"{project} {release}"


def _model_fields(app, what, name, obj, options, lines):
    """Append a model's fields (name, verbose name, help text, target) to its autodoc docstring."""
    from django.db import models

    if what != "class" or not isinstance(obj, type) or not issubclass(obj, models.Model):
        return
    fields = [f for f in obj._meta.get_fields() if f.concrete and not getattr(f, "primary_key", False)]
    if not fields:
        return
    names = {f.name for f in fields}
    for base in obj.__mro__[1:]:
        if isinstance(base, type) and issubclass(base, models.Model) and base is not models.Model \
                and base._meta.abstract \
                and base.__module__.startswith("django_liveclass_booking") \
                and names == {f.name for f in base._meta.get_fields() if f.concrete}:
            lines.extend(["", f"Fields: those of :class:`{base.__name__}`.", ""])
            return
    lines.extend(["", "Fields:", ""])
    for field in fields:
        text = str(getattr(field, "verbose_name", field.name))
        if getattr(field, "help_text", ""):
            text += f". {field.help_text}"
        if field.is_relation:
            target = field.remote_field.model
            label = target if isinstance(target, str) else target._meta.label
            text += f" (to ``{label}``)"
        lines.append(f"* ``{field.name}``: {text}")
    lines.append("")


def _doc_comment(name, obj):
    """The ``#:`` comment above the assignment of ``obj`` to ``name`` in whichever module of the app makes it."""
    from sphinx.pycode import ModuleAnalyzer

    for module in list(sys.modules.values()):
        if not getattr(module, "__name__", "").startswith("django_liveclass_booking") \
                or getattr(module, name, None) is not obj:
            continue
        analyzer = ModuleAnalyzer.for_module(module.__name__)
        analyzer.analyze()
        comment = analyzer.attr_docs.get(("", name))
        if comment:
            return list(comment)
    return []


def _alias_docstring(app, what, name, obj, options, lines):
    """A type alias re-exported elsewhere is documented by the comment where it is defined.

    Its value is a ``str`` or a ``typing`` construct, whose own docstring describes Python, not the
    alias. The blank line ends the text before autodoc appends "alias of ...".
    """
    if what == "data" and (isinstance(obj, str) or type(obj).__module__ == "typing"):
        lines[:] = [*_doc_comment(name.rpartition(".")[2], obj), ""]


def setup(app):
    app.connect("autodoc-process-docstring", _model_fields)
    app.connect("autodoc-process-docstring", _alias_docstring)
