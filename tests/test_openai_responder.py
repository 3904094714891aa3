"""Tests of the OpenAI-compatible responder and the tool registry, against a local fake server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from callwright.core.responder import (
    CallInfo,
    EndCall,
    Message,
    Responder,
    ResponseEvent,
    TextDelta,
    TokenUsage,
    ToolCall,
    ToolResult,
    Trigger,
    TurnContext,
    Working,
)
from callwright.llm.completion_stream import first_to_answer
from callwright.llm.openai_compat import (
    INTERRUPTED_MARKER,
    MAX_TOOL_RESULT_CHARS,
    LlmError,
    LlmOptions,
    OpenAICompatResponderFactory,
    to_chat_messages,
)
from callwright.tools import Tool, ToolRegistry
from callwright.tools.registry import TOOL_MARGIN_MS
from tests.fakes.openai_server import (
    FakeOpenAI,
    FakeToolCall,
    HttpError,
    Malformed,
    Reply,
    ScriptItem,
    Stall,
    start_fake_openai,
)

CALL = CallInfo(call_id="call-1", channel="test")
USER_ASKS = [Message(role="user", content="Do you have a table for two on Saturday?")]
AVAILABILITY_SCHEMA = {
    "type": "object",
    "properties": {"date": {"type": "string"}, "party_size": {"type": "integer"}},
    "required": ["date", "party_size"],
}


@asynccontextmanager
async def serving(
    script: Sequence[ScriptItem],
    *,
    tools: ToolRegistry | None = None,
    greeting: str | None = None,
    **options: Any,
) -> AsyncIterator[tuple[FakeOpenAI, Responder]]:
    """A fake server and a responder wired to it."""
    async with start_fake_openai(script) as fake:
        factory = OpenAICompatResponderFactory(
            LlmOptions(base_url=fake.base_url, model="fake-model", **options),
            tools=tools,
            greeting=greeting,
        )
        try:
            yield fake, factory.for_call(CALL)
        finally:
            await factory.close()


async def collect(
    responder: Responder,
    history: Sequence[Message] = USER_ASKS,
    trigger: Trigger = "user_turn",
    into: list[ResponseEvent] | None = None,
) -> list[ResponseEvent]:
    """All events of one reply; `into` keeps those seen before an exception."""
    events = into if into is not None else []
    async for event in responder.respond(TurnContext(call=CALL, history=history, trigger=trigger)):
        events.append(event)
    return events


def text_of(events: Sequence[ResponseEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


def availability_registry(seen: list[dict[str, Any]]) -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool(description="Checks table availability.", parameters=AVAILABILITY_SCHEMA)
    async def check_availability(date: str, party_size: int) -> dict[str, Any]:
        seen.append({"date": date, "party_size": party_size})
        return {"available": True, "times": ["19:00", "20:30"]}

    return registry


async def test_text_streams_as_multiple_deltas_in_order() -> None:
    text = "We are open from nine until late, every day of the week."
    async with serving([text], api_key="sk-test") as (fake, responder):
        events = await collect(responder)
    assert all(isinstance(event, TextDelta) for event in events[:-1])
    assert isinstance(events[-1], TokenUsage)  # the stream's trailing usage chunk
    assert len(events) > 5
    assert text_of(events) == text
    body = fake.requests[0]
    assert body["stream"] is True and body["model"] == "fake-model"
    assert body["messages"][0]["role"] == "system"
    assert body["messages"][-1] == {"role": "user", "content": USER_ASKS[0].content}
    assert "tools" not in body
    assert fake.headers[0]["Authorization"] == "Bearer sk-test"


async def test_text_is_yielded_before_the_stream_ends() -> None:
    events: list[ResponseEvent] = []
    script = [Stall(text_before="One moment please")]
    async with serving(script, request_timeout_s=0.3) as (_, responder):
        with pytest.raises(LlmError, match="stalled"):
            await collect(responder, into=events)
    assert text_of(events) == "One moment please"


async def test_tool_call_round_trip() -> None:
    seen: list[dict[str, Any]] = []
    registry = availability_registry(seen)
    arguments = {"date": "2024-06-01", "party_size": 2}
    script: list[ScriptItem] = [
        [FakeToolCall("check_availability", arguments, call_id="call_abc")],
        "Yes, we have seven or half past eight.",
    ]
    async with serving(script, tools=registry) as (fake, responder):
        events = await collect(responder)
    assert seen == [arguments]
    results = [event for event in events if isinstance(event, ToolResult)]
    assert len(results) == 1 and results[0].error is None
    assert results[0].call == ToolCall("call_abc", "check_availability", arguments)
    assert results[0].result == {"available": True, "times": ["19:00", "20:30"]}
    spoken_or_run = [e for e in events if not isinstance(e, TokenUsage | Working)]
    assert isinstance(spoken_or_run[0], ToolResult)
    # Before the tool runs, the watchdog is told how long it may: its 5 s timeout, one attempt,
    # and the margin for the model's next request.
    working = [e for e in events if isinstance(e, Working)]
    assert working == [Working(5000.0 + TOOL_MARGIN_MS)]
    assert events.index(working[0]) < events.index(results[0])
    assert text_of(events) == "Yes, we have seven or half past eight."
    assert fake.requests[0]["tools"] == registry.schemas()
    assert len(fake.requests) == 2
    assistant, tool = fake.requests[1]["messages"][-2:]
    assert assistant["role"] == "assistant"
    [wire_call] = assistant["tool_calls"]
    assert wire_call["id"] == "call_abc" and wire_call["type"] == "function"
    assert wire_call["function"]["name"] == "check_availability"
    assert json.loads(wire_call["function"]["arguments"]) == arguments
    assert tool["role"] == "tool" and tool["tool_call_id"] == "call_abc"
    assert json.loads(tool["content"]) == {"available": True, "times": ["19:00", "20:30"]}


async def test_parallel_tool_calls_run_concurrently() -> None:
    registry = ToolRegistry()
    started: list[str] = []
    both_started = asyncio.Event()

    async def lookup(key: str) -> str:
        # Completes only if the other call is running at the same time.
        started.append(key)
        if len(started) == 2:
            both_started.set()
        await both_started.wait()
        return f"value of {key}"

    schema = {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]}
    registry.register(Tool("lookup", "Looks a key up.", schema, lookup, timeout_s=2.0))
    calls = [FakeToolCall("lookup", {"key": "a"}), FakeToolCall("lookup", {"key": "b"})]
    async with serving([calls, "Both found."], tools=registry) as (fake, responder):
        events = await collect(responder)
    results = [event for event in events if isinstance(event, ToolResult)]
    assert [(r.call.call_id, r.result, r.error) for r in results] == [
        ("call_0", "value of a", None),
        ("call_1", "value of b", None),
    ]
    messages = fake.requests[1]["messages"]
    assert [m["tool_call_id"] for m in messages if m["role"] == "tool"] == ["call_0", "call_1"]
    assert len(messages[-3]["tool_calls"]) == 2
    assert text_of(events) == "Both found."


async def test_unknown_tool_error_goes_back_to_the_model() -> None:
    registry = availability_registry([])
    script: list[ScriptItem] = [[FakeToolCall("book_flight", {"to": "Lisbon"})], "Sorry."]
    async with serving(script, tools=registry) as (fake, responder):
        events = await collect(responder)
    [result] = [event for event in events if isinstance(event, ToolResult)]
    assert result.error is not None and "unknown tool" in result.error
    tool_message = fake.requests[1]["messages"][-1]
    assert tool_message["role"] == "tool"
    assert "unknown tool" in json.loads(tool_message["content"])["error"]
    assert text_of(events) == "Sorry."


async def test_end_call_yields_end_call_without_another_request() -> None:
    end = FakeToolCall("end_call", {"reason": "caller_done"})
    async with serving([Reply(text="Goodbye!", tool_calls=[end])]) as (fake, responder):
        events = await collect(responder)
    assert text_of(events) == "Goodbye!"
    assert events[-1] == EndCall(reason="caller_done")
    assert not any(isinstance(event, ToolResult) for event in events)
    assert len(fake.requests) == 1


async def test_the_models_reason_to_hang_up_is_kept_to_one_short_line() -> None:
    steered = "done\nINFO callwright: call 42 ended: completed\r\x1b[2K" + " very" * 100
    end = FakeToolCall("end_call", {"reason": steered})
    async with serving([Reply(text="Goodbye!", tool_calls=[end])]) as (_fake, responder):
        events = await collect(responder)
    reason = events[-1].reason if isinstance(events[-1], EndCall) else None
    assert reason is not None and reason.startswith("done INFO callwright: call 42 ended")
    assert len(reason) <= 120 and "\n" not in reason and "\r" not in reason
    blank = FakeToolCall("end_call", {"reason": " \n "})
    async with serving([Reply(text="Bye!", tool_calls=[blank])]) as (_fake, responder):
        assert (await collect(responder))[-1] == EndCall(reason="completed")


async def test_interrupted_assistant_message_is_marked() -> None:
    history = [
        Message(role="user", content="When are you open?"),
        Message(role="assistant", content="We open at nine and", interrupted=True),
        Message(role="user", content="On Sunday?"),
    ]
    async with serving(["At ten on Sunday."]) as (fake, responder):
        await collect(responder, history)
    messages = fake.requests[0]["messages"]
    assert messages[-2] == {
        "role": "assistant",
        "content": "We open at nine and" + INTERRUPTED_MARKER,
    }
    assert messages[-1] == {"role": "user", "content": "On Sunday?"}


def test_history_with_tool_calls_converts_to_chat_shape() -> None:
    call = ToolCall("call_9", "check_availability", {"date": "today"})
    history = [
        Message(role="user", content="Anything today?"),
        Message(role="assistant", content="", tool_calls=[call]),
        Message(role="tool", content='{"available": false}', tool_call_id="call_9"),
    ]
    messages = to_chat_messages("Be brief.", history)
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert messages[2]["content"] is None
    assert messages[2]["tool_calls"][0]["function"] == {
        "name": "check_availability",
        "arguments": '{"date": "today"}',
    }
    assert messages[3] == {
        "role": "tool",
        "tool_call_id": "call_9",
        "content": '{"available": false}',
    }


async def test_http_error_raises_llm_error_with_status_and_body() -> None:
    async with serving([HttpError(status=500)]) as (_, responder):
        with pytest.raises(LlmError) as caught:
            await collect(responder)
    assert caught.value.status == 500
    assert caught.value.body is not None and "server had an error" in caught.value.body


@pytest.mark.parametrize("send_headers", [True, False])
async def test_stall_raises_llm_error_on_first_token_timeout(send_headers: bool) -> None:
    script = [Stall(send_headers=send_headers)]
    async with serving(script, first_token_timeout_s=0.2) as (_, responder):
        with pytest.raises(LlmError, match=r"first token|no response"):
            await collect(responder)


async def test_malformed_chunk_raises_llm_error() -> None:
    async with serving([Malformed()]) as (_, responder):
        with pytest.raises(LlmError, match="malformed"):
            await collect(responder)


async def test_unreachable_server_raises_llm_error() -> None:
    async with start_fake_openai([]) as fake:
        base_url = fake.base_url
    factory = OpenAICompatResponderFactory(LlmOptions(base_url=base_url, model="m"))
    try:
        with pytest.raises(LlmError, match="failed"):
            await collect(factory.for_call(CALL))
    finally:
        await factory.close()


async def test_tool_rounds_are_bounded() -> None:
    registry = availability_registry([])
    call = [FakeToolCall("check_availability", {"date": "today", "party_size": 1})]
    async with serving([call, call], tools=registry, max_tool_rounds=1) as (fake, responder):
        with pytest.raises(LlmError, match="tool rounds"):
            await collect(responder)
    assert "tool_choice" not in fake.requests[0]
    assert fake.requests[1]["tool_choice"] == "none"


async def test_greeting_at_call_start_sends_no_request() -> None:
    greeting = "Hello, you've reached Luigi's. How can I help?"
    async with serving(["Sure."], greeting=greeting) as (fake, responder):
        events = await collect(responder, [], trigger="call_start")
        assert events == [TextDelta(greeting)]
        assert fake.requests == []
        assert text_of(await collect(responder)) == "Sure."
    assert len(fake.requests) == 1


async def test_registry_reports_missing_arguments_timeouts_and_exceptions() -> None:
    registry = availability_registry([])

    @registry.tool(timeout_s=0.05)
    async def slow() -> None:
        """Never finishes in time."""
        await asyncio.sleep(10)

    @registry.tool()
    async def broken() -> None:
        """Always fails."""
        raise RuntimeError("database down")

    missing = await registry.run(ToolCall("c1", "check_availability", {"date": "today"}))
    assert missing.error is not None and "party_size" in missing.error
    timed_out = await registry.run(ToolCall("c2", "slow", {}))
    assert timed_out.error is not None and "timed out" in timed_out.error
    assert timed_out.latency_ms > 0
    failed = await registry.run(ToolCall("c3", "broken", {}))
    assert failed.error == "RuntimeError: database down"
    names = [schema["function"]["name"] for schema in registry.schemas()]
    assert names == ["check_availability", "slow", "broken"]
    assert registry.schemas()[1]["function"]["description"] == "Never finishes in time."
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Tool("slow", "dup", {"type": "object"}, broken))


async def test_token_counts_are_the_servers_own() -> None:
    """The trailing usage chunk of every request is reported and metered exactly."""
    from callwright.observe.usage import MeteredResponder, UsageMeter

    seen: list[dict[str, Any]] = []
    arguments = {"date": "2024-06-01", "party_size": 2}
    script: list[ScriptItem] = [[FakeToolCall("check_availability", arguments)], "Yes."]
    async with serving(script, tools=availability_registry(seen)) as (fake, responder):
        meter = UsageMeter()
        metered = MeteredResponder(responder, meter, lambda *_: None, "fake", counts_tokens=True)
        events = await collect(metered)
    assert all(r["stream_options"] == {"include_usage": True} for r in fake.requests)
    sent = [(u["prompt_tokens"], u["completion_tokens"]) for u in fake.usage]
    assert len(sent) == 2
    assert [
        (e.prompt_tokens, e.completion_tokens) for e in events if isinstance(e, TokenUsage)
    ] == sent
    usage = meter.snapshot()
    assert (usage.llm_prompt_tokens, usage.llm_completion_tokens) == (
        sum(p for p, _ in sent),
        sum(c for _, c in sent),
    )


async def test_usage_can_be_left_out_for_servers_that_reject_it() -> None:
    async with serving(["Hello."], stream_usage=False) as (fake, responder):
        events = await collect(responder)
    assert "stream_options" not in fake.requests[0] and fake.usage == []
    assert not any(isinstance(e, TokenUsage) for e in events)


def test_a_long_call_sends_only_its_newest_turns_from_a_caller_turn_on() -> None:
    from callwright.llm.openai_compat import EARLIER_LEFT_OUT

    history: list[Message] = []
    for n in range(200):  # an hour's call: 200 exchanges, one with a tool
        history.append(Message(role="user", content=f"Question number {n} about the clinic?"))
        if n == 150:
            call = ToolCall(f"call_{n}", "check_availability", {"date": "today"})
            history.append(Message(role="assistant", content="", tool_calls=[call]))
            history.append(Message(role="tool", content="[]", tool_call_id=f"call_{n}"))
        history.append(Message(role="assistant", content=f"Answer number {n}, " + "x" * 100))
    messages = to_chat_messages("Be brief.", history, max_history_chars=4000)
    assert sum(len(json.dumps(m)) for m in messages[1:]) <= 4000
    assert messages[0] == {"role": "system", "content": f"Be brief.\n\n{EARLIER_LEFT_OUT}"}
    assert messages[1]["role"] == "user"  # never a tool result without its call
    assert messages[-1]["content"].startswith("Answer number 199")
    assert messages[-2] == {"role": "user", "content": "Question number 199 about the clinic?"}
    # As much as fits: from the caller's turn before the first one sent, it would not.
    whole = to_chat_messages("", history)
    first = len(whole) - (len(messages) - 1)
    earlier = max(i for i in range(first) if whole[i]["role"] == "user")
    assert sum(len(json.dumps(m)) for m in whole[earlier:]) > 4000
    # A short call is sent whole, the greeting before its first caller turn too, no note.
    greeted = [Message(role="assistant", content="Hello, how can I help?"), *history[:4]]
    short = to_chat_messages("Be brief.", greeted, max_history_chars=4000)
    assert [m["role"] for m in short] == [
        "system",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert short[0]["content"] == "Be brief."


async def test_a_huge_tool_result_is_cut_before_the_model_reads_it() -> None:
    registry = ToolRegistry()

    async def export_orders() -> list[dict[str, int]]:
        return [{"order": n} for n in range(20_000)]  # about 300 KB as JSON

    registry.register(Tool("export_orders", "Lists every order.", {"type": "object"},
                           export_orders))  # fmt: skip
    script: list[ScriptItem] = [[FakeToolCall("export_orders", {})], "There are many."]
    async with serving(script, tools=registry) as (fake, responder):
        await collect(responder)
    whole = json.dumps([{"order": n} for n in range(20_000)])
    tool_message = fake.requests[1]["messages"][-1]
    assert tool_message["content"].startswith(whole[:MAX_TOOL_RESULT_CHARS])
    assert tool_message["content"].endswith(
        f"[the result was cut here: {len(whole)} characters in all]"
    )
    assert len(tool_message["content"]) < MAX_TOOL_RESULT_CHARS + 100


async def test_a_barge_in_during_the_hedge_race_leaves_no_task_behind() -> None:
    class Silent:
        """A request that never brings a token."""

        def __init__(self) -> None:
            self.decided = asyncio.Event()
            self.has_token = False
            self.closed = False

        def close(self) -> None:
            self.closed = True

    started: list[Silent] = []
    hedged = asyncio.Event()

    def start(_label: str) -> Any:
        started.append(Silent())
        if len(started) == 2:
            hedged.set()
        return started[-1]

    before = asyncio.all_tasks()
    racing = asyncio.create_task(first_to_answer(start, 0.01, has_hedge=True))
    await asyncio.wait_for(hedged.wait(), 5)  # the hedge was sent: both race
    await asyncio.sleep(0.02)
    racing.cancel()
    await asyncio.gather(racing, return_exceptions=True)
    await asyncio.sleep(0)
    left = [t for t in asyncio.all_tasks() - before if not t.done() and t is not racing]
    assert left == [] and all(s.closed for s in started)


def test_tool_call_fragments_without_an_index_or_with_an_object_are_one_call() -> None:
    from callwright.llm.openai_compat import _Completion

    def chunk(fragment: dict[str, Any]) -> str:
        return json.dumps({"choices": [{"index": 0, "delta": {"tool_calls": [fragment]}}]})

    # No index, the id repeated on every fragment: the fragments of one call.
    repeated = _Completion()
    for part in ('{"order', '_id": "42"}'):
        repeated.apply(chunk({"id": "c1", "function": {"name": "status", "arguments": part}}))
    # The arguments sent as an object rather than its JSON text.
    whole = _Completion()
    as_object = {"name": "status", "arguments": {"order_id": "7"}}
    whole.apply(chunk({"index": 0, "id": "c2", "function": as_object}))
    assert repeated.tool_calls() == [(ToolCall("c1", "status", {"order_id": "42"}), None)]
    assert whole.tool_calls() == [(ToolCall("c2", "status", {"order_id": "7"}), None)]
