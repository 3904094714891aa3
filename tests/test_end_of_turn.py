"""Knowing when the caller is done: the open question, the words, and how long to wait."""

from __future__ import annotations

import datetime as dt

import pytest

from callwright.agent.history import ConversationHistory
from callwright.agent.stack import AgentStack
from callwright.agent.turn_judge import TurnJudge
from callwright.core.responder import ExpectedAnswer
from callwright.flows.engine import Flow, FlowState, Node, SlotSpec
from callwright.flows.expected import answers, from_flow, from_question
from callwright.sim.caller import CallerSimulator, ScriptLine
from callwright.tts.espeak import EspeakTts
from callwright.turns.semantic import (
    Completeness,
    PatienceOptions,
    PatiencePolicy,
    completeness,
    ends_mid_sentence,
)

TODAY = dt.date(2026, 12, 1)
IDENTITY = ExpectedAnswer(("person", "dob"))
VOICE = EspeakTts(voice="en-us", words_per_minute=160)


@pytest.mark.parametrize(
    "text",
    [
        "My name is John Smith, and I was born on March 3rd, 1980.",
        "Maria Garcia, March 12th, 1984.",
        "It's Ana Lopez, the 4th of July 1975.",
    ],
)
def test_a_name_and_date_of_birth_answer_the_identity_question(text: str) -> None:
    assert answers(IDENTITY, text, TODAY)
    assert completeness(text, answers_question=True) is Completeness.COMPLETE


def test_half_an_identity_answer_does_not_answer_it() -> None:
    assert not answers(IDENTITY, "Maria Garcia.", TODAY)
    assert not answers(IDENTITY, "my date of birth is March 12th, 1984.", TODAY)


def test_an_answer_that_stops_on_and_is_held_even_when_it_holds_the_slots() -> None:
    text = "Maria Garcia, March 12th, 1984, and"
    assert answers(IDENTITY, text, TODAY)
    assert completeness(text, answers_question=True) is Completeness.INCOMPLETE


def test_a_date_of_birth_at_the_end_of_a_sentence_is_finished_without_a_question() -> None:
    # Before: the four digits of the year read as a phone number being dictated.
    assert completeness("I was born on March 3rd, 1980.") is Completeness.COMPLETE
    assert completeness("Maria Garcia, March 12th, 1984.") is Completeness.COMPLETE
    # A phone number half dictated still waits.
    assert completeness("My number is 555 123") is Completeness.INCOMPLETE


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("Sure. First, what is your full name and date of birth?", ("dob", "person")),
        ("Which day works for you?", ("date",)),
        ("What time would suit you?", ("time",)),
        ("And what is the best phone number to reach you?", ("phone",)),
        ("Thanks. Can I book that for you?", ("yes_no",)),
        ("Is that in the morning or the afternoon?", None),
        ("How can I help you today?", None),
        ("We open at eight.", None),
    ],
)
def test_a_question_says_what_it_asks_for(question: str, kinds: tuple[str, ...] | None) -> None:
    found = from_question(question)
    assert (sorted(found.kinds) if found else None) == (sorted(kinds) if kinds else None)


def test_a_day_answers_which_day() -> None:
    day = from_question("Which day would you like to come in?")
    assert day is not None
    assert answers(day, "Next Tuesday.", TODAY)
    assert not answers(day, "Um, let me think.", TODAY)
    assert completeness("Next Tuesday.", answers_question=True) is Completeness.COMPLETE
    # Trailing dots only say the audio stopped; without an answered question they still hold.
    assert completeness("Thursday, please...", answers_question=True) is Completeness.COMPLETE
    assert completeness("Thursday, please...") is Completeness.INCOMPLETE


