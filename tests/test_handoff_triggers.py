"""Escalation triggers, context packets and the desk's arithmetic, on text (fast)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from callwright.agents.build import escalation_for
from callwright.agents.definition import Agent
from callwright.handoff.hold_music import HoldAudio
from callwright.handoff.packet import build_packet, spoken_value
from callwright.handoff.triggers import Escalation, EscalationOptions, EscalationTriggers
from callwright.testing import text_agent
from examples.clinic.agent import agent as clinic_agent
from examples.clinic.flow import LINES
from tests.fakes.clinic import open_test_clinic, start


def fired(lines: list[str], options: EscalationOptions | None = None) -> list[str | None]:
    triggers = EscalationTriggers(options)
    return [
        e.trigger if (e := triggers.on_caller_turn(t, 0.9, i * 1000.0)) else None
        for i, t in enumerate(lines)
    ]


def test_explicit_requests_and_the_zero_key() -> None:
    assert fired(["I want to talk to a representative"]) == ["explicit_request"]
    assert fired(["Transfer me, please."]) == ["explicit_request"]
    assert fired(["I'd like to book an appointment"]) == [None]
    triggers = EscalationTriggers()
    assert triggers.on_key("5", 0.0) is None
    key = triggers.on_key("0", 10.0)
    assert key is not None and key.trigger == "explicit_request" and "pressed 0" in key.reason
    off = EscalationOptions(explicit=False)
    assert fired(["a human please"], off) == [None]


def test_frustration_anger_agitation_and_falling_mood() -> None:
    assert fired(["This is ridiculous."]) == ["frustration"]
    assert fired(["No, no, no, that's not what I said"]) == ["frustration"]
    # Numbers said again are dictation: a phone number, a birthday misheard as "19, 19, 19".
    assert fired(["My number is five five five, five five five, one one one one."]) == [None]
    assert fired(["Do I for 19, 19, 19."]) == [None]
    mood = fired(["Yes thanks", "Okay fine", "No", "No that's wrong", "Why is this still wrong"])
    assert mood == [None, None, None, None, "frustration"]
    # Three "no"s from the start are not a fall: nothing better came before them.
    assert fired(["No", "No", "No"]) == [None, None, None]
    assert fired(["This is ridiculous"], EscalationOptions(frustration=False)) == [None]


def test_loops_a_repeated_question_and_an_agent_that_does_not_understand() -> None:
    question = "What time do you open on Saturdays?"
    assert fired([question, "Yes", "What time do you open on Saturday?"]) == [
        None,
        None,
        "loop",
    ]
    # Statements repeated (a failed identity check said twice) are not a repeated question.
    same = "My name is Maria Garcia born March 12 1984"
    assert fired([same, same]) == [None, None]
    triggers = EscalationTriggers()
    again = "Sorry, I didn't catch that. Which doctor?"
    replies = ["Which doctor would you like?", again, again, again]
    results = [triggers.on_agent_reply(r, 0.0) for r in replies]
    assert [r is not None for r in results] == [False, False, False, True]
    assert results[-1] is not None and results[-1].trigger == "loop"


def test_saying_again_what_the_agent_asked_to_hear_again_is_no_loop() -> None:
    # A fast caller's birthday, misheard as a question both times: asked to say it again,
    # the caller did (the agent's own repair, the keypad, comes next, not a person).
    triggers = EscalationTriggers()
    misheard = "Do I force 99t?"
    assert triggers.on_caller_turn(misheard, 0.5, 0.0) is None
    asked = "Sorry, I didn't catch that. What is your date of birth? Month, day and year."
    assert triggers.on_agent_reply(asked, 1.0) is None
    assert triggers.on_caller_turn(misheard, 0.5, 2.0) is None
    # A question asked again after an answer that did not ask for it again is still a loop.
    assert triggers.on_agent_reply("I'm not sure about that one. Anything else?", 3.0) is None
    again = triggers.on_caller_turn(misheard, 0.5, 4.0)
    assert again is not None and again.trigger == "loop"


def test_a_request_said_again_to_an_offer_answers_it() -> None:
    # Offered other times than the ten o'clock asked for, the caller asks for it again: an
    # answer to the offer, not a loop. Asked again after a plain answer, it is one.
    triggers = EscalationTriggers()
    request = "Could I get an appointment with Doctor Nguyen on Friday in the morning?"
    assert triggers.on_caller_turn(request, 0.9, 0.0) is None
    offer = "Doctor Nguyen is free on Friday at eight or half past eight. Which would you like?"
    assert triggers.on_agent_reply(offer, 1.0) is None
    assert triggers.on_caller_turn(request, 0.9, 2.0) is None
    assert triggers.on_agent_reply("We are open from eight to six.", 3.0) is None
    again = triggers.on_caller_turn(request, 0.9, 4.0)
    assert again is not None and again.trigger == "loop"


# The callers' lines of the spoken trigger calls (tests/test_handoff_calls.py), by text through
# the clinic receptionist: the triggers run before it, as in a call, and see its replies. A
# question asked up to three times: the clinic's answer to the first must not end the call.
CLINIC_TRIGGER_LINES = {
    "the caller asked for a person": ["Please transfer me to a human."],
    "the caller sounds angry": ["Honestly, this is ridiculous."],
    "the caller asked the same thing twice": ["What is the capital of France?"] * 3,
    "the caller needs something the agent must not handle": ["I need a refill of my prescription."],
}


@pytest.mark.parametrize("reason", list(CLINIC_TRIGGER_LINES))
async def test_each_trigger_hands_a_clinic_call_off(reason: str, tmp_path: Path) -> None:
    async with text_agent(clinic_agent, tmp_path) as session:
        call = await session.call()
        for line in CLINIC_TRIGGER_LINES[reason]:
            turn = await call.say(line)
            if call.handoff is not None:
                break
    assert (turn.handoff, call.ended) == (reason, None)
    assert turn.text == ""  # the trigger answered, not the receptionist


def test_low_confidence_needs_several_turns_in_a_row() -> None:
    triggers = EscalationTriggers(EscalationOptions(low_confidence_turns=3))
    seen = [triggers.on_caller_turn("mumble", c, 0.0) for c in (0.2, 0.3, 0.9, 0.2, 0.3, 0.1, None)]
    kinds = [e.trigger if e else None for e in seen]
    assert kinds == [None, None, None, None, None, "low_confidence", None]


def test_a_keyed_entry_ends_a_run_of_poorly_heard_turns() -> None:
    triggers = EscalationTriggers(EscalationOptions(low_confidence_turns=3))
    # Two birthdays not understood, then typed on the keypad the agent offered; the caller's
    # next spoken turn is heard poorly again: the first of a new run, not the third.
    assert triggers.on_caller_turn("Do I force 19-19?", 0.3, 0.0) is None
    assert triggers.on_caller_turn("Do I force 99T?", 0.3, 1.0) is None
    triggers.on_keyed_entry()
    assert triggers.on_caller_turn("Jump Smith, Port July 4, 1990.", 0.39, 2.0) is None
    assert triggers.on_caller_turn("Mumble.", 0.3, 3.0) is None
    fired = triggers.on_caller_turn("Mumble.", 0.3, 4.0)
    assert fired is not None and fired.trigger == "low_confidence"


def test_a_poorly_heard_turn_the_agent_understood_does_not_count_towards_low_confidence() -> None:
    triggers = EscalationTriggers(EscalationOptions(low_confidence_turns=3))
    # A fast caller's name was heard with low confidence but understood; then two answers
    # were not: the agent's own repair (the keypad) comes next, not a person.
    assert triggers.on_caller_turn("John Smith, born to life for 1990.", 0.3, 0.0) is None
    assert triggers.on_agent_reply("Thanks. And your date of birth?", 1.0) is None
    assert triggers.on_caller_turn("Do I force 19-19?", 0.3, 2.0) is None
    assert (
        triggers.on_agent_reply("Sorry, I didn't catch that. What is your date of birth?", 3.0)
        is None
    )
    assert triggers.on_caller_turn("Do I force 99T?", 0.3, 4.0) is None
    assert (
        triggers.on_agent_reply("Sorry, I still didn't get that. Type it on your keypad.", 5.0)
        is None
    )
    fired = triggers.on_caller_turn("Mumble.", 0.3, 6.0)
    assert fired is not None and fired.trigger == "low_confidence"


def test_out_of_scope_topics_are_the_agents_own() -> None:
    billing = EscalationOptions(out_of_scope_cues=("billing", "refund"))
    assert fired(["I have a question about my billing."], billing) == ["out_of_scope"]
    assert fired(["Can you refill my prescription?"], billing) == [None]
    # No topic is out of scope by default: another domain's words ask for no one.
    assert fired(["Can you refill my prescription?", "What is my billing date?"]) == [None, None]


def test_a_noun_for_a_person_inside_another_phrase_asks_for_no_one() -> None:
    # Said by callers of agents in other domains than the clinic: none asks for a person.
    lines = [
        "Is the travel agent discount still on?",
        "I need the number for human resources.",
        "Which tour operator runs the boat trip?",
        "The charger I bought doesn't work, I want to send it back.",
    ]
    assert fired(lines) == [None] * len(lines)
    # The noun on its own, or in a request, does.
    requests = ["Agent!", "A human, please.", "Operator, operator.", "Let me talk to an agent."]
    assert [fired([line]) for line in requests] == [["explicit_request"]] * len(requests)


async def test_the_packet_holds_what_the_flow_knows(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-packet", caller="+15550101")
        await talk.say("I want to book an appointment with Doctor Nguyen")
        await talk.say("John Smith, born July 4, 1990")
        receptionist = clinic.receptionists["c-packet"]
        facts = receptionist.handoff_facts()
        escalation = Escalation("frustration", "the caller sounds angry", 5000.0, {"cue": "x"})
        lines = [("agent" if m.role == "assistant" else "caller", m.content) for m in talk.history]
        tools = [{"name": r.call.name, "error": r.error} for r in talk.tool_results]
        packet = build_packet(talk.call, escalation, lines, tools, facts)
    assert packet.intent == "book an appointment"
    assert packet.identity == {
        "verified": True,
        "patient_id": "pat_john",
        "name": "John Smith",
        "number_registered_to": "John Smith",
    }
    assert packet.slots["doctor"] == "Doctor Nguyen"
    assert packet.transcript[1] == {
        "role": "caller",
        "text": "I want to book an appointment with Doctor Nguyen",
    }
    assert packet.summary.startswith("Verified caller John Smith wants to book an appointment")
    assert "verify_identity" in packet.summary
    assert packet.summary.endswith("Handed off because the caller sounds angry.")
    assert packet.escalation["trigger"] == "frustration"


async def test_after_a_failed_identity_check_the_packet_says_unverified(tmp_path: Path) -> None:
    """The caller fails the identity check twice, then asks for a person (the spoken version
    of this call was in test_clinic_calls.py): nothing was read out, and the person is told
    the caller is not verified."""
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-unverified")
        await talk.say("What are my upcoming appointments?")
        wrong = "My name is Maria Garcia and my date of birth is January first, 1990."
        assert await talk.say(wrong) == LINES["verify_again"]
        assert await talk.say(wrong) == LINES["verify_failed"]
        ask = "Could I please speak to a real person?"
        escalation = EscalationTriggers().on_caller_turn(ask, 0.9, 9000.0)
        facts = clinic.receptionists["c-unverified"].handoff_facts()
        lines = [("agent" if m.role == "assistant" else "caller", m.content) for m in talk.history]
        tools = [{"name": r.call.name, "error": r.error} for r in talk.tool_results]
        assert escalation is not None and escalation.trigger == "explicit_request"
        packet = build_packet(talk.call, escalation, lines, tools, facts)
        assert await clinic.data.store.appointments("pat_maria") == []
    assert [r.result for r in talk.tool_results if r.call.name == "verify_identity"] == [
        {"verified": False},
        {"verified": False},
    ]
    assert "list_appointments" not in talk.tools_called()
    assert packet.identity["verified"] is False
    assert packet.summary.startswith("Unverified caller")
    assert packet.summary.endswith("Handed off because the caller asked for a person.")


def test_spoken_values() -> None:
    assert spoken_value(dt.date(2026, 11, 27)) == "Friday 2026-11-27"
    assert spoken_value(dt.time(15, 0)) == "15:00"


def test_hold_audio_is_quiet_and_continuous() -> None:
    hold = HoldAudio(8000)
    frames = [hold.next_frame() for _ in range(1000)]  # 20 s: longer than one loop
    assert all(f.size == 160 for f in frames)
    peak = max(int(abs(f.astype(int)).max()) for f in frames)
    assert 500 < peak < 4000  # audible, well below full scale


def test_an_agent_sets_its_own_triggers_and_adds_its_phrases() -> None:
    own = Agent(
        name="billing-desk",
        escalation=EscalationOptions(out_of_scope_cues=("legal advice",), frustration=False),
        escalation_cues=("the manager",),
    )
    options = escalation_for(own)
    assert fired(["Can you give me legal advice?"], options) == ["out_of_scope"]
    assert fired(["Get me the manager."], options) == ["explicit_request"]
    assert fired(["Let me talk to an agent."], options) == ["explicit_request"]
    assert fired(["This is ridiculous."], options) == [None]  # frustration is off
    # An agent that says nothing gets the defaults, with no topic out of scope.
    assert fired(["Can you give me legal advice?"], escalation_for(Agent(name="plain"))) == [None]
