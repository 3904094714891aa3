"""A responder chain: a remote LLM under a watchdog, the deterministic flow behind it.

Per turn: the primary (e.g. `OpenAICompatResponder`, which raises `LlmError`) gets a budget for
its first event. A failure before it said or did anything is retried once if the budget still
has room for an attempt; otherwise, or once it has failed twice, the fallback (the responder
the server would use without an LLM) answers this turn, and the call goes on. The next turn
tries the primary again, unless its circuit breaker has opened after repeated failures.

A primary that stalls or fails after it started speaking cannot be taken back: its unfinished
sentence is closed, a short notice is said, and the fallback answers the turn. If the fallback
fails too, the caller hears an apology; after `max_failed_turns` such turns in a row, the call
cannot go on and the caller is offered a callback before the call ends.

Every turn records which provider answered it (a `responder` event), and every failure a
`provider_error` and a `fallback` event (core/provider_events.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from callwright.core.provider_events import describe, report_provider_event
from callwright.core.responder import (
    CallInfo,
    EndCall,
    ExpectedAnswer,
    ExpectsAnswer,
    HasHandoffFacts,
    HasModelFreeTwin,
    HasPhrases,
    Preempts,
    PreviewsReply,
    Responder,
    ResponderFactory,
    ResponseEvent,
    TextDelta,
    TokenUsage,
    ToolResult,
    TurnContext,
    Working,
)
from callwright.resilience import (
    BreakerOptions,
    CircuitBreaker,
    deadline_in,
    remaining_ms,
    watch_stream,
)

log = logging.getLogger(__name__)

_SENTENCE_END = re.compile(r"[.!?…][\"')\]]*\s*$")


@dataclass(frozen=True, slots=True)
class LlmFallbackOptions:
    """Deadlines and lines of the responder chain.

    The defaults leave room, after a primary that never answers, for the fallback's first
    sentence to be synthesized and heard within about two seconds of the caller's end of
    speech.

    Attributes:
        first_event_ms: budget from the start of a turn (or from a tool result, after which
            the model starts a new request) to the primary's first event, retries included.
        stall_ms: the longest silence allowed between two events once the primary started.
        min_attempt_ms: a retry is made only if at least this much of the budget is left.
        mid_reply_notice: said when the primary failed after it started speaking, before the
            fallback answers the turn.
        failure_line: said when the fallback failed too.
        callback_line: said, before the call ends, when `max_failed_turns` turns in a row
            could not be answered.
        max_failed_turns: unanswerable turns in a row before the callback is offered.
        breaker: when to stop trying a primary that keeps failing (shared by all calls).
    """

    first_event_ms: float = 1000.0
    stall_ms: float = 1200.0
    min_attempt_ms: float = 300.0
    mid_reply_notice: str = "Sorry about that."
    failure_line: str = "Sorry, I'm having trouble on my end. Could you say that again?"
    callback_line: str = (
        "I'm sorry, I'm having technical trouble and can't help you right now. "
        "Someone from our team will call you back shortly at this number. Goodbye."
    )
    max_failed_turns: int = 2
    breaker: BreakerOptions = field(default_factory=BreakerOptions)


class FallbackResponder:
    """Serves one call; created by `FallbackResponderFactory.for_call`."""

    def __init__(
        self,
        call: CallInfo,
        primary: Responder,
        primary_name: str,
        fallback: ResponderFactory,
        options: LlmFallbackOptions,
        breaker: CircuitBreaker,
    ) -> None:
        self.call = call
        self.primary = primary
        self._primary_name = primary_name
        self._fallback_factory = fallback
        self._fallback: Responder | None = None
        self._options = options
        self._breaker = breaker
        self.failed_turns = 0  # turns in a row that neither responder could answer

    @property
    def fallback(self) -> Responder:
        """The call's fallback responder, created when it is first needed: the primary's own
        twin without the model if it has one (the call goes on where it stood), else a new
        one of the fallback factory."""
        if self._fallback is None:
            if isinstance(self.primary, HasModelFreeTwin):
                self._fallback = self.primary.without_model()
            else:
                self._fallback = self._fallback_factory.for_call(self.call)
        return self._fallback

    def handoff_facts(self) -> dict[str, Any] | None:
        """The facts of whichever responder knows more (the deterministic flow keeps slots)."""
        for responder in (self._fallback, self.primary):
            if isinstance(responder, HasHandoffFacts):
                found = responder.handoff_facts()
                if found and (found.get("slots") or responder is self.primary):
                    return found
        return None

    def prepare(self, context: TurnContext | None) -> None:
        """Lets the primary start on a probable turn (`Preempts`), unless it is failing."""
        if isinstance(self.primary, Preempts) and (context is None or not self._breaker.is_open):
            self.primary.prepare(context)

    async def preview(self) -> AsyncIterator[str]:
        """The primary's prepared reply as it is written (`PreviewsReply`), if it shows one."""
        if isinstance(self.primary, PreviewsReply) and not self._breaker.is_open:
            async for text in self.primary.preview():
                yield text

    def has_preview(self) -> bool:
        """Whether the primary prepared a reply it can preview, and is not failing."""
        primary = self.primary
        return (
            isinstance(primary, PreviewsReply)
            and not self._breaker.is_open
            and (primary.has_preview())
        )

    def expected_answer(self) -> ExpectedAnswer | None:
        """The fallback flow's open question if it has one, else the primary's."""
        for responder in (self._fallback, self.primary):
            if isinstance(responder, ExpectsAnswer):
                found = responder.expected_answer()
                if found is not None:
                    return found
        return None

    async def respond(self, context: TurnContext) -> AsyncGenerator[ResponseEvent, None]:
        """Streams the reply to the latest turn; never raises for a provider failure."""
        options = self._options
        deadline = deadline_in(options.first_event_ms)
        attempts, progressed, reason = 0, False, "circuit open"
        said: list[str] = []
        usage: list[TokenUsage] = []
        while not progressed and self._breaker.allow():
            attempts += 1
            stream = watch_stream(
                self.primary.respond(context),
                self._primary_name,
                first_ms=remaining_ms(deadline),
                idle_ms=options.stall_ms,
                restart_after=lambda event: isinstance(event, ToolResult | TokenUsage),
                wait_after=lambda event: event.for_ms if isinstance(event, Working) else None,
            )
            try:
                async for event in stream:
                    if isinstance(event, Working) and event.for_ms is None:
                        continue  # a heartbeat: the model writes words it holds back
                    progressed = True
                    if isinstance(event, TextDelta):
                        said.append(event.text)
                    elif isinstance(event, TokenUsage):
                        usage.append(event)
                    yield event
            except asyncio.CancelledError:
                self._breaker.abandon()
                raise
            except Exception as exc:
                self._breaker.failure()
                reason = describe(exc)
                log.warning(
                    "call %s: %s failed (attempt %d): %s",
                    self.call.call_id,
                    self._primary_name,
                    attempts,
                    reason,
                )
                report_provider_event(
                    "provider_error",
                    {
                        "stage": "llm",
                        "provider": self._primary_name,
                        "error": reason,
                        "attempt": attempts,
                        "after_text": bool("".join(said).strip()),
                    },
                )
                if attempts >= 2 or remaining_ms(deadline) < options.min_attempt_ms:
                    break
                continue
            finally:
                await stream.aclose()
            if usage and not any(u.prompt_tokens or u.completion_tokens for u in usage):
                # A reply in fixed words (a greeting, a guardrail, a confirmation) says it
                # cost no tokens: the model was not asked, so it proves nothing about it.
                self._breaker.abandon()
            else:
                self._breaker.success()
            self.failed_turns = 0
            self._answered_by(self._primary_name, context, attempts)
            return
        async for event in self._fall_back(context, reason, attempts, "".join(said)):
            yield event

    async def _fall_back(
        self, context: TurnContext, reason: str, attempts: int, said: str
    ) -> AsyncGenerator[ResponseEvent, None]:
        options = self._options
        name = self._fallback_factory.name
        report_provider_event(
            "fallback", {"stage": "llm", "from": self._primary_name, "to": name, "reason": reason}
        )
        if said.strip():
            # The caller heard the start of a reply; close it off rather than run it on.
            close = "" if _SENTENCE_END.search(said) else "."
            yield TextDelta(f"{close} {options.mid_reply_notice} ")
        try:
            async for event in self.fallback.respond(context):
                yield event
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("call %s: fallback responder %s failed", self.call.call_id, name)
            report_provider_event(
                "provider_error",
                {"stage": "llm", "provider": name, "error": describe(exc), "attempt": 1},
            )
            self.failed_turns += 1
            if self.failed_turns >= options.max_failed_turns:
                report_provider_event("callback_offered", {"reason": "responders failing"})
                yield TextDelta(options.callback_line)
                yield EndCall("callback_offered")
            else:
                yield TextDelta(options.failure_line)
            return
        self.failed_turns = 0
        self._answered_by(name, context, attempts)

    def _answered_by(self, provider: str, context: TurnContext, attempts: int) -> None:
        report_provider_event(
            "responder",
            {"provider": provider, "trigger": context.trigger, "attempts": attempts},
        )


