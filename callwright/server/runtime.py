"""Loading the shared stack once per process."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from callwright.agent.sentences import SentenceBuffer
from callwright.agent.stack import AgentStack
from callwright.clinic.setup import build_responders
from callwright.config import Settings
from callwright.handoff.packet import PacketSummarizer
from callwright.observe.observer import Observability
from callwright.observe.redact import install_log_redaction
from callwright.server.providers import with_llm_fallback, with_remote_stt, with_remote_tts
from callwright.store.open import open_store
from callwright.stt.whisper import WhisperOptions, WhisperStt
from callwright.tts.base import TextToSpeech
from callwright.tts.cache import CachedTts
from callwright.tts.espeak import EspeakTts
from callwright.tts.fallback import FallbackTts
from callwright.vad.silero import SileroVadModel

log = logging.getLogger(__name__)


def speakable_pieces(texts: Iterable[str]) -> list[str]:
    """The pieces the sentence buffer cuts these texts into: what TTS will be asked for."""
    pieces: list[str] = []
    for text in texts:
        buffer = SentenceBuffer()
        pieces += buffer.push(text) + buffer.flush()
    return pieces


async def _load_tts(engine: str) -> TextToSpeech:
    espeak = EspeakTts()
    if engine == "espeak":
        return espeak
    from callwright.tts.piper import PiperTts  # GPL: imported only when chosen

    piper = await asyncio.to_thread(PiperTts.load)
    await piper.warm_up()
    return FallbackTts(piper, espeak)


def _summarizer(settings: Settings) -> PacketSummarizer | None:
    """With an LLM configured, it also writes the handoff summaries."""
    if settings.llm is None:
        return None
    from callwright.handoff.summary import LlmSummarizer
    from callwright.llm.openai_compat import LlmOptions

    llm = settings.llm
    return LlmSummarizer(LlmOptions(llm.base_url, llm.model, llm.api_key))


async def load_stack(settings: Settings) -> AgentStack:
    """Loads every model and opens the store; slow (seconds), done once per process."""
    started = time.monotonic()
    vad = await asyncio.to_thread(SileroVadModel.load)
    stt_options = WhisperOptions(
        model=settings.stt.model,
        window=settings.stt.window,
        workers=settings.stt.workers,
        cpu_threads=settings.stt.cpu_threads,
    )
    stt = await asyncio.to_thread(WhisperStt.load, stt_options)
    await stt.warm_up()
    tts = CachedTts(with_remote_tts(await _load_tts(settings.tts), settings.degradation))
    responders = await build_responders(settings)
    vocabulary = getattr(responders, "vocabulary", None)
    if callable(vocabulary):
        # The agent's names and terms bias the recogniser (bench/stt_vocabulary.py).
        stt.set_vocabulary(vocabulary())
    await tts.prewarm(speakable_pieces(responders.phrases()))
    store = await open_store(settings.store_path)
    observability = Observability.from_env()
    install_log_redaction(observability.redactor)
    orphans = await store.mark_orphans_cut_off()
    if orphans:
        log.warning("marked %d calls from a previous worker as cut off", orphans)
    log.info(
        "stack ready in %.1f s: vad=silero stt=%s tts=%s responder=%s",
        time.monotonic() - started,
        stt.name,
        tts.name,
        responders.name,
    )
    return AgentStack(
        vad=vad,
        stt=with_remote_stt(stt, settings.degradation),
        tts=tts,
        responders=with_llm_fallback(responders, settings),
        events=responders.emit,
        summarizer=_summarizer(settings),
        store=store,
        turns=settings.turns,
        patience=settings.patience,
        observability=observability,
    )
