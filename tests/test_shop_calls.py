"""The shop example by voice: a spoken return through the real pipeline, confirmed by voice.

Silero VAD, Whisper, Piper and turn-taking are real; the caller is espeak-ng; the model is
the scripted OpenAI-compatible fake; the tools call the shop's backend started here. The
caller's spoken "yes" is what opens the return, so the audio is the point of this test (the
steps themselves are covered by text in test_shop_agent.py). The model answers each request by
where it stands in the conversation (`Conversation`), so the requests started early on the
caller's pauses, however many the load makes, take no step away from the turn's own requests.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from callwright import LlmOptions
from callwright.agent.stack import AgentStack
from callwright.testing import VoiceServer, agent_stack
from examples.shop.agent import agent
from examples.shop.backend import ShopBackend, sample_orders, serve_backend
from tests.conftest import serve, word_overlap
from tests.fakes.openai_server import Conversation, FakeToolCall, Reply, start_fake_openai

TOKEN = "shop-token-voice"
TODAY = dt.date(2026, 11, 20)
ASK = "Hello, I want to return my order please."
READBACK = "Just to confirm: a return for order 1042, because it is too small. Shall I open it?"


async def test_a_spoken_return_opens_after_the_spoken_yes(
    stack: AgentStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = ShopBackend(TOKEN, {o.order_id: o for o in sample_orders(TODAY)}, lambda: TODAY)
    create = FakeToolCall("create_return", {"order_id": "1042", "reason": "it is too small"})
    script = Conversation(
        {
            1: [
                [FakeToolCall("find_order", {"order_id": "1042", "postcode": "94107"})],
                [FakeToolCall("check_return_eligibility", {"order_id": "1042"})],
                Reply("", [create]),
            ]
        }
    )
    async with serve_backend(backend) as url, start_fake_openai(script) as fake:
        monkeypatch.setenv("SHOP_API_URL", url)
        monkeypatch.setenv("SHOP_API_TOKEN", TOKEN)
        llm = LlmOptions(base_url=fake.base_url, model="fake")
        served = await agent_stack(agent, stack, tmp_path, llm=llm, today=lambda: TODAY)
        try:
            async with serve(served) as ws_url:
                server = VoiceServer(ws_url, served)
                # A bare "yes": a yes/no question answered ends the turn after a short wait, so the
                # comma pause of "Yes, please." may make "please" a turn of its own.
                report = await server.call([ASK, "Yes."])
                detail = await server.record(report.call_id)
        finally:
            await served.responders.close()
            await served.store.close()
    said = [u.text for u in detail.utterances if u.role == "caller"]
    assert len(said) == 2 and word_overlap(ASK, said[0]) >= 0.75, said
    agent_lines = [u.text for u in detail.utterances if u.role == "agent"]
    assert agent_lines[0] == agent.greeting
    assert READBACK in agent_lines[1], agent_lines
    calls = [dict(e.data) for e in detail.events if e.kind == "tool_call"]
    assert [c["name"] for c in calls] == [
        "find_order",
        "check_return_eligibility",
        "create_return",  # held: awaiting confirmation
        "create_return",  # run on the spoken yes
    ], calls
    [opened] = backend.returns
    assert opened.order_id == "1042"
    assert calls[-1]["result"]["return_id"] == opened.return_id
    assert f"reference {opened.return_id}" in agent_lines[2]
    # The yes was heard and checked without the model: no request carries the second turn.
    callers = [sum(m["role"] == "user" for m in r["messages"]) for r in fake.requests]
    assert callers and set(callers) == {1}, callers
    assert report.turns[-1].agent_audio, "the caller heard the return confirmed"
