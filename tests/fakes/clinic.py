"""Helpers for clinic tests: a clinic on a temporary database, and a text conversation."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callwright.core.responder import (
    CallInfo,
    EndCall,
    Message,
    Responder,
    TextDelta,
    ToolResult,
    Trigger,
    TurnContext,
)
from examples.clinic.factory import ClinicOptions, ClinicResponderFactory

MONDAY = dt.date(2026, 11, 23)


@asynccontextmanager
async def open_test_clinic(
    tmp_path: Path, today: dt.date = MONDAY
) -> AsyncIterator[ClinicResponderFactory]:
    """A seeded clinic on its own database, with `today` pinned."""
    factory = await ClinicResponderFactory.open(
        ClinicOptions(db_path=tmp_path / "clinic.sqlite3", today=lambda: today)
    )
    try:
        yield factory
    finally:
        await factory.close()


@dataclass
class Conversation:
    """Drives a responder with text turns, keeping history the way the session does."""

    responder: Responder
    call: CallInfo
    history: list[Message] = field(default_factory=list)
    tool_results: list[ToolResult] = field(default_factory=list)
    ended: EndCall | None = None

    async def say(self, text: str, trigger: Trigger = "user_turn") -> str:
        """One caller turn; returns the agent's reply text."""
        if text:
            self.history.append(Message("user", text))
        parts: list[str] = []
        context = TurnContext(self.call, tuple(self.history), trigger)
        async for event in self.responder.respond(context):
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, ToolResult):
                self.tool_results.append(event)
            elif isinstance(event, EndCall):
                self.ended = event
        reply = "".join(parts).strip()
        if reply:
            self.history.append(Message("assistant", reply))
        return reply

    def tools_called(self) -> list[str]:
        return [r.call.name for r in self.tool_results]

    def result_of(self, name: str) -> Any:
        return next(r for r in reversed(self.tool_results) if r.call.name == name)


async def start(factory: Any, call_id: str, caller: str = "+15550100") -> Conversation:
    """A new call on `factory`, greeting included."""
    call = CallInfo(call_id=call_id, channel="test", caller=caller)
    conversation = Conversation(factory.for_call(call), call)
    await conversation.say("", "call_start")
    return conversation
