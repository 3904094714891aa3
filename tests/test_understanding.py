"""Understanding callers the agent was not tuned on: misheard names, slots given in any order,
corrections, on text turns of the receptionist and on the general mechanisms in `flows/`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from callwright.core.responder import Message
from callwright.flows.engine import (
    REPAIR_AGAIN,
    REPAIR_SORRY,
    Ambiguous,
    FlowState,
    SlotContext,
    fill,
    reprompt,
)
from callwright.flows.names import Directory, Person
from callwright.flows.phonetic import find_terms, phonetic_keys, respell, sounds_like
from callwright.flows.slots import extract_reason, tokens, without_replaced
from examples.clinic.flow import ASK_DATE, ASK_DOB, CLINIC_FLOW, LINES
from tests.fakes.clinic import MONDAY, open_test_clinic, start

DOCTORS = Directory(
    [
        Person("patel", "Anita", "Patel", "Doctor Patel"),
        Person("nguyen", "Linh", "Nguyen", "Doctor Nguyen"),
        Person("park", "James", "Park", "Doctor Park"),
        Person("lopez", "Sofia", "Lopez", "Doctor Lopez"),
    ]
)
DEC_10 = dt.date(2026, 12, 10)  # a Thursday, two and a half weeks after MONDAY


# --- names the recogniser gets wrong --------------------------------------------------


@pytest.mark.parametrize(
    ("heard", "key"),
    [
        ("I'd like to make an appointment with Dr. New Year.", "nguyen"),
        ("Can I see Doctor Win on Friday?", "nguyen"),
        ("doctor new yen please", "nguyen"),
        ("Dr. Pachel, please.", "patel"),
        ("I want Doctor Petal", "patel"),
        ("Book me in with Dr. Lopes", "lopez"),
        ("with doctor bark", "park"),
    ],
)
def test_misheard_doctor_names_match_by_sound(heard: str, key: str) -> None:
    match = DOCTORS.match(heard)
    assert match.best is not None and match.best.key == key


@pytest.mark.parametrize(
    "heard",
    [
        "When can I come in?",
        "I need a checkup next week",
        "I need to see a doctor",
        "Could I get something on Wednesday afternoon",
        "I have a rash on my arm",
        "yes please",
    ],
)
def test_everyday_words_are_not_names(heard: str) -> None:
    assert DOCTORS.match(heard).best is None


def test_an_everyday_word_after_a_title_is_not_a_first_name() -> None:
    # "Doctor Nguyen" as Whisper wrote it from flite's kal voice: "and" is not "Anita" Patel.
    assert DOCTORS.match("But wait, no, make it, Doctor and GUI in instead.").candidates == ()
    assert DOCTORS.match("Doctor Anita, please.").best == DOCTORS.people[0]
    # Away from a title an everyday word is never a name: "into" sounds like Anita.
    assert DOCTORS.match("Could I come into seat after N G Y and this Friday?").candidates == ()
    assert DOCTORS.match("I saw Anita last time.").best == DOCTORS.people[0]


def test_a_short_word_away_from_a_title_is_not_a_longer_name() -> None:
    # flite kal's "Oh, actually, could you push it to Wednesday..." as Whisper wrote it:
    # "end" has Anita's sound key (A-N-T) but three letters of her five.
    heard = "Paul, actually, could you push it to end the December 16th at 11 instead?"
    assert DOCTORS.match(heard).candidates == ()
    # After a title a short word still counts ("Win" for Nguyen), and so do names of
    # about their length away from one, accented or not.
    assert DOCTORS.match("Dr. Win, please.").best == DOCTORS.people[1]
    assert DOCTORS.match("Can I see Anita on Friday?").best == DOCTORS.people[0]
    patients = Directory([Person("maria", "María", "García", "María García")])
    assert patients.match("María García, doce de marzo").best == patients.people[0]


def test_a_name_after_a_title_outweighs_a_sound_alike_elsewhere() -> None:
    # "book" heard as "break" in noise sounds like Park; the caller named Doctor Nguyen.
    heard = "Hi, can I break an appointment with Doctor Nguyen for Tuesday, December 15th at 9."
    match = DOCTORS.match(heard)
    assert match.best is not None and match.best.key == "nguyen" and match.sure
    # Two titled names stay a question.
    assert [p.key for p in DOCTORS.match("Doctor Patel or Doctor Park?").candidates] == [
        "patel",
        "park",
    ]


def test_loose_matches_are_unsure_and_exact_ones_sure() -> None:
    assert not DOCTORS.match("Dr. New Year").sure
    assert not DOCTORS.match("Dr. Pachel").sure
    assert DOCTORS.match("Doctor Nguyen").sure
    assert DOCTORS.match("Linh Nguyen").sure


def test_insurer_terms_are_found_in_a_transcript() -> None:
    insurers = ["Aetna", "Cigna", "Blue Cross", "Medicare"]
    [found] = find_terms(tokens("Do you take that now?"), insurers, threshold=0.75)
    assert found.term == "Aetna" and found.heard == "that now"
    assert find_terms(tokens("do you take signa"), insurers)[0].term == "Cigna"
    assert find_terms(tokens("can I bring my kids"), insurers) == []


def test_phonetic_keys_fold_spellings_that_sound_alike() -> None:
    assert phonetic_keys("Pattel") == phonetic_keys("Patel")
    assert phonetic_keys("Signa") == phonetic_keys("Cigna")
    assert "WN" in phonetic_keys("Nguyen")  # the "win" pronunciation
    assert sounds_like("new year", "Nguyen") > sounds_like("new york", "Nguyen")
    assert sounds_like("Lopez", "Patel") < 0.5


# --- corrections ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("said", "hour"),
    [
        ("Actually, could we do 11 instead of 10?", 11),
        ("actually eleven instead of ten", 11),
        ("could you make it two rather than three", 14),
        ("can we move it from nine to ten thirty", 10),
        ("No, not ten, nine o'clock", 9),
        ("Instead of ten, how about at noon?", 12),
        ("Oh wait, could it be 10:30 rather than 11?", 10),
        ("Not eleven, twelve.", 12),
        ("not 3 but 4", 16),
    ],
)
def test_a_corrected_time_replaces_the_old_one(said: str, hour: int) -> None:
    state = FlowState("book", slots={"time": None})
    ctx = SlotContext(today=MONDAY, directories={"doctors": DOCTORS})
    changed, _ = fill(state, CLINIC_FLOW.node("book").slots, said, ctx)
    assert "time" in changed and state.slots["time"].time.hour == hour


@pytest.mark.parametrize(
    ("said", "weekday"),
    [
        ("No, Tuesday.", 1),
        ("Tuesday, not Wednesday", 1),
        ("not Wednesday but Friday", 4),
        ("rather than Monday could it be Thursday", 3),
    ],
)
def test_a_corrected_day_replaces_the_old_one(said: str, weekday: int) -> None:
    state = FlowState("book")
    ctx = SlotContext(today=MONDAY, directories={"doctors": DOCTORS})
    fill(state, CLINIC_FLOW.node("book").slots, said, ctx)
    assert state.slots["date"].weekday() == weekday


@pytest.mark.parametrize(
    ("said", "weekday", "hour"),
    [
        ("Next Tuesday, no, sorry, Wednesday.", 2, None),
        ("Tuesday, I mean Wednesday", 2, None),
        ("Thursday at ten, sorry, at eleven", 3, 11),
        ("Thursday at ten, or rather eleven", 3, 11),
        ("Friday at 3, no wait, 4", 4, 16),
        # No repair: a leading "no" or "sorry" answers, and "no" inside a phrase is a word.
        ("No, Tuesday.", 1, None),
        ("Sorry, Tuesday works", 1, None),
        ("I have no insurance, Tuesday is fine", 1, None),
        ("Friday at 3 is fine, no problem", 4, 15),
    ],
)
def test_a_speakers_own_repair_mid_sentence_replaces_what_it_repairs(
    said: str, weekday: int, hour: int | None
) -> None:
    state = FlowState("book")
    ctx = SlotContext(today=MONDAY, directories={"doctors": DOCTORS})
    fill(state, CLINIC_FLOW.node("book").slots, said, ctx)
    assert state.slots["date"].weekday() == weekday
    time = state.slots.get("time")
    assert (time.time.hour if time is not None else None) == hour


def test_values_said_before_a_repair_of_another_kind_stand() -> None:
    state = FlowState("book")
    ctx = SlotContext(today=MONDAY, directories={"doctors": DOCTORS})
    fill(state, CLINIC_FLOW.node("book").slots, "Doctor Patel on Tuesday, sorry, Wednesday", ctx)
    assert state.slots["doctor"].key == "patel" and state.slots["date"].weekday() == 2


def test_without_replaced_keeps_what_is_not_corrected() -> None:
    assert "tuesday" in without_replaced("Tuesday, not Wednesday")
    assert "wednesday" not in without_replaced("Tuesday, not Wednesday")
    assert without_replaced("I'm not sure, maybe Friday").endswith("maybe friday")


def test_a_loose_name_is_an_ambiguity_of_one_to_confirm() -> None:
    state = FlowState("book")
    ctx = SlotContext(today=MONDAY, directories={"doctors": DOCTORS})
    _, ambiguous = fill(state, CLINIC_FLOW.node("book").slots, "with Dr. New Year", ctx)
    assert isinstance(ambiguous, Ambiguous) and [c.key for c in ambiguous.candidates] == ["nguyen"]
    assert "doctor" not in state.slots


# --- the receptionist: the failures and mixed initiative ----------------------


async def test_new_year_is_confirmed_as_nguyen_and_the_first_sentence_is_kept(
    tmp_path: Path,
) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "u-nguyen")
        reply = await talk.say(
            "I'd like to make an appointment with Dr. New Year for Thursday, "
            "December 10th at 10 in the morning."
        )
        assert "name and date of birth" in reply
        reply = await talk.say("John Smith, July 4th, 1990")
        assert reply == "Thank you, John. Doctor Nguyen, is that right?"
        reply = await talk.say("Yes, that's right.")
        # Day and time from the first sentence, read back once; nothing asked again.
        assert reply == (
            "So that's Doctor Nguyen on Thursday the tenth at ten in the morning. Shall I book it?"
        )
        reply = await talk.say("Actually, could we do 11 instead of 10?")
        assert "Doctor Nguyen on Thursday the tenth at eleven in the morning" in reply
        await talk.say("Yes please.")
        [booked] = await clinic.data.store.appointments("pat_john")
        assert (booked.doctor_id, booked.start) == ("nguyen", dt.datetime(2026, 12, 10, 11, 0))


async def test_pachel_is_confirmed_as_patel(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "u-patel")
        await talk.say("Hi, can I book in with Dr. Pachel?")
        reply = await talk.say("Maria Garcia, born March 12, 1984")
        assert reply == "Thank you, Maria. Doctor Patel, is that right?"
        reply = await talk.say("yeah")
        assert reply == "What day would you like to see Doctor Patel?"


async def test_a_no_to_the_name_asks_for_the_doctor_again(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "u-no")
        await talk.say("I want to book with Doctor Pickle on Friday")
        await talk.say("Maria Garcia, born March 12, 1984")
        reply = await talk.say("No, Doctor Lopez")
        # Doctor Lopez does not work on Fridays; the day given at the start is still used.
        assert reply.startswith("Doctor Lopez has nothing free that day")


@pytest.mark.parametrize(
    "lines",
    [
        # Everything in the first sentence, in different orders.
        ["Could I see Doctor Park on Friday at 10 am?", "Maria Garcia, March 12, 1984"],
        [
            "Friday at ten in the morning with Doctor Park, I'd like to book.",
            "Maria Garcia, 3/12/1984",
        ],
        # Identity, doctor, day and time in one breath: one turn to the read-back.
        [
            "Hi, this is Maria Garcia, born March 12, 1984. Could I see Doctor Park on "
            "Friday at 10 am?"
        ],
        # The name with the request, the date of birth asked for alone.
        ["Maria Garcia here, can I book Doctor Park Friday at 10 am", "March 12, 1984"],
        # Slots given while verifying.
        [
            "I need to book an appointment",
            "It's Maria Garcia, March 12 1984, Doctor Park on Friday at 10",
        ],
        # Spread over turns, the doctor last.
        [
            "Can I schedule something for Friday?",
            "Maria Garcia, March 12, 1984",
            "at ten in the morning",
            "Doctor Park please",
        ],
    ],
)
async def test_slots_given_in_any_order_lead_to_one_read_back(
    tmp_path: Path, lines: list[str]
) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "u-order")
        replies = [await talk.say(line) for line in lines]
        assert replies[-1].endswith(
            "So that's Doctor Park on Friday the twenty seventh at ten in the morning. "
            "Shall I book it?"
        )
        asked = " ".join(replies)
        assert "What day" not in asked and "What time" not in asked


@pytest.mark.parametrize(
    ("correction", "expected"),
    [
        ("No, Tuesday.", "Tuesday the twenty fourth at three"),
        ("Actually make it 4 instead of 3", "Wednesday the twenty fifth at four"),
        ("could we do Thursday rather than Wednesday", "Thursday the twenty sixth at three"),
        ("Sorry, not Wednesday, Friday at 9", "Friday the twenty seventh at nine in the morning"),
    ],
)
async def test_corrections_at_the_read_back_replace_only_their_slot(
    tmp_path: Path, correction: str, expected: str
) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "u-correct")
        await talk.say("Book me with Doctor Patel on Wednesday at 3 pm")
        reply = await talk.say("John Smith, July 4, 1990")
        assert "Doctor Patel on Wednesday the twenty fifth at three" in reply
        reply = await talk.say(correction)
        assert reply == f"So that's Doctor Patel on {expected}. Shall I book it?"


# --- repair -----------------------------------------------------------------------------


async def test_a_day_not_understood_gets_a_narrower_question_then_a_person(
    tmp_path: Path,
) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "u-repair-day")
        await talk.say("I'd like to book with Doctor Park.")
        reply = await talk.say("Maria Garcia, March 12, 1984")
        assert reply == "Thank you, Maria. What day would you like to see Doctor Park?"
        reply = await talk.say("hmm, let me think")
        assert reply == f"{REPAIR_SORRY} {ASK_DATE.retry}"
        reply = await talk.say("uh, whenever really")
        assert reply.startswith(REPAIR_AGAIN) and "front desk" in reply
        reply = await talk.say("Friday at ten in the morning")
        assert reply.endswith("Shall I book it?")


async def test_a_date_of_birth_not_understood_twice_is_offered_on_the_keypad(
    tmp_path: Path,
) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "u-repair-dob")
        await talk.say("I want to book an appointment")
        assert await talk.say("Sarah Thompson") == LINES["ask_dob"]
        reply = await talk.say("it's the, uh, first")
        assert reply == f"{REPAIR_SORRY} {ASK_DOB.retry}"
        reply = await talk.say("October, the first, I think")
        assert reply.startswith(REPAIR_AGAIN) and "keypad" in reply
        reply = await talk.say("10012000", "dtmf")
        assert reply.startswith("Thank you, Sarah.")


async def test_the_name_said_again_with_a_misheard_birthday_is_a_failed_answer_too(
    tmp_path: Path,
) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "u-repair-dob-again")
        await talk.say("I want to book an appointment")
        line = "Sure, it's Sarah Thompson and my date of birth is due life worth, 2000."
        assert await talk.say(line) == LINES["ask_dob"]
        assert await talk.say(line) == f"{REPAIR_SORRY} {ASK_DOB.retry}"
        reply = await talk.say(line)
        assert reply.startswith(REPAIR_AGAIN) and "keypad" in reply
        reply = await talk.say("10012000", "dtmf")
        assert reply.startswith("Thank you, Sarah.")


def test_reprompt_offers_the_keypad_only_for_what_can_be_keyed() -> None:
    assert reprompt(ASK_DATE, 1) == f"{REPAIR_SORRY} {ASK_DATE.retry}"
    assert "keypad" not in reprompt(ASK_DATE, 2) and "a person" in reprompt(ASK_DATE, 2)
    assert ASK_DOB.keypad in reprompt(ASK_DOB, 2)


def test_respell_puts_the_term_a_transcript_misheard() -> None:
    vocabulary = ["Aetna", "Cigna", "Doctor Nguyen"]
    assert respell("Do you take that now?", vocabulary) == ("do you take Aetna", ["Aetna"])
    assert respell("I have signa insurance", vocabulary) == ("i have Cigna insurance", ["Cigna"])
    assert respell("what are your opening hours", vocabulary)[1] == []


def test_respell_keeps_an_ordinary_phrase_that_only_sounds_like_a_name() -> None:
    # Every word of it sounds like a word of the clinic's name, none is one: the caller said
    # something else (a misheard "please stop calling me"), not the name.
    vocabulary = ["Maple Street Clinic", "opening hours"]
    assert respell("Her actually, please start calling me.", vocabulary)[1] == []
    # A word of the name heard as itself anchors the rest.
    assert respell("where is maple street clinics", vocabulary)[1] == ["Maple Street Clinic"]
    assert respell("what are your opening errors", vocabulary)[1] == ["opening hours"]
    # A word heard with another ending of its stem anchors too ("open" for "opening").
    assert respell("Hi, what are your open errors?", vocabulary)[1] == ["opening hours"]
    # ... before a one-word term that sounds like one of its words ("open" like Aetna).
    with_insurers = [*vocabulary, "Aetna"]
    assert respell("Hi, what are your open errors?", with_insurers)[1] == ["opening hours"]
    assert respell("Do you take that now?", with_insurers)[1] == ["Aetna"]
    assert respell("Can I open an account?", vocabulary)[1] == []


@pytest.mark.parametrize(
    ("said", "reason"),
    [
        ("I'd like an appointment for a checkup with Doctor Patel", "a checkup"),
        ("I need to come in because of my knee pain", "my knee pain"),
        ("It's about a rash on my arm", "a rash"),
        ("Book me for Thursday at ten", None),
        ("Thanks for your help", None),
        ("for Doctor Nguyen please", None),
    ],
)
def test_the_reason_is_kept_but_a_day_time_or_doctor_is_not_one(
    said: str, reason: str | None
) -> None:
    assert extract_reason(said, MONDAY) == reason


async def test_a_misheard_topic_name_is_answered_by_its_sound_and_said(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "u-topic")
        # Festival's "opening hours" as Whisper tiny.en writes it, on a clean and a phone line.
        reply = await talk.say("Hi, what are your opening errors?")
        assert "if you mean opening hours" in reply.lower()
        assert "eight in the morning" in reply
        # A one-word topic is not respelled from any word that sounds a little like it.
        reply = await talk.say("Can I bring my dog?")
        assert "parking" not in reply.lower()


async def test_a_few_words_after_an_answer_are_taken_as_thanks_not_a_question(
    tmp_path: Path,
) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "u-ack")
        assert "parking" in await talk.say("Is there somewhere I can leave my car?")
        # "Great, thanks." in pink noise, as Whisper wrote it.
        assert await talk.say("Great, hence.") == LINES["thanks"]
        assert not [r for r in talk.tool_results if r.call.name == "follow_up"]


async def test_a_reason_given_early_is_read_back_and_booked(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "u-reason")
        await talk.say("Hi, I need a checkup, can I book Doctor Park for Friday at 10 am?")
        reply = await talk.say("Maria Garcia, March 12, 1984")
        assert "Doctor Park on Friday the twenty seventh at ten in the morning" in reply
        reply = await talk.say("Sorry, it's for a sore throat, not a checkup.")
        assert reply == (
            "So that's Doctor Park on Friday the twenty seventh at ten in the morning, "
            "for a sore throat. Shall I book it?"
        )
        await talk.say("yes")
        [booked] = await clinic.data.store.appointments("pat_maria")
        assert booked.reason == "a sore throat"


async def test_the_rest_of_a_request_said_after_a_pause_is_kept_not_a_failed_name(
    tmp_path: Path,
) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "u-rest-of-request")
        reply = await talk.say("Hello, I need to book an appointment with Doctor Nguyen.")
        assert reply == "Sure. First, what is your full name and date of birth?"
        # The caller paused after the doctor and went on with the day and time.
        reply = await talk.say("on Thursday at 10 in the morning.")
        assert reply == "Got it. And your full name and date of birth?"
        reply = await talk.say("John Smith, July 4, 1990.")
        assert reply == (
            "Thank you, John. So that's Doctor Nguyen on Thursday the twenty sixth at ten in "
            "the morning. Shall I book it?"
        )
        # Words that are neither the answer nor the request are still a failed answer.
        talk = await start(clinic, "u-not-understood")
        await talk.say("Hello, I need to book an appointment with Doctor Nguyen.")
        reply = await talk.say("Uh, well, the.")
        assert reply.startswith("Sorry, I didn't catch that.")


async def test_a_few_words_over_an_answer_get_the_answer_again_not_thanks(
    tmp_path: Path,
) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "u-over-answer")
        answer = await talk.say("What time do you guys close during the night?")
        assert "six in the evening" in answer
        # The caller went on with its question ("...during the week?") over the answer,
        # heard as "Sweet.", and the reply stopped after its first words.
        talk.history[-1] = Message("assistant", "We are open from eight in", interrupted=True)
        reply = await talk.say("Sweet.")
        assert reply == answer
        # After an answer heard whole, the same few words are the caller taking it in.
        reply = await talk.say("Sweet.")
        assert reply.startswith("You're welcome.")


async def test_a_misheard_birthday_is_not_kept_as_the_visits_reason(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "u-not-a-reason")
        await talk.say("I'd like to book Doctor Park for Friday at 10 am.")
        reply = await talk.say("John Smith.")
        assert "date of birth" in reply
        reply = await talk.say("Do I for 99 feet?")  # "July 4th, 1990" as the phone heard it
        assert "date of birth" in reply
        reply = await talk.say("July 4, 1990.")
        assert reply.endswith(
            "So that's Doctor Park on Friday the twenty seventh at ten in the morning. "
            "Shall I book it?"
        )
        # Given with a birthday that was understood, a reason is the caller's and is kept.
        talk = await start(clinic, "u-a-reason")
        await talk.say("I'd like to book Doctor Park for Friday at 10 am.")
        await talk.say("Maria Garcia.")
        reply = await talk.say("March 12, 1984, and it's for a sore throat.")
        assert reply.endswith("at ten in the morning, for a sore throat. Shall I book it?")


@pytest.mark.parametrize(
    ("opener", "doctor", "day"),
    [
        ("Could you fit me in with Doctor Lopez next Tuesday around 3?", "Doctor Lopez", "Tuesday"),
        ("Is Dr. Nguyen available Wednesday morning?", "Doctor Nguyen", "Wednesday"),
        ("Do you have anything with Doctor Lopes on Thursday?", "Doctor Lopez", "Thursday"),
        ("Any chance Doctor Park is free Friday at nine?", "Doctor Park", "Friday"),
    ],
)
async def test_a_doctor_and_a_day_without_the_word_book_start_a_booking(
    tmp_path: Path, opener: str, doctor: str, day: str
) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "u-implied")
        assert "name and date of birth" in await talk.say(opener)
        reply = await talk.say("John Smith, July 4, 1990")
        assert doctor in reply and day in reply, reply
        assert "book_appointment" not in talk.tools_called()


def test_the_node_implied_by_the_slots_given() -> None:
    assert CLINIC_FLOW.implied_node(["doctor", "date"]) == "book"
    assert CLINIC_FLOW.implied_node(["date", "time"]) == "book"  # the first node that takes them
    assert CLINIC_FLOW.implied_node([]) is None
    assert CLINIC_FLOW.implied_node(["doctor", "appointment"]) is None


async def test_a_question_about_a_doctor_is_answered_not_booked(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "u-doctor-question")
        reply = await talk.say("Does Doctor Park see children?")
        assert "Doctor Park sees children" in reply
