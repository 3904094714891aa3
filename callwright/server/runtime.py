"""Loading the shared stack once per process."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterable

from callwright.agent.sentences import SentenceBuffer
from callwright.agent.stack import AgentStack
from callwright.agents.build import build_responders, escalation_for, runtime_for
from callwright.agents.definition import Agent
from callwright.config import Settings
from callwright.core.responder import EmitsEvents, HasPhrases, HasVocabulary
from callwright.handoff.packet import PacketSummarizer
from callwright.observe.observer import Observability
from callwright.observe.redact import install_log_redaction
from callwright.observe.tracing import CallTracer
from callwright.server.providers import with_llm_fallback, with_remote_stt, with_remote_tts
from callwright.store.open import open_store
from callwright.stt.whisper import WhisperOptions, WhisperStt
from callwright.tts.base import TextToSpeech
from callwright.tts.cache import CachedTts
from callwright.tts.espeak import EspeakTts
from callwright.tts.fallback import FallbackTts
from callwright.tts.normalize import SpeechNormalizer, accepts_ssml
from callwright.vad.silero import SileroVadModel

log = logging.getLogger(__name__)


def speakable_pieces(
    texts: Iterable[str], speech: SpeechNormalizer | None = None, ssml: bool = False
) -> list[str]:
    """What TTS will be asked for when these texts are replied: the sentence buffer's pieces,
    normalised by `speech` (if given) as a reply normalises them, so the cache keys match."""
    pieces: list[str] = []
    for text in texts:
        buffer = SentenceBuffer()
        pieces += buffer.push(text) + buffer.flush()
    if speech is None:
        return pieces
    return [speech.prepare(piece, ssml) for piece in pieces]


async def _load_tts(engine: str, voice: str | None = None) -> TextToSpeech:
    espeak = EspeakTts(voice=voice) if voice else EspeakTts()
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


async def load_stack(settings: Settings, agent: Agent) -> AgentStack:
    """Loads every model, the agent and the store; slow (seconds), done once per process.

    `settings` should already hold the agent's choices (`agents.build.settings_for`).
    """
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
    local_tts = await _load_tts(settings.tts, agent.voice)
    tts = CachedTts(with_remote_tts(local_tts, settings.degradation))
    responders = await build_responders(agent, runtime_for(settings))
    vocabulary = [*agent.vocabulary]
    if isinstance(responders, HasVocabulary):
        vocabulary += responders.vocabulary()
    if vocabulary:
        # The agent's names and terms bias the recogniser (bench/stt_vocabulary.py).
        stt.set_vocabulary(vocabulary)
    phrases = responders.phrases() if isinstance(responders, HasPhrases) else []
    speech = SpeechNormalizer(lexicon=agent.pronunciations, date_order=settings.date_order)
    await tts.prewarm(speakable_pieces([*phrases, *agent.phrases], speech, accepts_ssml(tts)))
    store = await open_store(settings.store_path, settings.store_env)
    observability = Observability(settings.observe, tracer=CallTracer.from_env())
    install_log_redaction(observability.redactor)
    worker_id = settings.worker.worker_id or f"{socket.gethostname()}:{settings.port}"
    orphans = await store.register_worker(worker_id)
    # Other workers' calls only once their heartbeat is stale: they may be alive and talking.
    orphans += await store.mark_orphans_cut_off(settings.worker.stale_after_s)
    if orphans:
        log.warning("marked %d calls of stopped workers as cut off", orphans)
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
        events=responders.emit if isinstance(responders, EmitsEvents) else None,
        escalation=escalation_for(agent),
        summarizer=_summarizer(settings),
        store=store,
        turns=settings.turns,
        patience=settings.patience,
        observability=observability,
        speech=speech,
        limits=settings.limits.call,
    )
