"""Dates, times and dates of birth as callers say them, one test per mechanism.

Each mechanism is checked on the phrasings a probe found misread (`PROBE`) and on fresh ones
written for these tests (`HELD_OUT`: other words, the same mechanism), so that a fix listing
the probe's phrases fails here. Controls show what the mechanism must leave alone. Today is
Monday 2026-11-23, as in the clinic tests; every expectation was worked out by hand.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from callwright.flows.engine import FlowState, SlotContext, fill
from callwright.flows.names import Directory, Person
from callwright.flows.slots import TimeSpec, extract_date, extract_dob, extract_time
from examples.clinic.flow import ASK_DOB, CLINIC_FLOW
from tests.fakes.clinic import MONDAY

D = dt.date
DOCTORS = Directory([Person("patel", "Anita", "Patel", "Doctor Patel")])
CTX = SlotContext(today=MONDAY, directories={"doctors": DOCTORS})


def _day(month: int, day: int, year: int = 2026) -> dt.date:
    return dt.date(year, month, day)


def _fill(text: str, awaiting: str | None) -> dict[str, Any]:
    """The booking's slots the clinic keeps from one turn, its question asking `awaiting`."""
    state = FlowState("book", awaiting=awaiting)
    fill(state, CLINIC_FLOW.node("book").slots, text, CTX)
    return state.slots


def _hour(slots: dict[str, Any]) -> dt.time | None:
    time = slots.get("time")
    return time.time if isinstance(time, TimeSpec) else None


# --- clock expressions ----------------------------------------------------------------

CLOCK_PROBE: list[tuple[str, dt.time | None]] = [
    ("ten to eleven", dt.time(10, 50)),  # was 11:00
    ("five to three", dt.time(14, 55)),  # was 15:00
    ("half ten", dt.time(10, 30)),
    ("at half 2", dt.time(14, 30)),
    ("9ish", dt.time(9)),
    ("nine-ish", dt.time(9)),
]
CLOCK_HELD_OUT: list[tuple[str, dt.time | None]] = [
    ("twenty to four", dt.time(15, 40)),
    ("25 to 2", dt.time(13, 35)),
    ("ten minutes to nine", dt.time(8, 50)),
    ("ten of eleven", dt.time(10, 50)),
    ("half nine please", dt.time(9, 30)),
    ("around half 3", dt.time(15, 30)),
    ("fourish", dt.time(16)),
    ("about 11-ish", dt.time(11)),
]
CLOCK_CONTROLS: list[tuple[str, dt.time | None]] = [
    ("quarter to one", dt.time(12, 45)),  # the hour before one is twelve, not zero
    ("half past ten", dt.time(10, 30)),
    ("I have to go at 3", dt.time(15)),
    ("half an hour", None),
    ("I need 2 minutes", None),
]


@pytest.mark.parametrize(("said", "expected"), CLOCK_PROBE + CLOCK_HELD_OUT + CLOCK_CONTROLS)
def test_clock_expressions(said: str, expected: dt.time | None) -> None:
    found = extract_time(said)
    assert (found.time if found is not None else None) == expected


@pytest.mark.parametrize(
    ("said", "period"),
    [
        ("after lunch", "afternoon"),  # probe
        ("sometime after lunchtime", "afternoon"),
        ("before lunch if possible", "morning"),
        ("first thing", "morning"),
    ],
)
def test_parts_of_the_day_named_by_what_happens_in_them(said: str, period: str) -> None:
    assert extract_time(said) == TimeSpec(None, period)  # type: ignore[arg-type]


# --- a day as an offset from an anchor ------------------------------------------------

