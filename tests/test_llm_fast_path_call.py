"""The fast LLM path on a spoken phone call: the model starts on the speculative transcript
while the end of turn is decided, a routed model answers a short turn, and the call record
says so, with the server's own token counts."""

from __future__ import annotations

from pathlib import Path

from callwright import Agent, ModelRoute
from callwright.agent.stack import AgentStack
from callwright.llm.openai_compat import LlmOptions
from callwright.testing import agent_stack
from tests.fakes.openai_server import start_fake_openai
from tests.test_own_agent_calls import phone_call

REPLY = "Your parcel left the depot this morning and arrives tomorrow."


async def test_a_phone_turn_is_answered_from_the_request_started_during_the_pause(
    stack: AgentStack, tmp_path: Path
) -> None:
    agent = Agent(
        name="parcel-fast",
        greeting="Hello, parcel desk.",
        instructions="You tell callers where their orders are.",
        llm_routes=[ModelRoute("small-model", when=("short",), max_words=6, name="quick")],
    )
    # One completion only: a second request (the head start thrown away) would get HTTP 500.
    async with start_fake_openai([REPLY]) as fake:
        served = await agent_stack(agent, stack, tmp_path, llm=LlmOptions(fake.base_url, "big"))
        try:
            detail, report = await phone_call(served, [REPLY])
        finally:
            await served.responders.close()
            await served.store.close()
    assert report.turns and report.turns[0].agent_audio, "the caller heard the answer"
    assert REPLY in [u.text for u in detail.utterances if u.role == "agent"]
    assert len(fake.requests) == 1 and fake.requests[0]["model"] == "small-model"
    said = [u.text for u in detail.utterances if u.role == "caller"]
    assert fake.requests[0]["messages"][-1]["content"] == said[0]
    llm = [dict(e.data) for e in detail.events if e.kind == "llm"]
    assert len(llm) == 1, llm
    assert llm[0]["preemptive"] == "used"
    route = (llm[0]["route"], llm[0]["turn_kind"], llm[0]["model"])
    assert route == ("quick", "short", "small-model")
    # The reply's first clause was synthesized from the prepared request before it was asked
    # for, and that audio was played (earlier pauses' head starts, if any, were dropped).
    heads = [dict(e.data) for e in detail.events if e.kind == "head_start"]
    assert heads and heads[-1]["outcome"] == "used", heads
    assert all(h["outcome"] == "dropped" for h in heads[:-1]), heads
    assert heads[-1]["words_ms"] <= heads[-1]["end_of_turn_ms"], "it began before the turn ended"
    # The usage chunk's counts, not an estimate from characters.
    assert detail.usage.llm_completion_tokens == fake.usage[0]["completion_tokens"]
    assert detail.usage.llm_prompt_tokens == fake.usage[0]["prompt_tokens"]
