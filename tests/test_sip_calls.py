"""Spoken calls over SIP and RTP (the simulated SIP phone in callwright.sim.sip_caller): the
agent answers, is interrupted, transfers by REFER (blind, and attended: a consultation call to
the desk first) and writes a complete record; and a SIP call completes a clinic booking
through the real models and the clinic agent."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote

import pytest

from callwright.agent.stack import AgentStack
from callwright.flows.slots import extract_date
from callwright.server import sip_outbound
from callwright.sim.caller import ScriptLine
from callwright.sim.sip_caller import SipCallerSimulator
from callwright.sip import call as sip_call
from callwright.tts.espeak import EspeakTts
from examples.clinic.factory import ClinicResponderFactory
from examples.clinic.front_desk import CLINIC_FACTS
from tests.conftest import brief_clinic, brief_demo, finished_call
from tests.sip_peers import called_user, free_port, records_called, sip_server

# Phone-band espeak transcribes reliably with tiny.en at 140 words per minute.
CALLER_VOICE = EspeakTts(voice="en-us", words_per_minute=140)
DESK = "sip:desk@127.0.0.1:5099"


@pytest.fixture(scope="module")
async def stack(
    stack: AgentStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AgentStack]:
    """The process's models with this module's own clinic (its database, a one-word greeting)."""
    async with brief_clinic(stack, tmp_path_factory.mktemp("sip-clinic")) as own:
        yield own


async def test_spoken_sip_call_is_interrupted_then_transferred_by_refer(
    stack: AgentStack,
) -> None:
    async with sip_server(brief_demo(stack), transfer_target=DESK) as server:
        called = called_user("agent")
        phone = SipCallerSimulator(
            "127.0.0.1", server.port, CALLER_VOICE, turn_timeout_s=30, to_user=called
        )
        report = await phone.run(
            [
                ScriptLine("What are your opening hours?"),
                ScriptLine(
                    "I would like to speak to a real person please.", barge_in_after_ms=1500
                ),
            ],
            hang_up=False,
        )
        [detail] = await records_called(stack, called)
    assert report.final_status == 200 and report.greeting_audio
    # Interrupted: the hours were cut short, and the record keeps only what was heard.
    cut = [u for u in detail.utterances if u.interrupted]
    full = CLINIC_FACTS["hours"]
    said = [(u.role, u.text[:40], u.interrupted) for u in detail.utterances]
    happened = [(e.kind, round(e.at_ms)) for e in detail.events]
    assert len(cut) == 1 and cut[0].role == "agent", (said, happened)
    assert full.startswith(cut[0].text) and len(cut[0].text) < len(full)
    assert [e.kind for e in detail.events].count("barge_in") == 1
    # Then the request for a person: REFER to the desk, the phone's NOTIFY says it connected,
    # and the agent left the call (BYE).
    assert report.transferred_to == DESK
    assert report.ended_by_agent
    escalations = [e.data["trigger"] for e in detail.events if e.kind == "escalation"]
    assert escalations == ["explicit_request"]
    assert [e.data["to"] for e in detail.events if e.kind == "transfer"] == [None]
    assert detail.record.outcome == "transferred"
    assert detail.record.parameters["codec"] == "PCMU"


async def test_sip_call_books_a_clinic_appointment(stack: AgentStack) -> None:
    assert isinstance(stack.responders, ClinicResponderFactory)
    store = stack.responders.data.store
    monday = extract_date("Monday", dt.date.today())
    assert monday is not None
    async with sip_server(stack) as server:
        # The caller speaks with a Piper voice: phone-band espeak defeats tiny.en too often for
        # a five-turn booking (the README's eval figures by condition).
        called = called_user("clinic")
        phone = SipCallerSimulator(
            "127.0.0.1", server.port, stack.tts, turn_timeout_s=30, to_user=called
        )
        report = await phone.run(
            [
                ScriptLine("I would like to book an appointment with Doctor Nguyen."),
                ScriptLine("My name is Sarah Thompson, and I was born on October first, 2000."),
                ScriptLine("Please make it Monday at 2 PM."),
                ScriptLine("Yes, that is correct."),
                ScriptLine("Thank you, goodbye."),
            ],
            hang_up=False,
        )
        [record] = await records_called(stack, called, timeout_s=40, phone=report)
    detail = await finished_call(stack, record.record.call_id)
    booked = [(a.doctor_id, a.start, a.status) for a in await store.appointments("pat_sarah")]
    monday_two = dt.datetime.combine(monday, dt.time(14, 0))
    assert ("nguyen", monday_two, "booked") in booked, [u.text for u in detail.utterances]
    assert report.ended_by_agent and detail.record.outcome == "completed"


async def test_attended_transfer_consults_the_target_then_refers_with_replaces(
    stack: AgentStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nobody replaces the consultation leg here: it is hung up once the phone reported the
    # transfer answered and the grace passed, long before the hold's own limit.
    monkeypatch.setattr(sip_outbound, "CONSULT_HOLD_S", 120.0)
    monkeypatch.setattr(sip_call, "REPLACE_GRACE_S", 1.0)
    desk_port = free_port()
    desk = await asyncio.create_subprocess_exec(
        "sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(desk_port), "-mp", str(free_port()),
        "-m", "1", "-nostdin", "-nr", "-timeout", "60s", "-timeout_error", cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    target = f"sip:desk@127.0.0.1:{desk_port}"
    try:
        async with sip_server(
            brief_demo(stack), transfer_target=target, transfer_mode="attended"
        ) as server:
            called = called_user("agent")
            phone = SipCallerSimulator(
                "127.0.0.1", server.port, CALLER_VOICE, turn_timeout_s=30, to_user=called
            )
            report = await phone.run(
                [ScriptLine("I would like to speak to a real person please.")], hang_up=False
            )
            [detail] = await records_called(stack, called)
            # The desk answered the consultation call; its leg is hung up when not replaced.
            assert await asyncio.wait_for(desk.wait(), 30) == 0
    finally:
        if desk.returncode is None:
            desk.kill()
            await desk.wait()
    assert report.transferred_to is not None
    refer_to, _, replaces = report.transferred_to.partition("?Replaces=")
    assert refer_to == target
    call_id, *tags = unquote(replaces).split(";")
    assert call_id and sorted(t.split("=")[0] for t in tags) == ["from-tag", "to-tag"]
    assert detail.record.outcome == "transferred"
