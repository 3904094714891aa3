"""A recognizer chain: a remote provider under a watchdog, the embedded Whisper behind it.

A request to the primary that has not answered by its deadline is abandoned (its connection
closed), retried once if the turn's budget still has room for an attempt, and otherwise the
fallback transcribes the same audio. A failing primary opens a circuit breaker, so while it is
down calls go straight to the fallback instead of paying the deadline on every turn. Each
failure and fallback is recorded on the call it happened in (core/provider_events.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import numpy as np

from callwright.audio.resample import resample
from callwright.core.provider_events import describe, report_provider_event
from callwright.resilience import (
    BreakerOptions,
    CircuitBreaker,
    ProviderStalled,
    deadline_in,
    remaining_ms,
)
from callwright.stt.base import HasQueue, SpeechToText, Transcript

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SttFallbackOptions:
    """Deadlines of the chain, in milliseconds of wall time from the request.

    The defaults keep a stalled remote recognizer from costing more than ~0.8 s before the
    embedded model starts, so the caller still hears an answer within about two seconds of
    the end of their speech.

    Attributes:
        attempt_ms: an attempt that has not answered by then is abandoned (the watchdog).
        budget_ms: all attempts at the primary must end by then; the fallback starts at the
            latest at this point.
        min_attempt_ms: a retry is made only if at least this much of the budget is left.
        breaker: when to stop trying a primary that keeps failing.
    """

    attempt_ms: float = 700.0
    budget_ms: float = 800.0
    min_attempt_ms: float = 250.0
    breaker: BreakerOptions = field(default_factory=BreakerOptions)


class FallbackStt:
    """Transcribes with `primary`, falling back to `fallback`; shared by every call.

    Args:
        primary: the preferred recognizer (typically OpenAICompatStt).
        fallback: the recognizer that must always work (the embedded WhisperStt).
        options: deadlines and breaker thresholds.

    Attributes:
        name: "<primary>|<fallback>".
        sample_rate: the primary's rate; audio is resampled for a fallback with another rate.
        breaker: the primary's circuit breaker.
    """

    def __init__(
        self,
        primary: SpeechToText,
        fallback: SpeechToText,
        options: SttFallbackOptions | None = None,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.options = options or SttFallbackOptions()
        self.breaker = CircuitBreaker(self.options.breaker)
        self.name = f"{primary.name}|{fallback.name}"
        self.sample_rate = primary.sample_rate

    def queue_wait_ms(self, window_s: float) -> float:
        """The longer wait of the two recognizers' queues, where they have one (`HasQueue`):
        the embedded fallback's grows while the primary is down and it serves every call."""
        queues = [r for r in (self.primary, self.fallback) if isinstance(r, HasQueue)]
        return max((r.queue_wait_ms(window_s) for r in queues), default=0.0)

    async def close(self) -> None:
        """Closes the primary's connections; the fallback belongs to whoever loaded it."""
        close = getattr(self.primary, "close", None)
        if close is not None:
            result = close()
            if asyncio.iscoroutine(result):
                await result

    async def transcribe(self, samples: np.ndarray) -> Transcript:
        """Transcribes int16 mono samples at `sample_rate`.

        Raises:
            Exception: only what the fallback raises; the primary's failures are absorbed.
        """
        options = self.options
        deadline = deadline_in(options.budget_ms)
        reason = "circuit open"
        attempt = 0
        while self.breaker.allow():
            attempt += 1
            limit_ms = min(options.attempt_ms, remaining_ms(deadline))
            try:
                async with asyncio.timeout(limit_ms / 1000.0):
                    transcript = await self.primary.transcribe(samples)
            except asyncio.CancelledError:
                self.breaker.abandon()  # e.g. a speculative transcription the caller overtook
                raise
            except Exception as exc:
                error: BaseException = exc
                if isinstance(exc, TimeoutError):
                    error = ProviderStalled(self.primary.name, limit_ms, first=True)
                self.breaker.failure()
                reason = describe(error)
                log.warning("STT %s failed (attempt %d): %s", self.primary.name, attempt, reason)
                report_provider_event(
                    "provider_error",
                    {
                        "stage": "stt",
                        "provider": self.primary.name,
                        "error": reason,
                        "attempt": attempt,
                    },
                )
                if attempt >= 2 or remaining_ms(deadline) < options.min_attempt_ms:
                    break
                continue
            self.breaker.success()
            return transcript
        report_provider_event(
            "fallback",
            {"stage": "stt", "from": self.primary.name, "to": self.fallback.name, "reason": reason},
        )
        if self.fallback.sample_rate != self.sample_rate:
            samples = resample(
                np.asarray(samples, dtype=np.int16), self.sample_rate, self.fallback.sample_rate
            )
        return await self.fallback.transcribe(samples)
