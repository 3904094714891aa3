"""Loading the shared stack once per process."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterable

from callwright.agent.sentences import SentenceBuffer
from callwright.agent.stack import AgentStack, SpokenLanguage
from callwright.agents.build import build_responders, escalation_for, runtime_for
from callwright.agents.definition import Agent
from callwright.config import Settings
from callwright.core.responder import EmitsEvents, HasPhrases, HasVocabulary
from callwright.handoff.open import open_desk
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
    codes = agent.language_codes()
    if len(codes) > 1 and settings.stt.model.endswith(".en"):
        raise ValueError(
            f"agent {agent.name!r} speaks {', '.join(codes)}: that needs the multilingual "
            f"recognizer (stt_model='base' or CALLWRIGHT_STT_MODEL=base); {settings.stt.model} "
            "hears English only"
        )
    vad = await asyncio.to_thread(SileroVadModel.load)
    stt_options = WhisperOptions(
        model=settings.stt.model,
        window=settings.stt.window,
        workers=settings.stt.workers,
        cpu_threads=settings.stt.cpu_threads,
        solo_threads=settings.stt.solo_threads,
        language=agent.language,
    )
    stt = await asyncio.to_thread(WhisperStt.load, stt_options)
    await stt.warm_up()
    local_tts = await _load_tts(settings.tts, agent.voice)
    tts = CachedTts(with_remote_tts(local_tts, settings.degradation))
    # The store first: integrations (the webhook outbox) may keep their state in it.
    store = await open_store(settings.store_path, settings.store_env)
    observability = Observability(settings.observe, tracer=CallTracer.from_env())
    install_log_redaction(observability.redactor)
    worker_id = settings.worker.worker_id or f"{socket.gethostname()}:{settings.port}"
    orphans = await store.register_worker(worker_id)
    # Other workers' calls only once their heartbeat is stale: they may be alive and talking.
    orphans += await store.mark_orphans_cut_off(settings.worker.stale_after_s)
    if orphans:
        log.warning("marked %d calls of stopped workers as cut off", orphans)
    desk = await open_desk(store, settings.worker.stale_after_s)
    responders = await build_responders(agent, runtime_for(settings, store=store))
    vocabulary = [*agent.vocabulary, *(w for s in agent.languages for w in s.vocabulary)]
    if isinstance(responders, HasVocabulary):
        vocabulary += responders.vocabulary()
    if vocabulary:
        # The agent's names and terms bias the recogniser (bench/stt_vocabulary.py).
        stt.set_vocabulary(vocabulary)
    phrases = responders.phrases() if isinstance(responders, HasPhrases) else []
    speech = SpeechNormalizer(lexicon=agent.pronunciations, date_order=settings.date_order)
    # Lines of the other languages are pre-synthesized in their own voices (below).
    others = {p for spoken in agent.languages for p in spoken.phrases}
    own = [p for p in [*phrases, *agent.phrases] if p not in others]
    if agent.session_lines is not None:
        own += agent.session_lines.all()
    await tts.prewarm(speakable_pieces(own, speech, accepts_ssml(tts)))
    languages = await _other_languages(agent, settings)
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
        desk=desk,
        turns=settings.turns,
        patience=settings.patience,
        observability=observability,
        speech=speech,
        limits=settings.limits.call,
        echo_canceller=settings.echo_canceller,
        silence=agent.silence or settings.silence,
        language=agent.language,
        languages=languages,
        session_lines=agent.session_lines_by_language(),
    )


async def _other_languages(agent: Agent, settings: Settings) -> dict[str, SpokenLanguage]:
    """The voices of the agent's other languages (espeak-ng: Piper speaks English only here),
    each with its phrases pre-synthesized."""
    languages: dict[str, SpokenLanguage] = {}
    for spoken in agent.languages:
        voice = with_remote_tts(EspeakTts(voice=spoken.voice or spoken.code), settings.degradation)
        tts = CachedTts(voice)
        speech = SpeechNormalizer(agent.pronunciations, spoken.date_order, spoken.code)
        lines = [*spoken.phrases, *([spoken.greeting] if spoken.greeting else [])]
        lines += spoken.lines.all() if spoken.lines is not None else []
        lines += spoken.session_lines.all() if spoken.session_lines is not None else []
        await tts.prewarm(speakable_pieces(lines, speech, accepts_ssml(tts)))
        languages[spoken.code] = SpokenLanguage(tts, speech)
    return languages


async def load_named_agents(
    settings: Settings, served: AgentStack, specs: dict[str, str]
) -> dict[str, AgentStack]:
    """The configured agents a campaign may pick (`server/agents.py`), each on the served
    stack's models and store with its own responder, escalation and events.

    Raises:
        AgentLoadError: a spec that does not load.
    """
    from callwright.agents.loading import load_agent
    from callwright.server.agents import agent_stack

    stacks: dict[str, AgentStack] = {}
    for name, spec in specs.items():
        agent = load_agent(spec)
        responders = await build_responders(agent, runtime_for(settings, store=served.store))
        stacks[name] = agent_stack(
            served,
            responders=with_llm_fallback(responders, settings),
            events=responders.emit if isinstance(responders, EmitsEvents) else None,
            escalation=escalation_for(agent),
            silence=agent.silence or served.silence,
            session_lines=agent.session_lines_by_language(),
        )
        log.info("agent %r for campaigns: %s (%s)", name, agent.name, responders.name)
    return stacks
