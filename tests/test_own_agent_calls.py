"""An agent written outside the package, in YAML and in Python, answers a spoken phone call.

Each agent lives in a temporary folder, is loaded the way `callwright serve --agent` loads it,
and takes a call over Twilio's Media Streams protocol (µ-law 8 kHz speech both ways). The
model is the scripted OpenAI-compatible fake; the YAML agent's HTTP tool calls a small shop
backend this test starts; the Python agent's `@tool` runs in-process. Both tool calls must be
in the call store.
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from callwright import load_agent
from callwright.agent.stack import AgentStack
from callwright.compliance.disclosure import DisclosureOptions
from callwright.llm.openai_compat import LlmOptions
from callwright.sim.caller import ScriptLine
from callwright.sim.twilio_caller import TwilioCallerSimulator
from callwright.store.base import CallDetail
from callwright.telephony.settings import TelephonySettings
from callwright.testing import agent_stack
from tests.conftest import agent_replies, serving, word_overlap
from tests.fakes.openai_server import Conversation, FakeToolCall, start_fake_openai
from tests.fakes.twilio_rest import ACCOUNT_SID, AUTH_TOKEN, fake_twilio, serve_phone
from tests.test_twilio_calls import CALLER_VOICE, record_of

LINE = "Where is my order?"
TOKEN = "Bearer shop-secret-7"

AGENT_YAML = """\
name: parcel-yaml
greeting: Hello, this is the parcel desk.
instructions: You tell callers where their orders are. Use order_status for every fact.
knowledge: knowledge
tools:
  - name: order_status
    description: Looks up where an order is.
    url: {backend}/orders/{{order_id}}
    method: GET
    parameters:
      type: object
      properties:
        order_id: {{type: string, description: the order number}}
      required: [order_id]
    auth_header: {{name: Authorization, env: SHOP_API_TOKEN}}
    timeout: 3
escalation:
  phrases: [speak to the manager]
  transfer_number: "+15550199"
"""

AGENT_PY = '''\
from callwright import Agent, tool


@tool(timeout=3.0)
async def order_status(order_id: str) -> dict:
    """Looks up where an order is.

    Args:
        order_id: the order number.
    """
    return {"order_id": order_id, "status": "out for delivery"}


agent = Agent(
    name="parcel-python",
    greeting="Hello, this is the parcel desk.",
    instructions="You tell callers where their orders are.",
    tools=[order_status],
)
'''


@contextlib.asynccontextmanager
async def shop_backend() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """The shop's REST API: GET /orders/{id}; yields its root URL and the requests it got."""
    seen: list[dict[str, Any]] = []

    async def order(request: web.Request) -> web.Response:
        seen.append({"id": request.match_info["id"], "auth": request.headers.get("Authorization")})
        if request.headers.get("Authorization") != TOKEN:
            return web.json_response({"error": "unauthorized"}, status=401)
        return web.json_response({"order_id": request.match_info["id"], "status": "shipped"})

    app = web.Application()
    app.router.add_get("/orders/{id}", order)
    async with serving(app) as base:
        yield base, seen


async def phone_call(served: AgentStack, script: object) -> tuple[CallDetail, Any]:
    """One spoken Twilio call to `served`, the model following `script`."""
    async with fake_twilio() as rest:
        settings = TelephonySettings(
            twilio_account_sid=ACCOUNT_SID,
            twilio_auth_token=AUTH_TOKEN,
            twilio_api_base_url=rest.url,
        )
        async with serve_phone(served, settings) as url:
            simulator: TwilioCallerSimulator

            async def replies_done() -> int:
                """Agent replies the call's record counts finished: a reply is over when the
                server says so, not after a quiet spell (on a loaded machine the rest of a
                sentence can take longer to synthesize than its first words took to play)."""
                for record in await served.store.list_calls(50):
                    if record.parameters.get("call_sid") == simulator.report.call_sid:
                        return await agent_replies(served.store, record.call_id)
                return 0

            simulator = TwilioCallerSimulator(url, CALLER_VOICE, AUTH_TOKEN,
                                              replies_done=replies_done)  # fmt: skip
            rest.known_call(simulator.report.call_sid)
            report = await simulator.run([ScriptLine(LINE)])
            return await record_of(served, report.call_sid), report


