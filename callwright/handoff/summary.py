"""A better summary for the person who picks up, written by the LLM when one is configured.

The deterministic summary (`packet.summarize`) is always there first: the caller is queued at
once and never waits for a model. The LLM's summary replaces it when it arrives, within a time
limit; a failure or a slow model leaves the deterministic one.
"""

from __future__ import annotations

import asyncio
import json
import logging

from callwright.core.responder import CallInfo, Message, TextDelta, TurnContext
from callwright.handoff.packet import ContextPacket
from callwright.llm.openai_compat import LlmOptions, OpenAICompatResponderFactory

log = logging.getLogger(__name__)

SUMMARY_PROMPT = (
    "You write handoff notes for the human who takes over a phone call from a voice agent. "
    "From the JSON context packet, write at most three short sentences: who is calling and "
    "whether their identity is verified, what they want and what has been done, and why the "
    "call is being handed over. Use only facts in the packet. No greeting, no lists."
)


class LlmSummarizer:
    """Summarizes context packets with an OpenAI-compatible model.

    Args:
        options: the model's endpoint (the call's system prompt is replaced by the summary's).
        timeout_s: a summary later than this is dropped.
    """

    def __init__(self, options: LlmOptions, timeout_s: float = 6.0) -> None:
        options = LlmOptions(
            base_url=options.base_url,
            model=options.model,
            api_key=options.api_key,
            system_prompt=SUMMARY_PROMPT,
            temperature=0.2,
            max_tokens=160,
        )
        self._factory = OpenAICompatResponderFactory(options)
        self.timeout_s = timeout_s

    async def summarize(self, packet: ContextPacket) -> str | None:
        """The model's summary, or None if it failed, stalled or said nothing."""
        call = CallInfo(call_id=packet.call_id, channel=packet.channel, caller=packet.caller)
        facts = packet.to_dict()
        facts.pop("summary", None)
        context = TurnContext(call, (Message("user", json.dumps(facts)),), "user_turn")
        responder = self._factory.for_call(call)

        async def complete() -> str:
            parts = [e.text async for e in responder.respond(context) if isinstance(e, TextDelta)]
            return "".join(parts).strip()

        try:
            return await asyncio.wait_for(complete(), self.timeout_s) or None
        except Exception:
            log.warning("call %s: no LLM summary for the handoff", packet.call_id, exc_info=True)
            return None

    async def close(self) -> None:
        await self._factory.close()
