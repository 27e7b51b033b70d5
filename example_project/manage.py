#!/usr/bin/env python
"""Command-line entry point of the example project."""

import os
import sys
from pathlib import Path


def main() -> None:
    try:
        import django_liveclass_booking  # noqa: F401
    except ImportError:
        # Not installed: use the checkout this example lives in.
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