def test_a_flow_exposes_its_awaited_slot_or_the_missing_ones() -> None:
    flow = Flow(
        "f",
        "menu",
        {
            "menu": Node("menu"),
            "book": Node(
                "book",
                slots=(
                    SlotSpec("date", "date", "What day?"),
                    SlotSpec("time", "time", "What time?"),
                    SlotSpec("note", "text", "Anything else?", optional=True),
                ),
            ),
        },
    )
    state = FlowState("menu")
    assert from_flow(flow, state) is None  # "how can I help?" expects nothing in particular
    state.go("book")
    missing = from_flow(flow, state)
    assert missing is not None and missing.kinds == ("date", "time")
    state.awaiting = "time"
    awaited = from_flow(flow, state)
    assert awaited is not None and awaited.names == ("time",)
    state.awaiting = "confirm"
    confirm = from_flow(flow, state)
    assert confirm is not None and confirm.kinds == ("yes_no",)
    assert answers(confirm, "Yes, please.", TODAY)


def test_no_wait_beyond_the_sure_maximum_unless_the_sentence_cannot_end_there() -> None:
    options = PatienceOptions()
    policy = PatiencePolicy(options)
    for _ in range(10):
        policy.caller_resumed(800.0)  # a caller who pauses a lot gets more patience...
    held = "I'd like to book an appointment on"
    assert ends_mid_sentence(held)
    assert policy.end_of_turn_ms(Completeness.INCOMPLETE, ends_mid_sentence(held)) > 1200.0
    # A word begun and cut off is judged by the words before it.
    assert ends_mid_sentence("I'd like to schedule a f-")
    assert ends_mid_sentence("Can I move it to the appoint—")
    assert not ends_mid_sentence("I need a flu sh-")  # "I need a flu." may end there
    # ...unless that word is one no sentence ends on ("a-": the article cut off)
    assert ends_mid_sentence("I'd like to schedule a-")
    assert ends_mid_sentence("Can I move it to-")
    assert not ends_mid_sentence("I'd like to schedule it-")
    garbled = "My number is 555 123"  # incomplete, but it may end there
    assert not ends_mid_sentence(garbled)
    wait = policy.end_of_turn_ms(completeness(garbled), ends_mid_sentence(garbled))
    assert wait == options.sure_max_ms == 1200.0  # ...but never past 1.2 s on such words


async def test_a_spoken_name_and_date_of_birth_are_answered_without_the_long_wait(
    stack: AgentStack, server_url: str
) -> None:
    report = await CallerSimulator(server_url, VOICE).run(
        [
            ScriptLine("I'd like to book an appointment."),
            ScriptLine("Maria Garcia, March twelfth, nineteen eighty four."),
        ]
    )
    detail = await stack.store.get_call(report.call_id)
    assert detail is not None
    said = [e["text"] for e in report.of_type("agent_text") if e["turn"] == 1]
    assert any("date of birth" in text for text in said), said  # the question was asked
    pauses = [e.data for e in detail.events if e.kind == "pause" and "expected" in e.data]
    assert pauses, [e.data for e in detail.events if e.kind == "pause"]
    last = pauses[-1]
    assert sorted(last["expected"]) == ["dob", "person"] and last["answered"] is True
    assert last["completeness"] == "complete"
    assert last["wait_ms"] < stack.patience.neutral_ms


def test_a_finished_sentence_is_taken_at_once_even_from_a_caller_who_pauses() -> None:
    options = PatienceOptions()
    policy = PatiencePolicy(options)
    for _ in range(3):
        policy.caller_resumed(600.0)
    assert policy.end_of_turn_ms(Completeness.COMPLETE, False, answered=True) == options.complete_ms
    assert policy.end_of_turn_ms(Completeness.COMPLETE, False) == options.complete_ms
    # Words that say nothing either way get this caller's extra patience.
    assert policy.end_of_turn_ms(Completeness.NEUTRAL, False) == options.neutral_ms + 450.0


class _AsksForADay:
    """A responder whose open question asks for a day (`ExpectsAnswer`)."""

    def respond(self, context: object) -> object:
        raise NotImplementedError

    def expected_answer(self) -> ExpectedAnswer:
        return ExpectedAnswer(("date",), ("date",))


