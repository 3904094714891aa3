"""What the caller side of an eval needs from the server: the agent's words, the finished
record, and caller lines synthesized once per run."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from callwright.agent.stack import AgentStack
from callwright.sim.pausing import spoken_texts
from callwright.sim.voices import CallerVoice
from callwright.store.base import CallDetail


def as_said(text: str, pronounce: dict[str, str]) -> str:
    """`text` with each word of `pronounce` replaced by how the caller says it (whole words,
    any case): what the caller's voice is given to read, not what the caller means."""
    for word, said in pronounce.items():
        text = re.sub(rf"\b{re.escape(word)}\b", said, text, flags=re.I)
    return text


class CachedVoice:
    """A caller voice that synthesizes each line once per run (Festival takes seconds)."""

    def __init__(self, voice: CallerVoice) -> None:
        self.voice = voice
        self.name = voice.name
        self._lines: dict[str, Any] = {}

    async def speak(self, text: str) -> Any:
        key = text.strip()
        if key not in self._lines:
            self._lines[key] = await self.voice.speak(key)
        return self._lines[key]

    async def warm(self, texts: list[str]) -> None:
        """Synthesizes these lines now, so the caller answers without a synthesis delay."""
        for text in texts:
            for piece in spoken_texts(text):
                await self.speak(piece)


class AgentEar:
    """What the agent said since the caller last spoke, from the call store."""

    def __init__(self, stack: AgentStack, sim: Any, twilio: bool) -> None:
        self.stack = stack
        self.sim = sim
        self.twilio = twilio
        self.seen = 0
        self._call_id = ""

    async def call_id(self) -> str:
        if self._call_id:
            return self._call_id
        if not self.twilio:
            self._call_id = self.sim.report.call_id
            return self._call_id
        sid = self.sim.report.call_sid
        for record in await self.stack.store.list_calls(200):
            if record.parameters.get("call_sid") == sid:
                self._call_id = record.call_id
        return self._call_id

    async def new_words(self, wait_s: float = 2.0) -> str:
        """Agent lines stored since the last call (waits briefly for the store to catch up)."""
        deadline = time.monotonic() + wait_s
        while True:
            call_id = await self.call_id()
            detail = await self.stack.store.get_call(call_id) if call_id else None
            lines = [u.text for u in detail.utterances if u.role == "agent"] if detail else []
            if len(lines) > self.seen or time.monotonic() >= deadline:
                fresh, self.seen = lines[self.seen :], len(lines)
                return " ".join(fresh)
            await asyncio.sleep(0.1)


async def finished_call(stack: AgentStack, call_id: str, timeout_s: float = 20.0) -> CallDetail:
    """The stored call once the server has finished writing it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        detail = await stack.store.get_call(call_id) if call_id else None
        if detail is not None and detail.record.status != "active":
            return detail
        await asyncio.sleep(0.1)
    raise TimeoutError(f"call {call_id or '(no id)'} was never finished in the store")
