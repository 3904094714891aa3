"""The fast LLM path: preemptive generation, hedging and model routing, against the fake server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from callwright.agents.build import runtime_for
from callwright.agents.definition import Agent, AgentRuntime
from callwright.agents.responder import AgentResponderFactory
from callwright.agents.routing import ModelRoute, choose_route, turn_kinds
from callwright.config import Settings
from callwright.core.provider_events import bind_call_events, release_call_events
from callwright.core.responder import (
    CallInfo,
    Message,
    Responder,
    TextDelta,
    TokenUsage,
    TurnContext,
)
from callwright.llm.openai_compat import LlmOptions, OpenAICompatResponderFactory
from tests.fakes.openai_server import Stall, start_fake_openai

CALL = CallInfo(call_id="call-fast", channel="test")
Events = list[tuple[str, dict[str, Any]]]


@contextmanager
def call_events() -> Iterator[Events]:
    """The provider events reported while the block runs, as a call records them."""
    events: Events = []
    token = bind_call_events(lambda kind, _at, data: events.append((kind, dict(data))), lambda: 0.0)
    try:
        yield events
    finally:
        release_call_events(token)


def turn(*said: str) -> TurnContext:
    """A context whose history alternates caller and agent lines, the caller first and last."""
    roles = ["user", "assistant"]
    history = [Message(role=roles[i % 2], content=text) for i, text in enumerate(said)]  # type: ignore[arg-type]
    return TurnContext(CALL, tuple(history), "user_turn")


async def reply_text(responder: Responder, context: TurnContext) -> tuple[str, list[object]]:
    events = [e async for e in responder.respond(context)]
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    return text, [e for e in events if not isinstance(e, TextDelta)]


def last_user(request: dict[str, Any]) -> str:
    return str(request["messages"][-1]["content"])


async def test_a_prepared_request_answers_the_turn_when_the_words_match() -> None:
    async with start_fake_openai(["We close at six tonight."]) as fake:
        factory = OpenAICompatResponderFactory(LlmOptions(fake.base_url, "main"))
        responder = factory.for_call(CALL)
        with call_events() as events:
            responder.prepare(turn("What time do you close?"))
            await asyncio.sleep(0.1)  # the request is out before the turn ends
            assert len(fake.requests) == 1
            # The final transcript differs only in case and punctuation.
            text, others = await reply_text(responder, turn("what time do you close"))
        await factory.close()
    assert text == "We close at six tonight."
    assert len(fake.requests) == 1, "the prepared request was used, no second one"
    # When the head start began (`llm_prepared`), then how the turn was answered (`llm`).
    assert [kind for kind, _ in events] == ["llm_prepared", "llm"]
    assert events[1][1]["preemptive"] == "used"
    usage = [e for e in others if isinstance(e, TokenUsage)]
    assert usage and usage[0].completion_tokens == fake.usage[0]["completion_tokens"]


async def test_a_prepared_request_is_dropped_when_the_turn_went_another_way() -> None:
    async with start_fake_openai(["We close at six.", "We are on Main Street."]) as fake:
        factory = OpenAICompatResponderFactory(LlmOptions(fake.base_url, "main"))
        responder = factory.for_call(CALL)
        with call_events() as events:
            responder.prepare(turn("What time do you close?"))
            await asyncio.sleep(0.1)
            text, _ = await reply_text(responder, turn("What time do you close on Sunday?"))
        await factory.close()
    assert text == "We are on Main Street."  # the second completion: a new request
    assert [last_user(r) for r in fake.requests] == [
        "What time do you close?",
        "What time do you close on Sunday?",
    ]
    assert [data["preemptive"] for kind, data in events if kind == "llm"] == ["discarded"]


async def test_abandoning_a_prepared_request_sends_nothing_more() -> None:
    async with start_fake_openai([Stall(send_headers=False), "Hello."]) as fake:
        factory = OpenAICompatResponderFactory(LlmOptions(fake.base_url, "main"))
        responder = factory.for_call(CALL)
        responder.prepare(turn("What time do you"))
        await asyncio.sleep(0.1)
        responder.prepare(None)  # the caller went on talking
        text, _ = await reply_text(responder, turn("What time do you open?"))
        await factory.close()
    assert text == "Hello."
    assert len(fake.requests) == 2


async def test_a_hedge_answers_when_the_first_request_is_slow() -> None:
    async with (
        start_fake_openai([Stall(send_headers=False)]) as slow,
        start_fake_openai(["From the hedge."]) as spare,
    ):
        options = LlmOptions(
            slow.base_url, "main", hedge_after_s=0.2, hedge_base_url=spare.base_url,
            hedge_model="spare-model",
        )  # fmt: skip
        factory = OpenAICompatResponderFactory(options)
        with call_events() as events:
            text, _ = await reply_text(factory.for_call(CALL), turn("Where is my order?"))
        await factory.close()
    assert text == "From the hedge."
    assert len(slow.requests) == 1 and len(spare.requests) == 1
    assert spare.requests[0]["model"] == "spare-model"
    assert events == [
        ("llm", {"model": "spare-model", "endpoint": "hedge", "preemptive": None, "hedged": True})
    ]


async def test_no_hedge_goes_out_when_the_first_token_is_in_time() -> None:
    async with start_fake_openai(["Quick answer."]) as fast, start_fake_openai([]) as spare:
        spare_url = spare.base_url
        options = LlmOptions(fast.base_url, "main", hedge_after_s=2.0, hedge_base_url=spare_url)
        factory = OpenAICompatResponderFactory(options)
        with call_events() as events:
            text, _ = await reply_text(factory.for_call(CALL), turn("Where is my order?"))
        await factory.close()
    assert text == "Quick answer."
    assert spare.requests == [] and events == []


async def test_a_hedge_answers_when_the_first_stream_stalls_after_its_headers() -> None:
    async with (
        start_fake_openai([Stall(text_before="")]) as broken,
        start_fake_openai(["Second opinion."]) as spare,
    ):
        options = LlmOptions(broken.base_url, "main", hedge_after_s=0.1,
                             hedge_base_url=spare.base_url)  # fmt: skip
        factory = OpenAICompatResponderFactory(options)
        text, _ = await reply_text(factory.for_call(CALL), turn("Where is my order?"))
        await factory.close()
    assert text == "Second opinion."


def routed_agent(routes: Sequence[ModelRoute]) -> Agent:
    return Agent(name="routes", instructions="Be brief.", llm_routes=routes)


async def test_simple_turns_go_to_the_small_model_and_the_rest_to_the_main_one(
    tmp_path: Path,
) -> None:
    script = ["Great, it's booked.", "Your parcel is in the depot and arrives tomorrow."]
    async with start_fake_openai(script) as fake:
        runtime = AgentRuntime(data_dir=tmp_path, llm=LlmOptions(fake.base_url, "large"))
        agent = routed_agent([ModelRoute("small", when=("confirmation",), name="quick")])
        factory = await AgentResponderFactory.open(agent, runtime)
        responder = factory.for_call(CALL)
        with call_events() as events:
            await reply_text(responder, turn("Hi", "Shall I book Tuesday?", "Yeah, that's right."))
            context = turn("Hi", "Anything else?", "Where is my parcel and when will it come?")
            await reply_text(responder, context)
        await factory.close()
    assert [r["model"] for r in fake.requests] == ["small", "large"]
    routes = [(data["route"], data["turn_kind"], data["model"]) for _, data in events]
    assert routes == [("quick", "confirmation", "small"), ("default", None, "large")]


async def test_the_agent_prepares_the_routed_model_only_when_the_turn_would_reach_it(
    tmp_path: Path,
) -> None:
    async with start_fake_openai(["Hello! How can I help?"]) as fake:
        runtime = AgentRuntime(data_dir=tmp_path, llm=LlmOptions(fake.base_url, "large"))
        agent = routed_agent([ModelRoute("small", when=("greeting",))])
        factory = await AgentResponderFactory.open(agent, runtime)
        responder = factory.for_call(CALL)
        responder.prepare(turn("Goodbye!"))  # the goodbye line answers: no model
        await asyncio.sleep(0.1)
        assert fake.requests == []
        with call_events() as events:
            responder.prepare(turn("Hello there"))
            await asyncio.sleep(0.1)
            text, _ = await reply_text(responder, turn("Hello there."))
        await factory.close()
    assert text == "Hello! How can I help?"
    assert [r["model"] for r in fake.requests] == ["small"]
    llm = [data for kind, data in events if kind == "llm"]
    assert llm[0]["preemptive"] == "used" and llm[0]["route"] == "fast"


async def test_turn_kinds_are_read_from_the_words_and_the_agents_question() -> None:
    asked = [Message(role="assistant", content="Is that the right address?")]
    told = [Message(role="assistant", content="Your parcel left today.")]
    wanted = frozenset({"greeting", "yes_no", "confirmation"})
    assert "greeting" in await turn_kinds("Good morning!", [], None, wanted)
    request = "Hello, I'd like to change my delivery address please"
    assert "greeting" not in await turn_kinds(request, [], None, wanted)
    assert {"yes_no", "confirmation"} <= await turn_kinds("Yes, it is.", asked, None, wanted)
    kinds = await turn_kinds("Yes, it is.", told, None, wanted)
    assert "yes_no" in kinds and "confirmation" not in kinds
    route = ModelRoute("small", when=("yes_no",), max_words=3)
    assert (await choose_route("No thanks.", [], [route], None))[0] is route
    long_no = "No, I wanted it delivered to my office instead."
    assert await choose_route(long_no, [], [route], None) == (None, None)


def test_hedging_and_preemption_are_configured_from_the_environment(tmp_path: Path) -> None:
    env = {
        "CALLWRIGHT_LLM_BASE_URL": "http://127.0.0.1:9/v1",
        "CALLWRIGHT_LLM_MODEL": "large",
        "CALLWRIGHT_LLM_HEDGE_MS": "450",
        "CALLWRIGHT_LLM_HEDGE_BASE_URL": "http://127.0.0.1:10/v1",
        "CALLWRIGHT_LLM_HEDGE_MODEL": "spare",
        "CALLWRIGHT_LLM_PREEMPTIVE": "off",
        "CALLWRIGHT_DATA_DIR": str(tmp_path),
    }
    options = runtime_for(Settings.from_env(env), env).llm
    assert options is not None
    assert (options.hedge_after_s, options.hedge_base_url, options.hedge_model) == (
        0.45,
        "http://127.0.0.1:10/v1",
        "spare",
    )
    assert options.preemptive is False
    plain = {"CALLWRIGHT_LLM_BASE_URL": "http://127.0.0.1:9/v1"}
    default = runtime_for(Settings.from_env(plain), plain).llm
    assert default is not None and default.hedge_after_s is None and default.preemptive
