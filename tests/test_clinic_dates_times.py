"""Days, times and dates of birth through the whole receptionist, on text turns.

As in test_dates_times.py, each group holds the probe's phrasings that were misread and fresh
ones written for these tests (other words, same mechanism). Today is Monday 2026-11-23;
Doctor Patel sees patients on weekdays from nine to five, every half hour.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.clinic import open_test_clinic, start

NOT_FREE = "isn't free then. I have Wednesday the twenty fifth at"

# An answer to "Doctor Patel is free on Wednesday the twenty fifth at nine in the morning or
# half past nine. Which would you like?", and what the reply must say.
OFFERED_PROBE = [
    ("eleven would be good", "at eleven"),
    ("ten please", "at ten"),
    ("um 3", "at three"),
    ("3 works", "at three"),
    ("half ten", "at half past ten"),
    ("ten to eleven", f"{NOT_FREE} half past ten or eleven"),  # 10:50, understood
    ("at for in the afternoon", "at four"),
    ("2ish", "at two"),
    ("at 3 no make it 4", "at four"),
    ("ten, no, eleven", "at eleven"),
]
OFFERED_HELD_OUT = [
    ("nine sounds good", "at nine"),
    ("2 is fine", "at two"),
    ("half eleven", "at half past eleven"),
    ("twenty to ten", f"{NOT_FREE} half past nine or ten"),  # 9:40, understood
    ("at 10 no wait 11", "at eleven"),
    ("fourish", "at four"),
    ("twelve, sorry, one", "at one"),
    ("around to in the afternoon", "at two"),
]


@pytest.mark.parametrize(("answer", "expected"), OFFERED_PROBE + OFFERED_HELD_OUT)
async def test_an_answer_to_offered_times(tmp_path: Path, answer: str, expected: str) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-offered")
        await talk.say("I'd like to book Doctor Patel on Wednesday.")
        offer = await talk.say("John Smith, July 4, 1990")
        assert "Wednesday the twenty fifth at nine in the morning" in offer
        assert expected in await talk.say(answer)


# A whole request, then the identity given; what the reply must say.
REQUEST_PROBE = [
    ("book doctor patel thursday no wait friday at ten", "Friday the twenty seventh at ten"),
    ("book doctor patel for a week from tuesday at ten", "Tuesday the first at ten"),
    ("book doctor patel first thing monday", "Monday the thirtieth at nine in the morning"),
    ("book doctor patel in two weeks at ten", "Monday the seventh at ten"),
    ("book doctor patel wednesday after next at ten", "Wednesday the second at ten"),
]
REQUEST_HELD_OUT = [
    ("book doctor patel wednesday sorry thursday at ten", "Thursday the twenty sixth at ten"),
    ("book doctor patel three days from now at ten", "Thursday the twenty sixth at ten"),
    ("book doctor patel friday after next at ten", "Friday the fourth at ten"),
    ("book doctor patel on the 2nd of next month at 10", "Wednesday the second at ten"),
    ("it's my first visit, book doctor patel tuesday at 10", "Tuesday the twenty fourth at ten"),
]


@pytest.mark.parametrize(("request_", "expected"), REQUEST_PROBE + REQUEST_HELD_OUT)
async def test_a_request_with_a_relative_day_or_a_repair(
    tmp_path: Path, request_: str, expected: str
) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-request")
        await talk.say(request_)
        assert expected in await talk.say("John Smith, July 4, 1990")


# The identity step: a seeded patient's name and date of birth as they said it.
IDENTITY_PROBE = [
    ("John Smith", "seven four nineteen ninety", "John"),
    ("John Smith", "the fourth of july, ninety", "John"),
    ("Maria Garcia", "three twelve eighty four", "Maria"),
    ("David Miller", "sixty five, june second", "David"),
    ("Emily Johnson", "may fifth seventy-eight", "Emily"),
    ("Emily Johnson", "oh five oh five seventy eight", "Emily"),
]
IDENTITY_HELD_OUT = [
    ("John Smith", "oh seven oh four ninety", "John"),
    ("Maria Garcia", "march twelfth, eighty four", "Maria"),
    ("David Miller", "1965, june the second", "David"),
    ("Sarah Thompson", "ten one two thousand", "Sarah"),
    ("Emily Johnson", "the fifth of may, uh, 1978", "Emily"),
    ("Maria Garcia", "march 12th 1983, sorry, 1984", "Maria"),
]


@pytest.mark.parametrize(("name", "dob", "first"), IDENTITY_PROBE + IDENTITY_HELD_OUT)
async def test_a_date_of_birth_in_the_identity_step(
    tmp_path: Path, name: str, dob: str, first: str
) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-identity")
        await talk.say("i'd like to make an appointment")
        assert (await talk.say(f"{name}, {dob}")).startswith(f"Thank you, {first}")
