"""Outbound calls that listen first (callwright's own answering machine detection, over the
Twilio protocol): a person who answers "Hello?" is greeted; a recorded greeting gets the
voicemail once the wait for its beep is over, and the call ends with outcome `voicemail`."""

from __future__ import annotations

import dataclasses

from callwright.agent.silence import SilenceOptions
from callwright.agent.stack import AgentStack
from callwright.campaigns.machine import MachineListening
from callwright.compliance.disclosure import DisclosureOptions
from callwright.sim.caller import ScriptLine
from callwright.sim.twilio_caller import PhoneCallReport, TwilioCallerSimulator, parse_stream_twiml
from callwright.store.base import CallDetail
from callwright.telephony.settings import TelephonySettings
from examples.clinic.front_desk import DemoResponderFactory
from tests.conftest import finished_call, operator_http
from tests.fakes.twilio_rest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    consent_to_calls,
    fake_twilio,
    serve_phone,
)
from tests.test_twilio_calls import CALLER_VOICE

VOICEMAIL = "Hello, this is the clinic calling about your appointment. Please call us back."


class Callee(TwilioCallerSimulator):
    """The called phone: it speaks first, instead of waiting for a greeting."""

    async def _wait_reply_end(self) -> None:
        if not self._last_audio_s:
            return  # the agent has not spoken: there is no reply to wait for
        await super()._wait_reply_end()


async def _outbound(
    stack: AgentStack, number: str, line: str, from_: str = "+12125550100"
) -> tuple[CallDetail, PhoneCallReport]:
    listening = dataclasses.replace(
        stack,
        responders=DemoResponderFactory(),
        machine=MachineListening(enabled=True, voicemail=VOICEMAIL, wait_for_beep_ms=2000.0),
    )
    await consent_to_calls(stack.store, number)
    async with fake_twilio() as rest:
        settings = TelephonySettings(
            twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
            twilio_api_base_url=rest.url,
        )  # fmt: skip
        async with serve_phone(listening, settings) as url, operator_http() as http:
            body = {"to": number, "from": from_}
            async with http.post(f"{url}/v1/calls/outbound", json=body) as response:
                assert response.status == 201
                placed = await response.json()
            stream_url, custom = parse_stream_twiml(rest.creates()[0].one("Twiml") or "")
            callee = Callee(url, CALLER_VOICE, AUTH_TOKEN, turn_timeout_s=15.0)
            callee.report.call_sid = placed["call_sid"]
            rest.known_call(placed["call_sid"])
            spoken = ScriptLine(line)
            lines = [(spoken, await callee._prepare(spoken))]
            await callee.stream(http, stream_url, custom, lines, hang_up=False)
    return await finished_call(stack, placed["call_id"]), callee.report


def _events(detail: CallDetail, kind: str) -> list[dict[str, object]]:
    return [dict(e.data) for e in detail.events if e.kind == kind]


async def test_a_person_is_greeted_after_their_hello(stack: AgentStack) -> None:
    detail, _ = await _outbound(stack, "+12125550197", "Hello?")
    assert [e["verdict"] for e in _events(detail, "answered_by")] == ["human"]
    # The callee then stays silent: the dead-air policy may reprompt them, which is no answer.
    reprompt = SilenceOptions().reprompt
    agent = [u.text for u in detail.utterances if u.role == "agent" and u.text != reprompt]
    # One reply: the opening (disclosure and greeting), not a second answer to "Hello?".
    assert len(agent) == 1 and agent[0].startswith(DisclosureOptions().text)
    assert [u.text for u in detail.utterances if u.role == "caller"] == ["Hello?"]


async def test_a_machine_gets_the_voicemail(stack: AgentStack) -> None:
    greeting = (
        "Hi, you have reached the voicemail of Robert Chen. I am not able to answer right now, "
        "so please leave your name, your number and a short message."
    )
    detail, report = await _outbound(stack, "+12125550198", greeting)
    assert [e["verdict"] for e in _events(detail, "answered_by")] == ["machine"]
    assert _events(detail, "voicemail") == [{"left": True}]
    agent = [u.text for u in detail.utterances if u.role == "agent"]
    assert agent == [VOICEMAIL]  # no greeting, no disclosure to a machine: just the message
    assert detail.record.outcome == "voicemail"
    assert report.ended_by_agent


async def test_what_is_heard_before_the_consent_question_is_not_kept_without_a_yes(
    stack: AgentStack,
) -> None:
    # California: every party must agree to the recording. The callee's "Hello?" comes while
    # the agent listens for a machine, before the question is asked; they never say yes.
    detail, _ = await _outbound(stack, "+14155550196", "Hello?")
    assert [e["verdict"] for e in _events(detail, "answered_by")] == ["human"]
    assert _events(detail, "disclosure")[0]["consent_asked"] is True
    assert {"answer": "granted"} not in _events(detail, "recording_consent")
    assert not detail.has_recording
    assert await stack.store.get_recording(detail.record.call_id) is None


async def test_our_own_lines_jurisdiction_asks_for_consent_too(stack: AgentStack) -> None:
    # Calling New York (one-party consent) from our line in San Francisco: California's law
    # needs every party's consent, ours included, so the callee is asked.
    detail, _ = await _outbound(stack, "+12125550196", "Hello?", from_="+14155550100")
    assert [e["verdict"] for e in _events(detail, "answered_by")] == ["human"]
    disclosure = _events(detail, "disclosure")[0]
    assert (disclosure["consent_asked"], disclosure["jurisdiction"]) == (True, "US-CA")
    assert {"to", "from"} <= set(detail.record.parameters)  # both numbers (kept redacted)
    assert not detail.has_recording  # no yes came
