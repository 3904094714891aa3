"""The public agent API: `@tool` schemas, the generic responder by text, loading agents."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Literal

import pytest

from callwright import (
    Agent,
    AgentLoadError,
    CallInfo,
    Flow,
    GuardrailOptions,
    HasDeterministicFallback,
    HasHandoffFacts,
    HasPhrases,
    LlmOptions,
    Node,
    SlotSpec,
    load_agent,
    tool,
)
from callwright.testing import text_agent
from tests.fakes.openai_server import FakeToolCall, Reply, ScriptItem, start_fake_openai

MONDAY = dt.date(2026, 11, 23)
booked: list[dict[str, object]] = []


@tool(timeout=2.0, retries=1, filler="One moment.")
async def order_status(order_id: str, verbose: bool = False) -> dict[str, str]:
    """Looks up where an order is.

    Args:
        order_id: the order number the caller
            read out.
        verbose: include the carrier.
    """
    return {"order_id": order_id, "status": "shipped"}


@tool(confirm=True, confirm_prompt="Return order {order_id} because it is {reason}?")
async def start_return(
    order_id: str, reason: Literal["damaged", "too small"], call: CallInfo
) -> str:
    """Opens a return.

    Args:
        order_id: the order.
        reason: why it goes back.
    """
    booked.append({"order_id": order_id, "reason": reason, "call": call.call_id})
    return f"Your return for order {order_id} is open."


@tool(confirm=True)
async def book_visit(date: dt.date, idempotency_key: str) -> str:
    """Books a visit on a day."""
    booked.append({"date": date, "key": idempotency_key})
    return "You're booked."


def test_tool_schema_comes_from_hints_and_docstring() -> None:
    assert order_status.name == "order_status"
    assert order_status.description == "Looks up where an order is."
    assert order_status.parameters == {
        "type": "object",
        "properties": {
            "order_id": {"type": "string", "description": "the order number the caller read out."},
            "verbose": {"type": "boolean", "description": "include the carrier."},
        },
        "required": ["order_id"],
    }
    assert (order_status.timeout, order_status.retries, order_status.filler) == (
        2.0,
        1,
        "One moment.",
    )
    # The CallInfo parameter is the runtime's, not the model's; Literal becomes an enum.
    props = start_return.parameters["properties"]
    assert set(props) == {"order_id", "reason"}
    assert props["reason"] == {
        "type": "string",
        "enum": ["damaged", "too small"],
        "description": "why it goes back.",
    }
    assert start_return.call_param == "call" and start_return.confirm
    assert "idempotency_key" not in book_visit.parameters["properties"]


def test_tool_rejects_sync_functions_and_missing_hints() -> None:
    def sync(x: int) -> int:
        return x

    with pytest.raises(TypeError):
        tool(sync)  # type: ignore[arg-type]

    async def untyped(x):  # type: ignore[no-untyped-def]
        return x

    with pytest.raises(TypeError):
        tool(untyped)


RETURNS = Flow(
    "shop",
    start="menu",
    nodes={
        "menu": Node("menu"),
        "return": Node(
            "return",
            slots=(
                SlotSpec("order_id", "digits", "What is your order number?"),
                SlotSpec("reason", "text", "Why are you returning it?"),
            ),
            tools=frozenset({"start_return"}),
        ),
    },
)


def shop_agent(knowledge: Path | None = None) -> Agent:
    return Agent(
        name="shop",
        instructions="You are the shop's phone assistant.",
        greeting="Hello, Example Shop.",
        knowledge=knowledge,
        flow=RETURNS,
        intents={"return": ["return", "send it back"]},
        tools=[order_status, start_return],
        guardrails=GuardrailOptions(emergency=("fire",), abuse=(), out_of_scope=("lawyer",)),
    )


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "shop.md").write_text(
        "# Opening hours\n\nThe shop answers the phone from nine to five, Monday to Saturday.\n"
    )
    return folder


async def test_flow_without_llm_fills_slots_confirms_and_runs_the_tool(knowledge: Path) -> None:
    async with text_agent(shop_agent(knowledge), today=lambda: MONDAY) as session:
        call = await session.call()
        assert call.greeting == "Hello, Example Shop."
        hours = await call.say("When do you answer the phone?")
        assert "nine to five" in hours.text
        asked = await call.say("I want to send it back.")
        assert asked.text == "What is your order number?"
        assert (await call.say("It's 4 2 1 7.")).text == "Why are you returning it?"
        readback = await call.say("too small")
        assert readback.text == "Return order 4217 because it is too small?"
        assert readback.tool_results == []  # nothing runs before the caller's yes
        done = await call.say("Yes, please.")
        result = done.expect_tool("start_return", order_id="4217", reason="too small")
        assert result.error is None
        assert done.text.startswith("Your return for order 4217 is open.")
        assert booked[-1] == {"order_id": "4217", "reason": "too small", "call": call.info.call_id}
        facts = call.responder.handoff_facts()
        assert facts["done"] == ["start_return"]
        bye = await call.say("That's all, goodbye.")
        assert bye.ended is not None and bye.text == "Thank you for calling. Goodbye!"


async def test_guardrails_and_escalation_by_text() -> None:
    agent = Agent(
        name="a",
        escalation_cues=("speak to the manager",),
        guardrails=GuardrailOptions(emergency=("fire",), abuse=(), out_of_scope=()),
    )
    async with text_agent(agent) as session:
        call = await session.call()
        fire = await call.say("There is a fire in the building!")
        assert fire.ended is not None and "911" in fire.text
        other = await session.call()
        turn = await other.say("Let me speak to the manager.")
        assert turn.handoff is not None and turn.text == ""


async def test_llm_is_bounded_by_the_flow_and_confirmation() -> None:
    ret = FakeToolCall("start_return", {"order_id": "77", "reason": "damaged"})
    script = [Reply("", [ret])]  # asked once: the yes is checked without the model
    async with start_fake_openai(script) as fake:
        llm = LlmOptions(base_url=fake.base_url, model="fake")
        async with text_agent(shop_agent(), llm=llm) as session:
            assert isinstance(session.responders, HasDeterministicFallback)
            assert isinstance(session.responders, HasPhrases)
            call = await session.call()
            first = await call.say("Can you return order 77?")
            # "return" moved the call into the return node: the tool is allowed, but held.
            assert first.tools == ["start_return"]
            held = first.tool_results[0].result
            assert held["status"] == "awaiting_confirmation"
            assert first.text == "Return order 77 because it is damaged?"
            assert [r for r in booked if r.get("order_id") == "77"] == []
            done = await call.say("Yes.")
            done.expect_tool("start_return", order_id="77", reason="damaged")
            assert [r["reason"] for r in booked if r.get("order_id") == "77"] == ["damaged"]
            assert fake.requests[0]["messages"][0]["content"].startswith("You are the shop's")
            offered = {t["function"]["name"] for t in fake.requests[0]["tools"]}
            assert offered == {"order_status", "start_return"}
            assert isinstance(call.responder, HasHandoffFacts)


async def test_llm_refuses_a_tool_outside_the_current_node() -> None:
    script: list[ScriptItem] = [
        [FakeToolCall("start_return", {"order_id": "9", "reason": "damaged"})],
        "Okay.",
    ]
    async with start_fake_openai(script) as fake:
        llm = LlmOptions(base_url=fake.base_url, model="fake")
        async with text_agent(shop_agent(), llm=llm) as session:
            call = await session.call()
            turn = await call.say("Where is my parcel?")
            assert turn.tool_results[0].error and "not allowed" in turn.tool_results[0].error
            offered = {t["function"]["name"] for t in fake.requests[0]["tools"]}
            assert offered == {"order_status"}  # the return node's tool is not offered


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_yaml_agent_loads_with_http_tools(tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    spec = write(
        tmp_path / "agent.yaml",
        """\
        name: shop
        greeting: Hello.
        instructions: Be brief.
        knowledge: kb
        tools:
          - name: order_status
            description: Looks up an order.
            url: http://127.0.0.1:9/orders/{order_id}
            parameters:
              type: object
              properties: {order_id: {type: string}}
              required: [order_id]
            auth_header: {name: Authorization, env: SHOP_TOKEN}
            timeout: 3
        escalation:
          phrases: [speak to the manager]
          transfer_number: "+15550100"
        """,
    )
    agent = load_agent(str(spec), env={"SHOP_TOKEN": "Bearer x"})
    assert agent.name == "shop" and agent.knowledge == (tmp_path / "kb").resolve()
    assert [t.name for t in agent.tools] == ["order_status"]
    assert agent.tools[0].parameters["required"] == ["order_id"]
    assert agent.transfer_number == "+15550100"
    assert agent.escalation_cues == ("speak to the manager",)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "name: x\ntools:\n  - name: t\n    description: d\n",
            "agent.yaml line 3: tools[0].url: required",
        ),
        ("name: x\ngreting: hi\n", "agent.yaml line 2: greting: unknown field"),
        ("greeting: hi\n", "agent.yaml line 1: name: required"),
        (
            "name: x\ntools:\n  - name: t\n    description: d\n    url: http://h/{id}\n",
            "agent.yaml line 5: tools[0].url: {id} is not a parameter",
        ),
        (
            "name: x\ntools:\n  - name: t\n    description: d\n    url: http://h/\n"
            "    auth_header: {name: Authorization, env: NOPE_UNSET}\n",
            "agent.yaml line 6: tools[0].auth_header.env: NOPE_UNSET is not set",
        ),
        (
            "name: x\ntools:\n  - name: t\n    description: d\n    url: http://h/\n"
            "    timeout: -1\n",
            "agent.yaml line 6: tools[0].timeout: must be a positive number",
        ),
        ("name: [x\n", "agent.yaml line 2: not valid YAML"),
    ],
)
def test_yaml_errors_name_the_line_and_the_field(tmp_path: Path, body: str, message: str) -> None:
    spec = tmp_path / "agent.yaml"
    spec.write_text(body)
    with pytest.raises(AgentLoadError) as raised:
        load_agent(str(spec), env={})
    assert str(raised.value).startswith(message), str(raised.value)


def test_python_agents_load_by_path_and_by_module(tmp_path: Path) -> None:
    write(tmp_path / "helpers_for_agent.py", "GREETING = 'Hi from a helper.'\n")
    path = write(
        tmp_path / "my_agent.py",
        """\
        from callwright import Agent
        from helpers_for_agent import GREETING

        agent = Agent(name="mine", greeting=GREETING)
        other = Agent(name="other")
        """,
    )
    assert load_agent(str(path)).greeting == "Hi from a helper."
    assert load_agent(f"{path}:other").name == "other"
    assert load_agent("examples.clinic.agent:agent").name == "clinic"
    with pytest.raises(AgentLoadError, match=r"not a callwright\.Agent"):
        load_agent(f"{path}:GREETING")
    with pytest.raises(AgentLoadError, match="cannot import"):
        load_agent("no_such_module_here:agent")


def readme_agent(folder: Path) -> Path:
    """The README's complete agent, written to `folder`."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    code = readme.split("## Your own agent", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert len([line for line in code.splitlines() if line.strip()]) <= 30
    path = folder / "readme_agent.py"
    path.write_text(code)
    return path


