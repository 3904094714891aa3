"""What callers say that the clinic suite found hard: a bare "yes" to a choice, a date of birth
before the day wanted, a name on no record, "move that appointment", a keyed date of birth,
an emergency in the caller's own words. Text turns; the rule-driven eval caller as well."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from callwright.agents.loading import load_agent
from callwright.evals.callers import FIRST_OPTION, PersonaCaller, what_is_asked
from callwright.evals.scenario import parse_scenario
from callwright.flows.names import Directory, Person, says_a_name
from callwright.flows.slots import extract_date
from callwright.kb.embed import shared_embedder
from callwright.kb.urgency import EmergencyMeaning, calibrate, read_labels
from callwright.testing import text_agent
from examples.clinic.flow import LINES
from examples.clinic.receptionist import task_intent
from tests.fakes.clinic import MONDAY, open_test_clinic, start

ROOT = Path(__file__).resolve().parent.parent
WEDNESDAY = dt.date(2026, 12, 2)


# --- dates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("Friday", dt.date(2026, 12, 4)),
        ("this Friday", dt.date(2026, 12, 4)),
        ("next Friday", dt.date(2026, 12, 4)),
        ("Friday next week", dt.date(2026, 12, 11)),
        ("Friday the 11th", dt.date(2026, 12, 11)),
        ("Wednesday", dt.date(2026, 12, 9)),  # never today
        # A date of birth said first does not hide the day wanted after it.
        ("Born May fifth, 1978. Doctor Nguyen on Friday, December 11th", dt.date(2026, 12, 11)),
        # Whisper wrote "the fourteenth at ten" as a year; the weekday fits December 14th.
        ("Doctor Patel for Monday, December 14, 2010.", dt.date(2026, 12, 14)),
        ("born May 5th 1978, on Friday", dt.date(2026, 12, 4)),
        ("Sarah Thompson, born to the 1st, 2000.", None),  # a misheard date of birth
    ],
)  # fmt: skip
def test_relative_and_misheard_dates(said: str, expected: dt.date | None) -> None:
    assert extract_date(said, WEDNESDAY) == expected


def test_scenario_dates_follow_the_day_of_the_call() -> None:
    data = {
        "name": "friday",
        "caller": {"lines": [{"say": "{spoken:friday}"}]},
        "expect": {"tool_calls": [{"name": "book", "arguments": {"date": "{date:friday}"}}]},
    }
    scenario = parse_scenario(data, "x.yaml", WEDNESDAY)
    assert scenario.expect.tool_calls[0].arguments["date"] == "2026-12-04"
    # The agent's reading of the caller's words is the scenario's: the same Friday.
    assert extract_date(scenario.lines[0].say, WEDNESDAY) == dt.date(2026, 12, 4)
    later = scenario.on(dt.date(2026, 12, 4))  # a call placed on that Friday
    assert later.expect.tool_calls[0].arguments["date"] == "2026-12-11"
    assert later.lines[0].say == "Friday, December 11th"


# --- names and intents ---------------------------------------------------------------


def test_a_name_on_no_record_is_still_a_name() -> None:
    assert says_a_name("Robert Brown, March third, nineteen seventy.")
    assert not says_a_name("March third, nineteen seventy.")
    assert not says_a_name("Yes, that's me.")
    assert not says_a_name("1990. Actually, could we do 11 instead of 10?")


def test_letters_spelled_one_by_one_match_a_name() -> None:
    doctors = Directory([Person("nguyen", "Linh", "Nguyen", "Doctor Nguyen"),
                         Person("patel", "Anita", "Patel", "Doctor Patel")])  # fmt: skip
    found = doctors.match("Make it Doctor N.G.Y.N instead.")
    assert found.best is not None and found.best.key == "nguyen"


@pytest.mark.parametrize(
    ("said", "intent"),
    [
        ("Actually, I need to move that appointment to Wednesday.", "reschedule"),
        ("Can I push it back a day?", "reschedule"),
        ("Sorry, can you tell me again when my appointment is?", "lookup"),
        ("What time is my next appointment?", "lookup"),
        ("When can I get an appointment?", "book"),
        ("Please cancel that appointment.", "cancel"),
    ],
)
def test_what_the_caller_does_with_an_appointment_decides_the_task(said: str, intent: str) -> None:
    assert task_intent(said) == intent


# --- the receptionist ----------------------------------------------------------------


async def test_a_bare_yes_to_two_times_narrows_once_then_takes_the_first(
    tmp_path: Path,
) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-yes")
        await talk.say("I'd like to book with Doctor Nguyen on Friday.")
        offer = await talk.say("John Smith, July 4, 1990.")
        assert offer.endswith("Which would you like?") and " or " in offer
        narrower = await talk.say("Yes, that's right.")
        assert narrower.startswith("Sorry, which one:") and narrower not in offer
        confirm = await talk.say("Yes.")
        assert confirm.startswith("So that's Doctor Nguyen on Friday") and "eight" in confirm
        await talk.say("Yes.")
        assert talk.result_of("book_appointment").call.arguments["time"] == "08:00"


async def test_an_unknown_caller_is_told_the_identity_check_failed(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-unknown")
        await talk.say("Hi, I'd like to check my upcoming appointments.")
        reply = await talk.say("Robert Brown, March third, nineteen seventy.")
        assert reply == LINES["verify_again"]
        reply = await talk.say("Robert Brown. March third, nineteen seventy.")
        assert reply == LINES["verify_failed"]
        assert "list_appointments" not in talk.tools_called()


async def test_a_date_of_birth_after_the_name_does_not_replace_it(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-dob")
        await talk.say("I'd like to make an appointment please.")
        assert await talk.say("David Miller.") == LINES["ask_dob"]
        reply = await talk.say("June second, nineteen sixty-five.")
        assert reply.startswith("Thank you, David.")


async def test_a_date_of_birth_split_by_a_pause_is_joined(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-pause")
        await talk.say("I need to book Doctor Nguyen on Thursday at 10 in the morning.")
        assert await talk.say("John Smith, July 4th.") == LINES["ask_dob"]
        reply = await talk.say("1990. Actually, could we do 11 instead of 10?")
        assert reply == (
            "Thank you, John. So that's Doctor Nguyen on Thursday the twenty sixth at eleven "
            "in the morning. Shall I book it?"
        )


async def test_a_date_of_birth_split_by_a_pause_before_the_request_is_joined(
    tmp_path: Path,
) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-pause-first")
        # The caller gives name and birthday first; a 1.2 s pause cuts the year off.
        assert await talk.say("Hi, this is Emily Johnson, born May 5th.") == LINES["ask_dob"]
        reply = await talk.say(
            "1978, I'd like to see Doctor Nguyen on Friday, December 4th at 1 in the afternoon."
        )
        assert reply == (
            "Thank you, Emily. So that's Doctor Nguyen on Friday the fourth at one. "
            "Shall I book it?"
        )


async def test_a_day_and_hour_after_a_pause_are_the_booking_and_a_split_birthday_is_joined(
    tmp_path: Path,
) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-pauses")
        # Pauses of 1.2 s cut the request and the date of birth in two, as the eval's
        # "pauses" condition does.
        await talk.say("Hello, I need to book an appointment with Doctor Nguyen on Thursday.")
        await talk.say("December 3rd at 10 in the morning.")  # the day to book, not a birthday
        assert await talk.say("John Smith, July 4th.") == LINES["ask_dob"]
        reply = await talk.say("1990, actually.")  # "actually" does not rename the caller
        assert reply == (
            "Thank you, John. So that's Doctor Nguyen on Thursday the third at ten in the "
            "morning. Shall I book it?"
        )


async def test_a_date_of_birth_keyed_in_is_not_a_call_for_a_person() -> None:
    agent = load_agent(str(ROOT / "examples/clinic/agent.py"))
    async with text_agent(agent, today=lambda: MONDAY) as session:
        call = await session.call()
        await call.say("I'd like to check when my next appointment is.")
        await call.say("John Smith.")
        turn = await call.press("07041990#")
        assert turn.handoff is None
        turn.expect_tool("verify_identity", dob="1990-07-04")
        call = await session.call()
        turn = await call.press("0")  # on its own, 0 still asks for a person
        assert turn.handoff is not None


# --- emergencies by meaning ----------------------------------------------------------


async def test_an_emergency_in_the_callers_words_gets_911_and_a_sore_throat_a_booking(
    tmp_path: Path,
) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-throat")
        reply = await talk.say(
            "Hi, I think I'm having an allergic reaction, my throat is swelling up."
        )
        assert "dial nine one one" in reply
        assert talk.result_of("flag_call").result["flag"] == "possible_emergency"
        talk = await start(clinic, "c-sore")
        reply = await talk.say("I'd like an appointment, I've had a sore throat since Monday.")
        assert "nine one one" not in reply and "name and date of birth" in reply


def test_the_emergency_thresholds_are_the_calibrated_ones() -> None:
    embedder = shared_embedder()
    assert embedder is not None
    meaning = EmergencyMeaning(embedder)
    labels = read_labels(ROOT / "examples/clinic/emergency_labels.tsv")
    floor, margin, errors = calibrate(meaning, labels)
    assert (floor, margin) == (meaning.floor, meaning.margin)
    assert errors <= len(labels) // 20  # at least 95 % of the labelled turns right


# --- the rule-driven eval caller -----------------------------------------------------


async def test_the_persona_answers_a_choice_with_an_option_not_yes() -> None:
    offer = (
        "Doctor Patel is free on Tuesday the fifteenth at nine in the morning or half past "
        "nine. Which would you like?"
    )
    assert what_is_asked(offer) == "choice"
    assert what_is_asked("Would that work?") == "yes_no"
    wants_930 = PersonaCaller({"goal": "Hi.", "time": "half past nine"})
    await wants_930.next_line("Hello?")
    line = await wants_930.next_line(offer)
    assert line is not None and line.say == "Half past nine, please."
    wants_11 = PersonaCaller({"goal": "Hi.", "time": "eleven in the morning"})
    await wants_11.next_line("Hello?")
    said = [await wants_11.next_line(offer) for _ in range(3)]
    assert [line.say if line else None for line in said] == [
        "Eleven in the morning, please.",  # not offered: asks for it, twice
        "Eleven in the morning, please.",
        FIRST_OPTION,
    ]
    # "Are you still there?" after the offer does not hide it.
    late = PersonaCaller({"goal": "Hi.", "time": "half past nine"})
    await late.next_line("Hello?")
    line = await late.next_line(offer + " Are you still there?")
    assert line is not None and line.say == "Half past nine, please."
    doctor = PersonaCaller({"goal": "Hi.", "doctor": "Park"})
    await doctor.next_line("Hello?")
    line = await doctor.next_line("Did you mean Doctor Patel or Doctor Park?")
    assert line is not None and line.say == "Doctor Park, please."
    line = await doctor.next_line("Doctor Patel, is that right?")  # misheard: corrected
    assert line is not None and line.say == "No, Doctor Park, please."


async def test_the_persona_keys_its_date_of_birth_when_offered_the_keypad() -> None:
    caller = PersonaCaller({"goal": "Hi.", "date_of_birth": "1990-07-04"})
    await caller.next_line("Hello?")
    await caller.next_line("And your date of birth?")
    line = await caller.next_line(
        "Sorry, I still didn't get that. You can also type it on your keypad, as eight digits."
    )
    assert line is not None and line.keys == "07041990#"
