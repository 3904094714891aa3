"""The generic responder: serves any `Agent` that brings no code of its own.

Each caller turn goes through the same steps, with or without an LLM:

1. guardrails (emergency, abuse, out-of-scope) and the caller's goodbye, in fixed words;
2. a tool held for confirmation runs on the caller's own "yes" (checked deterministically,
   never by the model), and is dropped on "no";
3. the flow: an intent cue moves the call into a node, and the node's slots are filled from
   the words (dates, times, numbers, names...);
4. the answer: with an LLM, the model with the agent's instructions and the tools the current
   node allows; without one, the node asks for its next missing slot or runs its tool, else
   the knowledge base answers, else the fallback line.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import replace
from typing import Any

from callwright.agents.definition import Agent, AgentRuntime, Language, Lines
from callwright.agents.definition_checks import unfillable_arguments
from callwright.agents.gated_tools import GatedTools, spoken_value
from callwright.agents.routing import choose_route
from callwright.agents.tool import FunctionTool
from callwright.core.hooks import Closer, EventHooks, Hook
from callwright.core.responder import (
    CallInfo,
    EndCall,
    ExpectedAnswer,
    ResponseEvent,
    TextDelta,
    TokenUsage,
    ToolCall,
    ToolResult,
    TurnContext,
)
from callwright.flows import spanish
from callwright.flows.engine import FlowState, SlotContext, fill
from callwright.flows.expected import from_flow
from callwright.flows.guardrails import Guardrails
from callwright.flows.intents import Intent, find_cue, intents_from, match_intent, words
from callwright.flows.phonetic import respell
from callwright.flows.slots import extract_yes_no
from callwright.kb import KnowledgeBase
from callwright.kb.open import open_knowledge
from callwright.llm.openai_compat import OpenAICompatResponder, OpenAICompatResponderFactory

log = logging.getLogger(__name__)


_ENGLISH_IF_YOU_MEAN = Lines().if_you_mean


class AgentResponderFactory:
    """Creates the generic responder of one `Agent` for each call.

    Args:
        agent: the definition.
        runtime: what the server provides (the LLM, if any; the date).
        kb: the agent's opened knowledge base, if it has one (see `open`).
    """

    def __init__(self, agent: Agent, runtime: AgentRuntime, kb: KnowledgeBase | None) -> None:
        self.agent = agent
        self.runtime = runtime
        self.kb = kb
        self.name = f"agent-{agent.name}" + ("-llm" if runtime.llm else "")
        self.llm: OpenAICompatResponderFactory | None = None
        if runtime.llm is not None:
            prompt = agent.instructions or runtime.llm.system_prompt
            self.llm = OpenAICompatResponderFactory(replace(runtime.llm, system_prompt=prompt))
        self.hooks = EventHooks()
        self._deterministic: AgentResponderFactory | None = None
        self.guardrails = Guardrails(agent.guardrails) if agent.guardrails else None
        self.guardrails_by_language = {
            spoken.code: Guardrails(spoken.guardrails)
            for spoken in agent.languages
            if spoken.guardrails is not None
        }
        self.intents = intents_from(agent.intents)
        # The agent's other languages: their intents and knowledge (see `AgentResponder`).
        self.intents_by_language = {
            spoken.code: intents_from(spoken.intents) for spoken in agent.languages
        }
        self.kb_by_language: dict[str, KnowledgeBase] = {}

    @classmethod
    async def open(cls, agent: Agent, runtime: AgentRuntime) -> AgentResponderFactory:
        """Loads the agent's knowledge base (off the event loop) and returns the factory.

        Raises:
            ValueError: without a model, a tool of the flow has a required argument that no
                slot fills: it could never run (with a model, only the fallback is warned of).
        """
        unfillable = unfillable_arguments(agent)
        if unfillable and runtime.llm is None:
            raise ValueError(
                f"agent {agent.name!r}: without a model the flow cannot call "
                f"{'; '.join(unfillable)}: no slot of the flow fills these required arguments. "
                "Add a slot of that name to a node, give the argument a default, or configure "
                "a model (CALLWRIGHT_LLM_BASE_URL)"
            )
        if unfillable:
            log.warning(
                "agent %r: if the model fails, the fallback without it cannot call %s "
                "(no slot fills these required arguments)",
                agent.name,
                "; ".join(unfillable),
            )
        kb = None
        if agent.knowledge is not None:
            kb = await open_knowledge(
                agent.knowledge,
                agent.knowledge_threshold,
                agent.knowledge_clarify,
                agent.knowledge_generic,
                agent.knowledge_embedder,
            )
        factory = cls(agent, runtime, kb)
        for spoken in agent.languages:
            if spoken.knowledge is not None:
                # By words unless the embedder is multilingual: MiniLM knows English only.
                embedder = (
                    agent.knowledge_embedder if agent.knowledge_embedder == "e5-small" else None
                )
                factory.kb_by_language[spoken.code] = await open_knowledge(
                    spoken.knowledge, None, None, agent.knowledge_generic, embedder
                )
        return factory

    def for_call(self, call: CallInfo) -> AgentResponder:
        """Returns the responder that will serve `call`."""
        return AgentResponder(call, self)

    def deterministic(self) -> AgentResponderFactory:
        """The same agent without the LLM: what answers when the model fails (one, made once)."""
        if self._deterministic is None:
            factory = AgentResponderFactory(self.agent, replace(self.runtime, llm=None), self.kb)
            factory.hooks = self.hooks
            factory.kb_by_language = self.kb_by_language
            self._deterministic = factory
        return self._deterministic

    def phrases(self) -> list[str]:
        """Every line said word for word, for pre-synthesis."""
        agent = self.agent
        lines = [agent.greeting, *agent.phrases, *agent.lines.all()]
        if agent.flow is not None:
            lines += [s.ask for node in agent.flow.nodes.values() for s in node.slots]
        lines += [t.filler for t in agent.tools if isinstance(t, FunctionTool) and t.filler]
        if self.kb is not None:
            lines += list(self.kb.phrases())
        return [line for line in dict.fromkeys(lines) if line]

    def add_hook(self, hook: Hook, close: Closer | None = None) -> None:
        """Adds a receiver of the agent's events (webhooks); `close` runs with the factory's
        (a sender keeps what it has not sent yet)."""
        self.hooks.add(hook, close)

    async def emit(self, kind: str, data: dict[str, Any]) -> None:
        """Hands an event to every hook; a failing hook is logged, never raised."""
        await self.hooks.emit(kind, data)

    async def close(self) -> None:
        """Closes the event receivers, the LLM's HTTP session and the knowledge base."""
        await self.hooks.close()
        if self.llm is not None:
            await self.llm.close()
        if self.kb is not None:
            self.kb.close()
        for kb in self.kb_by_language.values():
            kb.close()