def test_the_judge_asks_the_responder_first_then_reads_the_question() -> None:
    history = ConversationHistory()
    history.add_assistant("Thanks. What is your phone number?")
    by_question = TurnJudge(PatiencePolicy(), _Silent(), history)  # type: ignore[arg-type]
    judged = by_question.judge("It's 555 010 1234.", over_the_agent=False)
    assert judged.expected is not None and judged.expected.kinds == ("phone",)
    assert judged.answered and judged.verdict is Completeness.COMPLETE
    assert judged.record()["expected"] == ["phone"] and not judged.worth_rechecking
    by_responder = TurnJudge(PatiencePolicy(), _AsksForADay(), history)  # type: ignore[arg-type]
    judged = by_responder.judge("Friday, I think,", over_the_agent=False)
    assert judged.expected is not None and judged.expected.kinds == ("date",) and judged.answered
    # Over the agent, nothing is being answered: the words alone decide, and a long wait is
    # worth judging again once the silence has grown.
    judged = by_responder.judge("My number is 555 01", over_the_agent=True)
    assert judged.expected is None and judged.verdict is Completeness.INCOMPLETE
    assert judged.worth_rechecking


class _Silent:
    def respond(self, context: object) -> object:
        raise NotImplementedError


@pytest.mark.parametrize(
    "text", ["Where is my order?", "Can I change my booking?", "Is it 555 0100?", "Can I book?"]
)
def test_a_question_is_a_whole_turn(text: str) -> None:
    # A verb or a number before the question mark does not leave the request hanging.
    assert completeness(text) is Completeness.COMPLETE


def test_a_question_that_stops_on_a_function_word_still_holds() -> None:
    assert completeness("Do you have anything on?") is Completeness.INCOMPLETE
    assert completeness("Could you tell me my?") is Completeness.INCOMPLETE


@pytest.mark.parametrize(
    "text", ["Can I see Doctor?", "I'd like an appointment with Dr.", "Put me through to Mr."]
)
def test_a_title_waiting_for_its_name_holds_the_turn(text: str) -> None:
    assert ends_mid_sentence(text)
    assert completeness(text) is Completeness.INCOMPLETE


@pytest.mark.parametrize(
    "text",
    [
        "Can I see the Doctor?",  # a determiner: the common noun, capitalized or not
        "I need to see a doctor.",
        "Thank you, Doctor.",  # a form of address after a comma closes the sentence
        "Can I see Doctor Patel?",  # the name came
    ],
)
def test_the_word_doctor_as_a_noun_or_an_address_ends_a_sentence(text: str) -> None:
    assert not ends_mid_sentence(text)
    assert completeness(text) is Completeness.COMPLETE


def test_a_form_of_address_is_judged_by_the_words_before_it() -> None:
    # "Can I see Doctor | Patel" written "Can I see, Doctor?": without the address, "Can I
    # see" still wants its object.
    assert completeness("Can I see, Doctor?") is Completeness.INCOMPLETE
    assert completeness("I need to speak to, Doctor.") is Completeness.INCOMPLETE
    for whole in ("Thank you, Doctor.", "Can I see you tomorrow, Doctor?", "Yes, Doctor."):
        assert completeness(whole) is not Completeness.INCOMPLETE, whole


def test_a_short_answer_before_a_comma_is_not_taken_for_the_whole_turn() -> None:
    # "Thank you, goodbye." / "Wait, stop.": the pause at the comma is transcribed with a full
    # stop; answering there would talk over the rest.
    assert completeness("Thank you.") is Completeness.NEUTRAL
    assert completeness("Wait.") is Completeness.NEUTRAL


