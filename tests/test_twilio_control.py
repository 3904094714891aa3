"""Call control over Twilio: transfer to a human, outbound calls, status callbacks."""

from __future__ import annotations

import asyncio
import dataclasses
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp

from callwright.agent.stack import AgentStack
from callwright.core.responder import CallInfo, ResponseEvent, TextDelta, TransferCall, TurnContext
from callwright.handoff.desk import HandoffDesk
from callwright.sim.caller import ScriptLine
from callwright.sim.twilio_caller import TwilioCallerSimulator, parse_stream_twiml, post_signed
from callwright.telephony.settings import TelephonySettings
from callwright.tts.espeak import EspeakTts
from tests.conftest import brief_opening, operator_http
from tests.conftest import finished_call as finished
from tests.fakes.twilio_rest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    consent_to_calls,
    fake_twilio,
    serve_phone,
)

CALLER_VOICE = EspeakTts(voice="en-us", words_per_minute=140)
HUMAN = "+15550123"


class TransferResponder:
    """Greets, then hands any caller to a human (at `to`, or the configured number). The
    calls' disclosure is brief too (`brief_opening`): the disclosure has its own tests."""

    def __init__(self, to: str | None = None) -> None:
        self.to = to

    async def respond(self, context: TurnContext) -> AsyncIterator[ResponseEvent]:
        if context.trigger == "call_start":
            yield TextDelta("Hello.")
            return
        yield TextDelta("Let me connect you to a person.")
        yield TransferCall("the caller needs a human", to=self.to)


class TransferFactory:
    name = "transfer-test"

    def __init__(self, to: str | None = None) -> None:
        self.to = to

    def for_call(self, call: CallInfo) -> TransferResponder:
        return TransferResponder(self.to)


async def call_id_of(stack: AgentStack, call_sid: str) -> str:
    for _ in range(150):
        for record in await stack.store.list_calls(1000):
            if record.parameters.get("call_sid") == call_sid:
                return record.call_id
        await asyncio.sleep(0.1)
    raise AssertionError(f"no record for {call_sid}")


def dial_of(document: str | None) -> dict[str, str]:
    """The attributes of the document's `<Dial>`."""
    assert document is not None
    dial = ET.fromstring(document).find("./Dial")
    assert dial is not None, document
    return dict(dial.attrib)


def dialed(document: str | None) -> list[str]:
    assert document is not None
    return [n.text or "" for n in ET.fromstring(document).findall("./Dial/Number")]


def transferring_stack(stack: AgentStack) -> tuple[AgentStack, list[tuple[str, dict[str, Any]]]]:
    """`stack` with an agent that transfers at once, and the webhooks its calls send."""
    webhooks: list[tuple[str, dict[str, Any]]] = []

    async def collect(kind: str, data: dict[str, Any]) -> None:
        webhooks.append((kind, data))

    transferring = dataclasses.replace(
        stack,
        responders=TransferFactory(),
        desk=HandoffDesk(),
        events=collect,
        disclosure=brief_opening(stack),
    )
    return transferring, webhooks


def transfer_settings(rest_url: str) -> TelephonySettings:
    """Twilio through the fake REST API at `rest_url`, transfers to `HUMAN`."""
    return TelephonySettings(
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_base_url=rest_url,
        transfer_number=HUMAN,
    )


async def test_transfer_updates_the_live_call_with_dial(stack: AgentStack) -> None:
    transferring, webhooks = transferring_stack(stack)
    async with fake_twilio() as rest:
        settings = transfer_settings(rest.url)
        async with serve_phone(transferring, settings) as url:
            simulator = TwilioCallerSimulator(url, CALLER_VOICE, AUTH_TOKEN)
            rest.known_call(simulator.report.call_sid)
            report = await simulator.run([ScriptLine("Where are you located?")], hang_up=False)
        updates = rest.updates_of(report.call_sid)
    assert report.ended_by_agent
    assert len(updates) == 1, "a transfer, and no hang-up of the transferred call"
    assert dialed(updates[0].one("Twiml")) == [HUMAN]
    # How the dial went comes back to us, after a ring of bounded length.
    dial = dial_of(updates[0].one("Twiml"))
    assert dial["action"].endswith("/v1/twilio/dial-done") and dial["method"] == "POST"
    assert dial["timeout"] == "25"
    detail = await finished(stack, await call_id_of(stack, report.call_sid))
    assert detail.record.outcome == "transferred"
    assert [e.kind for e in detail.events if e.kind.startswith("transfer")] == ["transfer"]
    # The person who answers the phone gets the context packet by webhook, before the transfer.
    [escalation] = [e.data for e in detail.events if e.kind == "escalation"]
    assert escalation["trigger"] == "agent_decision"
    assert [kind for kind, _ in webhooks] == ["handoff_requested"]
    packet = webhooks[0][1]
    assert packet["call_id"] == detail.record.call_id and packet["channel"] == "twilio"
    assert [t["role"] for t in packet["transcript"]] == ["agent", "caller", "agent"]
    order = [e.kind for e in detail.events if e.kind in ("handoff_context", "transfer")]
    assert order == ["handoff_context", "transfer"]


