"""Spoken calls to the clinic receptionist: synthesized speech through the real models and
the real server, no LLM. Each test checks what changed in the clinic's store, not just words.

One spoken call per task (book, reschedule, cancel, a question); the flow's logic (a change of
mind, a failed identity check, then a person) is tested on text in test_clinic_flow.py and
test_handoff_triggers.py, and asking for a person by voice in test_handoff_calls.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest

from callwright.agent.stack import AgentStack
from callwright.flows.slots import extract_date
from callwright.sim.caller import CallerSimulator, CallReport, ScriptLine
from callwright.store.base import CallDetail
from callwright.tts.espeak import EspeakTts
from examples.clinic.factory import ClinicResponderFactory
from examples.clinic.flow import LINES
from examples.clinic.store import ClinicStore
from tests.conftest import brief_clinic, serve
from tests.conftest import finished_call as finished

CALLER_VOICE = EspeakTts(voice="en-us", words_per_minute=160)


@pytest.fixture(scope="module")
async def stack(
    stack: AgentStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AgentStack]:
    """The process's models with this module's own clinic (its database, a one-word greeting)."""
    async with brief_clinic(stack, tmp_path_factory.mktemp("clinic-calls")) as own:
        yield own


@pytest.fixture(scope="module")
async def server_url(stack: AgentStack) -> AsyncIterator[str]:
    async with serve(stack) as url:
        yield url


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


def replies_from(detail: CallDetail, opening: str) -> list[str]:
    """The agent's lines that contain `opening`, from it on: a slow tool call puts its filler
    ("One moment while I check.") before the line in the same reply, or not, depending on how
    long the tool took, so the line is found wherever it starts."""
    return [text[text.index(opening) :] for text in agent_lines(detail) if opening in text]


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
    assert replies_from(detail, "So that's Doctor Nguyen on Friday")
    assert replies_from(detail, "You're all set with Doctor Nguyen")
    assert [e["result"]["verified"] for e in tool_events(detail, "verify_identity")] == [True]
    assert len(tool_events(detail, "book_appointment")) == 1
    assert report.ended_by_agent and detail.record.outcome == "completed"


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
    assert replies_from(detail, "I'll move your appointment"), transcript(detail)
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
