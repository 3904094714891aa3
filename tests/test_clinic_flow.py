"""The receptionist's flow on text turns (one spoken call per task is in test_clinic_calls.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from examples.clinic.flow import LINES
from examples.clinic.receptionist import Receptionist
from examples.clinic.store import Patient
from tests.fakes.clinic import MONDAY, open_test_clinic, start

WEDNESDAY = MONDAY + dt.timedelta(days=2)
THURSDAY = MONDAY + dt.timedelta(days=3)


async def test_book_with_a_change_of_mind_keeps_the_doctor(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-book")
        reply = await talk.say("I want to book an appointment with Dr. Pattel.")
        assert "name and date of birth" in reply
        reply = await talk.say("Maria Darcya, March 12, 1984")
        assert reply.startswith("Thank you, Maria.") and "Doctor Patel" in reply
        reply = await talk.say("next Wednesday, half past two.")
        assert reply == (
            "So that's Doctor Patel on Wednesday the twenty fifth at half past two. "
            "Shall I book it?"
        )
        reply = await talk.say("No, actually make it Thursday.")
        assert "Doctor Patel on Thursday the twenty sixth at half past two" in reply
        assert await clinic.data.store.appointments("pat_maria") == []  # nothing before yes
        reply = await talk.say("Yes, please.")
        assert reply.startswith("You're all set with Doctor Patel on Thursday")
        [booked] = await clinic.data.store.appointments("pat_maria")
        assert (booked.doctor_id, booked.start, booked.status) == (
            "patel",
            dt.datetime.combine(THURSDAY, dt.time(14, 30)),
            "booked",
        )
        # The caller says yes again (an echo, a repeated turn): still one booking.
        await talk.say("Yes.")
        assert len(await clinic.data.store.appointments("pat_maria")) == 1


async def test_a_no_naming_a_doctor_not_understood_asks_for_the_doctor(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-redoctor")
        await talk.say("I want to book Doctor Patel for next Wednesday at half past two.")
        reply = await talk.say("Maria Garcia, March 12, 1984")
        assert reply.endswith("Shall I book it?") and "Doctor Patel" in reply
        # The new doctor's name was lost ("Nguyen" heard as "and GUI in"): the doctor is
        # what the caller changes, so the question is which doctor, not what to change.
        reply = await talk.say("Oh wait, no, make it Doctor and GUI in instead.")
        assert "Which doctor would you like to see?" in reply
        assert "the day or the time" not in reply
        reply = await talk.say("Doctor Nguyen, please.")
        assert "Doctor Nguyen on Wednesday the twenty fifth at half past two" in reply
        # A "no" that names the doctor as a role, not by title, still asks what to change.
        talk = await start(clinic, "c-what-change")
        await talk.say("I want to book Doctor Patel for next Wednesday at half past two.")
        await talk.say("Maria Garcia, March 12, 1984")
        reply = await talk.say("No, the doctor is right but not like that.")
        assert reply == LINES["what_change"]


async def test_a_bare_yes_to_anything_else_asks_what_else(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-what-else")
        reply = await talk.say("Do you take Aetna insurance?")
        reply = await talk.say("Okay, thanks.")
        assert reply.endswith("Is there anything else I can help with?")
        reply = await talk.say("Yes.")
        assert reply == "Sure, what else can I help you with?"
        assert "follow_up" not in talk.tools_called()
        reply = await talk.say("Where is the clinic?")
        assert "Maple Street" in reply


async def test_offers_free_times_and_takes_a_choice(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-offer")
        await talk.say("I'd like to book an appointment.")
        await talk.say("My name is John Smith and I was born on July 4, 1990.")
        reply = await talk.say("Doctor Nguyen please")
        assert reply == "What day would you like to see Doctor Nguyen?"
        reply = await talk.say("Do you have anything on Friday morning?")
        assert reply == (
            "Doctor Nguyen is free on Friday the twenty seventh at eight in the morning or "
            "half past eight. Which would you like?"
        )
        reply = await talk.say("The second one.")
        assert "Friday the twenty seventh at half past eight" in reply
        await talk.say("Yes")
        [booked] = await clinic.data.store.appointments("pat_john")
        assert booked.start == dt.datetime(2026, 11, 27, 8, 30)


async def test_the_part_of_day_said_again_to_its_times_asks_for_the_hour(tmp_path: Path) -> None:
    # The words of a phone call with a fast espeak voice: "two in the afternoon" came back
    # as "Good afternoon" each time.
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-period")
        await talk.say("I'd like to book an appointment with Doctor Nguyen, please.")
        await talk.say("John Smith, born July 4, 1990.")
        reply = await talk.say("Friday, please.")
        assert "at eight in the morning or half past eight" in reply
        reply = await talk.say("Good afternoon, please.")
        assert "at noon or half past twelve. Which would you like?" in reply
        # The same part of the day to its own times: the caller wants another hour in it.
        reply = await talk.say("Good afternoon, please.")
        assert reply == "What time in the afternoon would suit you?"
        reply = await talk.say("To the afternoon will be good.")
        assert reply == (
            "So that's Doctor Nguyen on Friday the twenty seventh at two. Shall I book it?"
        )
        await talk.say("Yes")
        [booked] = await clinic.data.store.appointments("pat_john")
        assert booked.start == dt.datetime(2026, 11, 27, 14, 0)
        # Another part of the day than the times offered is a new request, answered with
        # that part's times, not with the question.
        talk = await start(clinic, "c-period-other")
        await talk.say("I'd like to book an appointment with Doctor Nguyen, please.")
        await talk.say("Maria Garcia, March 12, 1984")
        await talk.say("Thursday afternoon, please.")
        reply = await talk.say("Actually, in the morning, please.")
        assert "at eight in the morning or half past eight" in reply


async def test_half_past_an_hour_not_heard_asks_for_the_time(tmp_path: Path) -> None:
    # flite slt's "half past two" as the recogniser wrote it, twice: "half past you".
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-half-past")
        await talk.say("Hello, could I come in to see Doctor Nguyen this Friday?")
        reply = await talk.say("John Smith, born July 4, 1990.")
        assert "at eight in the morning or half past eight" in reply
        reply = await talk.say("Half past you, please.")
        assert reply == "What time would suit you?"
        reply = await talk.say("Half past you would be good.")
        assert "type it on your keypad" in reply
        reply = await talk.say("230")
        assert reply == (
            "So that's Doctor Nguyen on Friday the twenty seventh at half past two. "
            "Shall I book it?"
        )


async def test_the_request_said_again_to_offered_times_is_not_a_lost_hour(
    tmp_path: Path,
) -> None:
    # The caller says its whole request again (its "at ten" lost): the day and doctor are
    # there, so the times are offered again rather than a question for the hour.
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-restated")
        request = (
            "Could I get an appointment with Doctor Nguyen on Friday, December 11, in the morning?"
        )
        await talk.say(request)
        reply = await talk.say("John Smith, born July 4, 1990.")
        assert "at eight in the morning or half past eight" in reply
        reply = await talk.say(request)
        assert "What time" not in reply
        assert "eight in the morning or half past eight" in reply


async def test_an_hour_not_heard_twice_can_be_typed_on_the_keypad(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-keyed-time")
        await talk.say("I'd like to book an appointment with Doctor Nguyen, please.")
        await talk.say("John Smith, born July 4, 1990.")
        await talk.say("Friday, please.")
        await talk.say("Good afternoon, please.")
        reply = await talk.say("Good afternoon, please.")
        assert reply == "What time in the afternoon would suit you?"
        # A question in the middle is answered, and the hour asked for again.
        reply = await talk.say("Where are you located?")
        assert "Maple Street" in reply
        assert reply.endswith("What time in the afternoon would suit you?")
        # The hour was lost twice before the question: one more miss offers the keypad.
        reply = await talk.say("Good afternoon, what's been good?")
        assert "type it on your keypad, the hour and then the minutes" in reply
        reply = await talk.say("200")  # the keys 2 0 0 and #, as the caller's turn
        assert reply == (
            "So that's Doctor Nguyen on Friday the twenty seventh at two. Shall I book it?"
        )


async def test_a_taken_slot_and_a_day_off_get_alternatives(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        await clinic.data.store.book(
            "pat_david", "lopez", dt.datetime(2026, 11, 24, 15, 0), "seed-1"
        )
        talk = await start(clinic, "c-alt")
        await talk.say("Book me with Doctor Lopez on Wednesday please")
        reply = await talk.say("Emily Johnson, born on the 5th of May 1978")
        # Dr. Lopez works Tuesdays and Thursdays only.
        assert "Doctor Lopez has nothing free that day. The next opening is Thursday" in reply
        reply = await talk.say("Actually, Tuesday at 3 pm")
        assert reply.startswith("Doctor Lopez isn't free then. I have")
        assert "half past two or half past three" in reply


async def test_ambiguous_doctor_is_clarified(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-ambiguous")
        receptionist = clinic.receptionists["c-ambiguous"]
        assert isinstance(receptionist, Receptionist)
        receptionist.state.verified = "pat_maria"
        receptionist.ctx.patient = next(p for p in clinic.data.patients if p.id == "pat_maria")
        # Two doctors whose names Whisper can blur.
        from callwright.flows.names import Directory, Person

        receptionist._slot_ctx.directories["doctors"] = Directory(  # type: ignore[index]
            [
                Person("patel", "Anita", "Patel", "Doctor Patel"),
                Person("park", "James", "Pattel", "Doctor Pattel"),
            ]
        )
        reply = await talk.say("I want to book with Doctor Patell")
        assert reply == "Did you mean Doctor Patel or Doctor Pattel?"
        reply = await talk.say("The first one")
        assert reply == "What day would you like to see Doctor Patel?"


async def test_reschedule_lookup_and_cancel(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        store = clinic.data.store
        await store.book("pat_david", "patel", dt.datetime(2026, 11, 24, 10, 0), "seed-2")
        talk = await start(clinic, "c-move")
        await talk.say("I need to reschedule my appointment.")
        reply = await talk.say("David Miller, born June 2, 1965")
        assert reply == "Thank you, David. What day would you like to move it to?"
        reply = await talk.say("Thursday at 3 in the afternoon")
        assert reply == (
            "I'll move your appointment with Doctor Patel from Tuesday the twenty fourth at ten "
            "in the morning to Thursday the twenty sixth at three. Shall I go ahead?"
        )
        await talk.say("Yes, go ahead.")
        [moved] = await store.appointments("pat_david")
        assert moved.start == dt.datetime(2026, 11, 26, 15, 0) and moved.status == "booked"
        reply = await talk.say("What are my upcoming appointments?")
        assert reply.startswith("You have an appointment with Doctor Patel on Thursday")
        reply = await talk.say("I want to cancel my appointment.")
        assert reply.startswith("Just to confirm, you want to cancel your appointment")
        await talk.say("yes")
        [cancelled] = await store.appointments("pat_david")
        assert cancelled.status == "cancelled"
        reply = await talk.say("No, that's all, goodbye.")
        assert talk.ended is not None and reply == LINES["goodbye"]


async def test_failed_identity_reads_and_changes_nothing(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-id")
        await talk.say("What are my upcoming appointments?")
        reply = await talk.say("Maria Garcia, January 1st, 1990")
        assert reply == LINES["verify_again"]
        reply = await talk.say("Maria Garcia, February 2nd, 1991")
        assert reply == LINES["verify_failed"]
        assert "list_appointments" not in talk.tools_called()
        assert [r.result for r in talk.tool_results if r.call.name == "verify_identity"] == [
            {"verified": False},
            {"verified": False},
        ]
        reply = await talk.say("What is your address?")
        assert "Maple Street" in reply


async def test_guardrails_globals_faq_and_keypad(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-emergency")
        reply = await talk.say("I have a bad chest pain and I cannot breathe")
        assert reply == LINES["emergency"]
        assert talk.ended is not None and talk.ended.reason == "emergency"
        assert talk.result_of("flag_call").result["flag"] == "emergency"

        talk = await start(clinic, "c-globals")
        assert (await talk.say("Do you take blue cross insurance?")).startswith("We accept")
        assert (await talk.say("Sorry, can you repeat that?")).startswith("We accept")
        assert await talk.say("Do you do x-rays?") == LINES["not_sure"]
        assert talk.result_of("follow_up").result == {"question": "Do you do x-rays?"}
        await talk.say("I want to book an appointment")
        reply = await talk.say("Sarah Thompson", "user_turn")
        assert reply == LINES["ask_dob"]
        reply = await talk.say("20001001", "dtmf")  # the date of birth keyed in
        assert reply.startswith("Thank you, Sarah.")
        assert await talk.say("Never mind.") == LINES["start_over"]
        reply = await talk.say("Can I speak to a real person?")
        assert reply == LINES["transfer"]
        assert talk.ended is not None and talk.ended.reason == "transfer_requested"
        assert "transfer_to_front_desk" in talk.tools_called()


async def test_integration_events_are_emitted(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        events: list[tuple[str, dict[str, object]]] = []

        async def hook(kind: str, data: dict[str, object]) -> None:
            events.append((kind, data))

        clinic.add_hook(hook)
        talk = await start(clinic, "c-events")
        await talk.say("Book with Doctor Park on Friday at 10 am")
        await talk.say("Maria Garcia, March 12, 1984")
        await talk.say("Yes")
        await talk.say("Goodbye")
        kinds = [k for k, _ in events]
        assert kinds == ["call_started", "appointment_booked", "call_ended"]
        booked = events[1][1]
        assert booked["doctor_id"] == "park" and booked["start"] == "2026-11-27T10:00"
        assert events[2][1]["done"] == [f"book:{booked['id']}"]


async def test_the_calling_number_breaks_a_tie_but_never_verifies(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        maria = next(p for p in clinic.data.patients if p.id == "pat_maria")
        twin = Patient("pat_maria_2", "Maria", "Garcia", maria.dob, "+15550199")
        await clinic.data.store.add_patient(twin)
        clinic.data.patients.append(twin)
        # Calling from the second Maria's phone: the same name and birthday are hers.
        talk = await start(clinic, "c-tie", caller="+15550199")
        await talk.say("What are my upcoming appointments?")
        assert "list_appointments" not in talk.tools_called()  # the number alone is not enough
        await talk.say("Maria Garcia, born March 12, 1984")
        assert talk.result_of("verify_identity").result["patient_id"] == "pat_maria_2"
        # From a number nobody has: two Marias fit, so nobody is verified.
        stranger = await start(clinic, "c-no-tie", caller="+15559999")
        await stranger.say("What are my upcoming appointments?")
        await stranger.say("Maria Garcia, born March 12, 1984")
        assert stranger.result_of("verify_identity").result == {"verified": False}
