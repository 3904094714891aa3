"""Testing helpers for agent authors: conversations by text, and real calls by voice.

By text (no audio, milliseconds per turn): the agent's responder gets each caller line the way
a call session gives it (history, escalation triggers first), and each `Turn` says what
happened: the reply, the tool calls and their arguments, a handoff, the end of the call.

    async with text_agent(agent) as session:
        call = await session.call()
        turn = await call.say("Where is my order 1042?")
        turn.expect_tool("order_status", order_id="1042")
        assert "shipped" in turn.text

By voice, through the real pipeline (VAD, Whisper, TTS, turn-taking, the call store): load the
agent's stack once, serve it, and place a simulated call that speaks its lines with espeak-ng.

    async with voice_agent(agent, tmp_path) as server:
        report = await server.call(["Where is my order 1042?"])
        record = await server.record(report.call_id)
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from callwright.agent.history import ConversationHistory
from callwright.agents.build import build_responders, escalation_for, settings_for
from callwright.agents.definition import Agent, AgentRuntime
from callwright.core.responder import (
    CallInfo,
    Closable,
    EndCall,
    ExpectsAnswer,
    Message,
    ResponderFactory,
    TextDelta,
    ToolResult,
    TransferCall,
    Trigger,
    TurnContext,
)
from callwright.handoff.triggers import Escalation, EscalationTriggers
from callwright.llm.openai_compat import LlmOptions


@dataclass(slots=True)
class Turn:
    """What the agent did in answer to one caller line.

    Attributes:
        text: the reply, as it would be spoken.
        tool_results: the tool calls (name, arguments) and their results, in order.
        ended: the agent ended the call after this reply (`EndCall`), else None.
        handoff: why the call went to a person (an escalation trigger or a transfer).
    """

    text: str = ""
    tool_results: list[ToolResult] = field(default_factory=list)
    ended: EndCall | None = None
    handoff: str | None = None

    @property
    def tools(self) -> list[str]:
        """The names of the tools called, in order."""
        return [r.call.name for r in self.tool_results]

    def expect_tool(self, name: str, **arguments: Any) -> ToolResult:
        """Asserts `name` was called with (at least) these arguments; returns its result."""
        for result in self.tool_results:
            args = result.call.arguments
            if result.call.name == name and all(args.get(k) == v for k, v in arguments.items()):
                return result
        calls = [(r.call.name, r.call.arguments) for r in self.tool_results]
        raise AssertionError(f"no call of {name} with {arguments}; calls: {calls}")


@dataclass(slots=True)
class TextCall:
    """One call driven by text. Created by `TextSession.call`."""

    responder: Any
    info: CallInfo
    triggers: EscalationTriggers
    conversation: ConversationHistory = field(default_factory=ConversationHistory)
    turns: list[Turn] = field(default_factory=list)
    greeting: str = ""
    ended: EndCall | None = None
    handoff: str | None = None
    language: str = "en"

    async def say(self, text: str, language: str | None = None) -> Turn:
        """The caller says `text`; returns what the agent did.

        Args:
            text: the caller's words.
            language: the language they are in, when it is another of the agent's (a spoken
                call switches when the recognizer hears it); the call stays in it.
        """
        if language is not None:
            self.language = language
        return await self._turn(text, "user_turn")

    async def press(self, digits: str) -> Turn:
        """The caller types `digits` on the keypad (one turn, as the session makes it)."""
        expected = (
            self.responder.expected_answer() if isinstance(self.responder, ExpectsAnswer) else None
        )
        keyed = expected is not None and bool({"dob", "digits", "phone"} & set(expected.kinds))
        # As in a call: the operator key acts alone, not inside a number the agent asked for.
        fired = self.triggers.on_key(digits[:1], 0.0) if digits and not keyed else None
        if fired is not None:
            return self._handed_off(fired.reason)
        return await self._turn(digits, "dtmf")

    @property
    def history(self) -> list[Message]:
        """What the responder sees: caller lines, replies, tool calls and their results."""
        return list(self.conversation.messages)

    @property
    def tool_results(self) -> list[ToolResult]:
        """Every tool call of the call so far."""
        return [r for turn in self.turns for r in turn.tool_results]

    async def _turn(self, text: str, trigger: Trigger) -> Turn:
        if self.ended is not None or self.handoff is not None:
            raise AssertionError("the call is over: " + (self.handoff or self.ended.reason))  # type: ignore[union-attr]
        if trigger != "call_start":
            fired: Escalation | None = self.triggers.on_caller_turn(text, None, 0.0)
            if fired is not None:
                self.conversation.add_user(text)
                return self._handed_off(fired.reason)
            self.conversation.add_user(text)
        turn = Turn()
        parts: list[str] = []
        context = TurnContext(self.info, self.conversation.messages, trigger, self.language)
        async for event in self.responder.respond(context):
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, ToolResult):
                turn.tool_results.append(event)
                self.conversation.add_tool_exchange(event)  # as the call session does
            elif isinstance(event, TransferCall):
                turn.handoff = self.handoff = event.reason
            elif isinstance(event, EndCall):
                turn.ended = self.ended = event
        turn.text = "".join(parts).strip()
        if turn.text:
            self.conversation.add_assistant(turn.text)
            self.triggers.on_agent_reply(turn.text, 0.0)
        self.turns.append(turn)
        return turn

    def _handed_off(self, reason: str) -> Turn:
        self.handoff = reason
        turn = Turn(handoff=reason)
        self.turns.append(turn)
        return turn


@dataclass(slots=True)
class TextSession:
    """An agent's responders, built once, for any number of text calls."""

    agent: Agent
    responders: ResponderFactory

    async def call(self, caller: str = "+15550100", channel: str = "test") -> TextCall:
        """A new call, greeting included (`TextCall.greeting`)."""
        info = CallInfo(call_id=f"text-{uuid.uuid4().hex[:12]}", channel=channel, caller=caller)
        triggers = EscalationTriggers(escalation_for(self.agent))
        call = TextCall(
            self.responders.for_call(info), info, triggers, language=self.agent.language
        )
        first = await call._turn("", "call_start")
        call.turns.clear()
        call.greeting = first.text
        return call