class AgentResponder:
    """Serves one call of an `Agent` (see the module docstring for the steps)."""

    def __init__(
        self, call: CallInfo, factory: AgentResponderFactory, shared: AgentResponder | None = None
    ) -> None:
        self.call = call
        self.factory = factory
        self.agent = agent = factory.agent
        flow = agent.flow
        self.state: FlowState | None
        self.tools: GatedTools
        if shared is not None:  # the same call, answered without the model (`without_model`)
            self.state, self.tools = shared.state, shared.tools
        else:
            self.state = FlowState(node=flow.start) if flow is not None else None
            self.tools = GatedTools(agent, call, factory.kb, self.state)
        self._language = agent.language  # the call's, from each turn's context
        self._entered = ""  # the `say` of a node the caller has just entered
        self._asked_model = False  # this turn's reply went to the model
        self._llm: OpenAICompatResponder | None = None
        self._routed: dict[str, OpenAICompatResponder] = {}  # by route name
        self._preparing: asyncio.Task[None] | None = None
        self._prepared: OpenAICompatResponder | None = None  # the model it started
        if factory.llm is not None:
            # "{today}" in the instructions is the date of the call.
            today = factory.runtime.today().isoformat()
            options = factory.llm.options
            prompt = options.system_prompt.replace("{today}", today)
            options = replace(options, system_prompt=prompt)
            # The same gated registry on every path.
            self._llm = OpenAICompatResponder(call, options, factory.llm.session, tools=self.tools)
            for route in agent.llm_routes:
                routed = replace(
                    options,
                    model=route.model,
                    base_url=route.base_url or options.base_url,
                    api_key=route.api_key or options.api_key,
                )
                self._routed[route.name] = OpenAICompatResponder(
                    call, routed, factory.llm.session, tools=self.tools
                )

    def without_model(self) -> AgentResponder:
        """This call answered without the model while it fails (`HasModelFreeTwin`): the
        same flow state, identity, held confirmation and tools that ran."""
        return AgentResponder(self.call, self.factory.deterministic(), shared=self)

    def handoff_facts(self) -> dict[str, Any] | None:
        """Intent (the flow node), slots and the tools that ran, for the person taking over."""
        state = self.state
        node = None if state is None or state.node == self._start else state.node
        slots = {} if state is None else {k: spoken_value(v) for k, v in state.slots.items()}
        facts: dict[str, Any] = {"intent": node, "slots": slots, "done": list(self.tools.done)}
        if self.agent.handoff_facts is not None:
            facts |= self.agent.handoff_facts(facts)
        return facts

    def expected_answer(self) -> ExpectedAnswer | None:
        """The slots the flow's open question asks for (`ExpectsAnswer`).

        On the LLM path the model asks its own questions: None, and the runtime reads the
        question it asked instead.
        """
        if self._llm is not None or self.state is None or self.agent.flow is None:
            return None
        return from_flow(self.agent.flow, self.state)

    @property
    def _spoken(self) -> Language | None:
        """The agent's `Language` the call is in (None: its main language)."""
        return self.agent.spoken(self._language)

    @property
    def _lines(self) -> Lines:
        spoken = self._spoken
        return spoken.lines if spoken is not None and spoken.lines else self.agent.lines

    @property
    def _kb(self) -> KnowledgeBase | None:
        return self.factory.kb_by_language.get(self._language, self.factory.kb)

    @property
    def _intents(self) -> list[Intent]:
        return self.factory.intents_by_language.get(self._language) or self.factory.intents

    @property
    def _goodbye_cues(self) -> Sequence[str]:
        spoken = self._spoken
        cues = spoken.goodbye_cues if spoken is not None else ()
        return [*cues, *self.agent.goodbye_cues]

    def _plain(self, text: str) -> str:
        """Cues are matched on plain letters: "adiós" is "adios" in a Spanish call."""
        return text if self._language == "en" else spanish.without_accents(text)

    @property
    def _start(self) -> str | None:
        return self.agent.flow.start if self.agent.flow is not None else None

    async def respond(self, context: TurnContext) -> AsyncIterator[ResponseEvent]:
        """Streams the reply to the latest turn (see the module docstring).

        With an LLM configured, a reply in fixed words (greeting, guardrail, goodbye,
        confirmation) says it cost no tokens, so usage is not estimated from its characters.
        """
        self._asked_model = False
        async for event in self._respond(context):
            yield event
        if self._llm is not None and not self._asked_model:
            # Only then: a model reply from a server that reports no usage must not look like
            # one that cost nothing (the fallback's breaker reads it as "the model not asked").
            yield TokenUsage(0, 0)

    async def _respond(self, context: TurnContext) -> AsyncIterator[ResponseEvent]:
        self._language = context.language
        lines = self._lines
        if context.trigger == "call_start":
            await self.factory.emit("call_started", {"call_id": self.call.call_id})
            spoken = self._spoken
            greeting = spoken.greeting if spoken is not None and spoken.greeting else None
            yield TextDelta(greeting or self.agent.greeting)
            return
        last = next((m for m in reversed(context.history) if m.role == "user"), None)
        text = last.content if last else ""
        guardrails = self.factory.guardrails_by_language.get(
            self._language, self.factory.guardrails
        )
        verdict = guardrails.check(text) if guardrails else None
        if verdict is not None:
            said = {"emergency": lines.emergency, "abuse": lines.abuse}.get(verdict)
            yield TextDelta(said or lines.out_of_scope)
            if verdict == "emergency":
                yield EndCall("emergency")
            return
        pending, self.tools.pending = self.tools.pending, None
        if pending is not None:
            answer = extract_yes_no(spanish.canonical(text) if self._language == "es" else text)
            if answer is True:
                async for event in self._run_confirmed(pending):
                    yield event
                return
            if answer is False:
                yield TextDelta(f"{lines.declined} {lines.anything_else}")
                return
        if find_cue(words(self._plain(text)), self._goodbye_cues) is not None:
            yield TextDelta(lines.goodbye)
            yield EndCall("caller said goodbye")
            return
        self._follow_flow(text)
        entered, self._entered = self._entered, ""
        if entered:  # the node's own line on entering it, then its question or the model
            yield TextDelta(f"{entered} ")
        if self._llm is not None:
            async for event in self._from_llm(context):
                yield event
            return
        async for event in self._without_llm(text):
            yield event

    def _follow_flow(self, text: str) -> None:
        """Moves into the node the caller asks for; fills the current node's slots."""
        state, flow = self.state, self.agent.flow
        if state is None or flow is None:
            return
        intent = match_intent(self._plain(text), self._intents)
        if intent is not None and intent != state.node:
            state.go(intent)
            self._entered = flow.node(intent).say
        node = flow.node(state.node)
        if node.slots:
            ctx = SlotContext(
                today=self.factory.runtime.today(),
                directories=self.agent.directories,
                language=self._language,
            )
            fill(state, node.slots, text, ctx)

    def prepare(self, context: TurnContext | None) -> None:
        """Starts the model on a probable turn (`Preempts`) when the turn would reach it
        unchanged: no guardrail, confirmation, goodbye or change of flow node in the way."""
        if self._preparing is not None:
            self._preparing.cancel()
            self._preparing = None
        self._prepared = None
        if self._llm is None:
            return
        if context is None:
            for llm in (self._llm, *self._routed.values()):
                llm.prepare(None)
            return
        last = next((m for m in reversed(context.history) if m.role == "user"), None)
        text = last.content if last else ""
        guardrails, state = self.factory.guardrails, self.state
        if not text or self.tools.pending is not None:
            return
        if guardrails is not None and guardrails.check(text) is not None:
            return
        if find_cue(words(self._plain(text)), self._goodbye_cues) is not None:
            return
        intent = match_intent(self._plain(text), self._intents)
        if state is not None and intent is not None and intent != state.node:
            return  # the node changes, and with it the tools offered
        self._preparing = asyncio.create_task(self._prepare(context, text))

    async def _prepare(self, context: TurnContext, text: str) -> None:
        llm = await self._route(text, context)
        llm.prepare(context)
        self._prepared = llm

    async def preview(self) -> AsyncIterator[str]:
        """The prepared reply's text as the model writes it (`PreviewsReply`); empty when
        nothing was prepared. Only text: tools never run before the turn is answered."""
        preparing = self._preparing
        if preparing is None:
            return
        try:
            await asyncio.shield(preparing)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the preview itself was stopped
            return  # the preparation was replaced or abandoned
        except Exception:
            return
        llm = self._prepared
        if llm is None or preparing is not self._preparing:
            return
        async for text in llm.preview():
            yield text

    def has_preview(self) -> bool:
        """Whether the model was started on the probable turn (`PreviewsReply`): not when the
        turn would be answered in fixed words, by the flow or without an LLM."""
        return self._preparing is not None and not self._preparing.cancelled()

    async def _route(self, text: str, context: TurnContext) -> OpenAICompatResponder:
        """The model for this turn (`Agent.llm_routes`), noted for the call record."""
        assert self._llm is not None
        route, kind = await choose_route(
            text, context.history[:-1], self.agent.llm_routes, self.factory.kb
        )
        llm = self._routed[route.name] if route is not None else self._llm
        llm.note = {"route": route.name if route is not None else "default", "turn_kind": kind}
        return llm

    async def _from_llm(self, context: TurnContext) -> AsyncIterator[ResponseEvent]:
        assert self._llm is not None
        if self._preparing is not None and not self._preparing.done():
            # Still choosing its route: too late for a head start, and a request it sent now
            # would only go unused.
            self._preparing.cancel()
        last = next((m for m in reversed(context.history) if m.role == "user"), None)
        llm = await self._route(last.content if last else "", context)
        for other in (self._llm, *self._routed.values()):
            if other is not llm:
                other.prepare(None)  # a head start on the wrong model is no use
        self._asked_model = True
        stream_of = llm.respond(context)
        assert isinstance(stream_of, AsyncGenerator)
        async with aclosing(stream_of) as stream:
            async for event in stream:
                yield event
                if self.tools.pending is not None:
                    break  # the model does not get to speak for the confirmation
        if self.tools.pending is not None:
            yield TextDelta(self.tools.readback(self.tools.pending))

    async def _without_llm(self, text: str) -> AsyncIterator[ResponseEvent]:
        lines = self._lines
        state, flow = self.state, self.agent.flow
        if state is not None and flow is not None and state.node != flow.start:
            node = flow.node(state.node)
            missing = state.missing(node)
            if missing is not None:
                state.awaiting = missing.name
                yield TextDelta(missing.ask)
                return
            call = self._next_action(node.tools)
            if call is not None and self.tools.identifies(call.name) and state.verified is None:
                # A node that `requires_identity`: its identifying tool first, in code.
                checked = await self.tools.run_now(call)
                if checked.error is not None or state.verified is None:
                    state.go(flow.start)
                    yield TextDelta(lines.failed)
                    return
                call = self._next_action(node.tools - {call.name})
            if call is not None:
                if node.confirm or self.tools.needs_confirmation(call.name):
                    self.tools.pending = call
                    yield TextDelta(self.tools.readback(call))
                    return
                async for event in self._run_confirmed(call):
                    yield event
                return
        if (kb := self._kb) is not None and text:
            found = await kb.answer(text)
            if found is not None:
                yield TextDelta(found.passage.text)
                return
            respelled = await self._answer_respelled(kb, text)
            if respelled is not None:
                yield TextDelta(respelled)
                return
        yield TextDelta(lines.fallback)

    async def _answer_respelled(self, kb: KnowledgeBase, text: str) -> str | None:
        """The answer to `text` read again with misheard terms respelled by sound, or None.

        The recogniser mishears a topic's name ("opening errors"); matched by sound against
        the knowledge base's topic names and the agent's vocabulary, the words heard as
        themselves anchor the reading. A sound-alike can be wrong, so the reply says which
        reading it answers ("If you mean opening hours: ...").
        """
        template = self._lines.if_you_mean
        if not template or (self._language != "en" and template == _ENGLISH_IF_YOU_MEAN):
            return None  # off, or no wording of the agent's own for this language
        # Topic names are headings ("Opening hours"); in a sentence they are lower case.
        topics = [t.lower() for t in kb.topic_names()]
        respelled, terms = respell(text, [*topics, *self.agent.vocabulary])
        if not terms:
            return None
        found = await kb.answer(respelled)
        if found is None:
            return None
        return template.format(terms=", ".join(terms), answer=found.passage.text)

    def _next_action(self, names: frozenset[str]) -> ToolCall | None:
        """The node's first tool that may run now (identifying ones first, then by name)
        whose required tools have already succeeded."""
        ready = sorted(n for n in names if n in self.tools and self.tools.allowed(n))
        for name in sorted(ready, key=lambda n: not self.tools.identifies(n)):
            call = ToolCall(f"flow_{uuid.uuid4().hex[:8]}", name, self.tools.arguments(name))
            if not self.tools.unmet(call):
                return call
        return None

    async def _run_confirmed(self, call: ToolCall) -> AsyncIterator[ResponseEvent]:
        lines = self._lines
        result: ToolResult | None = None
        async for event in self.tools.run_speaking(call):
            if isinstance(event, ToolResult):
                result = event
            yield event
        assert result is not None
        if self.state is not None and self.agent.flow is not None:
            self.state.go(self.agent.flow.start)
            self.state.stack.clear()
        if result.error is not None:
            yield TextDelta(lines.failed)
            return
        said = result.result if isinstance(result.result, str) else None
        if isinstance(result.result, dict) and isinstance(result.result.get("say"), str):
            said = result.result["say"]
        yield TextDelta(f"{said or lines.done} {lines.anything_else}")