OFFSET_PROBE: list[tuple[str, dt.date | None]] = [
    ("a week from tuesday", _day(12, 1)),  # was this Tuesday
    ("a week from this friday", _day(12, 4)),
    ("a week from today", _day(11, 30)),  # was today
    ("in two weeks", _day(12, 7)),
    ("two weeks from today", _day(12, 7)),
    ("in 3 days", _day(11, 26)),
    ("the 25th of next month", _day(12, 25)),  # was November 25th
    ("the twenty eighth of next month", _day(12, 28)),
    ("wednesday after next", _day(12, 2)),  # was this Wednesday
    ("12/4", _day(12, 4)),
]
OFFSET_HELD_OUT: list[tuple[str, dt.date | None]] = [
    ("a week from thursday", _day(12, 3)),
    ("three days from now", _day(11, 26)),
    ("in a fortnight", _day(12, 7)),
    ("in 10 days", _day(12, 3)),
    ("a week from tomorrow", _day(12, 1)),
    ("friday after next", _day(12, 4)),
    ("the 2nd of next month", _day(12, 2)),
    ("next month on the 15th", _day(12, 15)),
    ("a couple of weeks from today", _day(12, 7)),
    ("two weeks from wednesday", _day(12, 9)),
    ("tuesday the week after next", _day(12, 8)),
    ("the day after thursday", _day(11, 27)),
    ("could i come 12/9", _day(12, 9)),
]
# No single day: the flow asks rather than pick one for the caller.
SPANS: list[tuple[str, dt.date | None]] = [
    ("sometime next week", None),
    ("a tuesday next month", None),
    ("the 12th of this month", None),  # already past
    ("any time within 2 weeks", None),
    ("I've had it for 3 days", None),
    ("1/2 a tablet", None),  # a fraction before what it counts
]


@pytest.mark.parametrize(("said", "expected"), OFFSET_PROBE + OFFSET_HELD_OUT + SPANS)
def test_a_day_said_as_an_offset_from_an_anchor(said: str, expected: dt.date | None) -> None:
    assert extract_date(said, MONDAY) == expected


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("not tomorrow, the day after", _day(11, 25)),  # probe: was nothing
        ("not friday, the day before", _day(11, 26)),
        ("not monday but the day after", _day(12, 1)),
        ("not monday, the day after friday", _day(11, 28)),  # its own anchor
    ],
)
def test_a_day_relative_to_a_replaced_day(said: str, expected: dt.date) -> None:
    assert _fill(said, "date")["date"] == expected


# --- an ordinal before a noun names no day --------------------------------------------

ORDINAL_PROBE = [
    ("first thing monday", _day(11, 30)),  # was Tuesday December 1st
    ("first thing monday morning", _day(11, 30)),
    ("it's my first visit, could i come in friday", _day(11, 27)),  # was January 1st
    ("hang on a second, thursday", _day(11, 26)),  # was December 2nd
]
ORDINAL_HELD_OUT = [
    ("the first appointment you have on wednesday", _day(11, 25)),
    ("this is my second call, can i get in on tuesday", _day(11, 24)),
    ("first of all, is thursday possible", _day(11, 26)),
    ("just a second, monday works", _day(11, 30)),
    ("the third time i've called, friday please", _day(11, 27)),
]
ORDINAL_CONTROLS = [  # in date position they are still days
    ("the 12th works", _day(12, 12)),
    ("the third at ten", _day(12, 3)),
    ("thursday the twenty sixth", _day(11, 26)),
    ("the first of december", _day(12, 1)),
    ("on the 30th please", _day(11, 30)),
]


@pytest.mark.parametrize(("said", "expected"), ORDINAL_PROBE + ORDINAL_HELD_OUT + ORDINAL_CONTROLS)
def test_an_ordinal_before_a_noun_names_no_day(said: str, expected: dt.date) -> None:
    assert _fill(said, "date")["date"] == expected


def test_first_thing_is_the_morning() -> None:
    assert _fill("first thing monday", "date")["time"] == TimeSpec(None, "morning")


# --- a number alone answers a question for a time -------------------------------------

