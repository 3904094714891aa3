"""`Agent`: everything that makes one voice agent, as data.

An agent with no custom code is answered by the generic responder (`agents/responder.py`):
its greeting, its knowledge base, its flow's slots and tools without an LLM, and, when an
OpenAI-compatible LLM is configured, the LLM with its instructions and tools, bounded by the
same flow. An agent that needs its own code gives `responders`, a function that builds its
responder factory from the runtime (`AgentRuntime`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from callwright.agent.session_lines import SessionLines
from callwright.agent.silence import SilenceOptions
from callwright.agents.definition_checks import check_definition
from callwright.agents.routing import ModelRoute
from callwright.agents.tool import FunctionTool
from callwright.core.responder import ResponderFactory
from callwright.flows.engine import Flow
from callwright.flows.guardrails import GuardrailOptions
from callwright.flows.names import Directory
from callwright.handoff.triggers import EscalationOptions
from callwright.llm.openai_compat import LlmOptions
from callwright.tools.registry import Tool

DEFAULT_GOODBYE_CUES = ("goodbye", "bye", "that's all", "that is all", "nothing else")


@dataclass(frozen=True, slots=True)
class Lines:
    """The fixed lines of the generic responder (each said word for word, and pre-synthesized).

    Attributes:
        fallback: no flow, knowledge passage or LLM had an answer.
        goodbye: said before the agent ends the call on the caller's goodbye.
        emergency: a guardrail heard an emergency; the call ends after it.
        out_of_scope: a guardrail heard a topic the agent must not handle.
        abuse: a guardrail heard abuse.
        confirm: asks for a yes before a tool with side effects runs; formatted with
            `{action}` (the tool's name in words) and `{details}` (its arguments).
        done: after a confirmed tool ran and returned no text of its own.
        declined: the caller said no to a confirmation.
        failed: a tool failed.
        anything_else: offered after a task is done.
        if_you_mean: the knowledge base's answer to the question respelled by sound ("opening
            errors" read as the topic "opening hours"), with `{terms}` (what was respelled)
            and `{answer}`; the caller hears which reading was answered. Empty: no second
            reading.
    """

    fallback: str = "Sorry, I can't help with that on this line."
    goodbye: str = "Thank you for calling. Goodbye!"
    emergency: str = "If this is an emergency, please hang up and dial 911 now."
    out_of_scope: str = "I'm sorry, I can't help with that."
    abuse: str = "Please keep this conversation respectful, or I will have to end the call."
    confirm: str = "Just to confirm: {action}, {details}. Shall I go ahead?"
    done: str = "Done."
    declined: str = "Okay, I won't do that."
    failed: str = "Sorry, something went wrong on our side. Please try again later."
    anything_else: str = "Is there anything else I can help with?"
    if_you_mean: str = "If you mean {terms}: {answer}"

    def all(self) -> list[str]:
        """Every line that is said exactly as written."""
        return [
            self.fallback,
            self.goodbye,
            self.emergency,
            self.out_of_scope,
            self.abuse,
            self.declined,
            self.failed,
            self.anything_else,
            f"{self.done} {self.anything_else}",
        ]


@dataclass(frozen=True, slots=True)
class AgentRuntime:
    """What the server gives an agent when it builds the agent's responders.

    Attributes:
        data_dir: a folder the agent may keep its own data in.
        llm: the configured LLM, or None (no LLM: flows and knowledge only).
        env: the process environment (integrations switched on by variables).
        today: the date calls are taken on (a function, so tests can pin it).
        store: the server's call store, or None; integrations keep what every worker must
            see in it (the webhook outbox on PostgreSQL: `integrations.outbox.outbox_for`).
    """

    data_dir: Path
    llm: LlmOptions | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    today: Callable[[], dt.date] = dt.date.today
    store: Any = None


@dataclass(frozen=True, slots=True)
class Language:
    """A language an agent speaks besides its main one: what changes when a call is in it.

    A call starts in the agent's main language (`Agent.language`) and follows the caller:
    an utterance Whisper hears in another of the agent's languages switches the call, and
    from then on the responder is told the language (`TurnContext.language`), the voice and
    the speech normalisation are this language's. More than one language needs the
    multilingual recognizer (`stt_model="base"`): tiny.en hears English only.

    Attributes:
        code: the language's code, as Whisper names it ("es", "fr", "de").
        greeting: the greeting, when the call starts in this language.
        phrases: further lines said word for word in it, pre-synthesized at start-up.
        lines: the generic responder's fixed lines in this language.
        knowledge: a folder of markdown files answering questions in this language.
        intents: cue phrases that move the call into a node of the flow, in this language.
        goodbye_cues: phrases that end the call in this language.
        guardrails: the guardrails' phrases in this language (`flows.guardrails`
            `SPANISH_GUARDRAILS` for Spanish); None: the agent's.
        voice: the espeak-ng voice ("es-419"); Piper voices are English only so far.
        vocabulary: names and terms callers say in this language (recogniser bias).
        date_order: how the normaliser reads numeric dates ("dmy": 10/12 is the tenth of
            December).
        session_lines: what the call session itself says in this language (disclosure,
            "are you still there?", fillers, goodbyes: `SessionLines`); None: the main
            language's.
    """

    code: str
    greeting: str | None = None
    phrases: Sequence[str] = ()
    lines: Lines | None = None
    knowledge: Path | None = None
    intents: Mapping[str, Sequence[str]] = field(default_factory=dict)
    goodbye_cues: Sequence[str] = ()
    guardrails: GuardrailOptions | None = None
    voice: str | None = None
    vocabulary: Sequence[str] = ()
    date_order: Literal["mdy", "dmy"] = "dmy"
    session_lines: SessionLines | None = None


ResponderBuilder = Callable[[AgentRuntime], Awaitable[ResponderFactory]]
AgentTool = FunctionTool | Tool


@dataclass(frozen=True, slots=True)
class Agent:
    """One voice agent.

    Attributes:
        name: a short id (logs, the responder's name).
        instructions: the system prompt of the LLM, when one is configured.
        greeting: the first thing the agent says.
        phrases: further lines said word for word, pre-synthesized at start-up.
        knowledge: a folder of markdown files the agent answers questions from.
        knowledge_threshold: confidence needed to answer from the knowledge base; None:
            the calibration file in the knowledge folder (`kb_thresholds.json`, written by
            `python -m callwright.kb.calibrate`), else 0.5.
        knowledge_clarify: confidence from which the caller is asked which of two passages
            they mean; None: calibrated, else never.
        knowledge_generic: words that say nothing in the agent's domain ("shop" for a shop),
            ignored in questions like stopwords.
        knowledge_embedder: the sentence embedder for retrieval by meaning ("minilm-l6",
            "e5-small"), shared by every agent in the process; None: by words only.
        flow: nodes with typed slots and the tools each may call (`flows.Flow`). Without an
            LLM, a node runs the first of its tools once its slots are filled; with an LLM,
            a tool that belongs to a node is only offered while the call is in that node.
        intents: cue phrases that move the call into a node of the flow, by node name.
        tools: `@tool` functions (or `tools.Tool`s) the agent may call.
        directories: the people a "person" slot matches a spoken name against, by the
            slot's `directory` (or its name): `flows.names.Directory` of `Person`s, matched
            by sound ("Doctor Win" is Doctor Nguyen).
        lines: the generic responder's fixed lines.
        escalation_cues: phrases that hand the caller to a person (added to the defaults).
        escalation: the handoff triggers and their thresholds (`EscalationOptions`: which
            topics are out of scope, the anger phrases, loops); None: the defaults, which
            hand over on a request for a person, anger, loops and poorly heard turns, and on
            no topic. `escalation_cues` are added to its explicit-request phrases.
        transfer_number: where a phone transfer goes when the deployment names none.
        guardrails: phrases checked before anything else sees a turn; None: no guardrails.
        goodbye_cues: phrases that end the call after `lines.goodbye`.
        stt_model: "tiny.en", "base" or a model folder; None: the server's setting.
        tts: "piper" or "espeak"; None: the server's setting.
        voice: the espeak-ng voice, when the agent speaks with espeak-ng.
        vocabulary: names and domain words callers say, to bias the speech recogniser
            (people, products, places); a custom responder factory may add its own.
        pronunciations: respellings the voice reads instead of a word ({"Nguyen": "win"}),
            applied before every other speech normalisation rule.
        llm_routes: models for simple turns (greetings, yes/no, confirmations, questions the
            knowledge base answers), by rules (`ModelRoute`); the first route that takes a
            turn answers it, the configured model the rest. The route is in the call record.
        handoff_facts: adds the agent's own facts to what a person taking the call over sees;
            called with the generic responder's facts (intent, slots, done), returns more.
        responders: custom code: builds the agent's responder factory, replacing the
            generic responder (the fields above then only set the server's side).
        language: the code of the main language, the one the fields above are in.
        languages: the other languages the agent speaks (`Language`); the call follows the
            caller into any of them.
        silence: how long a silent caller is waited for before "are you still there?", and
            how many times before goodbye (its lines are `session_lines`'); None: the
            server's setting (CALLWRIGHT_SILENCE_*). An agent whose callers go to fetch a
            card or a letter mid-call waits longer than a quick front desk.
        session_lines: what the call session itself says in the main language (disclosure,
            "are you still there?", fillers, goodbyes: `SessionLines`); None: the server's
            settings (English by default).
    """

    name: str
    instructions: str = ""
    greeting: str = "Hello, how can I help you?"
    phrases: Sequence[str] = ()
    knowledge: Path | None = None
    knowledge_threshold: float | None = None
    knowledge_clarify: float | None = None
    knowledge_generic: Sequence[str] = ()
    knowledge_embedder: str | None = "minilm-l6"
    flow: Flow | None = None
    intents: Mapping[str, Sequence[str]] = field(default_factory=dict)
    tools: Sequence[AgentTool] = ()
    directories: Mapping[str, Directory] = field(default_factory=dict)
    lines: Lines = field(default_factory=Lines)
    escalation_cues: Sequence[str] = ()
    escalation: EscalationOptions | None = None
    transfer_number: str | None = None
    guardrails: GuardrailOptions | None = None
    goodbye_cues: Sequence[str] = DEFAULT_GOODBYE_CUES
    stt_model: str | None = None
    tts: Literal["piper", "espeak"] | None = None
    voice: str | None = None
    vocabulary: Sequence[str] = ()
    pronunciations: Mapping[str, str] = field(default_factory=dict)
    llm_routes: Sequence[ModelRoute] = ()
    handoff_facts: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    responders: ResponderBuilder | None = None
    language: str = "en"
    languages: Sequence[Language] = ()
    silence: SilenceOptions | None = None
    session_lines: SessionLines | None = None

    def __post_init__(self) -> None:
        codes = [self.language, *(spoken.code for spoken in self.languages)]
        if len(set(codes)) != len(codes):
            raise ValueError(f"agent {self.name!r}: a language is listed twice in {codes}")
        if len(codes) > 1 and self.stt_model in ("tiny.en", "base.en"):
            raise ValueError(
                f"agent {self.name!r}: languages {codes} need the multilingual recognizer "
                f"(stt_model='base'); {self.stt_model} hears English only"
            )
        check_definition(self)

    def session_lines_by_language(self) -> dict[str, SessionLines]:
        """The session's lines of each language that has its own (`AgentStack.session_lines`)."""
        found = {self.language: self.session_lines}
        found |= {spoken.code: spoken.session_lines for spoken in self.languages}
        return {code: lines for code, lines in found.items() if lines is not None}

    def language_codes(self) -> list[str]:
        """Every language the agent speaks, its main one first."""
        return [self.language, *(spoken.code for spoken in self.languages)]

    def spoken(self, code: str) -> Language | None:
        """The agent's `Language` of `code` (None for the main language or an unknown one)."""
        return next((spoken for spoken in self.languages if spoken.code == code), None)
