"""A campaign picks the agent its calls get, by name, from the server's configured agents:
over the Twilio protocol (fake REST API, a Media Streams callee), the campaign's call is
answered by the named agent, not the served one; a name that is not configured (or a path) is
refused, and only admins create campaigns."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import aiohttp

from callwright.agent.stack import AgentStack
from callwright.core.responder import CallInfo, ResponseEvent, TextDelta, TurnContext
from callwright.sim.twilio_caller import TwilioCallerSimulator, parse_stream_twiml
from callwright.telephony.settings import TelephonySettings
from tests.conftest import ADMIN_HEADERS, finished_call, operator_http
from tests.fakes.twilio_rest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    consent_to_calls,
    fake_twilio,
    serve_phone,
)
from tests.test_twilio_calls import CALLER_VOICE

SURVEY_GREETING = "Hi, this is the two question survey line."


class SurveyResponder:
    def __init__(self, call: CallInfo) -> None:
        self.call = call

    async def respond(self, context: TurnContext) -> AsyncIterator[ResponseEvent]:
        yield TextDelta(SURVEY_GREETING if context.trigger == "call_start" else "Thank you.")


class SurveyFactory:
    name = "survey"

    def for_call(self, call: CallInfo) -> SurveyResponder:
        return SurveyResponder(call)


async def test_a_campaign_call_gets_the_agent_it_names(stack: AgentStack) -> None:
    survey = dataclasses.replace(stack, responders=SurveyFactory())
    number = "+12125550231"
    await consent_to_calls(stack.store, number)
    async with fake_twilio() as rest:
        settings = TelephonySettings(
            twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
            twilio_api_base_url=rest.url,
        )  # fmt: skip
        agents = {"survey": survey}
        async with serve_phone(stack, settings, agents=agents) as url, operator_http() as http:
            body = {"name": "survey", "from": "+12125550100", "purpose": "surveys",
                    "contacts": [{"number": number}], "pace_s": 0}  # fmt: skip
            for agent in ("nope", "examples/clinic/agent.py", "examples.clinic.agent:agent"):
                async with http.post(f"{url}/v1/campaigns", json={**body, "agent": agent}) as r:
                    assert r.status == 400, agent
            async with http.get(f"{url}/v1/campaigns") as response:
                assert (await response.json())["agents"] == ["survey"]
            async with aiohttp.ClientSession(headers={"Cookie": "x=1"}) as anonymous:
                async with anonymous.post(f"{url}/v1/campaigns", json=body) as response:
                    assert response.status in (401, 403)
            async with http.post(f"{url}/v1/campaigns", json={**body, "agent": "survey"}) as r:
                assert r.status == 201
                cid = (await r.json())["campaign_id"]
            await rest.wait_for(1)
            create = rest.creates()[-1]
            assert create.one("To") == number
            stream_url, custom = parse_stream_twiml(create.one("Twiml") or "")
            assert custom["agent"] == "survey"
            async with http.get(f"{url}/v1/campaigns/{cid}") as response:
                campaign = await response.json()
            assert campaign["agent"] == "survey"
            contact = campaign["contacts"][0]
            callee = TwilioCallerSimulator(url, CALLER_VOICE, AUTH_TOKEN, turn_timeout_s=15.0)
            callee.report.call_sid = contact["call_sid"]
            rest.known_call(contact["call_sid"])
            async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as phone:
                await callee.stream(phone, stream_url, custom, [], hang_up=True)
    detail = await finished_call(stack, contact["call_id"])
    agent_lines = " ".join(u.text for u in detail.utterances if u.role == "agent")
    assert SURVEY_GREETING in agent_lines
    assert "Maple Street" not in agent_lines  # the served agent (the clinic) never spoke


def test_the_configured_agents() -> None:
    from callwright.server.agents import parse_agent_specs

    specs = parse_agent_specs(" survey=surveys.agent:agent, reminders=clinic/reminders.yaml ")
    assert specs == {"survey": "surveys.agent:agent", "reminders": "clinic/reminders.yaml"}
    assert parse_agent_specs(None) == {} and parse_agent_specs("") == {}
    for bad in ("survey", "=x.py", "a=x.py,a=y.py"):
        try:
            parse_agent_specs(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")