async def test_the_readme_agent_works_as_written(tmp_path: Path) -> None:
    path = readme_agent(tmp_path)
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "knowledge" / "faq.md").write_text("# Returns\n\nReturns are free for 30 days.\n")
    async with text_agent(load_agent(str(path))) as session:
        call = await session.call()
        assert call.greeting == "Hello, thanks for calling Example Shop. How can I help?"
        assert "free for 30 days" in (await call.say("Are returns free?")).text
        assert (await call.say("Where is my order?")).text == "What is your order number?"
        found = await call.say("5 5 1")
        found.expect_tool("order_status", order_id="551")
        assert found.text.startswith("Order 551 has shipped.")


def test_serve_with_a_bad_agent_file_exits_with_one_message(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    spec = tmp_path / "agent.yaml"
    spec.write_text("name: x\ntools:\n  - name: t\n    description: d\n")
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-m", "callwright", "serve", "--agent", str(spec), "--port", "1"],
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "callwright: agent.yaml line 3: tools[0].url: required"
    assert "serving" not in result.stdout


async def test_an_agent_with_its_own_code_runs_through_the_same_helpers() -> None:
    from examples.clinic.agent import agent as clinic

    async with text_agent(clinic, today=lambda: MONDAY) as session:
        call = await session.call()
        assert "Maple Street Clinic" in call.greeting
        turn = await call.say("I'd like to book an appointment with Doctor Patel.")
        assert "name" in turn.text.lower()
        assert isinstance(call.responder, HasHandoffFacts)
        facts = call.responder.handoff_facts()
        assert facts is not None and facts["intent"] == "book an appointment"


async def test_idempotency_keys_run_a_side_effect_once() -> None:
    from callwright import ToolCall
    from callwright.agents.gated_tools import GatedTools

    runs: list[tuple[str, str]] = []

    @tool(idempotency_key=lambda args: str(args["order_id"]))
    async def refund(order_id: str, amount: int, idempotency_key: str) -> str:
        """Refunds an order."""
        runs.append((order_id, idempotency_key))
        return "refunded"

    assert await refund("1", 5, "k") == "refunded"  # still callable as a function
    runs.clear()
    agent = Agent(name="a", tools=[refund, book_visit])
    one = GatedTools(agent, CallInfo("call-1", "test"), None, None)
    other = GatedTools(agent, CallInfo("call-2", "test"), None, None)
    first = await one.run_now(ToolCall("c1", "refund", {"order_id": "9", "amount": 5}))
    again = await one.run_now(ToolCall("c2", "refund", {"order_id": "9", "amount": 7}))
    assert first.result == again.result == "refunded"
    assert len(runs) == 1  # the key is the order: the second refund is the first one's
    # A confirmed tool's key is per phone call: the same yes twice in a call books once.
    visit = ToolCall("v1", "book_visit", {"date": "2026-11-25"})
    before = len(booked)
    await one.run_now(visit)
    await one.run_now(visit)
    await other.run_now(visit)
    keys = [entry["key"] for entry in booked[before:]]
    assert len(keys) == 2 and keys[0] != keys[1]
    # Arguments arrive as their hinted types; a bad one is refused without a retry.
    assert booked[-1]["date"] == dt.date(2026, 11, 25)
    bad = await one.run_now(ToolCall("v2", "book_visit", {"date": "next week"}))
    assert bad.error is not None and "argument date" in bad.error


def test_agent_definitions_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown tools"):
        Agent(name="a", flow=RETURNS, tools=[order_status])
    with pytest.raises(ValueError, match="unknown nodes"):
        Agent(name="a", flow=RETURNS, intents={"refund": ["refund"]}, tools=[start_return])
    with pytest.raises(ValueError, match="duplicate tool"):
        Agent(name="a", tools=[order_status, order_status])


def test_a_yaml_agent_sets_its_own_dead_air_policy(tmp_path: Path) -> None:
    spec = write(
        tmp_path / "agent.yaml",
        """\
        name: patient-desk
        silence:
          reprompt_after_seconds: 20
          max_reprompts: 0
        """,
    )
    silence = load_agent(str(spec), env={}).silence
    assert silence is not None
    assert (silence.reprompt_after_ms, silence.max_reprompts) == (20000.0, 0)
    assert load_agent(str(write(tmp_path / "plain.yaml", "name: plain\n")), env={}).silence is None
    bad = write(tmp_path / "bad.yaml", "name: x\nsilence:\n  max_reprompts: many\n")
    with pytest.raises(AgentLoadError) as raised:
        load_agent(str(bad), env={})
    assert str(raised.value).startswith("bad.yaml line 3: silence.max_reprompts: must be")
