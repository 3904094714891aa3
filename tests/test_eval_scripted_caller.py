"""The scripted eval caller says a line again when the agent asks for it again, like a person."""

from __future__ import annotations

from pathlib import Path

from callwright.evals.callers import ScriptedCaller, answers_the_choice
from callwright.evals.ear import as_said
from callwright.evals.scenario import CallerLine, load_file

BIRTHDAY = CallerLine(say="June second, nineteen sixty-five.", after="birth|born")
DOCTOR = CallerLine(say="Doctor Lopez.", after="doctor")


def _said(line: CallerLine | None) -> str | None:
    return None if line is None else line.say


async def test_a_question_the_last_line_answered_gets_the_same_line_again() -> None:
    caller = ScriptedCaller((BIRTHDAY, DOCTOR))
    assert _said(await caller.next_line("What is your date of birth?")) == BIRTHDAY.say
    # Heard as "June" only: the agent asks for the birthday again, not for the doctor.
    again = "Thanks. And your date of birth?"
    assert caller.ready(again)
    assert _said(await caller.next_line(again)) == BIRTHDAY.say
    # The agent moved on: the next line.
    assert _said(await caller.next_line("Which doctor would you like to see?")) == DOCTOR.say


async def test_a_request_to_repeat_gets_the_line_again_at_most_twice() -> None:
    caller = ScriptedCaller((CallerLine(say="I'd like to make an appointment."), DOCTOR))
    await caller.next_line("How can I help you today?")
    sorry = "Sorry, I didn't catch that. How can I help you?"
    said = [_said(await caller.next_line(sorry)) for _ in range(3)]
    assert said == ["I'd like to make an appointment.", "I'd like to make an appointment.",
                    DOCTOR.say]  # fmt: skip


async def test_moving_on_or_a_question_the_line_does_not_answer_is_not_asked_again() -> None:
    caller = ScriptedCaller((CallerLine(say="Maria Garcia, born March 12, 1984."),))
    await caller.next_line("What is your full name and date of birth?")
    # A birthday is no day to book: "what day?" is the next question, and the script is done.
    assert not caller.asked_again("Thank you, Maria. What day would you like to come in?")
    assert await caller.next_line("Thank you, Maria. What day would you like to come in?") is None


async def test_a_yes_is_said_again_only_when_it_was_said_over_the_question() -> None:
    readback = "So that's Doctor Lopez on Thursday at ten. Shall I book it?"
    lines = (CallerLine(say="Book Doctor Lopez for Thursday at ten."), CallerLine(say="Yes."))
    # Waiting for the question, a yes answers it: "anything else?" is not asked again.
    polite = ScriptedCaller(lines)
    await polite.next_line("How can I help?")
    await polite.next_line(readback)
    assert not polite.asked_again("You're all set. Is there anything else I can help with?")
    # Said into the read-back, the yes was taken for "I'm listening": said again to the
    # question, once; the answer to that is not asked again.
    over = ScriptedCaller(lines, talks_over=True)
    await over.next_line("How can I help?")
    await over.next_line("Sure. First, what is your full name")
    assert _said(await over.next_line(readback)) == "Yes."
    assert await over.next_line("You're all set. Is there anything else I can help with?") is None


async def test_talking_over_with_lines_left_goes_on_with_them() -> None:
    name = CallerLine(say="John Smith, July fourth, nineteen ninety.")
    change = CallerLine(say="Oh wait, make it Doctor Nguyen instead.")
    caller = ScriptedCaller((CallerLine(say="Book Doctor Patel."), name, change), talks_over=True)
    await caller.next_line("How can I help?")
    await caller.next_line("")
    # The words at hand are of the reply the birthday was said into, not an answer to it.
    assert _said(await caller.next_line("First, what is your full name and date of birth?")) == (
        change.say
    )


async def test_offered_the_keypad_after_a_birthday_the_caller_types_it_once() -> None:
    caller = ScriptedCaller((BIRTHDAY, DOCTOR))
    await caller.next_line("What is your date of birth?")
    offer = (
        "Sorry, I still didn't get that. You can also type it on your keypad, as eight "
        "digits: two for the month, two for the day and four for the year."
    )
    assert caller.ready(offer)
    typed = await caller.next_line(offer)
    assert typed is not None and typed.keys == "06021965#" and not typed.say
    # Offered again, the caller does not type it twice: it goes on (or says it again).
    again = await caller.next_line(offer)
    assert again is None or again.keys == ""


async def test_a_keypad_offer_after_a_line_without_a_birthday_types_nothing() -> None:
    caller = ScriptedCaller((DOCTOR, BIRTHDAY))
    await caller.next_line("Which doctor would you like to see?")
    line = await caller.next_line("You can also type it on your keypad.")
    assert line is not None and line.keys == ""


async def test_a_line_waiting_for_a_word_is_said_when_it_picks_an_offered_option() -> None:
    at_three = CallerLine(say="Around three in the afternoon.", after="time")
    caller = ScriptedCaller((DOCTOR, at_three))
    await caller.next_line("Which doctor would you like to see?")
    offer = (
        "Doctor Lopez is free on Thursday at two or three in the afternoon. Which would you like?"
    )
    assert caller.ready(offer)  # "time" was never said: a person answers the choice
    assert _said(await caller.next_line(offer)) == at_three.say
    # Options of another kind (doctors) are not answered by a time.
    waiting = ScriptedCaller((DOCTOR, at_three))
    await waiting.next_line("Which doctor would you like to see?")
    assert not waiting.ready("Did you mean Doctor Patel or Doctor Park?")
    assert not answers_the_choice("We are open nine to five. Anything else?", at_three.say)


