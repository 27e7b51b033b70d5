"""The package keeps the shape DESIGN gives it, checked on its source.

- Only ``services/_engine/seats.py`` (with ``fastpath.py``, its one-statement path) writes
  ``seats_taken``; only ``services/_engine/transitions.py`` writes ``status``/``status_changed``.
- No module reaches for another module's private (``_``-prefixed) names.
- The public service modules hold only public functions, listed in ``__all__``, the public entry first.
- Every function of ``services.__all__`` restores the objects passed in when it refuses.
- No module grows past 400 lines (``errors.py`` is registry data).
- The locks refuse to run outside a transaction.

The rules read the source with ``ast``: a write hidden in a string (``setattr(obj, name, ...)`` with
a variable name, raw SQL) is out of their reach; the transition and seat tests cover behaviour.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import models, transaction

import django_liveclass_booking
from django_liveclass_booking import services

PACKAGE = Path(django_liveclass_booking.__file__).resolve().parent
PACKAGE_NAME = "django_liveclass_booking"

SEAT_FIELDS = frozenset({"seats_taken"})
STATUS_FIELDS = frozenset({"status", "status_changed"})
GUARDED_FIELDS = SEAT_FIELDS | STATUS_FIELDS
#: The one module allowed to write each guarded field, relative to the package.
WRITERS: dict[str, frozenset[str]] = {
    "seats_taken": frozenset({"services/_engine/seats.py", "services/_engine/fastpath.py"}),
    "status": frozenset({"services/_engine/transitions.py"}),
    "status_changed": frozenset({"services/_engine/transitions.py"}),
}
#: QuerySet and manager methods that write the keyword arguments they are given.
WRITE_METHODS = frozenset({"update", "create", "bulk_create", "get_or_create", "update_or_create", "bulk_update"})
#: Calls whose keyword arguments are lookups, never values written.
LOOKUP_CALLS = frozenset({"filter", "exclude", "get", "aget", "Q", "When"})
MAX_LINES = 400
LONG_BY_NATURE = frozenset({"errors.py"})  # the error-code registry: data, one entry per code


def rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def source_files(*, migrations: bool = False) -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if migrations or "migrations" not in p.relative_to(PACKAGE).parts)


def dotted(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def call_name(call: ast.Call) -> str | None:
    """``f`` for ``f(...)`` and for ``x.y.f(...)``."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


# --- a. who writes seats_taken and the statuses ------------------------------------------------


def _plain_classes() -> frozenset[str]:
    """Names of the package's classes that are not models: calling or filling one writes no row.

    Resolved on the imported classes rather than guessed from the source, so a model that only
    inherits from a package base class is still a model.
    """
    plain = set()
    for path in source_files():
        module = importlib.import_module(dotted(path))
        for node in parse(path).body:
            if isinstance(node, ast.ClassDef):
                cls = getattr(module, node.name, None)
                if isinstance(cls, type) and not issubclass(cls, models.Model):
                    plain.add(node.name)
    return frozenset(plain)


@dataclass(frozen=True)
class Write:
    path: str
    line: int
    field: str
    how: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.how} writes {self.field}"


def _strings(node: ast.AST | None) -> Iterator[tuple[str, ast.AST]]:
    """String constants of a list, tuple or set literal."""
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        for element in node.elts:
            if isinstance(element, ast.Constant) and isinstance(element.value, str):
                yield element.value, element


def _dict_keys(node: ast.AST | None) -> Iterator[str]:
    if isinstance(node, ast.Dict):
        for key in node.keys:
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                yield key.value