def tool_calls(detail: CallDetail) -> list[dict[str, Any]]:
    return [dict(e.data) for e in detail.events if e.kind == "tool_call"]


def check_the_call(detail: CallDetail, report: Any, reply: str, requests: list[Any]) -> None:
    assert detail.record.channel == "twilio"
    said = [u.text for u in detail.utterances if u.role == "caller"]
    assert len(said) == 1 and word_overlap(LINE, said[0]) >= 0.75, said
    # The model got what the caller said, with the agent's own instructions (the turn's own
    # request is the last one ending with the caller's words; earlier ones started on a pause).
    messages = [r for r in requests if r["messages"][-1]["role"] == "user"][-1]["messages"]
    assert messages[0]["role"] == "system" and "orders" in messages[0]["content"]
    assert word_overlap(LINE, messages[-1]["content"]) >= 0.75
    agent_lines = [u.text for u in detail.utterances if u.role == "agent"]
    # A phone call opens with the disclosure (recording, automated assistant), then the greeting.
    assert agent_lines[0] == f"{DisclosureOptions().text} Hello, this is the parcel desk."
    assert reply in agent_lines
    assert report.turns and report.turns[0].agent_audio, "the caller heard the answer"


@pytest.fixture(scope="module")
def agent_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An agent project outside the package: both forms and a knowledge folder."""
    folder = tmp_path_factory.mktemp("my-parcel-agent")
    (folder / "knowledge").mkdir()
    (folder / "knowledge" / "desk.md").write_text("# Hours\n\nThe desk is open every day.\n")
    (folder / "agent.py").write_text(AGENT_PY)
    return folder


async def test_yaml_agent_answers_a_phone_call_with_its_http_tool(
    stack: AgentStack, agent_folder: Path, tmp_path: Path
) -> None:
    reply = "Your order has shipped."
    # Answered by where each request stands in the conversation: requests started early on
    # the caller's pause (preemptive generation), however many, do not shift the answers.
    script = Conversation({1: [[FakeToolCall("order_status", {"order_id": "1042"})], reply]})
    async with shop_backend() as (backend, seen), start_fake_openai(script) as fake:
        spec = agent_folder / "agent.yaml"
        spec.write_text(textwrap.dedent(AGENT_YAML).format(backend=backend))
        agent = load_agent(str(spec), env={"SHOP_API_TOKEN": TOKEN})
        llm = LlmOptions(base_url=fake.base_url, model="fake")
        served = await agent_stack(agent, stack, tmp_path, llm=llm)
        try:
            detail, report = await phone_call(served, script)
        finally:
            await served.responders.close()
            await served.store.close()
    check_the_call(detail, report, reply, fake.requests)
    assert seen == [{"id": "1042", "auth": TOKEN}]  # the auth header came from the environment
    calls = tool_calls(detail)
    assert [(c["name"], c["arguments"], c["error"]) for c in calls] == [
        ("order_status", {"order_id": "1042"}, None)
    ]
    assert calls[0]["result"] == {"order_id": "1042", "status": "shipped"}
    # The tool's result went back to the model before it answered.
    [after_tool] = [r for r in fake.requests if r["messages"][-1]["role"] == "tool"]
    assert '"shipped"' in after_tool["messages"][-1]["content"]


async def test_python_agent_answers_a_phone_call_with_its_tool(
    stack: AgentStack, agent_folder: Path, tmp_path: Path
) -> None:
    reply = "Your order is out for delivery."
    # Answered by where each request stands in the conversation: requests started early on
    # the caller's pause (preemptive generation), however many, do not shift the answers.
    script = Conversation({1: [[FakeToolCall("order_status", {"order_id": "2077"})], reply]})
    async with start_fake_openai(script) as fake:
        agent = load_agent(str(agent_folder / "agent.py"))
        llm = LlmOptions(base_url=fake.base_url, model="fake")
        served = await agent_stack(agent, stack, tmp_path, llm=llm)
        try:
            detail, report = await phone_call(served, script)
        finally:
            await served.responders.close()
            await served.store.close()
    check_the_call(detail, report, reply, fake.requests)
    calls = tool_calls(detail)
    assert [(c["name"], c["arguments"]) for c in calls] == [("order_status", {"order_id": "2077"})]
    assert calls[0]["result"] == {"order_id": "2077", "status": "out for delivery"}
