"""Escalation triggers, context packets and the desk's arithmetic, on text (fast)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from callwright.core.responder import CallInfo
from callwright.handoff.desk import HandoffDesk
from callwright.handoff.hold_music import HoldAudio
from callwright.handoff.packet import build_packet, spoken_value
from callwright.handoff.triggers import Escalation, EscalationOptions, EscalationTriggers
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


def test_low_confidence_needs_several_turns_in_a_row() -> None:
    triggers = EscalationTriggers(EscalationOptions(low_confidence_turns=3))
    seen = [triggers.on_caller_turn("mumble", c, 0.0) for c in (0.2, 0.3, 0.9, 0.2, 0.3, 0.1, None)]
    kinds = [e.trigger if e else None for e in seen]
    assert kinds == [None, None, None, None, None, "low_confidence", None]


def test_out_of_scope_topics() -> None:
    assert fired(["Can you refill my prescription?"]) == ["out_of_scope"]
    assert fired(["refill"], EscalationOptions(out_of_scope_cues=("billing",))) == [None]


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


def test_spoken_values() -> None:
    assert spoken_value(dt.date(2026, 11, 27)) == "Friday 2026-11-27"
    assert spoken_value(dt.time(15, 0)) == "15:00"


def test_the_desk_counts_positions_and_waits() -> None:
    desk = HandoffDesk()
    packet = build_packet(CallInfo("a", "test"), Escalation("loop", "r", 0.0), [], [], None)

    class Line:
        name = "Dana"

        async def send_audio(self, samples: object) -> None: ...
        async def send_event(self, event: object) -> None: ...

    first = packet
    second = build_packet(CallInfo("b", "test"), Escalation("loop", "r", 0.0), [], [], None)
    desk.enqueue(first, None)  # type: ignore[arg-type]
    desk.enqueue(second, None)  # type: ignore[arg-type]
    assert (desk.position("a"), desk.position("b"), desk.position("c")) == (1, 2, None)
    line = Line()
    desk.sign_in(line)
    assert desk.expected_wait_s("a") == 0.0  # a free person: next
    assert desk.expected_wait_s("b") == desk.handle_time_s
    assert desk.take("a", "Dana") is not None and desk.position("b") == 1
    assert desk.expected_wait_s("b") == desk.handle_time_s  # Dana is busy with "a"
    desk.leave("a")
    assert desk.handle_time_s < desk.options.handle_time_s  # a short call lowers the average
    snapshot = desk.snapshot()
    assert snapshot["humans"] == ["Dana"] and [w["call_id"] for w in snapshot["waiting"]] == ["b"]


def test_hold_audio_is_quiet_and_continuous() -> None:
    hold = HoldAudio(8000)
    frames = [hold.next_frame() for _ in range(1000)]  # 20 s: longer than one loop
    assert all(f.size == 160 for f in frames)
    peak = max(int(abs(f.astype(int)).max()) for f in frames)
    assert 500 < peak < 4000  # audible, well below full scale