BARE_PROBE: list[tuple[str, dt.time | None]] = [
    ("ten", dt.time(10)),
    ("10 please", dt.time(10)),
    ("eleven would be good", dt.time(11)),
    ("um 3", dt.time(15)),
    ("3 works", dt.time(15)),
    ("maybe 4?", dt.time(16)),
]
BARE_HELD_OUT: list[tuple[str, dt.time | None]] = [
    ("nine sounds good", dt.time(9)),
    ("2 is fine", dt.time(14)),
    ("uh, eleven I guess", dt.time(11)),
    ("12 please", dt.time(12)),
    ("8 would work", dt.time(8)),
    ("1 if you have it", dt.time(13)),
]
BARE_CONTROLS: list[tuple[str, dt.time | None]] = [  # a count, a bound, a date, two hours: no hour
    ("3 days", None),
    ("anytime after 3", None),
    ("2 kids", None),
    ("december 10", None),
    ("10 or 11", None),
]


@pytest.mark.parametrize(("said", "expected"), BARE_PROBE + BARE_HELD_OUT + BARE_CONTROLS)
def test_a_number_alone_answers_a_question_for_a_time(said: str, expected: dt.time | None) -> None:
    assert _hour(_fill(said, "time")) == expected
    assert _hour(_fill(said, "choice")) == expected  # offered times ask for one too


@pytest.mark.parametrize("said", ["ten please", "3 works", "eleven would be good"])
def test_a_number_alone_is_no_hour_when_no_time_was_asked(said: str) -> None:
    assert _hour(_fill(said, "doctor")) is None
    assert extract_time(said) is None


# --- a self-repair with or without punctuation ----------------------------------------

# (said, what the question asked, expected day or None to skip, expected time or None)
REPAIR_PROBE: list[tuple[str, str, dt.date | None, dt.time | None]] = [
    ("next thursday no wait friday", "date", _day(11, 27), None),
    ("thursday um actually friday", "date", _day(11, 27), None),
    ("can i do tuesday uh no wednesday", "date", _day(11, 25), None),
    ("at 3 no make it 4", "time", None, dt.time(16)),
    ("ten, no, eleven", "time", None, dt.time(11)),
]
REPAIR_HELD_OUT: list[tuple[str, str, dt.date | None, dt.time | None]] = [
    ("wednesday sorry thursday", "date", _day(11, 26), None),
    ("friday oops monday", "date", _day(11, 30), None),
    ("at 9 actually 10", "time", None, dt.time(10)),
    ("half past two no wait half past three", "time", None, dt.time(15, 30)),
    ("eleven, sorry, twelve", "time", None, dt.time(12)),
    ("the 3rd no the 4th", "date", _day(12, 4), None),
]
REPAIR_CONTROLS: list[
    tuple[str, str, dt.date | None, dt.time | None]
] = [  # a marker without a value of the same kind on both sides changes nothing
    ("no problem, tuesday", "date", _day(11, 24), None),
    ("tuesday is fine, no rush", "date", _day(11, 24), None),
    ("sorry, could i do friday at 3", "date", _day(11, 27), dt.time(15)),
    ("thursday at ten no wait in the afternoon", "date", _day(11, 26), dt.time(10)),
]


@pytest.mark.parametrize(
    ("said", "awaiting", "day", "time"), REPAIR_PROBE + REPAIR_HELD_OUT + REPAIR_CONTROLS
)
def test_the_value_after_a_self_repair_wins(
    said: str, awaiting: str, day: dt.date | None, time: dt.time | None
) -> None:
    slots = _fill(said, awaiting)
    if day is not None:
        assert slots["date"] == day
    if time is not None:
        assert _hour(slots) == time


def test_a_marker_inside_a_reason_or_a_date_of_birth_is_read_with_the_whole() -> None:
    slots = _fill("because i have no appetite, can i come tuesday", None)
    assert slots["reason"] == "i have no appetite" and slots["date"] == _day(11, 24)
    assert _fill("for a checkup, sorry, for my knee", None)["reason"] == "my knee"
    # A date of birth repairs one of its parts: the extractor reads the whole sentence.
    state = FlowState("verify", awaiting="dob")
    fill(state, [ASK_DOB], "march 12th, 1984. no wait, 1985", CTX)
    assert state.slots["dob"] == D(1985, 3, 12)


