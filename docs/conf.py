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
]

root_doc = "index"
exclude_patterns = ["_build"]
default_role = "literal"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"

html_theme = "furo"
html_title = f"{project} {release}"
