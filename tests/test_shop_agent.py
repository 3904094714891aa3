"""The shop example (examples/shop/) by text: an LLM-first agent on its own REST backend.

The model is the scripted OpenAI-compatible fake; the tools call the shop's backend, started
here on a free port with its own orders (each test owns its backend). What is checked is the
framework's part: the return's steps cannot be skipped or reordered by the model, nothing is
created before the caller's own "yes", and a yes said twice opens one return.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from callwright import LlmOptions
from callwright.testing import TextCall, text_agent
from examples.shop.agent import agent
from examples.shop.backend import ShopBackend, sample_orders, serve_backend
from tests.fakes.openai_server import FakeOpenAI, FakeToolCall, Reply, ScriptItem, start_fake_openai

TOKEN = "shop-token-test"
TODAY = dt.date(2026, 11, 20)
FIND = FakeToolCall("find_order", {"order_id": "1042", "postcode": "94107"})
CHECK = FakeToolCall("check_return_eligibility", {"order_id": "1042"})
CREATE = FakeToolCall("create_return", {"order_id": "1042", "reason": "it is too small"})


@asynccontextmanager
async def shop_call(
    script: Sequence[ScriptItem], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[TextCall, ShopBackend, FakeOpenAI]]:
    """A text call to the shop agent, with its own backend and a scripted model."""
    backend = ShopBackend(TOKEN, {o.order_id: o for o in sample_orders(TODAY)}, lambda: TODAY)
    async with serve_backend(backend) as url, start_fake_openai(script) as fake:
        monkeypatch.setenv("SHOP_API_URL", url)
        monkeypatch.setenv("SHOP_API_TOKEN", TOKEN)
        llm = LlmOptions(base_url=fake.base_url, model="fake")
        async with text_agent(agent, llm=llm, today=lambda: TODAY) as session:
            yield await session.call(), backend, fake


def offered(request: dict[str, object]) -> set[str]:
    return {t["function"]["name"] for t in request.get("tools", [])}  # type: ignore[attr-defined]


def tool_errors(request: dict[str, object]) -> list[str]:
    messages = request["messages"]
    tool_messages = [m for m in messages if m["role"] == "tool"]  # type: ignore[attr-defined]
    return [json.loads(m["content"]).get("error") or "" for m in tool_messages]


async def test_order_status_comes_from_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    script: list[ScriptItem] = [
        [FIND],
        "Your rain jacket was delivered six days ago.",
        "It came to the postcode you gave.",
    ]
    async with shop_call(script, monkeypatch) as (call, backend, fake):
        assert call.greeting == agent.greeting
        turn = await call.say("Where is my order 1042? The postcode is 94107.")
        result = turn.expect_tool("find_order", order_id="1042", postcode="94107")
        assert result.error is None
        assert result.result["status"] == "delivered" and result.result["item"] == "a rain jacket"
        assert "postcode" not in result.result  # the backend does not echo it
        assert turn.text == "Your rain jacket was delivered six days ago."
        # The agent's own instructions, dated, are the system prompt.
        system = fake.requests[0]["messages"][0]
        assert system["role"] == "system" and "Example Shop" in system["content"]
        assert TODAY.isoformat() in system["content"]
        # Before the caller asks for a return, the return tools are not offered.
        assert "create_return" not in offered(fake.requests[0])
        assert "find_order" in offered(fake.requests[0])
        assert backend.returns == []
        # On the next turn the model still sees what its tool returned, in order.
        await call.say("Where did it go?")
        later = fake.requests[2]["messages"]
        roles = [m["role"] for m in later]
        # system, greeting, question, the tool call, its result, the answer, the new question
        assert roles == ["system", "assistant", "user", "assistant", "tool", "assistant", "user"]
        assert later[1]["content"] == agent.greeting
        assert later[3]["tool_calls"][0]["function"]["name"] == "find_order"
        assert later[4]["tool_call_id"] == later[3]["tool_calls"][0]["id"]
        assert json.loads(later[4]["content"])["item"] == "a rain jacket"
        assert later[5]["content"] == "Your rain jacket was delivered six days ago."


async def test_a_wrong_postcode_finds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = FakeToolCall("find_order", {"order_id": "1042", "postcode": "10001"})
    script: list[ScriptItem] = [[wrong], "I can't find that order with that postcode."]
    async with shop_call(script, monkeypatch) as (call, _backend, fake):
        turn = await call.say("Where is order 1042? Postcode 10001.")
        [result] = turn.tool_results
        assert result.error is not None and "no order" in result.error
        assert "no order" in tool_errors(fake.requests[1])[0]
        assert len(fake.requests) == 2  # refused, not retried


async def test_the_return_steps_cannot_be_skipped_and_wait_for_a_yes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script: list[ScriptItem] = [
        # Straight to the side effect, and eligibility before the order is identified: both
        # refused.
        [CREATE, CHECK],
        [FIND],
        [CHECK],
        Reply("I'll open that return.", [CREATE]),  # held for the caller's yes
    ]
    async with shop_call(script, monkeypatch) as (call, backend, fake):
        turn = await call.say("I want to return order 1042, postcode 94107. It is too small.")
        refused_create, refused_check = turn.tool_results[:2]
        assert refused_create.error is not None
        assert "check_return_eligibility" in refused_create.error
        assert refused_check.error is not None and "find_order" in refused_check.error
        assert [r.call.name for r in turn.tool_results[2:]] == [
            "find_order",
            "check_return_eligibility",
            "create_return",
        ]
        held = turn.tool_results[-1]
        assert held.result["status"] == "awaiting_confirmation"
        assert turn.text.endswith(
            "Just to confirm: a return for order 1042, because it is too small. Shall I open it?"
        )
        assert "The system now reads" not in turn.text
        # The return tools were offered once the caller asked for a return.
        assert {"check_return_eligibility", "create_return"} <= offered(fake.requests[0])
        assert backend.returns == []  # nothing before the yes
        assert len(fake.requests) == 4  # the model does not speak for the confirmation

        done = await call.say("Yes please.")
        assert len(fake.requests) == 4  # the yes is checked without the model
        created = done.expect_tool("create_return", order_id="1042", reason="it is too small")
        assert created.error is None
        [opened] = backend.returns
        assert (opened.order_id, opened.reason) == ("1042", "it is too small")
        assert done.text.startswith(f"Your return is open, reference {opened.return_id}.")


async def test_eligibility_of_another_order_does_not_unlock_this_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = FakeToolCall("create_return", {"order_id": "2077", "reason": "changed my mind"})
    script: list[ScriptItem] = [[FIND], [CHECK], [other], "Sorry, I can't return that order."]
    async with shop_call(script, monkeypatch) as (call, backend, _fake):
        turn = await call.say("I'd like a refund for order 1042 at 94107, and for 2077 too.")
        refused = turn.tool_results[-1]
        assert refused.call.arguments["order_id"] == "2077"
        assert refused.error is not None and "check_return_eligibility" in refused.error
        assert backend.returns == []


async def test_an_order_past_the_window_is_not_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    find = FakeToolCall("find_order", {"order_id": "3150", "postcode": "60614"})
    check = FakeToolCall("check_return_eligibility", {"order_id": "3150"})
    create = FakeToolCall("create_return", {"order_id": "3150", "reason": "broken"})
    script: list[ScriptItem] = [[find], [check], [create], "Sorry, that one is past 30 days."]
    async with shop_call(script, monkeypatch) as (call, backend, _fake):
        turn = await call.say("I want to return my lamp, order 3150, postcode 60614.")
        checked, create_refused = turn.tool_results[1:]
        assert checked.error is not None and "75 days ago" in checked.error
        assert create_refused.error is not None and create_refused.error.startswith("refused")
        assert backend.returns == []


async def test_no_cancels_and_a_second_yes_opens_one_return(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script: list[ScriptItem] = [
        [FIND],
        [CHECK],
        [CREATE],
        [CREATE],  # asked again after the caller said no
        [CREATE],  # and once more after the return exists
    ]
    async with shop_call(script, monkeypatch) as (call, backend, _fake):
        await call.say("Return order 1042, postcode 94107, it is too small.")
        declined = await call.say("No, not yet.")
        assert declined.text.startswith(agent.lines.declined)
        assert backend.returns == []
        await call.say("Actually I do want to return it.")
        await call.say("Yes.")
        assert len(backend.returns) == 1
        # The same return, confirmed again in the same call, is not opened twice.
        await call.say("Please make sure the return for 1042 is open.")
        again = await call.say("Yes.")
        assert again.tool_results[-1].result["return_id"] == backend.returns[0].return_id
        assert len(backend.returns) == 1


def test_the_example_uses_only_the_public_api() -> None:
    """The shop imports `callwright` itself, never a submodule."""
    folder = Path(__file__).parents[1] / "examples" / "shop"
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("callwright."), (path.name, node.module)
            if isinstance(node, ast.Import):
                assert all(not a.name.startswith("callwright.") for a in node.names), path.name
