"""Disclosure and recording consent on phone calls: jurisdictions by number, the answers, and
spoken calls over Twilio where the caller is told, asked, and (declining) not recorded."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callwright.agent.stack import AgentStack
from callwright.compliance.disclosure import DisclosureOptions, consent_answer
from callwright.compliance.jurisdictions import all_party_jurisdiction, jurisdiction_of
from callwright.sim.caller import ScriptLine
from callwright.sim.twilio_caller import TwilioCallerSimulator
from callwright.store.base import CallDetail
from callwright.store.sqlite import SqliteCallStore
from callwright.telephony.settings import TelephonySettings
from examples.clinic.front_desk import CLINIC_FACTS, DemoResponderFactory
from tests.conftest import BRIEF_GREETING
from tests.fakes.twilio_rest import ACCOUNT_SID, AUTH_TOKEN, fake_twilio, serve_phone
from tests.test_twilio_calls import CALLER_VOICE, record_of


@pytest.mark.parametrize(
    ("number", "place"),
    [
        ("+14155550100", "US-CA"),  # San Francisco
        ("+13055550100", "US-FL"),  # Miami
        ("+13125550100", "US-IL"),  # Chicago
        ("+12065550100", "US-WA"),  # Seattle
        ("+12125550100", "US-NY"),  # New York: one-party consent
        ("+18005550100", "US"),  # toll-free: no state
        ("+4930901820", "DE"),
        ("anonymous", None),
    ],
)
def test_jurisdictions_from_numbers(number: str, place: str | None) -> None:
    assert jurisdiction_of(number) == place


def test_either_party_in_an_all_party_state_means_asking() -> None:
    assert all_party_jurisdiction(("+12125550100", "+14155550100")) == "US-CA"
    assert all_party_jurisdiction(("+12125550100", "+17135550100")) is None  # NY and TX
    options = DisclosureOptions()
    assert options.consent_needed("+12125550100", None) is None
    assert DisclosureOptions(always_ask=True).consent_needed("+12125550100", None) == "always"
    assert DisclosureOptions(ask_consent=False).consent_needed("+14155550100", None) is None
    assert not DisclosureOptions(enabled=False).applies("twilio")
    assert options.applies("twilio") and not options.applies("websocket")


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Yes.", True),
        ("Sure, go ahead.", True),
        ("I don't mind.", True),
        ("That's fine.", True),
        ("No.", False),
        ("I'd rather you didn't.", False),
        ("No, please don't record me.", False),
        ("I do not consent.", False),
        ("What was that?", None),
    ],
)
def test_consent_answers(text: str, answer: bool | None) -> None:
    assert consent_answer(text) is answer


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Sí.", True),
        ("Sí, claro.", True),
        ("De acuerdo.", True),
        ("No.", False),
        ("No, gracias.", False),
        ("¿Cómo dice?", None),
    ],
)
def test_consent_answers_in_the_call_language(text: str, answer: bool | None) -> None:
    assert consent_answer(text, "es") is answer
    assert consent_answer("Sí, claro.") is None  # read as English, "si" is no answer


@pytest.fixture
async def own_stack(stack: AgentStack, tmp_path: Path) -> AsyncIterator[AgentStack]:
    store = await SqliteCallStore.open(tmp_path / "calls.sqlite3")
    # The disclosure is what these calls check; the greeting after it is one word.
    greeting = BRIEF_GREETING
    yield dataclasses.replace(stack, store=store, responders=DemoResponderFactory(greeting))
    await store.close()


async def _call(stack: AgentStack, number: str, lines: list[str]) -> CallDetail:
    async with fake_twilio() as rest:
        settings = TelephonySettings(
            twilio_account_sid=ACCOUNT_SID,
            twilio_auth_token=AUTH_TOKEN,
            twilio_api_base_url=rest.url,
        )
        async with serve_phone(stack, settings) as url:
            simulator = TwilioCallerSimulator(url, CALLER_VOICE, AUTH_TOKEN, caller=number)
            rest.known_call(simulator.report.call_sid)
            report = await simulator.run([ScriptLine(line) for line in lines])
    return await record_of(stack, report.call_sid)


def _kinds(detail: CallDetail, kind: str) -> list[dict[str, object]]:
    return [dict(e.data) for e in detail.events if e.kind == kind]


async def test_a_one_party_state_hears_the_disclosure_and_is_recorded(
    own_stack: AgentStack,
) -> None:
    detail = await _call(own_stack, "+12125550161", ["What are your opening hours?"])
    text = DisclosureOptions().text
    assert _kinds(detail, "disclosure") == [
        {"text": text, "consent_asked": False, "jurisdiction": None}
    ]
    greeting = detail.utterances[0]
    assert greeting.role == "agent" and greeting.text.startswith(text)
    assert len(greeting.text) > len(text) + 5, "the agent's own greeting follows the disclosure"
    assert await own_stack.store.get_recording(detail.record.call_id) is not None


async def test_a_caller_who_declines_is_not_recorded_and_the_call_goes_on(
    own_stack: AgentStack,
) -> None:
    detail = await _call(
        own_stack, "+14155550162", ["No, I'd rather you didn't.", "What are your opening hours?"]
    )
    options = DisclosureOptions()
    assert _kinds(detail, "disclosure")[0]["jurisdiction"] == "US-CA"
    assert detail.utterances[0].text == f"{options.text} {options.question}"
    assert _kinds(detail, "recording_consent") == [{"answer": "declined"}]
    assert _kinds(detail, "recording_stopped") == [{"reason": "the caller declined"}]
    assert await own_stack.store.get_recording(detail.record.call_id) is None
    agent = [u.text for u in detail.utterances if u.role == "agent"]
    assert agent[1].startswith(options.declined)
    assert CLINIC_FACTS["hours"] in agent, "the call went on after the decline"


async def test_a_caller_who_agrees_is_recorded(own_stack: AgentStack) -> None:
    detail = await _call(own_stack, "+13055550163", ["Yes, that's fine."])
    assert _kinds(detail, "recording_consent") == [{"answer": "granted"}]
    assert _kinds(detail, "recording_stopped") == []
    assert await own_stack.store.get_recording(detail.record.call_id) is not None