class WriteFinder(ast.NodeVisitor):
    """Every place a module sets ``seats_taken``, ``status`` or ``status_changed`` on a row or an instance."""

    def __init__(self, path: str, plain: frozenset[str]) -> None:
        self.path = path
        self.plain = plain
        self.found: list[Write] = []
        # Per function: local names known to hold a plain (non-model) object, and the enclosing class.
        self.records: list[set[str]] = [set()]
        self.classes: list[str | None] = [None]

    def add(self, node: ast.AST, field: str, how: str) -> None:
        self.found.append(Write(self.path, getattr(node, "lineno", 0), field, how))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.classes.append(node.name)
        self.generic_visit(node)
        self.classes.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        records: set[str] = set()
        arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        for arg in arguments:
            if isinstance(arg.annotation, ast.Name) and arg.annotation.id in self.plain:
                records.add(arg.arg)
        # ``self`` in a plain class's own method is that plain object.
        if self.classes[-1] in self.plain and arguments:
            records.add(arguments[0].arg)
        for child in ast.walk(node):
            if (isinstance(child, ast.Assign) and isinstance(child.value, ast.Call)
                    and call_name(child.value) in self.plain):
                records.update(t.id for t in child.targets if isinstance(t, ast.Name))
            elif (isinstance(child, ast.AnnAssign) and isinstance(child.target, ast.Name)
                  and isinstance(child.annotation, ast.Name) and child.annotation.id in self.plain):
                records.add(child.target.id)
        self.records.append(records)
        self.classes.append(None)
        self.generic_visit(node)
        self.classes.pop()
        self.records.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Attribute(self, node: ast.Attribute) -> None:
        # Store context covers plain, augmented, annotated, tuple/starred, for- and with-targets alike.
        if isinstance(node.ctx, ast.Store) and node.attr in GUARDED_FIELDS:
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in self.records[-1]):
                self.add(node, node.attr, f"assignment to {ast.unparse(node)}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = call_name(node)
        if name == "setattr" and len(node.args) >= 2:
            target = node.args[1]
            if isinstance(target, ast.Constant) and target.value in GUARDED_FIELDS:
                self.add(node, target.value, "setattr()")
        # A lookup names values to match, and a plain class of the package (a record, an error) is no row.
        if name not in LOOKUP_CALLS and name not in self.plain:
            # ``Booking(...)``, ``models.Booking(...)``, ``get_booking_model()(...)``: a model constructor.
            constructor = isinstance(node.func, ast.Call) or (name is not None and name[:1].isupper())
            writes_status = name in WRITE_METHODS or constructor
            for keyword in node.keywords:
                given = {keyword.arg} if keyword.arg else set(_dict_keys(keyword.value))
                how = f"{name or ast.unparse(node.func)}({keyword.arg or '**{...}'}=...)"
                for field in given & SEAT_FIELDS | given & {"status_changed"}:
                    self.add(node, field, how)
                if writes_status and "status" in given:
                    self.add(node, "status", how)
                if name in {"get_or_create", "update_or_create"} and keyword.arg in {"defaults", "create_defaults"}:
                    for field in set(_dict_keys(keyword.value)) & GUARDED_FIELDS:
                        self.add(node, field, f"{name}({keyword.arg}={{{field!r}: ...}})")
                if keyword.arg == "update_fields" or (name == "bulk_update" and keyword.arg == "fields"):
                    for field, element in _strings(keyword.value):
                        if field in GUARDED_FIELDS:
                            self.add(element, field, f"{name}({keyword.arg}=[...])")
            if name == "bulk_update" and len(node.args) >= 2:
                for field, element in _strings(node.args[1]):
                    if field in GUARDED_FIELDS:
                        self.add(element, field, "bulk_update(objs, [...])")
        self.generic_visit(node)


def find_writes(source: str, path: str = "<source>", plain: frozenset[str] = frozenset()) -> list[Write]:
    finder = WriteFinder(path, plain)
    finder.visit(ast.parse(source))
    return finder.found


@pytest.fixture(scope="module")
def plain_classes() -> frozenset[str]:
    return _plain_classes()


def test_only_seats_writes_seats_taken_and_only_transitions_writes_a_status(plain_classes: frozenset[str]) -> None:
    misplaced = [
        str(write)
        for path in source_files()
        for write in find_writes(path.read_text(encoding="utf-8"), rel(path), plain_classes)
        if write.path not in WRITERS[write.field]
    ]
    assert not misplaced, "guarded fields written outside their module:\n" + "\n".join(misplaced)


def test_the_seat_writers_are_found_where_they_are() -> None:
    # The rule above must see the writes it allows, or it would pass by seeing nothing at all.
    # (``transitions`` writes through ``update(**values)`` and ``setattr(obj, name, ...)``: names in
    # variables, which no reading of the source can follow.)
    tree = parse(PACKAGE / "services" / "_engine" / "seats.py")
    writers = set()
    for function in tree.body:
        if isinstance(function, ast.FunctionDef):
            for write in find_writes(ast.unparse(function)):
                writers.add((function.name, write.field))
    assert writers == {(name, "seats_taken") for name in
                       ("claim_and_insert", "free_seats", "free_one", "add_seats", "held_by_lesson",
                        "set_taken", "show_claimed", "show_taken", "resized")}, writers


def test_the_claim_statements_are_sent_by_the_seats_module_only() -> None:
    # The seat claim's text is built in ``statements`` and ``fastpath`` (SQL, which the rule above
    # cannot read); only ``seats`` may send it.
    callers = {rel(path) for path in source_files()
               for call in ("statements.claim_seat(", "fastpath.claim_and_insert(")
               if call in path.read_text(encoding="utf-8")}
    assert callers == {"services/_engine/seats.py"}, callers


@pytest.mark.parametrize("source", [
    "session.seats_taken = 3",
    "session.seats_taken += 1",
    "session.capacity, session.seats_taken = 1, 1",
    "booking.status: str = 'cancelled'",
    "for row.status in statuses: pass",
    "booking.status_changed = now",
    "setattr(booking, 'status', 'cancelled')",
    "Session.objects.filter(pk=1).update(status='cancelled')",
    "Session.objects.filter(pk=1).update(**{'status': 'cancelled'})",
    "Session.objects.filter(pk=1).update(seats_taken=F('seats_taken') + 1)",
    "Booking.objects.create(student=s, status='confirmed')",
    "Booking.objects.get_or_create(student=s, defaults={'status': 'confirmed'})",
    "Booking.objects.bulk_update(rows, ['status'])",
    "Booking.objects.bulk_update(rows, fields=('status_changed',))",
    "Booking(student=s, status='confirmed')",
    "models.Booking(student=s, status='confirmed')",
    "get_booking_model()(student=s, status='confirmed')",
    "booking.save(update_fields=['status', 'modified'])",
    "make(session, seats_taken=0)",
])
def test_a_direct_write_is_found(source: str) -> None:
    assert find_writes(source), source


@pytest.mark.parametrize("source", [
    "Session.objects.filter(status='scheduled', seats_taken__lt=F('capacity'))",
    "Session.objects.exclude(status='cancelled')",
    "Session.objects.get(pk=1, status='scheduled')",
    "Q(status='waiting') | Q(status='offered')",
    "Violation('full', params={'status': 'full'})",
    "Existing(pk=1, status='scheduled', seats_taken=2)",
    "transitions.begin(Booking(**{'student': s}), 'confirmed', now)",
    "render(request, 'page.html', status=400)",
    "values = {'status': target, 'seats_taken': 0}",
    "def plan(ref):\n    row = Target(ref, status='scheduled')\n    row.status = 'cancelled'",
    "def plan(target: Target):\n    target.status = 'cancelled'",
    "class Target:\n    def cancel(self):\n        self.status = 'cancelled'",
    "Case(When(status='offered', then=Value(1)), default=Value(0))",
    "if booking.status == 'confirmed': pass",
    "booking.refresh_from_db(fields=['status', 'seats_taken'])",
])
def test_a_read_or_a_plain_record_is_no_write(source: str) -> None:
    assert not find_writes(source, plain=frozenset({"Violation", "Target", "Existing"})), source


# --- b. private names stay in their module ------------------------------------------------------


def _is_module(name: str) -> bool:
    """Whether ``name`` is an importable module or package (without importing a package module)."""
    if name == PACKAGE_NAME or name.startswith(PACKAGE_NAME + "."):
        path = PACKAGE.parent.joinpath(*name.split("."))
        return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


#: Django's own underscored model API, documented for use from outside the model.
DJANGO_MODEL_API = frozenset({"_meta", "_state", "_default_manager", "_base_manager"})


def _own_names(tree: ast.Module) -> set[str]:
    """Every name a module defines itself: its private names are its own to use."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def private_uses(path: Path, *, source: str | None = None) -> list[str]:
    """Another module's private names this module uses.

    ``from x import _name`` (unless ``_name`` is a module: a private module or package such as
    ``_engine`` is the package's own business), ``module._name`` on a module of the package,
    ``obj._name`` and ``Class(_name=...)`` for a ``_name`` the module does not define itself.
    ``self``/``cls`` and Django's ``_meta``/``_state``/``_default_manager`` are fine. ``source``
    stands in for the file's text; the module is still resolved from ``path``.
    """
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    module, is_package = dotted(path), path.name == "__init__.py"
    where = rel(path)
    own = _own_names(tree)
    found: list[str] = []
    modules: dict[str, str] = {}  # local name -> package module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if _is_module(full):
                    if full.startswith(PACKAGE_NAME):
                        modules[alias.asname or alias.name] = full
                elif _private(alias.name) and base.startswith(PACKAGE_NAME):
                    # Other libraries' conventions (django-stubs' ``_User``) are theirs to keep.
                    found.append(f"{where}:{node.lineno}: from {base} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE_NAME):
                    modules[alias.asname or PACKAGE_NAME] = alias.name if alias.asname else PACKAGE_NAME
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg and _private(node.arg) and node.arg not in own:
            found.append(f"{where}:{node.value.lineno}: keyword {node.arg}=")
            continue
        chain: list[str] = []
        current: ast.AST = node
        if isinstance(node, ast.Call) and call_name(node) == "getattr" and len(node.args) >= 2 and isinstance(
                node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
            chain, current = [node.args[1].value], node.args[0]
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            chain, current = [node.attr], node.value
        else:
            continue
        while isinstance(current, ast.Attribute):
            chain.insert(0, current.attr)
            current = current.value
        if isinstance(current, ast.Name) and current.id in modules:
            # Walk the chain through modules; the first non-module name is the one looked up in a module.
            owner = modules[current.id]
            for part in chain:
                if _is_module(f"{owner}.{part}"):
                    owner = f"{owner}.{part}"
                    continue
                if _private(part):
                    found.append(f"{where}:{node.lineno}: {owner}.{part}")
                break
            continue
        name = chain[-1]
        if not _private(name) or name in own or name in DJANGO_MODEL_API:
            continue
        if len(chain) == 1 and isinstance(current, ast.Name) and current.id in {"self", "cls"}:
            continue
        found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return sorted(set(found))


def test_no_module_uses_another_modules_private_names() -> None:
    found = [use for path in source_files(migrations=True) for use in private_uses(path)]
    assert not found, "private names used outside their module:\n" + "\n".join(found)


def test_a_private_name_taken_from_another_module_is_found() -> None:
    # Read as if it were a module of the engine, so that its relative imports resolve.
    path = PACKAGE / "services" / "_engine" / "seating.py"
    source = (
        "from . import seats\n"
        "from .actors import _System\n"
        "from .. import _engine\n"
        "from ...views import _common\n"
        "import django_liveclass_booking.services._engine.seats as engine_seats\n"
        "def f(obj, cls, request):\n"
        "    seats._offer([], None)\n"
        "    _engine.seats._offer([], None)\n"
        "    getattr(seats, '_offer')\n"
        "    engine_seats._offer([], None)\n"
        "    request._cache['key'] = 1\n"
        "    BookingRequest(student=obj, _teacher=obj)\n"
        "    return obj._meta, obj._state, cls._lock, self._cache, type(obj)._default_manager, _own(obj)\n"
        "def _own(obj):\n"
        "    return obj._mine, _common.render_page, seats.claim_seat, _engine.seats.claim_seat\n"
        "class Thing:\n"
        "    _mine = 1\n"
    )
    found = private_uses(path, source=source)
    engine = f"{PACKAGE_NAME}.services._engine"
    assert found == sorted([
        f"services/_engine/seating.py:2: from {engine}.actors import _System",
        f"services/_engine/seating.py:7: {engine}.seats._offer",
        f"services/_engine/seating.py:8: {engine}.seats._offer",
        f"services/_engine/seating.py:9: {engine}.seats._offer",
        f"services/_engine/seating.py:10: {engine}.seats._offer",
        "services/_engine/seating.py:11: request._cache",
        "services/_engine/seating.py:12: keyword _teacher=",
    ]), found


# --- c. public service modules ------------------------------------------------------------------


def service_modules() -> list[Path]:
    return sorted(p for p in (PACKAGE / "services").glob("*.py") if p.name != "__init__.py")


def _all_names(tree: ast.Module) -> list[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return []


@pytest.mark.parametrize("path", service_modules(), ids=lambda p: p.name)
def test_a_service_module_holds_only_public_functions_listed_first_entry_first(path: Path) -> None:
    tree = parse(path)
    names = _all_names(tree)
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    assert names, f"{path.name} has no __all__"
    assert functions, f"{path.name} defines no function"
    assert not classes, f"{path.name} defines classes {classes}: they belong in services/_engine/"
    private = [name for name in functions if name.startswith("_")]
    assert not private, f"{path.name} defines private functions {private}: they belong in services/_engine/"
    unlisted = [name for name in functions if name not in names]
    assert not unlisted, f"{path.name} defines functions missing from __all__: {unlisted}"
    assert names[0] == functions[0], (
        f"{path.name}: __all__ starts with {names[0]!r} but the first function defined is {functions[0]!r}")
    module = importlib.import_module(dotted(path))
    missing = [name for name in names if not hasattr(module, name)]
    assert not missing, f"{path.name}: __all__ names {missing} that the module does not have"


# --- d. every public service keeps its arguments on refusal ------------------------------------


@pytest.mark.parametrize("name", [n for n in services.__all__ if inspect.isfunction(getattr(services, n))])
def test_every_public_service_keeps_its_arguments_on_refusal(name: str) -> None:
    function = getattr(services, name)
    assert getattr(function, "keeps_arguments_on_refusal", False) is True, (
        f"services.{name} ({inspect.getsourcefile(function)}) is not wrapped by keeps_arguments_on_refusal")


# --- e. module size -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [p for p in source_files(migrations=True) if rel(p) not in LONG_BY_NATURE], ids=rel)
def test_no_module_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{rel(path)} has {lines} lines (at most {MAX_LINES}): split it by responsibility"


# --- f. locks need a transaction ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_locks_refuse_to_run_outside_a_transaction(teacher: Any, session: Any) -> None:
    from django_liveclass_booking.services._engine import locks

    with pytest.raises(locks.LockOutsideTransaction):
        locks.lock_teacher(teacher)
    with pytest.raises(locks.LockOutsideTransaction):
        locks.lock_session(session.pk)
    with pytest.raises(locks.LockOutsideTransaction):
        locks.lock_sessions([session.pk])
    # The same calls inside a transaction lock and return, so the refusals above are about the transaction.
    with transaction.atomic():
        assert locks.lock_teacher(teacher).teacher_id == teacher.pk
        assert locks.lock_session(session.pk).pk == session.pk
        assert locks.lock_sessions([session.pk]) == [session.pk]
