"""An hour written as other words is read by sound, only where a time is expected."""

from __future__ import annotations

import datetime as dt

import pytest

from callwright.flows.engine import FlowState, SlotContext, SlotSpec, fill
from callwright.flows.heard_numbers import hour_by_sound
from callwright.flows.slots import TimeSpec, extract_time

DATE = SlotSpec("date", "date", "What day?")
TIME = SlotSpec("time", "time", "What time?")
CTX = SlotContext(today=dt.date(2026, 11, 23))


@pytest.mark.parametrize(
    ("heard", "hour"),
    [
        ("Till heaven in the morning, please.", 11),  # "at eleven" in an unusual voice
        ("Monday, December 7th till heaven in the morning.", 11),
        ("Around ate, please.", 8),
        ("Sex in the evening.", 18),
        ("A leaven o'clock.", 11),
    ],
)
def test_a_sound_alike_where_an_hour_stands_is_that_hour(heard: str, hour: int) -> None:
    as_heard = extract_time(heard)
    assert as_heard is None or as_heard.time is None  # the words alone hold no hour
    respelled = hour_by_sound(heard)
    assert respelled is not None
    found = extract_time(respelled)
    assert found is not None and found.time == dt.time(hour, 0)


@pytest.mark.parametrize(
    "heard",
    [
        "Whatever is free in the morning.",  # a word about times is not a number
        "No, that is not right.",
        "Monday then, please.",  # everyday words are not numbers
        "At heaven, please.",  # as much "at four" as "at seven": neither for sure
        "Doctor Nguyen, please.",
        "I could do it later in the afternoon.",
        "John Smith, July fourth, nineteen ninety.",
    ],
)
def test_words_that_are_no_clear_hour_stay_as_heard(heard: str) -> None:
    assert hour_by_sound(heard) is None


def test_a_flow_reads_an_hour_by_sound_only_when_it_expects_a_time() -> None:
    said = "Monday, till heaven in the morning."
    asked = FlowState(node="book", awaiting="date")  # "What day?": the time is missing too
    fill(asked, [DATE, TIME], said, CTX)
    assert asked.slots["time"] == TimeSpec(time=dt.time(11, 0), period="morning")
    # The time is already known and was not asked for: the words are left alone.
    known = FlowState(node="book", awaiting="date", slots={"time": TimeSpec(time=dt.time(9))})
    fill(known, [DATE, TIME], said, CTX)
    assert known.slots["time"] == TimeSpec(period="morning")
    # Nothing asked (an open "how can I help?"): no guessing either.
    unasked = FlowState(node="book")
    fill(unasked, [DATE, TIME], said, CTX)
    assert unasked.slots["time"] == TimeSpec(period="morning")