async def test_a_transfer_nobody_answers_offers_the_caller_a_callback(stack: AgentStack) -> None:
    transferring, webhooks = transferring_stack(stack)
    async with fake_twilio() as rest:
        settings = transfer_settings(rest.url)
        async with serve_phone(transferring, settings) as url, aiohttp.ClientSession() as http:
            simulator = TwilioCallerSimulator(url, CALLER_VOICE, AUTH_TOKEN)
            rest.known_call(simulator.report.call_sid)
            report = await simulator.run([ScriptLine("Where are you located?")], hang_up=False)
            call_id = await call_id_of(stack, report.call_sid)
            await finished(stack, call_id)
            action = dial_of(rest.updates_of(report.call_sid)[0].one("Twiml"))["action"]
            # Twilio posts how the dial went: the person's phone rang out.
            dial = {"CallSid": report.call_sid, "AccountSid": ACCOUNT_SID, "From": "+15550100",
                    "Direction": "inbound", "DialCallStatus": "no-answer"}  # fmt: skip
            assert (await post_signed(http, action, dial, AUTH_TOKEN, "forged")).status == 403
            offer = ET.fromstring(await (await post_signed(http, action, dial, AUTH_TOKEN)).text())
            gather = offer.find("./Gather")
            assert gather is not None and "call you back" in (gather.findtext("Say") or "")
            assert offer.find("./Hangup") is not None  # no answer at all: a goodbye
            detail = await finished(stack, call_id)
            assert detail.record.outcome == "transfer_failed"
            results = [e.data for e in detail.events if e.kind == "transfer_result"]
            assert [r["status"] for r in results] == ["no-answer"]
            # The caller says yes (or presses 1): called back, with the context packet.
            answer = {**dial, "Digits": "1"}
            assert (
                await post_signed(http, gather.attrib["action"], answer, AUTH_TOKEN, "x")
            ).status == 403
            done = await post_signed(http, gather.attrib["action"], answer, AUTH_TOKEN)
            assert "call you back" in (ET.fromstring(await done.text()).findtext("Say") or "")
            # A dial the person answered just ends, once they hang up.
            answered = {**dial, "DialCallStatus": "completed"}
            ended = await post_signed(http, action, answered, AUTH_TOKEN)
            assert ET.fromstring(await ended.text()).find("./Hangup") is not None
    detail = await finished(stack, call_id)
    assert detail.record.outcome == "callback_requested"
    assert [e.kind for e in detail.events if e.kind == "callback_requested"] == [
        "callback_requested"
    ]
    [asked] = [data for kind, data in webhooks if kind == "callback_requested"]
    assert asked["call_id"] == call_id and asked["number"] == "+15550100"
    assert asked["packet"]["call_id"] == call_id


async def test_a_transfer_to_a_number_the_responder_names(stack: AgentStack) -> None:
    billing = "+15550199"
    transferring = dataclasses.replace(
        stack,
        responders=TransferFactory(to=billing),
        desk=HandoffDesk(),
        disclosure=brief_opening(stack),
    )
    async with fake_twilio() as rest:
        settings = transfer_settings(rest.url)
        async with serve_phone(transferring, settings) as url:
            simulator = TwilioCallerSimulator(url, CALLER_VOICE, AUTH_TOKEN)
            rest.known_call(simulator.report.call_sid)
            report = await simulator.run([ScriptLine("Where are you located?")], hang_up=False)
        updates = rest.updates_of(report.call_sid)
    assert len(updates) == 1 and dialed(updates[0].one("Twiml")) == [billing]
    detail = await finished(stack, await call_id_of(stack, report.call_sid))
    # The record says a number was dialled, redacted like every phone number it stores.
    assert [e.data["to"] for e in detail.events if e.kind == "transfer"] == ["[PHONE]"]


