"""Putting the fallback chains around the loaded providers, as the settings say.

With nothing remote configured every function returns what it was given, so the embedded
stack stays exactly as it is.
"""

from __future__ import annotations

import logging

from callwright.config import DegradationSettings, Settings
from callwright.core.responder import HasDeterministicFallback, ResponderFactory
from callwright.llm.fallback import FallbackResponderFactory
from callwright.resilience import CircuitBreaker
from callwright.stt.base import SpeechToText
from callwright.stt.fallback import FallbackStt
from callwright.stt.openai_compat import OpenAICompatStt
from callwright.tts.base import TextToSpeech
from callwright.tts.fallback import FallbackTts
from callwright.tts.openai_compat import OpenAICompatTts

log = logging.getLogger(__name__)


def with_remote_stt(local: SpeechToText, settings: DegradationSettings) -> SpeechToText:
    """The remote recognizer in front of `local` (the embedded Whisper), if one is configured."""
    if settings.stt is None:
        return local
    remote = OpenAICompatStt(settings.stt, sample_rate=local.sample_rate)
    log.info("speech recognition: %s, falling back to %s", remote.name, local.name)
    return FallbackStt(remote, local, settings.stt_fallback)


def with_remote_tts(local: TextToSpeech, settings: DegradationSettings) -> TextToSpeech:
    """The remote voice in front of `local` (Piper → espeak-ng), if one is configured.

    Put the phrase cache around the result, so cached phrases are in the remote voice.
    """
    if settings.tts is None:
        return local
    remote = OpenAICompatTts(settings.tts)
    log.info("speech synthesis: %s, falling back to %s", remote.name, local.name)
    return FallbackTts(remote, local, breaker=CircuitBreaker(settings.tts_breaker))


def with_llm_fallback(responders: ResponderFactory, settings: Settings) -> ResponderFactory:
    """The deterministic flow behind an LLM responder; other responders are returned as is.

    The flow is what the responder factory offers as its fallback (`HasDeterministicFallback`):
    the same agent without the model, sharing the LLM path's data.
    """
    if settings.llm is None or isinstance(responders, FallbackResponderFactory):
        return responders
    if not isinstance(responders, HasDeterministicFallback):
        log.warning("no deterministic flow known behind %s: no LLM fallback", responders.name)
        return responders
    flow = responders.deterministic()
    log.info("responder: %s, falling back to %s", responders.name, flow.name)
    return FallbackResponderFactory(responders, flow, settings.degradation.llm_fallback)