class FallbackResponderFactory:
    """Creates per-call `FallbackResponder`s; the breaker is shared by all calls.

    Other attributes (e.g. a flow factory's data, hooks or `close`) are the primary's, so the
    chain can stand where the primary factory stood.

    Args:
        primary: the preferred factory, typically an LLM.
        fallback: the factory the server would use without an LLM (deterministic flows).
        options: deadlines, lines, breaker thresholds.
    """

    def __init__(
        self,
        primary: ResponderFactory,
        fallback: ResponderFactory,
        options: LlmFallbackOptions | None = None,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.options = options or LlmFallbackOptions()
        self.breaker = CircuitBreaker(self.options.breaker)
        self.name = primary.name

    def for_call(self, call: CallInfo) -> FallbackResponder:
        """Returns the responder chain that will serve `call`."""
        return FallbackResponder(
            call,
            self.primary.for_call(call),
            self.primary.name,
            self.fallback,
            self.options,
            self.breaker,
        )

    def phrases(self) -> list[str]:
        """Fixed lines of both responders and of the chain, for pre-synthesis."""
        lines: list[str] = []
        for factory in (self.primary, self.fallback):
            if isinstance(factory, HasPhrases):
                lines += list(_strings(factory.phrases()))
        options = self.options
        lines += [options.mid_reply_notice, options.failure_line, options.callback_line]
        return list(dict.fromkeys(lines))

    def __getattr__(self, name: str) -> Any:
        if name == "primary":  # not yet set (e.g. during copying): no recursion
            raise AttributeError(name)
        return getattr(self.primary, name)


def _strings(values: Iterable[Any]) -> Iterable[str]:
    return (v for v in values if isinstance(v, str))