async def test_transfer_without_credentials_answers_the_redirect(stack: AgentStack) -> None:
    transferring = dataclasses.replace(
        stack, responders=TransferFactory(), disclosure=brief_opening(stack)
    )
    settings = TelephonySettings(twilio_auth_token=AUTH_TOKEN, transfer_number=HUMAN)
    async with serve_phone(transferring, settings) as url:
        simulator = TwilioCallerSimulator(url, CALLER_VOICE, AUTH_TOKEN)
        report = await simulator.run([ScriptLine("Where are you located?")], hang_up=False)
        assert report.ended_by_agent
        # Twilio follows the <Redirect> after </Connect> once the stream closes.
        redirect = ET.fromstring(report.twiml).find("./Redirect")
        assert redirect is not None and redirect.text
        async with aiohttp.ClientSession() as http:
            params = {"CallSid": report.call_sid, "AccountSid": ACCOUNT_SID}
            response = await post_signed(http, redirect.text, params, AUTH_TOKEN)
            assert dialed(await response.text()) == [HUMAN]
            # Asked again (another call, or a retry), it is a plain hang-up.
            again = await post_signed(http, redirect.text, params, AUTH_TOKEN)
            assert ET.fromstring(await again.text()).find("./Hangup") is not None


async def test_outbound_call_with_parameters_and_status_callbacks(stack: AgentStack) -> None:
    async with fake_twilio() as rest:
        settings = TelephonySettings(
            twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
            twilio_api_base_url=rest.url,
        )  # fmt: skip
        async with serve_phone(stack, settings) as url, operator_http() as http:
            await consent_to_calls(stack.store, "+14155550777")
            body = {
                "to": "+14155550777",
                "from": "+14155550199",
                "parameters": {"patient_id": "42"},
            }
            async with http.post(f"{url}/v1/calls/outbound", json=body) as response:
                assert response.status == 201
                placed = await response.json()
            create = rest.creates()[0]
            assert create.one("To") == "+14155550777" and create.one("From") == "+14155550199"
            assert create.form["StatusCallbackEvent"] == [
                "initiated", "ringing", "answered", "completed"
            ]  # fmt: skip
            stream_url, custom = parse_stream_twiml(create.one("Twiml") or "")
            assert custom["patient_id"] == "42"
            callback = create.one("StatusCallback") or ""
            assert parse_qs(urlparse(callback).query)["ref"] == [placed["call_id"]]

            # Twilio's side of it: ringing, answered, the stream, then completed.
            sid = placed["call_sid"]
            for status in ("initiated", "ringing", "in-progress"):
                params = {"CallSid": sid, "CallStatus": status, "AccountSid": ACCOUNT_SID}
                assert (await post_signed(http, callback, params, AUTH_TOKEN)).status == 204
            simulator = TwilioCallerSimulator(url, CALLER_VOICE, AUTH_TOKEN)
            simulator.report.call_sid = sid
            await simulator.stream(http, stream_url, custom, [])
            params = {"CallSid": sid, "CallStatus": "completed", "CallDuration": "9"}
            assert (await post_signed(http, callback, params, AUTH_TOKEN)).status == 204
    assert simulator.report.frames_received > 0, "the agent spoke on the outbound call"
    detail = await finished(stack, placed["call_id"])
    assert detail.record.parameters["patient_id"] == "42"
    assert detail.record.parameters["direction"] == "outbound"
    statuses = [e.data["status"] for e in detail.events if e.kind == "call_status"]
    for _ in range(50):  # the last callback lands after the stream ended
        if "completed" in statuses:
            break
        await asyncio.sleep(0.1)
        detail = await finished(stack, placed["call_id"])
        statuses = [e.data["status"] for e in detail.events if e.kind == "call_status"]
    assert statuses == ["initiated", "ringing", "in-progress", "completed"]


async def test_unanswered_outbound_call_is_recorded(stack: AgentStack) -> None:
    async with fake_twilio() as rest:
        settings = TelephonySettings(
            twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
            twilio_api_base_url=rest.url,
        )  # fmt: skip
        async with serve_phone(stack, settings) as url, operator_http() as http:
            await consent_to_calls(stack.store, "+14155550888")
            for outcome in ("busy", "no-answer"):
                body = {"to": "+14155550888", "from": "+14155550199"}
                async with http.post(f"{url}/v1/calls/outbound", json=body) as response:
                    placed = await response.json()
                callback = rest.creates()[-1].one("StatusCallback") or ""
                for status in ("ringing", outcome):
                    params = {"CallSid": placed["call_sid"], "CallStatus": status}
                    await post_signed(http, callback, params, AUTH_TOKEN)
                detail = await finished(stack, placed["call_id"])
                assert detail.record.outcome == outcome.replace("-", "_")
                statuses = [e.data["status"] for e in detail.events if e.kind == "call_status"]
                assert statuses == ["ringing", outcome]
