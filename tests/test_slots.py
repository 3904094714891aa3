"""Slot extraction on transcripts as Whisper writes them."""

from __future__ import annotations

import datetime as dt

import pytest

from callwright.flows.names import Directory, Person, soundex
from callwright.flows.numbers import normalize_numbers
from callwright.flows.slots import (
    TimeSpec,
    extract_choice,
    extract_date,
    extract_digits,
    extract_dob,
    extract_phone,
    extract_time,
    extract_yes_no,
    keyed_time,
)
from callwright.flows.speech import speak_dob, speak_time, speak_when
from examples.clinic.wording import speak_date_es

MONDAY = dt.date(2026, 11, 23)


def test_half_past_as_the_recogniser_writes_it() -> None:
    assert extract_time("Have past two, please.") == TimeSpec(dt.time(14, 30))
    assert extract_time("half passed 3") == TimeSpec(dt.time(15, 30))
    assert extract_time("I have to go at 3") == TimeSpec(dt.time(15, 0))  # not "half to"


def test_a_time_typed_on_the_keypad() -> None:
    assert keyed_time("200", "afternoon") == TimeSpec(dt.time(14, 0), "afternoon")
    assert keyed_time("230") == TimeSpec(dt.time(14, 30))  # office hours: two is afternoon
    assert keyed_time("1000") == TimeSpec(dt.time(10, 0))
    assert keyed_time("9", "evening") == TimeSpec(dt.time(21, 0), "evening")
    assert keyed_time("1430", "morning") == TimeSpec(dt.time(14, 30), "morning")
    assert keyed_time("275") is None  # no 75th minute
    assert keyed_time("0") is None and keyed_time("12345") is None and keyed_time("2a") is None
    assert keyed_time("2²") is None  # a digit to Unicode, not a key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("March twelfth, nineteen eighty four.", "march 12th, 1984."),
        ("two-thirty", "2 30"),
        ("the twenty first of May", "the 21st of may"),
        ("two thousand and five", "2005"),
        ("Oh, I see", "oh, i see"),
        ("one hundred twenty Maple Street", "120 maple street"),
    ],
)
def test_number_words_become_digits(text: str, expected: str) -> None:
    assert normalize_numbers(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("next Tuesday", dt.date(2026, 11, 24)),
        ("Wednesday, half past two", dt.date(2026, 11, 25)),
        ("on wensday please", dt.date(2026, 11, 25)),
        ("Monday", dt.date(2026, 11, 30)),  # today is Monday: the next one
        ("tomorrow morning", dt.date(2026, 11, 24)),
        ("the day after tomorrow", dt.date(2026, 11, 25)),
        ("the third at two-thirty", dt.date(2026, 12, 3)),
        ("the 30th", dt.date(2026, 11, 30)),
        ("December 3rd", dt.date(2026, 12, 3)),
        ("the 5th of January", dt.date(2027, 1, 5)),
        ("March 12, 1984", None),  # in the past: not a booking date
        # The month misheard ("December" as "October"): the weekday picks the coming 16th.
        ("Wednesday, October 16, please.", dt.date(2026, 12, 16)),
        ("Tuesday, October 16", dt.date(2027, 10, 16)),  # no coming 16th is a Tuesday
        # "December" lost in noise: beside a weekday the ordinal is still the day.
        ("for Thursday to send her 10th at 10 in the morning", dt.date(2026, 12, 10)),
        ("the second one", None),  # a choice, not the 2nd of the month
        ("I'd like an appointment", None),
    ],
)
def test_dates(text: str, expected: dt.date | None) -> None:
    assert extract_date(text, MONDAY) == expected


@pytest.mark.parametrize(
    ("text", "hour", "minute", "period"),
    [
        ("3 p.m.", 15, 0, None),
        ("at 3 PM", 15, 0, None),
        ("2:30", 14, 30, None),
        ("930 in the morning, please.", 9, 30, "morning"),  # Whisper's "nine thirty"
        ("1130 a.m.", 11, 30, None),
        ("Monday, December 14, 2010.", 10, 0, None),  # Whisper's "the fourteenth at ten"
        ("Friday, December 11, 10 in the morning", 10, 0, "morning"),  # the 11th is a day
        ("To the afternoon, please.", 14, 0, "afternoon"),  # "two" heard as "to"
        ("half past two", 14, 30, None),
        ("quarter to four", 15, 45, None),
        ("quarter past nine", 9, 15, None),
        ("at noon", 12, 0, None),
        ("ten o'clock", 10, 0, None),
        ("at 10", 10, 0, None),
        ("Thursday at 3 in the afternoon", 15, 0, "afternoon"),
        ("9 30 in the morning", 9, 30, "morning"),
        ("two thirty", 14, 30, None),
        ("Please make it Thursday, free in the afternoon.", 15, 0, "afternoon"),  # Whisper
        ("at free", 15, 0, None),
    ],
)
def test_times(text: str, hour: int, minute: int, period: str | None) -> None:
    assert extract_time(text) == TimeSpec(dt.time(hour, minute), period)  # type: ignore[arg-type]