def test_an_answer_ending_on_and_is_held_no_longer_than_words_that_say_nothing() -> None:
    options = PatienceOptions()
    policy = PatiencePolicy(options)
    text = "I'd like to see Doctor Patel and..."
    verdict = completeness(text, answers_question=True)
    assert verdict is Completeness.INCOMPLETE  # it still holds...
    held = policy.end_of_turn_ms(verdict, ends_mid_sentence(text), answered=True)
    assert held == options.neutral_ms  # ...but only as long as a neutral turn
    policy.caller_resumed(800.0)  # a caller who pauses gets the same extra patience as there
    held = policy.end_of_turn_ms(verdict, ends_mid_sentence(text), answered=True)
    assert held == options.neutral_ms + options.per_resume_ms
    # Without the open question answered, the same words may hold past it.
    assert policy.end_of_turn_ms(verdict, ends_mid_sentence(text)) > options.sure_max_ms


def test_a_date_written_with_a_cardinal_day_or_a_split_year_is_finished() -> None:
    # Before: "3, 1980" read as five digits of a number still being dictated (held 1.2 s).
    for date in (
        "My date of birth is March 3, 1980.",
        "My date of birth is March 3rd, 19 80.",
        "I was born on 3-3-1980.",
    ):
        assert completeness(date) is Completeness.COMPLETE, date
    assert completeness("I was born March 12 19") is Completeness.INCOMPLETE  # year half said
    assert completeness("Room 12, 1980") is not Completeness.COMPLETE  # no month, no ordinal


def test_a_year_after_a_day_ends_a_date_even_with_the_month_misheard() -> None:
    assert completeness("My name is Ana Lopez, Mark 3rd, 1980.") is Completeness.COMPLETE
    assert completeness("born on the twelfth, 1984.") is Completeness.COMPLETE
    assert completeness("My extension is 1980") is Completeness.INCOMPLETE  # no day, no month


def test_a_local_phone_number_is_whole_and_half_of_one_is_not() -> None:
    assert completeness("The best number to reach me is 555-1234.") is Completeness.COMPLETE
    assert completeness("The best number to reach me is 555 12") is Completeness.INCOMPLETE


def test_nine_digits_are_a_number_heard_short_not_one_stopped_before_its_last_digit() -> None:
    assert completeness("My number is 555 123 456") is Completeness.NEUTRAL
    assert completeness("My number is 555 123 456.") is Completeness.COMPLETE
    assert completeness("My number is 555 123") is Completeness.INCOMPLETE  # between groups


def test_an_item_named_but_not_given_is_not_a_whole_utterance() -> None:
    # "My date of birth is | March third" heard up to the pause without its "is".
    for bare in ("My date of birth.", "my phone number.", "Um, my name.", "So my address."):
        assert completeness(bare) is Completeness.INCOMPLETE, bare
    # as the recogniser may spell it
    assert completeness("My day of birth.") is Completeness.INCOMPLETE
    for whole in (
        "My mother.",  # who the appointment is for: not "my number"
        "My daughter.",
        "I need to update my date of birth.",
        "My date of birth is March 3rd, 1980.",
        "My name is Ana Lopez.",
        "My date of birth?",  # asked back: a question
    ):
        assert completeness(whole) is not Completeness.INCOMPLETE, whole


def test_an_item_named_but_not_given_may_be_held_past_the_sure_maximum() -> None:
    # The "is" the caller paused after is lost, not absent: "my date of birth is" cannot end
    # a sentence, so a pause of 1.25 s there must not be answered at 1.2 s.
    options = PatienceOptions()
    policy = PatiencePolicy(options)
    for bare in ("My date of birth.", "My day of birth.", "Um, my phone number."):
        assert ends_mid_sentence(bare), bare
        wait = policy.end_of_turn_ms(completeness(bare), ends_mid_sentence(bare))
        assert wait > options.sure_max_ms, bare
    for whole in ("My mother.", "I need to update my date of birth.", "My name is Ana Lopez."):
        assert not ends_mid_sentence(whole), whole


