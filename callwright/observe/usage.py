"""Per-call usage by layer, and what it costs under a configurable price table.

Usage is counted where the work happens: per-call wrappers around the shared speech recognizer,
synthesizer and responder factory (`MeteredStt`, `MeteredTts`, `MeteredResponder`) add to the
call's `UsageMeter`. A wrapper also reports each failure of its provider (errors by provider).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from callwright.core import env as read
from callwright.core.responder import (
    CallInfo,
    ExpectedAnswer,
    ExpectsAnswer,
    HasHandoffFacts,
    Preempts,
    PreviewsReply,
    Responder,
    ResponseEvent,
    TextDelta,
    TokenUsage,
    TurnContext,
)
from callwright.store.base import Usage
from callwright.stt.base import DetectsLanguage, SpeechToText, Transcript
from callwright.stt.deadline import TranscriptionSkipped
from callwright.tts.base import TextToSpeech

# Rough tokens per character of English text, for responders that report no token counts.
CHARS_PER_TOKEN = 4.0

OnError = Callable[[str, str, BaseException], None]  # (stage, provider, error)


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Prices per unit of each layer, in one currency (USD by default).

    Attributes:
        stt_per_minute: per minute of audio transcribed.
        tts_per_1k_chars: per thousand characters synthesized.
        llm_per_1k_prompt_tokens: per thousand prompt tokens.
        llm_per_1k_completion_tokens: per thousand completion tokens.
        telephony_per_minute: per minute of call, by channel (channels not listed are free).
    """

    stt_per_minute: float = 0.006
    tts_per_1k_chars: float = 0.015
    llm_per_1k_prompt_tokens: float = 0.0005
    llm_per_1k_completion_tokens: float = 0.0015
    telephony_per_minute: Mapping[str, float] = field(
        default_factory=lambda: {"twilio": 0.0085, "telnyx": 0.007, "plivo": 0.0085}
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PriceTable:
        """Reads CALLWRIGHT_PRICES: JSON (or a path to a JSON file) overriding any field."""
        env = os.environ if env is None else env
        raw = read.text(env, "CALLWRIGHT_PRICES")
        if not raw:
            return cls()
        try:
            if not raw.startswith("{"):
                with open(raw, encoding="utf-8") as f:
                    raw = f.read()
            data = json.loads(raw)
        except (OSError, ValueError) as exc:
            raise ValueError(f"CALLWRIGHT_PRICES must be JSON or a JSON file: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError("CALLWRIGHT_PRICES must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"CALLWRIGHT_PRICES: unknown fields {sorted(unknown)}")
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Cost:
    """A call's cost by layer."""

    stt: float
    tts: float
    llm: float
    telephony: float

    @property
    def total(self) -> float:
        return self.stt + self.tts + self.llm + self.telephony

    def to_dict(self) -> dict[str, float]:
        values = {"stt": self.stt, "tts": self.tts, "llm": self.llm, "telephony": self.telephony}
        return {k: round(v, 6) for k, v in {**values, "total": self.total}.items()}


def cost_of(usage: Usage, duration_s: float | None, channel: str, prices: PriceTable) -> Cost:
    """Prices a call's usage; telephony is charged on the call's duration by channel."""
    llm = (
        usage.llm_prompt_tokens * prices.llm_per_1k_prompt_tokens
        + usage.llm_completion_tokens * prices.llm_per_1k_completion_tokens
    ) / 1000.0
    per_minute = prices.telephony_per_minute.get(channel, 0.0)
    return Cost(
        stt=usage.stt_audio_s / 60.0 * prices.stt_per_minute,
        tts=usage.tts_chars / 1000.0 * prices.tts_per_1k_chars,
        llm=llm,
        telephony=(duration_s or 0.0) / 60.0 * per_minute,
    )


class UsageMeter:
    """A call's running usage totals (one per call; only the event loop touches it)."""

    def __init__(self) -> None:
        self._stt_s = 0.0
        self._tts_chars = 0
        self._prompt = 0
        self._completion = 0
        self.version = 0  # bumped on every change, so writers know when to save

    def add_stt(self, seconds: float) -> None:
        self._stt_s += seconds
        self.version += 1

    def add_tts(self, chars: int) -> None:
        self._tts_chars += chars
        self.version += 1

    def add_llm(self, prompt_tokens: int, completion_tokens: int) -> None:
        self._prompt += prompt_tokens
        self._completion += completion_tokens
        self.version += 1

    def snapshot(self) -> Usage:
        return Usage(round(self._stt_s, 3), self._tts_chars, self._prompt, self._completion)


class MeteredStt:
    """A call's view of the shared recognizer: counts audio seconds and failures."""

    def __init__(self, inner: SpeechToText, meter: UsageMeter, on_error: OnError) -> None:
        self._inner = inner
        self._meter = meter
        self._on_error = on_error
        self.name = inner.name
        self.sample_rate = inner.sample_rate

    async def transcribe(self, samples: np.ndarray) -> Transcript:
        self._meter.add_stt(samples.size / self.sample_rate)
        try:
            return await self._inner.transcribe(samples)
        except TranscriptionSkipped:
            raise  # not a failure: an optional look the busy recogniser had no time for
        except Exception as exc:
            self._on_error("stt", self.name, exc)
            raise

    async def transcribe_detecting(
        self, samples: np.ndarray, languages: Sequence[str], current: str
    ) -> Transcript:
        """The inner recognizer's language detection, metered (plain transcription when it
        has none)."""
        self._meter.add_stt(samples.size / self.sample_rate)
        inner = self._inner
        try:
            if isinstance(inner, DetectsLanguage):
                return await inner.transcribe_detecting(samples, languages, current)
            return await inner.transcribe(samples)
        except TranscriptionSkipped:
            raise
        except Exception as exc:
            self._on_error("stt", self.name, exc)
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class MeteredTts:
    """A call's view of the shared synthesizer: counts characters and failures."""

    def __init__(self, inner: TextToSpeech, meter: UsageMeter, on_error: OnError) -> None:
        self._inner = inner
        self._meter = meter
        self._on_error = on_error
        self.name = inner.name
        self.sample_rate = inner.sample_rate
        self.accepts_ssml = bool(getattr(inner, "accepts_ssml", False))

    async def synthesize(self, text: str) -> AsyncIterator[np.ndarray]:
        self._meter.add_tts(len(text))
        try:
            async for chunk in self._inner.synthesize(text):
                yield chunk
        except Exception as exc:
            self._on_error("tts", self.name, exc)
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class MeteredResponder:
    """Counts a responder's tokens (estimated from characters when it reports none).

    `TokenUsage` events (the server's own counts) make the counts exact; deterministic
    responders (`counts_tokens=False`) cost nothing.
    """

    def __init__(
        self,
        inner: Responder,
        meter: UsageMeter,
        on_error: OnError,
        provider: str,
        counts_tokens: bool,
    ) -> None:
        self._inner = inner
        self._meter = meter
        self._on_error = on_error
        self._provider = provider
        self._counts = counts_tokens

    def handoff_facts(self) -> dict[str, Any] | None:
        """The wrapped responder's facts for a handoff (`HandoffFacts`), if it has any."""
        inner = self._inner
        return inner.handoff_facts() if isinstance(inner, HasHandoffFacts) else None

    def expected_answer(self) -> ExpectedAnswer | None:
        """The wrapped responder's open question (`ExpectsAnswer`), if it tells."""
        inner = self._inner
        return inner.expected_answer() if isinstance(inner, ExpectsAnswer) else None

    def prepare(self, context: TurnContext | None) -> None:
        """Lets the wrapped responder start on a probable turn (`Preempts`), if it can."""
        if isinstance(self._inner, Preempts):
            self._inner.prepare(context)

    async def preview(self) -> AsyncIterator[str]:
        """The wrapped responder's prepared reply as it is written (`PreviewsReply`), if any."""
        if isinstance(self._inner, PreviewsReply):
            async for text in self._inner.preview():
                yield text

    def has_preview(self) -> bool:
        """Whether the wrapped responder prepared a reply it can preview (`PreviewsReply`)."""
        inner = self._inner
        return isinstance(inner, PreviewsReply) and inner.has_preview()

    async def respond(self, context: TurnContext) -> AsyncIterator[ResponseEvent]:
        completion_chars = 0
        exact = False
        try:
            async for event in self._inner.respond(context):
                if isinstance(event, TokenUsage):
                    exact = True
                    self._meter.add_llm(event.prompt_tokens, event.completion_tokens)
                if isinstance(event, TextDelta):
                    completion_chars += len(event.text)
                yield event
        except Exception as exc:
            self._on_error("llm", self._provider, exc)
            raise
        finally:
            if self._counts and not exact:
                prompt_chars = sum(len(m.content) for m in context.history)
                self._meter.add_llm(
                    round(prompt_chars / CHARS_PER_TOKEN),
                    round(completion_chars / CHARS_PER_TOKEN),
                )


class MeteredResponderFactory:
    """Wraps a call's responder in a `MeteredResponder`."""

    def __init__(self, inner: Any, meter: UsageMeter, on_error: OnError) -> None:
        self._inner = inner
        self._meter = meter
        self._on_error = on_error
        self.name: str = inner.name
        # Deterministic flows run no language model; a factory may say so with `uses_llm`.
        guess = "llm" in self.name or "openai" in self.name
        self._counts_tokens = bool(getattr(inner, "uses_llm", guess))

    def for_call(self, call: CallInfo) -> Responder:
        responder = self._inner.for_call(call)
        return MeteredResponder(
            responder, self._meter, self._on_error, self.name, self._counts_tokens
        )