async def test_offered_other_times_the_caller_says_the_one_it_asked_for_again() -> None:
    request = CallerLine(say="Could I see Doctor Nguyen on Friday at ten in the morning?")
    yes = CallerLine(say="Yes.", after="\\?")
    caller = ScriptedCaller((request, yes))
    await caller.next_line("How can I help you today?")
    offer = (
        "Doctor Nguyen is free on Friday at eight in the morning or half past eight. "
        "Which would you like?"
    )
    # "Yes." would answer nothing: the request (with its time) is said again, once.
    assert caller.ready(offer)
    assert _said(await caller.next_line(offer)) == request.say
    # Offered the same again, it settles for one of them (once), then goes on.
    assert caller.ready(offer)
    assert _said(await caller.next_line(offer)) == "The first one, please."
    assert _said(await caller.next_line(offer)) == yes.say
    # A read-back is no choice: the next line.
    other = ScriptedCaller((request, yes))
    await other.next_line("How can I help you today?")
    assert _said(await other.next_line("So that's Friday at ten. Shall I book it?")) == yes.say


async def test_asked_for_the_doctor_it_just_named_the_caller_names_it_again() -> None:
    change = CallerLine(say="Oh wait, no, make it Doctor Nguyen instead.", after="\\?")
    yes = CallerLine(say="Yes.", after="\\?")
    caller = ScriptedCaller((change, yes))
    await caller.next_line("So that's Doctor Patel on Monday at ten. Shall I book it?")
    # "Doctor and GUI in" was not understood: asked which doctor, the caller says it again.
    assert _said(await caller.next_line("Which doctor would you like to see?")) == change.say
    assert _said(await caller.next_line("Doctor Nguyen on Monday at ten. Shall I book it?")) == (
        yes.say
    )
    # A next line that names the doctor itself is said instead.
    lopez = ScriptedCaller((CallerLine(say="Book Doctor Patel."), DOCTOR))
    await lopez.next_line("How can I help?")
    assert _said(await lopez.next_line("Which doctor would you like to see?")) == DOCTOR.say


def test_a_files_pronunciations_reach_each_scenario_and_only_the_voice(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        'pronounce:\n  Nguyen: "Nuh-win"\nscenarios:\n'
        '  - name: a\n    caller: {lines: [{say: "Doctor Nguyen, please."}]}\n'
        "    expect: {escalated: false}\n"
        '  - name: b\n    pronounce: {Lopez: "Low-pez"}\n'
        '    caller: {lines: [{say: "Doctor nguyen or Doctor Lopez."}]}\n'
        "    expect: {escalated: false}\n"
    )
    a, b = load_file(path)
    assert a.pronounce == {"Nguyen": "Nuh-win"}
    assert b.pronounce == {"Nguyen": "Nuh-win", "Lopez": "Low-pez"}
    assert a.lines[0].say == "Doctor Nguyen, please."  # the script itself is unchanged
    assert as_said(b.lines[0].say, b.pronounce) == "Doctor Nuh-win or Doctor Low-pez."
    assert as_said("Nguyenville", a.pronounce) == "Nguyenville"  # whole words only


async def test_asked_which_topic_it_meant_the_caller_names_the_one_it_asked_about() -> None:
    question = CallerLine(say="Hi, what are your opening hours?")
    bye = CallerLine(say="Thanks, bye.")
    caller = ScriptedCaller((question, bye))
    await caller.next_line("How can I help you today?")
    clarify = "Are you asking about phone and fax or opening hours?"
    assert caller.ready(clarify)
    assert _said(await caller.next_line(clarify)) == "Opening hours, please."
    # Named once: asked the same again, the script goes on.
    assert _said(await caller.next_line(clarify)) == bye.say
    # A topic of several words is named whole, as the agent said it.
    fax = ScriptedCaller((CallerLine(say="What are your phone and fax numbers?"), bye))
    await fax.next_line("How can I help you today?")
    assert _said(await fax.next_line(clarify)) == "Phone and fax, please."
    # A choice of topics its question was not about is no reason to name one.
    other = ScriptedCaller((CallerLine(say="Do you take Aetna?"), bye))
    await other.next_line("How can I help you today?")
    assert _said(await other.next_line(clarify)) == bye.say


async def test_offered_times_again_the_caller_restates_only_the_request_in_hand() -> None:
    booking = CallerLine(say="Can I book Doctor Nguyen for Tuesday, December 15th at 9?")
    yes = CallerLine(say="Yes.", after="\\?")
    move = CallerLine(say="I need to move it to Wednesday, December 16th at two in the afternoon.")
    caller = ScriptedCaller((booking, yes, move))
    await caller.next_line("How can I help you today?")
    await caller.next_line("So that's Tuesday the fifteenth at nine. Shall I book it?")
    asked = "You're all set. Is there anything else I can help with?"
    assert _said(await caller.next_line(asked)) == move.say
    offer = "Doctor Nguyen is free on Wednesday at noon or half past twelve. Which would you like?"
    # The move (its hour lost on the line) is said again; the finished booking never is.
    said = [_said(await caller.next_line(offer)) for _ in range(3)]
    assert booking.say not in said
    assert said[0] == move.say
