"""Every rule is expanded or refused within a bounded amount of work, and the limits are those documented."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from typing import Any

import pytest
from dateutil.rrule import rrulestr

from django_liveclass_booking import recurrence
from django_liveclass_booking.recurrence import RecurrenceError, expand

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

#: CPU seconds any call may take; the real cost is a few milliseconds.
BUDGET = 0.5
FIRST = dt.datetime(2026, 1, 5, 17)  # a Monday
HOUR = dt.timedelta(hours=1)
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def settle(rule: Any, first: dt.datetime = FIRST, tz: str = "Europe/London", cap: int = 104) -> tuple[Any, float]:
    """What expand() gave (occurrences or the RecurrenceError) and the CPU seconds it took."""
    began = time.process_time()
    try:
        outcome: Any = expand(rule, first_start_local=first, timezone=tz, duration=HOUR, max_occurrences=cap)
    except RecurrenceError as error:
        outcome = error
    return outcome, time.process_time() - began


def refusal(rule: Any, first: dt.datetime = FIRST) -> RecurrenceError:
    with pytest.raises(RecurrenceError) as caught:
        expand(rule, first_start_local=first, timezone="Europe/London", duration=HOUR, max_occurrences=104)
    return caught.value


INVALID, TOO_MANY = "invalid_rrule", "too_many_occurrences"
HOSTILE = [
    ("FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30;BYSECOND=" + ",".join(map(str, range(60))), INVALID),
    ("FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30", INVALID),
    ("FREQ=HOURLY;BYSETPOS=2", INVALID),
    ("FREQ=MINUTELY;BYSETPOS=2", INVALID),
    ("FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30", INVALID),
    ("FREQ=DAILY;COUNT=" + "9" * 4300, INVALID),
    ("FREQ=DAILY;COUNT=" + "9" * 480, TOO_MANY),
    (b"FREQ=DAILY;COUNT=3", INVALID),
    (None, INVALID),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", INVALID),
    ("FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31", INVALID),
    ("FREQ=DAILY;INTERVAL=7;BYDAY=TU", INVALID),
    ("FREQ=MONTHLY;BYDAY=1MO;BYMONTHDAY=20", INVALID),
    ("FREQ=YEARLY;BYWEEKNO=1;BYMONTH=6", INVALID),
    ("FREQ=YEARLY;BYYEARDAY=1;BYMONTHDAY=2", INVALID),
    ("FREQ=WEEKLY;BYDAY=MO;BYSETPOS=2", INVALID),
    ("FREQ=MONTHLY;BYMONTHDAY=1,2,3,4,5,6,7;BYDAY=MO;BYSETPOS=2", INVALID),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", INVALID),
    ("FREQ=MINUTELY", TOO_MANY),
    ("FREQ=DAILY;INTERVAL=" + "9" * 480, INVALID),
    ("FREQ=MINUTELY;INTERVAL=" + "9" * 470 + ";COUNT=2", INVALID),
    ("FREQ=YEARLY;BYDAY=MO;BYHOUR=" + ",".join(map(str, range(16))) + ";BYMINUTE=0,10,20,30,40,50;BYSETPOS=-1,2",
     INVALID),
    ("FREQ=YEARLY;BYYEARDAY=" + ",".join(map(str, range(-60, 0))) + ";BYWEEKNO=" + ",".join(map(str, range(1, 54))),
     TOO_MANY),
]


@pytest.mark.parametrize(("rule", "code"), HOSTILE)
def test_hostile_rule_is_settled_within_half_a_second_of_cpu(rule: Any, code: str) -> None:
    outcome, spent = settle(rule)

    assert isinstance(outcome, RecurrenceError)
    assert spent < BUDGET


@pytest.mark.parametrize(("rule", "code"), HOSTILE)
def test_hostile_rule_is_refused_with_a_code(rule: Any, code: str) -> None:
    error = refusal(rule)

    assert error.code == code
    assert error.params.get("rrule", rule) == rule


# --- random rules from the RFC 5545 grammar, valid or not --------------------------------------------------

FREQS = st.sampled_from(["YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY"])
SIGNED = st.integers(-400, 400).map(str)


def listing(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(values, min_size=1, max_size=8).map(",".join)


WEEKDAY = st.builds(lambda n, day: n + day, st.sampled_from(["", "1", "-1", "2", "5", "-5", "53", "0", "+3", "60"]),
                    st.sampled_from(WEEKDAYS))
BY_PARTS = {
    "INTERVAL": st.one_of(st.integers(1, 60), st.integers(1, 10**40)).map(str),
    "COUNT": st.one_of(st.integers(1, 120), st.integers(1, 10**30)).map(str),
    "UNTIL": st.builds(lambda d, utc: f"{d.year:04}{d:%m%dT%H%M%S}" + ("Z" if utc else ""),
                       st.datetimes(dt.datetime(1, 1, 2), dt.datetime(9999, 12, 30)), st.booleans()),
    "BYMONTH": listing(st.integers(0, 13).map(str)),
    "BYMONTHDAY": listing(st.integers(-32, 32).map(str)),
    "BYYEARDAY": listing(SIGNED),
    "BYWEEKNO": listing(st.integers(-54, 54).map(str)),
    "BYDAY": listing(WEEKDAY),
    "BYHOUR": listing(st.integers(0, 24).map(str)),
    "BYMINUTE": listing(st.integers(0, 60).map(str)),
    "BYSECOND": listing(st.integers(0, 60).map(str)),
    "BYSETPOS": listing(SIGNED),
    "WKST": st.sampled_from(WEEKDAYS),
}


@st.composite
def rules(draw: Any) -> str:
    names = draw(st.lists(st.sampled_from(sorted(BY_PARTS)), unique=True, max_size=6))
    parts = [f"FREQ={draw(FREQS)}"] + [f"{name}={draw(BY_PARTS[name])}" for name in names]
    return ";".join(draw(st.permutations(parts)))


@settings(max_examples=400, deadline=None)
@given(rule=rules(), first=st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31), allow_imaginary=True),
       tz=st.sampled_from(["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe", "Pacific/Kiritimati"]))
def test_any_rule_is_expanded_or_refused_within_half_a_second_of_cpu(rule: str, first: dt.datetime, tz: str) -> None:
    outcome, spent = settle(rule, first.replace(microsecond=0), tz)

    event(outcome.params.get("reason", outcome.code) if isinstance(outcome, RecurrenceError) else "expanded")
    assert isinstance(outcome, list | RecurrenceError)
    assert spent < BUDGET


# --- well-formed rules: bounded work, and the same occurrences as dateutil wherever COUNT bounds its cost -----


@st.composite
def well_formed_rules(draw: Any, *, counted: bool = True) -> tuple[str, dt.datetime]:
    """Rules inside every limit; ``counted`` ones end with a small COUNT, the others in any way or never."""
    freq = draw(st.sampled_from(["YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY"]))
    first = draw(st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2050, 1, 1))).replace(second=0, microsecond=0)
    if counted:
        parts = [f"FREQ={freq}", f"COUNT={draw(st.integers(1, 12))}"]
    else:
        ending = draw(st.sampled_from(["", f"COUNT={draw(st.integers(1, 200))}",
                                       f"UNTIL={draw(st.datetimes(first, dt.datetime(2070, 1, 1))):%Y%m%dT%H%M%SZ}"]))
        parts = [f"FREQ={freq}"] + [ending] * bool(ending)
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.integers(1, 5) if counted else st.integers(1, 60))}")
    if freq in ("HOURLY", "MINUTELY"):
        return ";".join(parts), first

    def values(low: int, high: int, signed: bool = False) -> str:
        numbers = st.integers(low, high) | (st.integers(-high, -low) if signed else st.nothing())
        return ",".join(map(str, draw(st.sets(numbers, min_size=1, max_size=3))))

    if draw(st.booleans()):
        parts.append("BYMONTH=" + values(1, 12))
    if freq != "WEEKLY" and draw(st.booleans()):
        parts.append("BYMONTHDAY=" + values(1, 31, signed=True))
    if freq == "YEARLY" and draw(st.booleans()):
        parts.append("BYYEARDAY=" + values(1, 366, signed=True))
    if draw(st.booleans()):
        # dateutil requires a numbered and a plain weekday both to match, RFC 5545 either: give one kind.
        if freq in ("MONTHLY", "YEARLY") and draw(st.booleans()):
            most = 53 if freq == "YEARLY" and not any(p.startswith("BYMONTH=") for p in parts) else 5
            days = st.builds(lambda n, day: f"{n}{day}", st.integers(1, most) | st.integers(-most, -1),
                             st.sampled_from(WEEKDAYS))
        else:
            days = st.sampled_from(WEEKDAYS)
        parts.append("BYDAY=" + ",".join(draw(st.sets(days, min_size=1, max_size=3))))
    if draw(st.booleans()):
        parts.append("BYHOUR=" + values(0, 23))
    if draw(st.booleans()):
        parts.append("BYMINUTE=" + values(0, 59))
    wkst = draw(st.sampled_from(WEEKDAYS))
    parts.append(f"WKST={wkst}")
    if freq in ("YEARLY", "MONTHLY", "WEEKLY") and len(parts) > 3 and draw(st.booleans()):
        parts.append("BYSETPOS=" + values(1, 10, signed=True))
        if freq == "WEEKLY":
            # dateutil counts positions in the first week from the first start, RFC 5545 from the week's start.
            first -= dt.timedelta(days=(first.weekday() - WEEKDAYS.index(wkst)) % 7)
    return ";".join(draw(st.permutations(parts))), first


@settings(max_examples=300, deadline=None)
@given(case=well_formed_rules())
def test_expansion_matches_dateutil(case: tuple[str, dt.datetime]) -> None:
    rule, first = case
    outcome, _ = settle(rule, first, "UTC", cap=20)
    hypothesis.assume(isinstance(outcome, list))  # refused: nothing within the span, which dateutil would search
    ours = [o.local_start for o in outcome]

    assert ours == list(itertools.islice(rrulestr(rule, dtstart=first), len(ours)))


@settings(max_examples=300, deadline=None)
@given(case=well_formed_rules(counted=False),
       tz=st.sampled_from(["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe"]))
def test_any_well_formed_rule_is_expanded_or_refused_within_half_a_second_of_cpu(case: tuple[str, dt.datetime],
                                                                                 tz: str) -> None:
    outcome, spent = settle(*case, tz)

    event(outcome.params.get("reason", outcome.code) if isinstance(outcome, RecurrenceError) else "expanded")
    assert isinstance(outcome, list | RecurrenceError)
    assert spent < BUDGET


@pytest.mark.parametrize("week", [1, 2, 52, 53, -1, -2, -53])
def test_by_week_number_follows_iso_8601_weeks(week: int) -> None:
    first = dt.datetime(2004, 1, 1, 9)

    def number(day: dt.date) -> int:
        year, iso_week, _ = day.isocalendar()
        weeks = dt.date(year, 12, 28).isocalendar()[1]
        return iso_week if week > 0 else iso_week - weeks - 1

    days = (first.date() + dt.timedelta(days=n) for n in range(3653))  # the ten years of the span
    expected = [day for day in days if number(day) == week]
    occurrences = expand(f"FREQ=YEARLY;BYWEEKNO={week};COUNT={len(expected)}", first_start_local=first,
                         timezone="UTC", duration=HOUR, max_occurrences=len(expected))

    assert [o.local_start.date() for o in occurrences] == expected


def test_numbered_and_plain_weekdays_are_either_one() -> None:
    occurrences = expand("FREQ=MONTHLY;BYDAY=1TU,FR;COUNT=6", first_start_local=dt.datetime(2026, 1, 1, 9),
                         timezone="UTC", duration=HOUR, max_occurrences=10)

    assert [o.local_start.day for o in occurrences] == [2, 6, 9, 16, 23, 30]


# --- each limit, refused with a message a person can act on -------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("FREQ=DAILY;COUNT=" + "0" * 500 + "3", "longer than 500"),
        ("FREQ=SECONDLY;COUNT=3", "by the second"),
        ("FREQ=HOURLY;BYDAY=MO;COUNT=3", "FREQ=HOURLY takes no BYDAY"),
        ("FREQ=MINUTELY;BYHOUR=9;COUNT=3", "FREQ=MINUTELY takes no BYHOUR"),
        ("FREQ=DAILY;BYHOUR=9,17;BYSETPOS=1;COUNT=3", "BYSETPOS needs FREQ=YEARLY or MONTHLY or WEEKLY"),
        ("FREQ=MONTHLY;BYSETPOS=1;COUNT=3", "BYSETPOS picks among"),
        ("FREQ=MONTHLY;BYWEEKNO=3;COUNT=3", "BYWEEKNO needs FREQ=YEARLY"),
        ("FREQ=WEEKLY;BYYEARDAY=3;COUNT=3", "BYYEARDAY needs FREQ=YEARLY"),
        ("FREQ=WEEKLY;BYMONTHDAY=3;COUNT=3", "BYMONTHDAY needs"),
        ("FREQ=WEEKLY;BYDAY=1MO;COUNT=3", "numbered weekday"),
        ("FREQ=YEARLY;BYWEEKNO=3;BYDAY=1MO;COUNT=3", "numbered weekday"),
        ("FREQ=MONTHLY;BYDAY=6MO;COUNT=3", "from 1 to 5"),
        ("FREQ=YEARLY;BYDAY=54MO;COUNT=3", "from 1 to 53"),
        ("FREQ=YEARLY;BYMONTH=1;BYDAY=6MO;COUNT=3", "from 1 to 5"),
        ("FREQ=DAILY;BYDAY=XX;COUNT=3", "BYDAY takes weekdays"),
        ("FREQ=DAILY;WKST=XX;COUNT=3", "WKST takes a weekday"),
        ("FREQ=DAILY;BYMONTH=0;COUNT=3", "BYMONTH takes whole numbers from 1 to 12"),
        ("FREQ=DAILY;BYMONTH=13;COUNT=3", "BYMONTH takes"),
        ("FREQ=DAILY;BYMONTHDAY=0;COUNT=3", "from 1 to 31 or -31 to -1"),
        ("FREQ=DAILY;BYMONTHDAY=32;COUNT=3", "BYMONTHDAY takes"),
        ("FREQ=YEARLY;BYYEARDAY=367;COUNT=3", "BYYEARDAY takes"),
        ("FREQ=YEARLY;BYWEEKNO=-54;COUNT=3", "BYWEEKNO takes"),
        ("FREQ=DAILY;BYHOUR=24;COUNT=3", "BYHOUR takes whole numbers from 0 to 23"),
        ("FREQ=DAILY;BYMINUTE=60;COUNT=3", "BYMINUTE takes"),
        ("FREQ=DAILY;BYSECOND=60;COUNT=3", "BYSECOND takes"),
        ("FREQ=YEARLY;BYMONTH=1;BYSETPOS=367;COUNT=3", "BYSETPOS takes"),
        ("FREQ=DAILY;BYMINUTE=" + ",".join(map(str, range(59))) + ",0,1;COUNT=3", "more than 60 values"),
        ("FREQ=DAILY;BYHOUR=1,2,3,4,5;BYMINUTE=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19;COUNT=3",
         "more than 96 start times a day"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;COUNT=3", "no month in BYMONTH=2 has a day BYMONTHDAY=30"),
        ("FREQ=MONTHLY;BYMONTH=4,6,9,11;BYMONTHDAY=31,-31;COUNT=3", "no month in BYMONTH"),
        ("FREQ=MONTHLY;BYDAY=1MO;BYMONTHDAY=20;COUNT=3", "no occurrence within 10 years"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "runs on more than 10 years"),
        ("FREQ=YEARLY;COUNT=12", "runs on more than 10 years"),
        ("FREQ=YEARLY;UNTIL=20400101", "runs on more than 10 years"),
    ],
)
def test_rule_outside_the_limits_is_refused_with_its_reason(rule: str, reason: str) -> None:
    error = refusal(rule)

    assert error.code == "invalid_rrule"
    assert reason in error.params["reason"]
    assert error.params["rrule"] == rule


def test_span_refusal_names_the_span() -> None:
    assert refusal("FREQ=YEARLY;COUNT=12").params["max_years"] == recurrence.MAX_SPAN_YEARS


@pytest.mark.parametrize(
    "rule",
    ["FREQ=YEARLY;COUNT=11", "FREQ=YEARLY;UNTIL=20360105T170000", "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=29;COUNT=2",
     "FREQ=MINUTELY;INTERVAL=" + "9" * 400 + ";COUNT=1", "FREQ=DAILY;BYMONTHDAY=-31,31;BYMONTH=1,4;COUNT=4",
     "FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11;BYMINUTE=0,5,10,15,20,25,30,35;COUNT=96"],
)
def test_rule_at_the_edge_of_the_limits_is_accepted(rule: str) -> None:
    assert expand(rule, first_start_local=FIRST, timezone="UTC", duration=HOUR, max_occurrences=104)


def test_the_documented_limits() -> None:
    assert (recurrence.MAX_RULE_LENGTH, recurrence.MAX_SPAN_YEARS, recurrence.MAX_DURATION, recurrence.MAX_VALUES,
            recurrence.MAX_STARTS_PER_DAY) == (500, 10, dt.timedelta(hours=24), 60, 96)
