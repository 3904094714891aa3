"""Opt-out: the policy's patterns, and phone calls where the caller opts out mid-call (by voice
and by key): the number goes on the do-not-call list, the caller hears a confirmation, the call
ends politely, and the call's record has the event."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest

from callwright.agent.stack import AgentStack
from callwright.compliance.dnc import DoNotCallList
from callwright.compliance.optout import OptOutOptions, OptOutPolicy, find_opt_out
from callwright.compliance.tables import SqlStore
from callwright.sim.caller import ScriptLine
from callwright.sim.twilio_caller import KeyPresses, PhoneCallReport, TwilioCallerSimulator
from callwright.store.sqlite import SqliteCallStore
from callwright.stt.whisper import WhisperStt
from callwright.telephony.settings import TelephonySettings
from tests.conftest import brief_demo, word_overlap
from tests.fakes.twilio_rest import ACCOUNT_SID, AUTH_TOKEN, fake_twilio, serve_phone
from tests.test_twilio_calls import CALLER_VOICE, heard, record_of


@pytest.mark.parametrize(
    "text",
    [
        "Stop calling me.",
        "Please quit phoning this number!",
        "Could you remove my number from your calling list?",
        "Take me off of your list, please.",
        "I'd like to opt out.",
        "Put me on your do not call list.",
        "Don't ever call me again.",
        "Never call this number again.",
        "Just lose my number.",
        # The list's own word misheard: what the list is for still says which one.
        "Please take me off your calling, Liz.",
        "Remove my number from your marketing lease.",
        # A plain "do not": ending the sentence, or made for good.
        "Please do not call this number.",
        "Don't call me.",
        "Do not contact me",
        "I don't want any more calls.",
        "I do not want to be called again.",
    ],
)
def test_requests_to_stop_are_opt_outs(text: str) -> None:
    assert find_opt_out(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "Can you call me back tomorrow?",
        "I need to stop by the office on Friday.",
        "Please don't take me off the list.",
        "Don't stop calling me with reminders, they help.",
        "Put me on the list for Tuesday.",
        "Am I on your do not call list?",
        "I'll stop calling you so often.",
        "I want to cancel my appointment.",
        "Take me off the call and put my wife on.",
        "Can you get me off the phone quickly?",
        "Please take me off the waiting list for Tuesday.",
        "Don't call me Bob, call me Robert.",
        "Don't call me back, I'll call you tomorrow.",
        "I don't want calls during dinner.",
    ],
)
def test_other_sentences_are_not(text: str) -> None:
    assert find_opt_out(text) is None


def test_the_key_and_the_switch() -> None:
    assert OptOutPolicy().on_key("9", 0.0) is None  # no key unless configured
    keyed = OptOutPolicy(OptOutOptions(key="9"))
    assert keyed.on_key("1", 0.0) is None
    fired = keyed.on_key("9", 12.0)
    assert fired is not None and (fired.how, fired.at_ms) == ("key", 12.0)
    assert keyed.on_caller_turn("stop calling me", 20.0) is None  # once per call
    off = OptOutPolicy(OptOutOptions(enabled=False, key="9"))
    assert off.on_caller_turn("stop calling me", 0.0) is None and off.on_key("9", 0.0) is None


@pytest.fixture
async def own_stack(stack: AgentStack, tmp_path: Path) -> AsyncIterator[AgentStack]:
    """The demo agent (a brief opening) on a store of this test's own, with 9 as the opt-out
    key."""
    store = await SqliteCallStore.open(tmp_path / "calls.sqlite3")
    yield dataclasses.replace(brief_demo(stack), store=store, opt_out=OptOutOptions(key="9"))
    await store.close()


async def _call(
    stack: AgentStack, script: list[ScriptLine | KeyPresses], number: str
) -> PhoneCallReport:
    async with fake_twilio() as rest:
        settings = TelephonySettings(
            twilio_account_sid=ACCOUNT_SID,
            twilio_auth_token=AUTH_TOKEN,
            twilio_api_base_url=rest.url,
        )
        async with serve_phone(stack, settings) as url:
            simulator = TwilioCallerSimulator(url, CALLER_VOICE, AUTH_TOKEN, caller=number)
            rest.known_call(simulator.report.call_sid)
            report = await simulator.run(script, hang_up=False)
            assert report.ended_by_agent, "the agent ends the call after the confirmation"
            assert [u.one("Status") for u in rest.updates_of(report.call_sid)] == ["completed"]
    return report


async def test_a_caller_who_says_stop_calling_me_mid_call(
    own_stack: AgentStack, oracle_stt: WhisperStt
) -> None:
    number = "(212) 555-0141"  # as a carrier might present it: the list keeps E.164
    script: list[ScriptLine | KeyPresses] = [
        ScriptLine("What are your opening hours?"),
        ScriptLine("Please take me off your calling list."),
    ]
    report = await _call(own_stack, script, number)
    detail = await record_of(own_stack, report.call_sid)
    entry = await DoNotCallList(cast(SqlStore, own_stack.store)).find("+12125550141")
    assert entry is not None and entry.source == "opt_out"
    events = [e for e in detail.events if e.kind == "opt_out"]
    assert len(events) == 1
    assert events[0].data["how"] == "speech" and events[0].data["added"] is True
    assert detail.record.outcome == "opted_out"
    agent_lines = [u.text for u in detail.utterances if u.role == "agent"]
    assert agent_lines[-1] == OptOutOptions().confirmation
    # The demo agent answered the first question; only the second one opted out.
    assert len(agent_lines) >= 2 and agent_lines[-2] != agent_lines[-1]
    # What the phone played last, transcribed back: the confirmation.
    confirmation = await heard(oracle_stt, report.turns[-1].agent_audio)
    assert word_overlap("added your number to our do not call list", confirmation) >= 0.6


async def test_a_caller_who_presses_the_opt_out_key(own_stack: AgentStack) -> None:
    report = await _call(own_stack, [KeyPresses("9")], "+12125550142")
    detail = await record_of(own_stack, report.call_sid)
    entry = await DoNotCallList(cast(SqlStore, own_stack.store)).find("+12125550142")
    assert entry is not None and "key" in entry.reason
    events = [e for e in detail.events if e.kind == "opt_out"]
    assert [e.data["how"] for e in events] == ["key"]
    assert detail.record.outcome == "opted_out"