def test_part_of_day_only_and_no_time() -> None:
    assert extract_time("tomorrow morning") == TimeSpec(None, "morning")
    assert extract_time("Friday afternoon works") == TimeSpec(None, "afternoon")
    assert extract_time("I'd like to book") is None
    assert extract_time("born March 12, 1984") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Maria Darcya, March 12, 1984", dt.date(1984, 3, 12)),
        ("born on the 5th of May 1978", dt.date(1978, 5, 5)),
        ("born on October the 1st, 2000", dt.date(2000, 10, 1)),
        ("July fourth, nineteen ninety", dt.date(1990, 7, 4)),
        ("5/5/1978", dt.date(1978, 5, 5)),
        ("19840312", dt.date(1984, 3, 12)),  # keypad, year first
        ("03121984#", dt.date(1984, 3, 12)),  # keypad, month first
        ("March 12", None),  # no year: ask again rather than guess
        ("March 12, 2090", None),  # in the future
    ],
)
def test_dates_of_birth(text: str, expected: dt.date | None) -> None:
    assert extract_dob(text, MONDAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes, please.", True),
        ("Yeah, that works.", True),
        ("Sure, go ahead", True),
        ("Yes, that is correct. Please work it.", True),
        ("No.", False),
        ("No, make it Wednesday", False),
        ("That's not right", False),
        ("Nope", False),
        ("Hmm, let me think", None),
    ],
)
def test_yes_no(text: str, expected: bool | None) -> None:
    assert extract_yes_no(text) is expected


def test_digits_phone_and_choices() -> None:
    assert extract_digits("five five five, oh one oh oh") == "5550100"
    assert extract_phone("my number is 415 555 0100") == "+14155550100"
    assert extract_phone("one four one five, five five five, oh one oh oh") == "+14155550100"
    assert extract_phone("555 0100") is None
    assert extract_choice("the first one", 2) == 0
    assert extract_choice("the second, please", 2) == 1
    assert extract_choice("the later one", 2) == 1
    assert extract_choice("Tuesday", 2) is None
    # espeak's "the first one" as Whisper wrote it; a number in a longer reply may be a time.
    assert extract_choice("Number 1, please.", 2) == 0
    assert extract_choice("option two", 2) == 1
    assert extract_choice("2 please", 2) is None


def test_names_fuzzy_sound_alike_and_ambiguous() -> None:
    assert soundex("Patel") == soundex("Pattel") == "P340"
    doctors = Directory(
        [
            Person("patel", "Anita", "Patel", "Doctor Patel"),
            Person("park", "James", "Park", "Doctor Park"),
            Person("nguyen", "Linh", "Nguyen", "Doctor Nguyen"),
        ]
    )
    assert doctors.match("I'd like to see Dr. Pattel").best.key == "patel"  # type: ignore[union-attr]
    assert doctors.match("Doctor Parkel please").best.key == "park"  # type: ignore[union-attr]
    assert doctors.match("next Tuesday at 3").best is None
    parker = Person("a", "Ann", "Parker", "Doctor Parker")
    both = Directory([parker, Person("b", "Bo", "Parkes", "Doctor Parkes")]).match("Doctor Parke")
    assert both.best is None and {p.key for p in both.candidates} == {"a", "b"}
    patients = Directory([Person("m", "Maria", "Garcia", "Maria Garcia")])
    assert patients.match("My name is Maria Darci").best is not None  # Whisper's "Garcia"


def test_spoken_dates_and_times() -> None:
    assert speak_when(dt.date(2026, 12, 3), dt.time(14, 30), MONDAY) == (
        "Thursday the third at half past two"
    )
    assert speak_time(dt.time(9, 0)) == "nine in the morning"
    assert speak_time(dt.time(12, 0)) == "noon"
    assert speak_time(dt.time(15, 45)) == "quarter to four"
    assert speak_time(dt.time(10, 5)) == "ten oh five"
    assert speak_dob(dt.date(1984, 3, 12)) == "March twelfth, nineteen eighty four"
    assert "January" in speak_when(dt.date(2027, 1, 20), dt.time(9, 0), MONDAY)


def test_a_date_more_than_six_months_away_is_said_with_its_year() -> None:
    # "November sixteenth" said in late November is a year away: the read-back must say so.
    far = speak_when(dt.date(2027, 11, 16), dt.time(14, 0), MONDAY)
    assert far == "Tuesday, November sixteenth, twenty twenty seven at two"
    near = speak_when(dt.date(2027, 1, 20), dt.time(9, 0), MONDAY)
    assert "twenty twenty" not in near  # two months ahead: the month is enough
    assert speak_date_es(dt.date(2027, 11, 16), MONDAY).endswith("de dos mil veintisiete")
