"""The dead-air policy counts the caller's silence from when the agent stops talking."""

from __future__ import annotations

import asyncio

from callwright.agent.silence import SilenceOptions, SilenceWatchdog


async def test_a_long_agent_line_is_not_followed_at_once_by_a_reprompt() -> None:
    now = [0.0]
    busy = [True]
    spoken: list[tuple[str, float]] = []
    watchdog = SilenceWatchdog(
        SilenceOptions(reprompt_after_ms=1000.0, max_reprompts=2),
        now_ms=lambda: now[0],
        busy=lambda: busy[0],
        speak=lambda text, outcome: spoken.append((text, now[0])),
        record=lambda kind, at_ms: None,
    )
    task = asyncio.create_task(watchdog.run())
    try:
        now[0] = 5000.0  # the agent spoke for five seconds, longer than the reprompt delay
        await asyncio.sleep(0.3)
        busy[0] = False  # ...and has just finished
        await asyncio.sleep(0.6)
        assert spoken == [], "the caller has been silent for no time at all"
        now[0] = 6100.0  # 1.1 s of silence after the agent finished
        await asyncio.sleep(0.6)
        assert [text for text, _ in spoken] == ["Are you still there?"]
    finally:
        task.cancel()