# --- a word that sounds like a number, where an hour stands ---------------------------


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("this friday at for", dt.time(16)),  # probe
        ("friday at to", dt.time(14)),  # probe
        ("at for in the afternoon", dt.time(16)),  # probe
        ("monday at for thirty", dt.time(16, 30)),
        ("around to in the afternoon", dt.time(14)),
        ("wednesday at to o'clock", dt.time(14)),
        ("tuesday to thursday", None),  # controls: "to" and "for" as themselves
        ("could i come for the afternoon", None),
        ("I have to go at 3", dt.time(15)),
    ],
)
def test_a_sound_alike_word_where_an_hour_stands(said: str, expected: dt.time | None) -> None:
    found = extract_time(said)
    assert (found.time if found is not None else None) == expected


# --- dates of birth -------------------------------------------------------------------

DOB_PROBE: list[tuple[str, dt.date | None]] = [
    ("oh three twelve eighty four", D(1984, 3, 12)),
    ("zero seven zero four nineteen ninety", D(1990, 7, 4)),
    ("july 4th 90", D(1990, 7, 4)),
    ("june 2nd 65", D(1965, 6, 2)),
    ("6/2/65", D(1965, 6, 2)),
    ("may fifth seventy eight", D(1978, 5, 5)),
    ("10 1 2000", D(2000, 10, 1)),
    ("nineteen sixty five june second", D(1965, 6, 2)),
    ("1965 june 2", D(1965, 6, 2)),
    ("i was born on the 12th of march in 1984", D(1984, 3, 12)),
    ("it's march 12th uh 1984", D(1984, 3, 12)),
    ("march 12th, 1984. no wait, 1985", D(1985, 3, 12)),  # was 1984
    ("may 5 78", D(1978, 5, 5)),
]
DOB_HELD_OUT: list[tuple[str, dt.date | None]] = [
    ("august 9th 72", D(1972, 8, 9)),
    ("november thirtieth, oh five", D(2005, 11, 30)),  # two digits: the later century
    ("one two nineteen seventy", D(1970, 1, 2)),
    ("eleven twenty two two thousand three", D(2003, 11, 22)),
    ("2/14/99", D(1999, 2, 14)),
    ("09 23 1981", D(1981, 9, 23)),
    ("1972 august 9", D(1972, 8, 9)),
    ("nineteen fifty five, december first", D(1955, 12, 1)),
    ("the ninth of august um 1972", D(1972, 8, 9)),
    ("born on the 2nd of february in 1991", D(1991, 2, 2)),
    ("april 3rd, 1962. sorry, 1963", D(1963, 4, 3)),
    ("seventy one, may ninth", D(1971, 5, 9)),
    ("thirteen five eighty", D(1980, 5, 13)),  # 13 can only be the day
]
DOB_CONTROLS: list[tuple[str, dt.date | None]] = [
    ("March 12", None),  # no year: ask again rather than guess
    ("july 4th at 10", None),  # an hour, not a year
    ("december 10, 10:30", None),
    ("415 555 0100", None),
    ("march 12 2090", None),  # in the future
    # A repair about something else leaves the date of birth as said.
    ("7 4 1990, and I'd like to come at 10, sorry, 11", D(1990, 7, 4)),
    ("March 12 1984, and actually I'd like March 13th", D(1984, 3, 12)),
]


@pytest.mark.parametrize(("said", "expected"), DOB_PROBE + DOB_HELD_OUT + DOB_CONTROLS)
def test_dates_of_birth_however_said(said: str, expected: dt.date | None) -> None:
    assert extract_dob(said, MONDAY) == expected


def test_a_two_digit_birth_year_is_the_later_century_not_in_the_future() -> None:
    assert extract_dob("july 4th 20", MONDAY) == D(2020, 7, 4)
    assert extract_dob("december 25th 26", MONDAY) == D(1926, 12, 25)  # 2026-12-25 is ahead
    assert extract_dob("6/2/30", MONDAY) == D(1930, 6, 2)