@contextlib.asynccontextmanager
async def text_agent(
    agent: Agent,
    data_dir: Path | None = None,
    llm: LlmOptions | None = None,
    today: Callable[[], dt.date] = dt.date.today,
) -> AsyncIterator[TextSession]:
    """The agent's responders for text calls; closed on exit.

    Args:
        agent: the agent under test.
        data_dir: where an agent with its own data keeps it; None: a temporary folder.
        llm: an OpenAI-compatible server (e.g. a scripted fake); None: no LLM.
        today: the date calls are taken on.
    """
    with tempfile.TemporaryDirectory(prefix="callwright-agent-") as scratch:
        folder = data_dir if data_dir is not None else Path(scratch)
        runtime = AgentRuntime(data_dir=folder, llm=llm, env={}, today=today)
        responders = await build_responders(agent, runtime)
        try:
            yield TextSession(agent, responders)
        finally:
            if isinstance(responders, Closable):
                await responders.close()


# --- by voice ----------------------------------------------------------------------------


async def agent_stack(
    agent: Agent,
    models: Any,
    data_dir: Path,
    llm: LlmOptions | None = None,
    today: Callable[[], dt.date] = dt.date.today,
) -> Any:
    """A stack for `agent` that reuses already loaded models, with its own call store.

    Loading the models takes seconds; tests that place calls to several agents load them
    once (`server.runtime.load_stack`) and give each agent its own stack with this.

    Args:
        agent: the agent to serve.
        models: a loaded `AgentStack` (its VAD, STT and TTS are shared).
        data_dir: the agent's call store and data go here.
        llm: an OpenAI-compatible server; the agent's flow answers when it fails.
        today: the date calls are taken on.
    """
    from callwright.core.responder import EmitsEvents, HasDeterministicFallback
    from callwright.llm.fallback import FallbackResponderFactory
    from callwright.store.open import open_store

    runtime = AgentRuntime(data_dir=data_dir, llm=llm, env={}, today=today)
    responders = await build_responders(agent, runtime)
    if llm is not None and isinstance(responders, HasDeterministicFallback):
        responders = FallbackResponderFactory(responders, responders.deterministic())
    return replace(
        models,
        responders=responders,
        store=await open_store(data_dir / "calls.sqlite3", env={}),
        escalation=escalation_for(agent),
        events=responders.emit if isinstance(responders, EmitsEvents) else None,
        silence=agent.silence or models.silence,
        session_lines=agent.session_lines_by_language(),
    )


