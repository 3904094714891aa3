"""Spoken calls to the clinic receptionist: synthesized speech through the real models and
the real server, no LLM. Each test checks what changed in the clinic's store, not just words.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from callwright.agent.stack import AgentStack
from callwright.flows.slots import extract_date
from callwright.sim.caller import CallerSimulator, CallReport, ScriptLine
from callwright.store.base import CallDetail
from callwright.tts.espeak import EspeakTts
from examples.clinic.factory import ClinicResponderFactory
from examples.clinic.flow import LINES
from examples.clinic.store import ClinicStore
from tests.conftest import finished_call as finished

CALLER_VOICE = EspeakTts(voice="en-us", words_per_minute=160)


def clinic_of(stack: AgentStack) -> ClinicResponderFactory:
    assert isinstance(stack.responders, ClinicResponderFactory)
    return stack.responders


def next_day(name: str) -> dt.date:
    """The date the agent understands for a weekday said today."""
    found = extract_date(name, dt.date.today())
    assert found is not None
    return found


async def call(server_url: str, lines: list[str], agent_ends: bool = False) -> CallReport:
    """Places a call; `agent_ends`: the script ends with a goodbye or a transfer."""
    simulator = CallerSimulator(server_url, CALLER_VOICE, turn_timeout_s=30.0)
    return await simulator.run([ScriptLine(t) for t in lines], hang_up=not agent_ends)


def said(detail: CallDetail, line: str) -> bool:
    """The agent said `line` (possibly after a filler, in the same reply)."""
    return any(line in text for text in agent_lines(detail))


def tool_events(detail: CallDetail, name: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in detail.events if e.kind == "tool_call" and e.data["name"] == name]


def transcript(detail: CallDetail) -> str:
    return "\n".join(f"{u.role}: {u.text}" for u in detail.utterances)


def agent_lines(detail: CallDetail) -> list[str]:
    return [u.text for u in detail.utterances if u.role == "agent"]


async def booked(store: ClinicStore, patient: str) -> list[tuple[str, dt.datetime, str]]:
    return [(a.doctor_id, a.start, a.status) for a in await store.appointments(patient)]


async def test_book_a_new_appointment(stack: AgentStack, server_url: str) -> None:
    report = await call(
        server_url,
        [
            "I want to book an appointment with Doctor Nguyen.",
            "My name is John Smith and I was born on July fourth, nineteen ninety.",
            "Please make it Friday at three in the afternoon.",
            "Yes, that is correct.",
            "Thank you, goodbye.",
        ],
        agent_ends=True,
    )
    friday = next_day("Friday")
    store = clinic_of(stack).data.store
    assert await booked(store, "pat_john") == [
        ("nguyen", dt.datetime.combine(friday, dt.time(15, 0)), "booked")
    ]
    detail = await finished(stack, report.call_id)
    lines = agent_lines(detail)
    assert any(line.startswith("So that's Doctor Nguyen on Friday") for line in lines)
    assert any(line.startswith("You're all set with Doctor Nguyen") for line in lines)
    assert [e["result"]["verified"] for e in tool_events(detail, "verify_identity")] == [True]
    assert len(tool_events(detail, "book_appointment")) == 1
    assert report.ended_by_agent and detail.record.outcome == "completed"


async def test_change_of_mind_mid_booking_keeps_the_doctor_and_time(
    stack: AgentStack, server_url: str
) -> None:
    report = await call(
        server_url,
        [
            "I would like to book an appointment with Doctor Patel.",
            "My name is Maria Garcia and my date of birth is March twelfth, nineteen eighty four.",
            "Please make it Thursday at eleven in the morning.",
            "No, actually, make it Wednesday.",
            "Yes, that is correct.",
        ],
    )
    wednesday = next_day("Wednesday")
    store = clinic_of(stack).data.store
    assert await booked(store, "pat_maria") == [
        ("patel", dt.datetime.combine(wednesday, dt.time(11, 0)), "booked")
    ]
    detail = await finished(stack, report.call_id)
    confirmations = [line for line in agent_lines(detail) if line.startswith("So that's")]
    assert len(confirmations) == 2
    assert "Thursday" in confirmations[0] and "Wednesday" in confirmations[1]
    assert all("Doctor Patel" in c and "eleven in the morning" in c for c in confirmations)


async def test_reschedule_an_appointment(stack: AgentStack, server_url: str) -> None:
    store = clinic_of(stack).data.store
    before = dt.datetime.combine(next_day("Tuesday"), dt.time(10, 0))
    await store.book("pat_david", "patel", before, "spoken-reschedule-seed")
    report = await call(
        server_url,
        [
            "I need to move my appointment to a different day.",
            "My name is David Miller, born June second, nineteen sixty five.",
            "Please make it Friday at eleven in the morning.",
            "Yes, that is correct.",
        ],
    )
    after = dt.datetime.combine(next_day("Friday"), dt.time(11, 0))
    detail = await finished(stack, report.call_id)
    assert await booked(store, "pat_david") == [("patel", after, "booked")], transcript(detail)
    assert any(line.startswith("I'll move your appointment") for line in agent_lines(detail))
    assert len(tool_events(detail, "reschedule_appointment")) == 1


async def test_cancel_an_appointment(stack: AgentStack, server_url: str) -> None:
    store = clinic_of(stack).data.store
    start = dt.datetime.combine(next_day("Thursday"), dt.time(16, 0))
    await store.book("pat_emily", "lopez", start, "spoken-cancel-seed")
    report = await call(
        server_url,
        [
            "I want to cancel my appointment.",
            "My name is Emily Johnson, born on the fifth of May, nineteen seventy eight.",
            "Yes, that is correct.",
        ],
    )
    assert await booked(store, "pat_emily") == [("lopez", start, "cancelled")]
    detail = await finished(stack, report.call_id)
    assert any("cancel your appointment with Doctor Lopez" in line for line in agent_lines(detail))
    assert said(detail, "Your appointment is cancelled.")


async def test_faq_answer_comes_from_the_knowledge_base(stack: AgentStack, server_url: str) -> None:
    report = await call(
        server_url, ["Do you take Blue Cross insurance?", "Thank you, goodbye."], agent_ends=True
    )
    detail = await finished(stack, report.call_id)
    passage = next(
        p for p in clinic_of(stack).data.kb.passages if p.key == "insurance/insurance-we-accept"
    )
    assert agent_lines(detail)[1].endswith(passage.text)
    [search] = tool_events(detail, "search_knowledge")
    assert search["result"]["answer"] == passage.text
    assert report.ended_by_agent and agent_lines(detail)[-1].endswith(LINES["goodbye"])


async def test_failed_identity_then_ask_for_a_human(stack: AgentStack, server_url: str) -> None:
    store = clinic_of(stack).data.store
    before = await booked(store, "pat_maria")
    wrong = "My name is Maria Garcia and my date of birth is January first, nineteen ninety."
    report = await call(
        server_url,
        [
            "What are my upcoming appointments?",
            wrong,
            wrong,
            "Could I please speak to a real person?",
            "Yes, please.",
        ],
        agent_ends=True,
    )
    detail = await finished(stack, report.call_id)
    assert [e["result"]["verified"] for e in tool_events(detail, "verify_identity")] == [
        False,
        False,
    ]
    assert tool_events(detail, "list_appointments") == []  # nothing read out
    assert said(detail, "can't verify your identity"), transcript(detail)
    assert await booked(store, "pat_maria") == before  # nothing changed
    # Asking for a person is a policy trigger, before the receptionist; nobody is signed in to
    # the console and a websocket call cannot be transferred, so a callback is offered.
    escalations = [e.data for e in detail.events if e.kind == "escalation"]
    assert [e["trigger"] for e in escalations] == ["explicit_request"]
    [packet] = [e.data for e in detail.events if e.kind == "handoff_context"]
    assert packet["identity"]["verified"] is False
    assert said(detail, "call you back"), transcript(detail)
    assert report.ended_by_agent
    assert detail.record.outcome == "callback_requested"
