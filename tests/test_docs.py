"""The reference documentation covers the whole public API and every error code.

The lists are computed from the code (``__all__``, introspection, the registry of error codes),
so a name or a code added to the code without documentation fails here. An ``ast`` scan of the
package cross-checks the registry: a code given anywhere in the source must be registered. A
hard-coded floor, the public API contract, keeps the computed lists from silently shrinking.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Model, QuerySet
from django.dispatch import Signal

import django_liveclass_booking
from django_liveclass_booking import adapter, exceptions, models, services, signals
from django_liveclass_booking.conf import DEFAULTS, POLICY_DEFAULTS
from django_liveclass_booking.errors import ERROR_CODES, KINDS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PACKAGE = Path(django_liveclass_booking.__file__).resolve().parent

#: The pages that make up the reference.
REFERENCE_PAGES = ["api.rst", "models.rst", "signals.rst", "settings.rst", "commands.rst"]

# --- the floor: the public API contract ---------------------------------------------------------

CONTRACT_SERVICES = {
    "SYSTEM", "schedule_session", "schedule_recurring_sessions", "cancel_session", "book_seat", "join_waitlist",
    "leave_waitlist", "accept_offer", "decline_offer", "available_slots", "request_lesson", "confirm_booking",
    "decline_booking", "cancel_booking", "check_booking", "create_series", "subscribe_to_recurring_sessions",
    "cancel_series", "confirm_series", "decline_series", "process_due",
}
CONTRACT_MODELS = {
    "LiveClassSession", "LiveClassBooking", "TeacherBookingPolicy", "TeacherAvailability", "TeacherTimeOff",
    "BookingSeries", "BookingSeriesItem", "SessionWaitlist", "AbstractLiveClassSession", "AbstractLiveClassBooking",
    "get_session_model", "get_booking_model",
}
CONTRACT_EXCEPTIONS = {
    "BookingError", "PolicyViolation", "SessionFull", "AlreadyBooked", "SlotUnavailable", "InvalidTransition",
    "NotAllowed",
}
CONTRACT_SIGNALS = {
    "booking_requested", "booking_confirmed", "booking_declined", "booking_cancelled", "booking_expired",
    "session_cancelled", "series_created", "waitlist_joined", "waitlist_seat_offered", "waitlist_offer_accepted",
    "waitlist_offer_expired",
}
CONTRACT_METHODS = {"offer_seat", "accept_offer", "expire_offer", "confirm", "decline", "cancel"}
CONTRACT_CODES = {
    "min_notice", "max_advance", "daily_limit", "weekly_limit", "max_pending", "outside_availability",
    "teacher_unavailable", "session_full", "already_booked", "session_closed", "cancellation_window",
    "recurring_not_allowed", "too_many_occurrences", "duration_not_allowed", "waitlist_disabled", "offer_expired",
    "naive_datetime", "invalid_rrule", "invalid_timezone",
}


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def reference_text() -> str:
    return "\n".join(page(name) for name in REFERENCE_PAGES)


def mentioned(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text) is not None


def directive(kind: str, name: str, text: str) -> bool:
    """``.. kind:: name`` (optionally qualified with a module path) is on the page."""
    return re.search(rf"^\s*\.\. {kind}:: (?:[\w.]+\.)?{re.escape(name)}\s*$", text, re.MULTILINE) is not None


# --- the public names, from the code ------------------------------------------------------------


def service_names() -> set[str]:
    return set(services.__all__)


def model_module_names() -> set[str]:
    return set(models.__all__)


def exception_names() -> set[str]:
    return {name for name, obj in vars(exceptions).items()
            if inspect.isclass(obj) and issubclass(obj, exceptions.BookingError)
            and obj.__module__ == exceptions.__name__}


def signal_names() -> set[str]:
    return {name for name, obj in vars(signals).items() if isinstance(obj, Signal)}


def model_method_names() -> set[str]:
    """Public methods and properties defined on the models a host calls them on."""
    names = set()
    for model in (models.AbstractLiveClassSession, models.AbstractLiveClassBooking, models.SessionWaitlist):
        for name, value in vars(model).items():
            if name.startswith("_"):
                continue
            if inspect.isfunction(value) or isinstance(value, property):
                names.add(name)
    return names


def adapter_hooks() -> set[str]:
    return {name for name, value in vars(adapter.DefaultBookingAdapter).items()
            if inspect.isfunction(value) and not name.startswith("_")}


def command_jobs() -> set[str]:
    from django.core.management import load_command_class

    command = load_command_class("django_liveclass_booking", "liveclass_booking")
    parser = command.create_parser("manage.py", "liveclass_booking")
    jobs = set()
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            jobs.update(action.choices)
    return jobs


def test_the_computed_lists_cover_the_contract():
    assert CONTRACT_SERVICES <= service_names()
    assert CONTRACT_MODELS <= model_module_names()
    assert CONTRACT_EXCEPTIONS <= exception_names()
    assert CONTRACT_SIGNALS <= signal_names()
    assert CONTRACT_METHODS <= model_method_names()
    assert "process" in command_jobs()


@pytest.mark.parametrize("name", sorted(service_names() | CONTRACT_SERVICES))
def test_every_service_is_documented_by_autodoc(name):
    text = page("api.rst")
    # Functions by autofunction; values (``SYSTEM``, the type aliases) by autodata.
    kind = "autofunction" if inspect.isfunction(getattr(services, name)) else "autodata"
    assert directive(kind, name, text), f"docs/api.rst has no '.. {kind}:: {name}'"


@pytest.mark.parametrize("name", sorted(model_module_names() | CONTRACT_MODELS))
def test_every_name_of_the_models_module_is_in_the_models_reference(name):
    text = page("models.rst")
    obj = getattr(models, name)
    if inspect.isclass(obj) and issubclass(obj, (Model, QuerySet)):
        assert directive("autoclass", name, text), f"docs/models.rst has no '.. autoclass:: {name}'"
    elif inspect.isfunction(obj):
        assert directive("autofunction", name, text), f"docs/models.rst has no '.. autofunction:: {name}'"
    else:
        assert mentioned(name, text), f"docs/models.rst does not mention {name}"


@pytest.mark.parametrize("name", sorted(exception_names() | CONTRACT_EXCEPTIONS))
def test_every_exception_is_documented(name):
    assert directive("autoexception", name, page("api.rst")), f"docs/api.rst has no '.. autoexception:: {name}'"


@pytest.mark.parametrize("name", sorted(signal_names() | CONTRACT_SIGNALS))
def test_every_signal_is_documented_with_its_arguments(name):
    assert directive("autodata", name, page("signals.rst")), f"docs/signals.rst has no '.. autodata:: {name}'"
    assert mentioned(name, page("extending.rst")), f"the signal table of docs/extending.rst lacks {name}"


@pytest.mark.parametrize("name", sorted(model_method_names() | CONTRACT_METHODS))
def test_every_model_method_is_in_the_models_reference(name):
    assert mentioned(name, page("models.rst")), f"docs/models.rst does not mention the model method {name}"


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_every_setting_is_documented(key):
    text = page("settings.rst")
    assert re.search(rf"^``{key}``\s*$", text, re.MULTILINE), f"docs/settings.rst has no entry for {key}"


@pytest.mark.parametrize("field", sorted(POLICY_DEFAULTS))
def test_every_policy_default_is_documented(field):
    assert f"* - ``{field}``" in page("settings.rst"), f"the policy table of docs/settings.rst lacks {field}"


@pytest.mark.parametrize("name", ["LIVECLASS_BOOKING_SESSION_MODEL", "LIVECLASS_BOOKING_BOOKING_MODEL"])
def test_the_swappable_settings_are_documented(name):
    assert mentioned(name, page("settings.rst"))


@pytest.mark.parametrize("hook", sorted(adapter_hooks()))
def test_every_adapter_hook_is_documented(hook):
    assert f"``{hook}(" in page("extending.rst"), f"the adapter table of docs/extending.rst lacks {hook}()"


@pytest.mark.parametrize("job", sorted(command_jobs()))
def test_every_management_command_job_is_documented(job):
    assert f"``liveclass_booking {job}``" in page("commands.rst"), f"docs/commands.rst lacks the job {job}"


def test_the_reference_mentions_every_public_name():
    text = reference_text()
    names = (service_names() | model_module_names() | exception_names() | signal_names() | model_method_names()
             | CONTRACT_SERVICES | CONTRACT_MODELS | CONTRACT_EXCEPTIONS | CONTRACT_SIGNALS | CONTRACT_METHODS)
    missing = sorted(name for name in names if not mentioned(name, text))
    assert not missing, f"not in the reference pages ({', '.join(REFERENCE_PAGES)}): {missing}"


# --- error codes ----------------------------------------------------------------------------------

#: Names a code is assigned to: ``code = ...``, class attributes ``default_code = ...``, and the
#: tuple form ``field, count_key, code = ...`` of the limit rules.
CODE_TARGETS = {"code", "default_code"}
#: Calls whose first positional argument is a code: ``Violation("min_notice", message, params)``.
CODE_FIRST_ARGUMENT = {"Violation"}


def _code_values(node: ast.AST) -> Iterator[tuple[str, str]]:
    """("code", value) for string constants, ("pattern", regex) for f-strings.

    Through ``a if c else b`` and ``a or b``.
    """
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield "code", node.value
    elif isinstance(node, ast.IfExp):
        yield from _code_values(node.body)
        yield from _code_values(node.orelse)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            yield from _code_values(value)
    elif isinstance(node, ast.JoinedStr):
        parts = [re.escape(v.value) if isinstance(v, ast.Constant) else "[a-z0-9_]+" for v in node.values]
        yield "pattern", "".join(parts)


def _call_name(func: ast.AST) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def code_positions(tree: ast.AST) -> dict[str, int]:
    """{name: index} for the functions of ``tree`` taking a parameter ``code`` that a call may pass by position.

    A method's ``self`` or ``cls`` is not counted; an ``__init__`` is called by its class's name.
    """
    positions: dict[str, int] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                item._liveclass_method_of = node.name  # type: ignore[attr-defined]
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        names = [arg.arg for arg in [*node.args.posonlyargs, *node.args.args]]
        owner = getattr(node, "_liveclass_method_of", None)
        if owner is not None and names and names[0] in ("self", "cls"):
            names = names[1:]
        if "code" in names:
            positions[owner if node.name == "__init__" and owner else node.name] = names.index("code")
    return positions


def _codes_in(tree: ast.AST, positions: dict[str, int] | None = None) -> Iterator[tuple[str, str]]:
    """The codes given in ``tree``: by keyword, by assignment, and by position to a function of ``positions``."""
    positions = {**{name: 0 for name in CODE_FIRST_ARGUMENT}, **(positions or {})}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "code":
                    yield from _code_values(keyword.value)
            index = positions.get(_call_name(node.func))
            if index is not None and len(node.args) > index and not any(
                    isinstance(arg, ast.Starred) for arg in node.args[:index + 1]):
                yield from _code_values(node.args[index])
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in CODE_TARGETS:
                    yield from _code_values(node.value)
                elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    for name, value in zip(target.elts, node.value.elts, strict=False):
                        if isinstance(name, ast.Name) and name.id in CODE_TARGETS:
                            yield from _code_values(value)


def scan_error_codes() -> tuple[dict[str, set[str]], set[str]]:
    """Every error code the package can produce: {code: files}, and the patterns of f-string codes."""
    codes: dict[str, set[str]] = {}
    patterns: set[str] = set()
    trees = {path: ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
             for path in sorted(PACKAGE.rglob("*.py")) if "migrations" not in path.relative_to(PACKAGE).parts}
    # A helper such as ``choice(value, name, allowed, code)`` is called with its code by position.
    positions: dict[str, int] = {}
    for tree in trees.values():
        positions.update(code_positions(tree))
    for path, tree in trees.items():
        for kind, value in _codes_in(tree, positions):
            if kind == "code":
                codes.setdefault(value, set()).add(str(path.relative_to(PACKAGE)))
            else:
                patterns.add(value)
    return codes, patterns


def error_code_section() -> str:
    text = page("api.rst")
    start = text.index("\nError codes\n-----------")
    end = text.index("\nExceptions\n----------", start)
    return text[start:end]


def _table_module() -> Any:
    """The Sphinx extension that builds the error-code tables of docs/api.rst from the registry."""
    spec = importlib.util.spec_from_file_location("liveclass_errors", DOCS / "_ext" / "liveclass_errors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def documented_codes() -> set[str]:
    """The codes in the first column of the tables the docs build."""
    found = set()
    tables = _table_module()
    for kind in KINDS:
        for line in tables.table_lines(kind):
            match = re.match(r"^\s*\* - ``([a-z0-9_]+)``$", line)
            if match:
                found.add(match.group(1))
    return found


def test_the_scanner_finds_the_codes_it_should():
    codes, _ = scan_error_codes()
    assert len(codes) >= 19, sorted(codes)
    assert CONTRACT_CODES <= set(codes), sorted(CONTRACT_CODES - set(codes))
    # One of each way a code is written: a keyword, a class default, a Violation, a tuple assignment.
    assert {"naive_datetime", "session_full", "min_notice", "daily_limit", "max_pending"} <= set(codes)


def test_the_scanner_reads_every_way_a_code_is_written():
    sample = ast.parse(
        "raise BookingError('x', code='kw_code')\n"
        "class E(BookingError):\n    default_code = 'class_code'\n"
        "Violation('first_arg_code', 'message', {})\n"
        "field, count_key, code = 'f', 'k', 'tuple_code'\n"
        "code = 'if_code' if ok else f'pattern_{what}'\n"
        "ValidationError('x', code=a or 'or_code')\n"
        "Violation(self.code, 'message')\n"
    )
    found = set(_codes_in(sample))
    assert found == {("code", "kw_code"), ("code", "class_code"), ("code", "first_arg_code"),
                     ("code", "tuple_code"), ("code", "if_code"), ("pattern", "pattern_[a-z0-9_]+"),
                     ("code", "or_code")}


def test_the_scanner_reads_codes_passed_by_position_to_a_function_taking_code():
    sample = ast.parse(
        "def refuse(value, name, code, what): ...\n"
        "class Problem:\n    def __init__(self, kind, code): ...\n"
        "refuse(1, 'n', 'positional_code', 'thing')\n"
        "refuse(1, 'n', code='keyword_code', what='thing')\n"
        "Problem('kind', 'init_code')\n"
        "refuse(*args)\n"
    )
    positions = code_positions(sample)
    assert positions == {"refuse": 2, "Problem": 1}
    assert set(_codes_in(sample, positions)) == {("code", "positional_code"), ("code", "keyword_code"),
                                                 ("code", "init_code")}


def test_the_registry_holds_the_codes_of_the_api_contract():
    assert not sorted(CONTRACT_CODES - set(ERROR_CODES))
    assert len(ERROR_CODES) >= 19


@pytest.mark.parametrize("code", sorted(scan_error_codes()[0]))
def test_every_error_code_in_the_source_is_registered(code):
    assert code in ERROR_CODES, (
        f"error code {code!r} (given in {sorted(scan_error_codes()[0][code])}) is not in "
        "django_liveclass_booking/errors.py")


@pytest.mark.parametrize("pattern", sorted(scan_error_codes()[1]))
def test_every_computed_error_code_can_be_a_registered_one(pattern):
    assert any(re.fullmatch(pattern, code) for code in ERROR_CODES), f"no registered code matches {pattern!r}"


def test_no_registered_error_code_is_stale():
    codes, patterns = scan_error_codes()
    stale = sorted(code for code in ERROR_CODES
                   if code not in codes and not any(re.fullmatch(p, code) for p in patterns))
    assert not stale, f"registered in errors.py but given nowhere: {stale}"


@pytest.mark.parametrize("kind", KINDS)
def test_the_error_code_tables_are_built_from_the_registry(kind):
    assert directive("liveclass-error-codes", kind, error_code_section()), (
        f"the error codes of docs/api.rst lack '.. liveclass-error-codes:: {kind}'")


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_every_registered_error_code_is_in_the_docs(code):
    assert code in documented_codes(), f"error code {code!r} is in no table of docs/api.rst"


def test_the_contract_codes_are_in_the_docs():
    assert not sorted(CONTRACT_CODES - documented_codes())


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_every_registered_error_code_says_when_it_is_given(code):
    entry = ERROR_CODES[code]
    assert entry.when or entry.validation or entry.http
    assert bool(entry.when) == bool(entry.raised_as), "a code a service raises names the classes raising it"