@dataclass(slots=True)
class VoiceServer:
    """A live server for one agent on a loopback port (see `voice_agent`).

    Attributes:
        url: the native WebSocket endpoint (`/v1/ws`).
        stack: the agent's stack (its call store: `stack.store`).
        api_key: an operator key in that store; `/v1/ws` and the other operator routes
            need one (`Authorization: Bearer ...`).
    """

    url: str
    stack: Any
    api_key: str | None = None

    async def call(self, lines: Sequence[str], voice: str = "flite:slt", **kwargs: Any) -> Any:
        """Places a call over the native WebSocket that speaks `lines`; returns its report.

        Args:
            lines: what the caller says, one turn each.
            voice: the caller's voice, `engine:voice[@wpm]` (`sim.voices`; espeak-ng, flite
                or Festival), or an espeak-ng voice name alone ("en-us"). The default,
                flite's `slt`, is one Whisper tiny.en hears well, so that a test of the
                agent does not fail on a misheard word; espeak voices are harder callers.
            **kwargs: passed to `CallerSimulator.run`.
        """
        from callwright.sim.caller import CallerSimulator, ScriptLine
        from callwright.sim.voices import VoiceAsTts, parse_voice
        from callwright.tts.base import TextToSpeech
        from callwright.tts.espeak import EspeakTts

        tts: TextToSpeech = (
            VoiceAsTts(parse_voice(voice))
            if ":" in voice
            else EspeakTts(voice=voice, words_per_minute=150)
        )
        simulator = CallerSimulator(self.url, tts, api_key=self.api_key)
        return await simulator.run([ScriptLine(text) for text in lines], **kwargs)

    async def record(self, call_id: str, timeout_s: float = 15.0) -> Any:
        """The stored call (transcript, events, tool calls) once the server has finished it."""
        for _ in range(int(timeout_s * 10)):
            detail = await self.stack.store.get_call(call_id)
            if detail is not None and detail.record.status != "active":
                return detail
            await asyncio.sleep(0.1)
        raise AssertionError(f"call {call_id} never finished")


@contextlib.asynccontextmanager
async def voice_agent(
    agent: Agent, data_dir: Path, settings: Any = None, telephony: Any = None
) -> AsyncIterator[VoiceServer]:
    """Loads the real pipeline for `agent` (seconds: models) and serves it on a free port.

    The server's operator routes need a credential since operator sign-in: the helper puts an
    operator key of its own in the agent's call store (`VoiceServer.api_key`), and its calls
    present it.

    Args:
        agent: the agent under test.
        data_dir: the call store and the agent's data go here.
        settings: a `config.Settings` to start from (default: the environment's).
        telephony: `TelephonySettings` for phone calls (Twilio/Telnyx webhooks and streams).
    """
    from aiohttp import web

    from callwright.config import Settings
    from callwright.server.app import create_app
    from callwright.server.auth import new_api_key
    from callwright.server.runtime import load_stack
    from callwright.store.access import AccessStore, SqlStore

    base = settings if settings is not None else Settings.from_env()
    chosen = settings_for(replace(base, data_dir=data_dir), agent)
    stack = await load_stack(chosen, agent)
    # Calls need a credential like any caller's: a viewer key of this server's own.
    api_key, record = new_api_key("viewer", "voice_agent")
    await (await AccessStore.open(cast(SqlStore, stack.store))).add_key(record)
    runner = web.AppRunner(create_app(stack, telephony or chosen.telephony))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield VoiceServer(f"ws://127.0.0.1:{port}/v1/ws", stack, api_key)
    finally:
        await runner.cleanup()
        if isinstance(stack.responders, Closable):
            await stack.responders.close()
        await stack.desk.close()  # the shared desk's connections, with a PostgreSQL store
        await stack.store.close()
