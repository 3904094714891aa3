"""A simulated caller played by an OpenAI-compatible chat model (`callwright eval --llm-caller`)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from callwright.evals.scenario import CallerLine


class LlmCaller:
    """A caller played by an OpenAI-compatible chat model, from the persona and its goal.

    Args:
        persona: as for `PersonaCaller`; `goal` says what the caller wants.
        base_url: the endpoint (`CALLWRIGHT_LLM_BASE_URL`), model and key.
    """

    def __init__(
        self, persona: dict[str, Any], base_url: str, model: str, api_key: str | None = None
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.turns = 0
        self.max_turns = int(persona.get("max_turns", 10))
        facts = json.dumps({k: v for k, v in persona.items() if k != "max_turns"})
        self.messages: list[dict[str, str]] = [{"role": "system", "content": (
            "You are a person phoning a business. Facts about you and what you want: "
            f"{facts}. Reply with one short spoken sentence, as people talk on the phone. "
            "When you are done, say goodbye and then reply only [hang up]."
        )}]  # fmt: skip

    async def next_line(self, agent_said: str) -> CallerLine | None:
        self.turns += 1
        if self.turns > self.max_turns:
            return None
        self.messages.append({"role": "user", "content": agent_said or "(ringing)"})
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {"model": self.model, "messages": self.messages, "max_tokens": 60, "stream": True}
        timeout = aiohttp.ClientTimeout(total=30)
        parts: list[str] = []
        async with aiohttp.ClientSession(timeout=timeout) as http:
            async with http.post(self.url, json=body, headers=headers) as response:
                response.raise_for_status()
                async for raw in response.content:  # server-sent events, one per line
                    line = raw.decode("utf-8").strip()
                    if not line.startswith("data:") or line == "data: [DONE]":
                        continue
                    for choice in json.loads(line[5:]).get("choices", []):
                        parts.append((choice.get("delta") or {}).get("content") or "")
        reply = "".join(parts).strip()
        self.messages.append({"role": "assistant", "content": reply})
        if not reply or "[hang up]" in reply.lower():
            return None
        return CallerLine(say=reply)
