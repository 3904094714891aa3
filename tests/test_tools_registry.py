"""The tool registry: retries with backoff, idempotency, parallel calls, slow-tool fillers."""

from __future__ import annotations

import asyncio
from typing import Any

from callwright.core.responder import TextDelta, ToolCall, ToolResult
from callwright.tools.registry import Tool, ToolRefused, ToolRegistry

SCHEMA = {"type": "object", "properties": {"slot": {"type": "string"}}, "required": ["slot"]}


async def test_retries_with_backoff_until_success() -> None:
    attempts: list[int] = []

    async def flaky(slot: str) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("database busy")
        return f"ok {slot}"

    registry = ToolRegistry([Tool("flaky", "", SCHEMA, flaky, retries=2, backoff_s=0.01)])
    result = await registry.run(ToolCall("c1", "flaky", {"slot": "9"}))
    assert result.error is None and result.result == "ok 9" and len(attempts) == 3


async def test_retries_give_up_and_refusals_are_not_retried() -> None:
    calls: list[str] = []

    async def down(slot: str) -> str:
        calls.append("down")
        raise ConnectionError("down")

    async def refuses(slot: str) -> str:
        calls.append("refuses")
        raise ToolRefused("not verified")

    registry = ToolRegistry(
        [
            Tool("down", "", SCHEMA, down, retries=1, backoff_s=0.0),
            Tool("refuses", "", SCHEMA, refuses, retries=3, backoff_s=0.0),
        ]
    )
    failed = await registry.run(ToolCall("c1", "down", {"slot": "x"}))
    refused = await registry.run(ToolCall("c2", "refuses", {"slot": "x"}))
    assert failed.error == "ConnectionError: down"
    assert refused.error == "ToolRefused: not verified"
    assert calls == ["down", "down", "refuses"]


async def test_side_effect_tools_run_once_per_key_even_when_duplicated_concurrently() -> None:
    booked: list[str] = []
    keys: list[str] = []

    async def book(slot: str, idempotency_key: str) -> dict[str, Any]:
        await asyncio.sleep(0.02)
        booked.append(slot)
        keys.append(idempotency_key)
        return {"booking": len(booked)}

    registry = ToolRegistry([Tool("book", "", SCHEMA, book, side_effect=True)])
    same = [ToolCall(f"c{i}", "book", {"slot": "9:00"}) for i in range(3)]
    results = await registry.run_many(same, scope="call-1")
    again = await registry.run(ToolCall("c9", "book", {"slot": "9:00"}), results[0].call.call_id)
    assert booked == ["9:00", "9:00"]  # once for the scoped key, once for the explicit key
    assert {r.result["booking"] for r in results} == {1}
    assert again.result == {"booking": 2} and len(set(keys)) == 2
    other = await registry.run_many([ToolCall("c5", "book", {"slot": "9:30"})], scope="call-1")
    assert other[0].result == {"booking": 3}


async def test_a_failed_side_effect_call_may_be_retried_later() -> None:
    outcomes = iter([ConnectionError("flaky"), None])

    async def book(slot: str, idempotency_key: str) -> str:
        error = next(outcomes)
        if error is not None:
            raise error
        return "booked"

    registry = ToolRegistry([Tool("book", "", SCHEMA, book, side_effect=True)])
    call = ToolCall("c1", "book", {"slot": "9"})
    assert (await registry.run(call)).error is not None
    assert (await registry.run(call)).result == "booked"


async def test_parallel_calls_overlap() -> None:
    running: list[int] = []
    peak: list[int] = []

    async def lookup(slot: str) -> str:
        running.append(1)
        peak.append(len(running))
        await asyncio.sleep(0.05)
        running.pop()
        return slot

    registry = ToolRegistry([Tool("lookup", "", SCHEMA, lookup)])
    calls = [ToolCall(f"c{i}", "lookup", {"slot": str(i)}) for i in range(4)]
    results = await registry.run_many(calls)
    assert [r.result for r in results] == ["0", "1", "2", "3"]
    assert max(peak) == 4


async def test_a_slow_tool_gets_a_filler_and_a_fast_one_does_not() -> None:
    release = asyncio.Event()

    async def slow(slot: str) -> str:
        await release.wait()
        return "done"

    async def fast(slot: str) -> str:
        return "quick"

    registry = ToolRegistry(
        [Tool("slow", "", SCHEMA, slow, slow_after_s=0.01), Tool("fast", "", SCHEMA, fast)]
    )
    events: list[TextDelta | ToolResult] = []
    async for event in registry.run_with_filler(
        ToolCall("c1", "slow", {"slot": "x"}), "One moment."
    ):
        events.append(event)
        release.set()
    assert isinstance(events[0], TextDelta) and events[0].text == "One moment."
    assert isinstance(events[1], ToolResult) and events[1].result == "done"
    quick = [
        e async for e in registry.run_with_filler(ToolCall("c2", "fast", {"slot": "x"}), "Hm.")
    ]
    assert len(quick) == 1 and isinstance(quick[0], ToolResult)
