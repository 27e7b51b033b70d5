from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..exceptions import PolicyViolation, render_message

if TYPE_CHECKING:
    from ..models import TeacherBookingPolicy


class Violation:
    """One reason a booking is refused. ``code`` is stable; ``message`` is for people.

    A code registered in :mod:`django_liveclass_booking.errors` takes its message from there, rendered
    when read (in the language active then) from ``params``; the ``message`` given here is the text
    of any other code, such as a host rule's own. A violation is immutable.
    """

    __slots__ = ("_text", "code", "params")

    code: str
    params: dict[str, Any]
    _text: str

    def __init__(self, code: str, message: str = "", params: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "params", dict(params or {}))
        object.__setattr__(self, "_text", message)

    @property
    def message(self) -> str:
        return render_message(self.code, self.params, self._text)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a Violation is immutable: cannot set {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Violation):
            return NotImplemented
        return (self.code, self._text, self.params) == (other.code, other._text, other.params)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Violation(code={self.code!r}, message={self.message!r}, params={self.params!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return Violation, (self.code, self._text, self.params)


@dataclass
class BookingRequest:
    """Everything a rule may look at. ``session`` is set for group seats, ``start``/``end`` always.

    ``teacher_id`` is always set; ``teacher`` loads the user on first use, so rules that need only
    the id cost no query.
    """

    student: Any
    teacher_id: Any
    kind: str
    start: dt.datetime
    end: dt.datetime
    now: dt.datetime
    policy: TeacherBookingPolicy
    session: Any = None
    series: Any = None
    #: Other bookings this request makes at once (a series' other occurrences): limits count them too.
    planned: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)
    #: The booking this request moves (a reschedule, a seat moved to another session): the limits
    #: do not count it against itself.
    moving: Any = None
    #: Set by the engine before any rule's check(): whether the booking would be pending.
    requires_approval: bool = False
    #: The teacher's user when the caller has it already (else ``teacher`` loads it on first use).
    loaded_teacher: Any = field(default=None, repr=False)
    #: Values shared by several rules, computed once (see ``cached``); a caller may fill it in advance.
    memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def duration_minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)

    @property
    def teacher(self) -> Any:
        if self.loaded_teacher is None:
            from django.contrib.auth import get_user_model

            self.loaded_teacher = get_user_model()._default_manager.get(pk=self.teacher_id)
        return self.loaded_teacher

    def cached(self, key: str, compute: Any) -> Any:
        """Memoise a query shared by several rules (e.g. the student's booking counts)."""
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]


@dataclass
class Decision:
    """The engine's answer: allowed or not, with every violation, and whether approval is needed."""

    violations: list[Violation] = field(default_factory=list)
    requires_approval: bool = False
    approval_reasons: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not self.violations

    @property
    def codes(self) -> list[str]:
        return [v.code for v in self.violations]

    def raise_if_refused(self) -> None:
        if self.violations:
            raise PolicyViolation(self.violations)


class Rule:
    """Base class of a policy rule. Options from ``OPTIONS`` arrive as keyword arguments.

    ``check`` returns the violations it finds (an empty list when the request is fine);
    ``requires_approval`` says whether the teacher must confirm the booking by hand.
    """

    def __init__(self, **options: Any) -> None:
        self.options = options

    def check(self, request: BookingRequest) -> list[Violation]:
        return []

    def requires_approval(self, request: BookingRequest) -> bool:
        return False


def evaluate(request: BookingRequest, rules: list[Rule] | None = None) -> Decision:
    """Run every rule (none stops at the first violation) and collect the verdicts."""
    from .loader import get_rules

    decision = Decision()
    active = get_rules() if rules is None else rules
    # Approval first: whether the booking would be pending is something rules may ask
    # (request.requires_approval), e.g. the limit on pending requests.
    for rule in active:
        if rule.requires_approval(request):
            decision.requires_approval = True
            decision.approval_reasons.append(type(rule).__name__)
    request.requires_approval = decision.requires_approval
    for rule in active:
        decision.violations.extend(rule.check(request) or [])
    return decision