def test_trailing_dots_hold_until_the_recogniser_has_heard_the_silence() -> None:
    # 64 ms into the pause "..." may mean the audio stopped mid-sentence; with 450 ms of the
    # pause in its input the recogniser still writing it says nothing more.
    assert completeness("Next Thursday, please...") is Completeness.INCOMPLETE
    done = completeness("Next Thursday, please...", after_silence=True)
    assert done is Completeness.COMPLETE
    assert completeness("Thursday, please...", after_silence=True) is Completeness.NEUTRAL
    # The words still hold: a trailing "and", a hanging verb, a number half dictated, and a
    # comma (a clause still to come).
    for held in ("Doctor Patel and...", "I need to cancel...", "My number is 555 12", "Well,"):
        assert completeness(held, after_silence=True) is Completeness.INCOMPLETE, held
    history = ConversationHistory()
    history.add_assistant("Which doctor would you like to see?")
    judge = TurnJudge(PatiencePolicy(), _Silent(), history)  # type: ignore[arg-type]
    first = judge.judge("Thursday, please...", over_the_agent=False)
    second = judge.judge("Thursday, please...", over_the_agent=False, after_silence=True)
    assert first.worth_rechecking and second.wait_ms < first.wait_ms


def test_a_second_look_is_taken_only_where_it_can_end_the_wait_sooner() -> None:
    # The second look starts 450 ms into the pause and is a whole transcription (150-300 ms
    # on two cores): a 520 ms wait is over before it could shorten anything.
    judge = TurnJudge(PatiencePolicy(), _Silent(), ConversationHistory())  # type: ignore[arg-type]
    neutral = judge.judge("Thursday, please", over_the_agent=False)
    assert neutral.verdict is Completeness.NEUTRAL and neutral.wait_ms == 520.0
    assert not neutral.worth_rechecking
    # A caller who paused twice before gets 150 ms more each time: 820 ms leaves room.
    patience = PatiencePolicy()
    patience.caller_resumed(600.0)
    patience.caller_resumed(600.0)
    hesitant = TurnJudge(patience, _Silent(), ConversationHistory())  # type: ignore[arg-type]
    judged = hesitant.judge("Thursday, please", over_the_agent=False)
    assert judged.wait_ms == 820.0 and judged.worth_rechecking


def test_part_of_what_the_question_asked_for_holds_the_turn_for_the_rest() -> None:
    # A flite caller's "Maria Garcia, March twelfth, nineteen eighty four." paused at the
    # comma before the year; "Maria Garsey, March 12." was taken as the whole answer.
    options = PatienceOptions()
    history = ConversationHistory()
    history.add_assistant("Sure. First, what is your full name and date of birth?")
    judge = TurnJudge(PatiencePolicy(options), _Silent(), history)  # type: ignore[arg-type]
    for part in ("Maria Garsey, March 12.", "Maria Garcia.", "My birthday is March 12th."):
        judged = judge.judge(part, over_the_agent=False)
        assert not judged.answered and judged.verdict is Completeness.NEUTRAL, part
        assert judged.wait_ms == options.neutral_ms, part
    whole = judge.judge("Maria Garsey, March 12, 1984.", over_the_agent=False)
    assert whole.answered and whole.wait_ms == options.complete_ms
    # Words with none of it are judged by themselves.
    other = judge.judge("I'd like to book an appointment.", over_the_agent=False)
    assert other.verdict is Completeness.COMPLETE and other.wait_ms == options.complete_ms


@pytest.mark.parametrize(
    "text", ["Yes, it is.", "Yes, I do.", "Yes, we have.", "Can you repeat that?"]
)
def test_a_short_answer_ending_on_an_auxiliary_is_finished(text: str) -> None:
    assert not ends_mid_sentence(text)
    assert completeness(text) is Completeness.COMPLETE


@pytest.mark.parametrize(
    "text",
    ["The best number to reach me is", "My date of birth is", "I think that", "What I need is"],
)
def test_an_auxiliary_or_that_left_open_still_holds(text: str) -> None:
    assert ends_mid_sentence(text)
