"""The shipped translations: every marked string translated in every catalog, the catalogs in step with
the source, the compiled files in step with the catalogs, and refusals read in the active language.

``makemessages`` runs on a temporary copy of the package and of the example project, never on the
committed files. Without GNU gettext these tests skip, unless ``LIVECLASS_REQUIRE_GETTEXT=1`` (set in
CI), which turns a missing gettext into a failure so that they can never silently stop running.
"""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
from django.utils import translation

from django_liveclass_booking.errors import ERROR_CODES, message_for
from django_liveclass_booking.exceptions import BookingError, SessionFull

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "django_liveclass_booking"
EXAMPLE = ROOT / "example_project"
LANGUAGES = ("es", "fr", "de", "pt_BR")
#: The folders makemessages reads, each with the settings it runs under and the folders it leaves out.
PROJECTS = {
    "package": (PACKAGE, "tests.settings", ()),
    "example_project": (EXAMPLE, "example_project.settings", ("sent_emails",)),
}
CATALOGS = [(name, lang) for name in PROJECTS for lang in LANGUAGES]
PLURAL_FORMS = {"es": "nplurals=2; plural=(n != 1);", "de": "nplurals=2; plural=(n != 1);",
                "fr": "nplurals=2; plural=(n > 1);", "pt_BR": "nplurals=2; plural=(n > 1);"}
#: What a translation must keep exactly: %-placeholders, str.format fields, HTML tags and entities.
KEPT = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}|<[^>]+>|&\w+;")


def require_gettext() -> None:
    missing = [tool for tool in ("msgfmt", "msgmerge", "xgettext") if shutil.which(tool) is None]
    if not missing:
        return
    reason = f"GNU gettext is not installed ({', '.join(missing)} missing; apt install gettext)"
    if os.environ.get("LIVECLASS_REQUIRE_GETTEXT") == "1":
        pytest.fail(f"LIVECLASS_REQUIRE_GETTEXT=1 but {reason}")
    pytest.skip(reason)


class Entry(NamedTuple):
    context: str | None
    msgid: str
    plural: str | None
    msgstr: tuple[str, ...]
    fuzzy: bool


def parse_po(path: Path) -> list[Entry]:
    """The entries of a .po file, the header first; obsolete (#~) entries are left out."""
    entries: list[Entry] = []
    fields: dict[str, str] = {}
    flags: set[str] = set()
    current = ""

    def flush() -> None:
        if "msgid" in fields:
            forms = tuple(fields[key] for key in sorted(fields) if key.startswith("msgstr"))
            entries.append(Entry(fields.get("msgctxt"), fields["msgid"], fields.get("msgid_plural"), forms,
                                 "fuzzy" in flags))
        fields.clear()
        flags.clear()

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        if line.startswith("#,"):
            if "msgid" in fields:
                flush()
            flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            fields[current] += ast.literal_eval(line)
        else:
            keyword, _, value = line.partition(" ")
            if keyword in ("msgctxt", "msgid") and "msgstr" in "".join(fields):
                flush()
            current = keyword
            fields[keyword] = ast.literal_eval(value)
    flush()
    return entries


def catalog_path(root: Path, lang: str, suffix: str = "po") -> Path:
    return root / "locale" / lang / "LC_MESSAGES" / f"django.{suffix}"


def keys(entries: list[Entry]) -> set[tuple[str | None, str, str | None]]:
    return {(e.context, e.msgid, e.plural) for e in entries if e.msgid}


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """makemessages for the four languages on a temporary copy of each project, its catalogs included."""
    require_gettext()
    copies = {}
    for name, (source, settings_module, ignored) in PROJECTS.items():
        copy = tmp_path_factory.mktemp(name) / source.name
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3", *ignored))
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module,
               "PYTHONPATH": os.pathsep.join([str(EXAMPLE), str(ROOT / "src"), str(ROOT)])}
        command = [sys.executable, "-m", "django", "makemessages", "--no-obsolete", "--add-location=file",
                   *(f"--locale={lang}" for lang in LANGUAGES), *(f"--ignore={path}" for path in ignored)]
        result = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        copies[name] = copy
    return copies


