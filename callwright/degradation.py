"""Settings of remote providers and of the fallback chains that keep a call going without them.

Nothing here is on by default: with no CALLWRIGHT_STT_BASE_URL or CALLWRIGHT_TTS_BASE_URL the
embedded models serve alone, exactly as before. With an LLM configured
(CALLWRIGHT_LLM_BASE_URL), the deterministic flow stands behind it.

Environment variables:
    CALLWRIGHT_STT_BASE_URL: an OpenAI-compatible API root (".../v1") for transcription.
    CALLWRIGHT_STT_API_KEY, CALLWRIGHT_STT_REMOTE_MODEL (default "whisper-1"),
    CALLWRIGHT_STT_LANGUAGE (default "en"; empty lets the server detect it).
    CALLWRIGHT_STT_DEADLINE_MS: how long a remote transcription may take, retry included,
        before the embedded Whisper takes over (default 800).
    CALLWRIGHT_TTS_BASE_URL: an OpenAI-compatible API root for speech.
    CALLWRIGHT_TTS_API_KEY, CALLWRIGHT_TTS_REMOTE_MODEL (default "tts-1"),
    CALLWRIGHT_TTS_VOICE (default "alloy"), CALLWRIGHT_TTS_FORMAT ("pcm" or "wav").
    CALLWRIGHT_TTS_FIRST_AUDIO_MS: the remote voice's deadline for its first audio (800).
    CALLWRIGHT_LLM_FIRST_TOKEN_MS: the LLM's budget for its first token, retry included, before
        the flow answers the turn (default 1000).
    CALLWRIGHT_LLM_STALL_MS: the longest silence of an LLM stream once started (1200).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from callwright.llm.fallback import LlmFallbackOptions
from callwright.resilience import BreakerOptions
from callwright.stt.fallback import SttFallbackOptions
from callwright.stt.openai_compat import RemoteSttOptions
from callwright.tts.openai_compat import RemoteTtsOptions


@dataclass(frozen=True, slots=True)
class DegradationSettings:
    """Remote providers (None: not used) and the deadlines of the chains around them.

    Attributes:
        stt: a remote recognizer, with the embedded Whisper as its fallback.
        tts: a remote voice, with the embedded voice chain (Piper, espeak-ng) as its fallback.
        stt_fallback: deadlines and breaker of the recognizer chain.
        llm_fallback: deadlines, lines and breaker of the LLM → flow chain.
        tts_breaker: when to stop trying a remote voice that keeps failing.
    """

    stt: RemoteSttOptions | None = None
    tts: RemoteTtsOptions | None = None
    stt_fallback: SttFallbackOptions = field(default_factory=SttFallbackOptions)
    llm_fallback: LlmFallbackOptions = field(default_factory=LlmFallbackOptions)
    tts_breaker: BreakerOptions = field(default_factory=BreakerOptions)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DegradationSettings:
        """Reads the CALLWRIGHT_* variables listed in the module docstring.

        Raises:
            ValueError: a value is malformed.
        """
        env = os.environ if env is None else env
        base = cls()
        stt = None
        if env.get("CALLWRIGHT_STT_BASE_URL"):
            stt = RemoteSttOptions(
                base_url=env["CALLWRIGHT_STT_BASE_URL"],
                model=env.get("CALLWRIGHT_STT_REMOTE_MODEL", "whisper-1"),
                api_key=env.get("CALLWRIGHT_STT_API_KEY") or None,
                language=env.get("CALLWRIGHT_STT_LANGUAGE", "en") or None,
            )
        stt_fallback = base.stt_fallback
        if env.get("CALLWRIGHT_STT_DEADLINE_MS"):
            budget = _positive(env, "CALLWRIGHT_STT_DEADLINE_MS")
            stt_fallback = replace(stt_fallback, budget_ms=budget, attempt_ms=budget * 0.875)
        tts = None
        if env.get("CALLWRIGHT_TTS_BASE_URL"):
            fmt = env.get("CALLWRIGHT_TTS_FORMAT", "pcm")
            if fmt not in ("pcm", "wav"):
                raise ValueError("CALLWRIGHT_TTS_FORMAT must be 'pcm' or 'wav'")
            tts = RemoteTtsOptions(
                base_url=env["CALLWRIGHT_TTS_BASE_URL"],
                model=env.get("CALLWRIGHT_TTS_REMOTE_MODEL", "tts-1"),
                voice=env.get("CALLWRIGHT_TTS_VOICE", "alloy"),
                api_key=env.get("CALLWRIGHT_TTS_API_KEY") or None,
                response_format=fmt,  # type: ignore[arg-type]
            )
            if env.get("CALLWRIGHT_TTS_FIRST_AUDIO_MS"):
                first = _positive(env, "CALLWRIGHT_TTS_FIRST_AUDIO_MS")
                tts = replace(tts, first_audio_ms=first)
        llm_fallback = base.llm_fallback
        if env.get("CALLWRIGHT_LLM_FIRST_TOKEN_MS"):
            first = _positive(env, "CALLWRIGHT_LLM_FIRST_TOKEN_MS")
            llm_fallback = replace(llm_fallback, first_event_ms=first)
        if env.get("CALLWRIGHT_LLM_STALL_MS"):
            llm_fallback = replace(llm_fallback, stall_ms=_positive(env, "CALLWRIGHT_LLM_STALL_MS"))
        return cls(stt=stt, tts=tts, stt_fallback=stt_fallback, llm_fallback=llm_fallback)


def _positive(env: Mapping[str, str], name: str) -> float:
    try:
        value = float(env[name])
    except ValueError as exc:
        raise ValueError(f"{name} must be a number of milliseconds") from exc
    if value <= 0:
        raise ValueError(f"{name} must be positive")
    return value
