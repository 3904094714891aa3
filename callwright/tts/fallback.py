"""A synthesizer that falls back to a second one when the first fails.

Chains nest: FallbackTts(remote, FallbackTts(piper, espeak)) tries a remote voice, then Piper,
then espeak-ng. Each failure and fallback is recorded on the call it happened in
(core/provider_events.py); with a circuit breaker, a primary that keeps failing is skipped
for a while instead of costing every sentence its deadline.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import numpy as np
import soxr

from callwright.core.provider_events import describe, report_provider_event
from callwright.resilience import CircuitBreaker
from callwright.tts.base import TextToSpeech, TtsError

logger = logging.getLogger(__name__)


class FallbackTts:
    """Speaks with `primary`; if it fails before producing audio, speaks with `fallback`.

    A failure after some audio has been yielded cannot be hidden (the caller has already
    heard part of the text, and repeating it in another voice would be worse), so it is
    raised as TtsError. The fallback's audio is resampled to the primary's rate, so callers
    see a single sample rate whatever voice spoke.

    Attributes:
        name: the primary's name.
        sample_rate: the primary's sample rate.
        accepts_ssml: whether both voices read SSML.
    """

    def __init__(
        self,
        primary: TextToSpeech,
        fallback: TextToSpeech,
        on_fallback: Callable[[str, BaseException], None] | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        """Wraps two providers.

        Args:
            primary: the preferred voice.
            fallback: the voice used when the primary fails (typically EspeakTts).
            on_fallback: called with the text and the primary's exception each time the
                fallback is used, e.g. to count degradations; its own errors are logged and
                ignored so that a metrics hook can never silence the agent.
            breaker: skips the primary while it keeps failing (none: always try it).
        """
        self.primary = primary
        self.fallback = fallback
        self.on_fallback = on_fallback
        self.breaker = breaker
        self.name = primary.name
        self.sample_rate = primary.sample_rate
        # SSML only if both read it: the fallback may speak any text the primary was given.
        self.accepts_ssml = all(getattr(t, "accepts_ssml", False) for t in (primary, fallback))

    async def synthesize(self, text: str) -> AsyncGenerator[np.ndarray, None]:
        """Yields int16 mono audio at the primary's rate.

        Args:
            text: the text to speak.

        Raises:
            TtsError: the primary failed after yielding audio, or both providers failed.
        """
        primary_error: BaseException
        if self.breaker is not None and not self.breaker.allow():
            primary_error = TtsError(f"{self.primary.name} skipped: circuit open")
        else:
            stream = self.primary.synthesize(text)
            yielded = False
            settled = False  # the breaker has been told how this attempt went
            try:
                while True:
                    try:
                        chunk = await anext(stream)
                    except StopAsyncIteration:
                        return
                    except Exception as exc:
                        self._primary_failed(exc, mid_utterance=yielded)
                        settled = True
                        if yielded:
                            if isinstance(exc, TtsError):
                                raise
                            raise TtsError(
                                f"{self.primary.name} failed mid-utterance: {exc}"
                            ) from exc
                        primary_error = exc
                        break
                    if not yielded and self.breaker is not None:
                        self.breaker.success()
                        settled = True
                    yielded = True
                    yield chunk
            finally:
                if not settled and self.breaker is not None:
                    self.breaker.abandon()  # the caller stopped listening (barge-in)
                # Stops the primary's work now if our caller stopped listening (barge-in).
                await _aclose(stream)
        # The length only: the text is the agent's words after speech normalization (numbers
        # and dates spelled out), which the log's pattern-based redaction cannot recognise.
        logger.warning(
            "%s failed on %d characters of text, speaking with %s instead: %s",
            self.primary.name,
            len(text),
            self.fallback.name,
            primary_error,
        )
        report_provider_event(
            "fallback",
            {
                "stage": "tts",
                "from": self.primary.name,
                "to": self.fallback.name,
                "reason": describe(primary_error),
            },
        )
        self._notify(text, primary_error)
        stream = self._fallback_audio(text)
        try:
            async for chunk in stream:
                yield chunk
        except Exception as exc:
            raise TtsError(
                f"{self.primary.name} failed ({primary_error}) and so did "
                f"{self.fallback.name} ({exc})"
            ) from exc
        finally:
            await _aclose(stream)

    def _primary_failed(self, exc: BaseException, mid_utterance: bool) -> None:
        if self.breaker is not None:
            self.breaker.failure()
        report_provider_event(
            "provider_error",
            {
                "stage": "tts",
                "provider": self.primary.name,
                "error": describe(exc),
                "mid_utterance": mid_utterance,
            },
        )

    def _notify(self, text: str, exc: BaseException) -> None:
        if self.on_fallback is None:
            return
        try:
            self.on_fallback(text, exc)
        except Exception:
            logger.exception("on_fallback callback failed")

    async def _fallback_audio(self, text: str) -> AsyncIterator[np.ndarray]:
        if self.fallback.sample_rate == self.sample_rate:
            stream = self.fallback.synthesize(text)
            try:
                async for chunk in stream:
                    yield chunk
            finally:
                await _aclose(stream)
            return
        # One stream across chunks: resampling each chunk on its own would click at the seams.
        resampler = soxr.ResampleStream(
            self.fallback.sample_rate, self.sample_rate, num_channels=1, dtype="int16"
        )
        stream = self.fallback.synthesize(text)
        try:
            async for chunk in stream:
                out = resampler.resample_chunk(np.asarray(chunk, dtype=np.int16))
                if out.size:
                    yield out
        finally:
            await _aclose(stream)
        tail = resampler.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
        if tail.size:
            yield tail


async def _aclose(stream: AsyncIterator[np.ndarray]) -> None:
    # The Protocol promises only an AsyncIterator; async generators also have aclose().
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