@pytest.mark.parametrize("name, lang", CATALOGS)
def test_the_committed_catalog_holds_every_string_of_the_source(regenerated: dict[str, Path], name: str,
                                                               lang: str) -> None:
    committed = keys(parse_po(catalog_path(PROJECTS[name][0], lang)))
    fresh = keys(parse_po(catalog_path(regenerated[name], lang)))
    assert sorted(fresh - committed, key=str) == [], "new strings: refresh the catalogs (docs/translations.rst)"
    assert sorted(committed - fresh, key=str) == [], "strings no longer in the source: refresh the catalogs"


@pytest.mark.parametrize("name, lang", CATALOGS)
def test_after_makemessages_nothing_is_untranslated_or_fuzzy(regenerated: dict[str, Path], name: str,
                                                             lang: str) -> None:
    entries = parse_po(catalog_path(regenerated[name], lang))
    untranslated = [e.msgid for e in entries[1:] if not all(e.msgstr)]
    fuzzy = [e.msgid for e in entries if e.fuzzy]
    assert untranslated == [] and fuzzy == []


@pytest.mark.parametrize("name, lang", CATALOGS)
def test_every_translation_keeps_the_placeholders_and_the_plural_forms(name: str, lang: str) -> None:
    header, *entries = parse_po(catalog_path(PROJECTS[name][0], lang))
    assert header.msgid == "" and not header.fuzzy
    assert f"Language: {lang}\n" in header.msgstr[0]
    assert f"Plural-Forms: {PLURAL_FORMS[lang]}\n" in header.msgstr[0]
    assert len(entries) > 0
    for entry in entries:
        english = [entry.msgid] if entry.plural is None else [entry.msgid, entry.plural]
        assert len(entry.msgstr) == len(english), entry.msgid
        for source, translated in zip(english, entry.msgstr, strict=True):
            assert sorted(KEPT.findall(translated)) == sorted(KEPT.findall(source)), (entry.msgid, translated)


@pytest.mark.parametrize("name, lang", CATALOGS)
def test_the_committed_mo_file_is_the_compiled_catalog(tmp_path: Path, name: str, lang: str) -> None:
    require_gettext()
    po = catalog_path(PROJECTS[name][0], lang)
    compiled = tmp_path / "django.mo"
    result = subprocess.run(["msgfmt", "--check", "-o", str(compiled), str(po)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with compiled.open("rb") as fresh, catalog_path(PROJECTS[name][0], lang, "mo").open("rb") as committed:
        expected = gettext.GNUTranslations(fresh)._catalog  # type: ignore[attr-defined]
        shipped = gettext.GNUTranslations(committed)._catalog  # type: ignore[attr-defined]
    assert shipped == expected, "compile the catalogs again (docs/translations.rst)"


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_every_error_code_reads_in_each_language(code: str) -> None:
    templates = [t for t in (ERROR_CODES[code].message, ERROR_CODES[code].fallback) if t is not None]
    with translation.override("en"):
        english = [str(template) for template in templates]
    for lang in ("es", "fr", "de", "pt-br"):
        with translation.override(lang):
            assert all(str(t) != text for t, text in zip(templates, english, strict=True)), (code, lang)


def test_a_refusal_keeps_its_code_and_params_and_reads_in_the_language_shown() -> None:
    error = BookingError(code="capacity_below_taken", params={"taken": 3})
    with translation.override("es"):
        assert error.message == "La capacidad no puede bajar de las 3 plazas ya ocupadas."
        assert str(error) == error.message
    with translation.override("fr"):
        assert str(error) == "La capacité ne peut pas descendre sous les 3 places déjà prises."
    with translation.override("en"):
        assert str(error) == "The capacity cannot go below the 3 seats already taken."
    assert error.code == "capacity_below_taken" and error.params == {"taken": 3}
    with translation.override("pt-br"):
        assert SessionFull().message.startswith("Esta sessão não tem vaga livre para você")
        assert message_for("throttled", {"wait": 30}) == "Requisições demais: tente de novo em 30 segundos."
    with translation.override("de"):
        assert message_for("daily_limit", {"count": 1, "limit": 1}) == (
            "Ihre Buchungen bei dieser Lehrkraft an diesem Tag: 1, höchstens 1 erlaubt. Wählen Sie einen anderen Tag.")
