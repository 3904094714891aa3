"""Tools and held words on the model path, behind the watchdog that replaces a stalled model.

The watchdog waits a short time for each event of the model's reply. A tool that runs longer
than that, or words held back while a tool that changes something is offered, are the model at
work, not a stall: the tool runs to its end (its filler said if it is slow) and the answer is
the model's, not the fallback's. Results of tools that finished are kept when the reply is cut
short, and a model that hangs up without a word still says goodbye.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from callwright import Agent, Flow, LlmOptions, Node, SlotSpec, tool
from callwright.agents.build import build_responders
from callwright.agents.definition import AgentRuntime
from callwright.core.provider_events import bind_call_events
from callwright.core.responder import (
    CallInfo,
    EndCall,
    Message,
    ToolResult,
    TurnContext,
)
from callwright.llm.fallback import FallbackResponderFactory, LlmFallbackOptions
from callwright.testing import TextCall, TextSession
from tests.fakes.openai_server import FakeToolCall, HttpError, Reply, start_fake_openai

# A watchdog much quicker than every tool below: without the fix each of them is a "stall".
QUICK = LlmFallbackOptions(first_event_ms=250.0, stall_ms=250.0)
TOOL_S = 0.8  # how long the slow tools take: over three times the watchdog's wait

ran: list[tuple[str, str]] = []


@tool(timeout=3.0, filler="One moment while I look that up.", slow_after=0.2)
async def order_status(order_id: str) -> dict[str, str]:
    """Looks up where an order is.

    Args:
        order_id: the order number.
    """
    ran.append(("status started", order_id))
    await asyncio.sleep(TOOL_S)
    ran.append(("status done", order_id))
    return {"status": "shipped"}


@tool(confirm=True, confirm_prompt="Shall I open a return for order {order_id}?", timeout=3.0)
async def start_return(order_id: str) -> str:
    """Opens a return.

    Args:
        order_id: the order.
    """
    ran.append(("return started", order_id))
    await asyncio.sleep(TOOL_S)
    ran.append(("return done", order_id))
    return "Your return is open."


@asynccontextmanager
async def shop_call(
    tmp_path: Path, script: list[Any], events: list[tuple[str, dict[str, Any]]], **fake: Any
) -> AsyncIterator[TextCall]:
    """A text call to a shop agent on the model path, behind the quick watchdog."""
    ran.clear()
    agent = Agent(name="shop", greeting="Hi.", instructions="Use the tools.",
                  tools=[order_status, start_return])  # fmt: skip
    bind_call_events(lambda kind, _at, data: events.append((kind, dict(data))), lambda: 0.0)
    async with start_fake_openai(script, **fake) as server:
        runtime = AgentRuntime(data_dir=tmp_path, llm=LlmOptions(server.base_url, "m"), env={})
        primary = await build_responders(agent, runtime)
        chain = FallbackResponderFactory(primary, primary.deterministic(), QUICK)  # type: ignore[attr-defined]
        yield await TextSession(agent, chain).call()
        await primary.close()  # type: ignore[attr-defined]


def stalls(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [str(data.get("error")) for kind, data in events if kind == "provider_error"]


async def test_a_tool_slower_than_the_watchdog_runs_to_its_end(tmp_path: Path) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    script = [[FakeToolCall("order_status", {"order_id": "4217"})], "Your order has shipped."]
    async with shop_call(tmp_path, script, events) as call:
        turn = await call.say("Where is order 4217?")
    assert ran == [("status started", "4217"), ("status done", "4217")]
    assert [(r.call.name, r.result) for r in turn.tool_results] == [
        ("order_status", {"status": "shipped"})
    ]
    # The tool's filler covers the wait (nothing was said before it), then the model answers.
    assert turn.text == "One moment while I look that up. Your order has shipped."
    assert stalls(events) == []


async def test_a_confirmed_tool_slower_than_the_watchdog_runs_on_the_yes(tmp_path: Path) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    script: list[Any] = [[FakeToolCall("start_return", {"order_id": "4217"})]]
    async with shop_call(tmp_path, script, events) as call:
        asked = await call.say("I want to return order 4217.")
        done = await call.say("Yes please.")
    assert asked.text == "Shall I open a return for order 4217?"
    assert ran == [("return started", "4217"), ("return done", "4217")]
    assert done.text.startswith("Your return is open.")
    assert stalls(events) == []


async def test_words_held_back_while_a_change_is_offered_are_no_stall(tmp_path: Path) -> None:
    """While tools that change something are offered, the model's words are held until it is
    known whether it calls one; a slow writer is still writing, not stalled."""
    answer = "Returns are free within thirty days, just bring the item and the receipt."
    events: list[tuple[str, dict[str, Any]]] = []
    # 14 words at 10 a second: about 1.3 s of writing, each word within the watchdog's wait.
    async with shop_call(tmp_path, [answer], events, tokens_per_s=10.0) as call:
        turn = await call.say("How do returns work?")
    assert turn.text == answer
    assert stalls(events) == []


async def test_results_of_tools_that_finished_are_kept_when_the_reply_is_cut(
    tmp_path: Path,
) -> None:
    """Cut short (a barge-in) while one tool still runs, the reply has already handed over the
    result of the one that finished, so it is recorded; the unfinished one is cancelled."""
    ran.clear()
    quick_done = asyncio.Event()

    @tool(timeout=30.0)
    async def quick_lookup(order_id: str) -> str:
        """Looks an order up quickly.

        Args:
            order_id: the order.
        """
        quick_done.set()
        return f"order {order_id} found"

    @tool(timeout=30.0)
    async def slow_lookup(order_id: str) -> str:
        """Looks an order up slowly.

        Args:
            order_id: the order.
        """
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            ran.append(("slow cancelled", order_id))
            raise
        return "never"

    calls = [FakeToolCall("quick_lookup", {"order_id": "1"}),
             FakeToolCall("slow_lookup", {"order_id": "2"})]  # fmt: skip
    agent = Agent(name="shop", greeting="Hi.", instructions="x",
                  tools=[quick_lookup, slow_lookup])  # fmt: skip
    results: list[ToolResult] = []
    async with start_fake_openai([calls]) as server:
        runtime = AgentRuntime(data_dir=tmp_path, llm=LlmOptions(server.base_url, "m"), env={})
        factory = await build_responders(agent, runtime)
        call = CallInfo("c1", "test")
        responder = factory.for_call(call)
        history = [Message(role="user", content="Look up orders 1 and 2.")]

        async def reply() -> None:
            async for event in responder.respond(TurnContext(call, history)):
                if isinstance(event, ToolResult):
                    results.append(event)

        replying = asyncio.create_task(reply())
        await asyncio.wait_for(quick_done.wait(), 10)
        await asyncio.sleep(0.1)  # the quick result is handed over; the slow tool still runs
        replying.cancel()  # the caller barged in
        await asyncio.gather(replying, return_exceptions=True)
        await factory.close()  # type: ignore[attr-defined]
    assert [(r.call.name, r.result) for r in results] == [("quick_lookup", "order 1 found")]
    assert ran == [("slow cancelled", "2")]


async def test_a_model_that_hangs_up_without_a_word_says_goodbye(tmp_path: Path) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    script = [Reply(tool_calls=[FakeToolCall("end_call", {"reason": "caller_done"})])]
    async with shop_call(tmp_path, script, events) as call:
        turn = await call.say("Please hang up the line now.")
    assert turn.text == "Thank you for calling. Goodbye."
    assert turn.ended == EndCall("caller_done")


async def test_fixed_words_between_failures_do_not_close_the_breaker(tmp_path: Path) -> None:
    """The model is down. Other callers are greeted in between (fixed words: the model is not
    asked), which proves nothing about it: the breaker still opens after failed turns, and
    then turns stop asking the model."""
    agent = Agent(name="shop", greeting="Hi.", instructions="x")
    async with start_fake_openai([], default=lambda _body: HttpError(500)) as server:
        runtime = AgentRuntime(data_dir=tmp_path, llm=LlmOptions(server.base_url, "m"), env={})
        primary = await build_responders(agent, runtime)
        chain = FallbackResponderFactory(primary, primary.deterministic(), QUICK)  # type: ignore[attr-defined]
        session = TextSession(agent, chain)
        asked: list[int] = []
        questions = ["Do you ship abroad?", "Can I pay by card?", "Where is the shop?"]
        for question in [*questions, "Are you open late?"]:
            await session.call()  # another caller is greeted
            before = len(server.requests)
            await (await session.call()).say(question)
            asked.append(len(server.requests) - before)
        await primary.close()  # type: ignore[attr-defined]
    failures_to_open = QUICK.breaker.failures_to_open
    assert chain.breaker.is_open
    assert asked[-1] == 0, f"requests per turn {asked}: the open breaker skips the model"
    # Every failed turn counted: open after `failures_to_open` of them, retries included.
    assert sum(asked) <= 2 * failures_to_open


booked: list[tuple[dt.date, str]] = []


@tool
async def book_visit(date: dt.date, time_of_day: str) -> str:
    """Books a visit.

    Args:
        date: the day.
        time_of_day: the time.
    """
    booked.append((date, time_of_day))
    return "Booked."


async def test_a_model_that_fails_mid_flow_leaves_the_call_where_it_stood(tmp_path: Path) -> None:
    """The model answered the first turn (the day is a slot now) and fails on the second: the
    flow answers that turn from the same state, so the booking goes ahead on the caller's day
    and time, as it would with no model at all; a fresh state would start over at the menu."""
    booked.clear()
    slots = (SlotSpec("date", "date", "What day?"), SlotSpec("time_of_day", "time", "What time?"))
    flow = Flow("f", "menu", {"menu": Node("menu"),
                              "book": Node("book", slots, frozenset({"book_visit"}))})  # fmt: skip
    agent = Agent(name="clinic", greeting="Hi.", instructions="x", flow=flow,
                  intents={"book": ["book"]}, tools=[book_visit])  # fmt: skip
    script: list[Any] = ["Sure. What time on Wednesday?", HttpError(503), HttpError(503)]
    async with start_fake_openai(script) as server:
        runtime = AgentRuntime(
            data_dir=tmp_path,
            llm=LlmOptions(server.base_url, "m"),
            env={},
            today=lambda: dt.date(2026, 12, 7),  # a Monday
        )
        primary = await build_responders(agent, runtime)
        chain = FallbackResponderFactory(primary, primary.deterministic(), QUICK)  # type: ignore[attr-defined]
        call = await TextSession(agent, chain).call()
        await call.say("I'd like to book for Wednesday.")
        turn = await call.say("At ten in the morning.")
        await primary.close()  # type: ignore[attr-defined]
    assert booked == [(dt.date(2026, 12, 9), "10:00")]
    assert turn.text.startswith("Booked.")


async def test_tools_run_side_by_side_each_get_their_time(tmp_path: Path) -> None:
    """A quick tool's result must not leave the slower one to the watchdog's short wait."""
    ran.clear()

    @tool(timeout=3.0)
    async def quick_check(order_id: str) -> str:
        """Checks an order quickly.

        Args:
            order_id: the order.
        """
        return "fine"

    calls = [FakeToolCall("quick_check", {"order_id": "1"}),
             FakeToolCall("order_status", {"order_id": "2"})]  # fmt: skip
    agent = Agent(name="shop", greeting="Hi.", instructions="x",
                  tools=[quick_check, order_status])  # fmt: skip
    events: list[tuple[str, dict[str, Any]]] = []
    bind_call_events(lambda kind, _at, data: events.append((kind, dict(data))), lambda: 0.0)
    async with start_fake_openai([calls, "Both are on their way."]) as server:
        runtime = AgentRuntime(data_dir=tmp_path, llm=LlmOptions(server.base_url, "m"), env={})
        primary = await build_responders(agent, runtime)
        chain = FallbackResponderFactory(primary, primary.deterministic(), QUICK)  # type: ignore[attr-defined]
        turn = await (await TextSession(agent, chain).call()).say("Where are orders 1 and 2?")
        await primary.close()  # type: ignore[attr-defined]
    assert ran == [("status started", "2"), ("status done", "2")]
    assert turn.text.endswith("Both are on their way.") and stalls(events) == []


async def test_model_replies_without_usage_still_close_the_breaker(tmp_path: Path) -> None:
    """A server that reports no token usage: its real answers are still answers, so failures
    scattered between them never add up to an open breaker."""
    agent = Agent(name="shop", greeting="Hi.", instructions="x")
    fail, fine = HttpError(500), "We open at nine."
    script: list[Any] = [fail, fine, fail, fine, fail, fine, fail]
    async with start_fake_openai(script) as server:
        llm = LlmOptions(server.base_url, "m", stream_usage=False)
        runtime = AgentRuntime(data_dir=tmp_path, llm=llm, env={})
        primary = await build_responders(agent, runtime)
        chain = FallbackResponderFactory(primary, primary.deterministic(), QUICK)  # type: ignore[attr-defined]
        call = await TextSession(agent, chain).call()
        asked = ["When do you open?", "Do you ship abroad?", "Can I pay by card?",
                 "Where is the shop?", "Is there parking?", "Do you sell gift cards?",
                 "Are you open on Sunday?"]  # fmt: skip
        for question in asked:
            await call.say(question)
        await primary.close()  # type: ignore[attr-defined]
    assert QUICK.breaker.failures_to_open <= 4  # four failures in all, never three in a row
    assert not chain.breaker.is_open
