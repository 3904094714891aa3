"""One agent reply: responder stream → sentence buffer → TTS → playout, all overlapping."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from callwright.agent.playout import Playout
from callwright.agent.sentences import SentenceBuffer
from callwright.agent.silence import FillerOptions
from callwright.audio.resample import resample
from callwright.core.responder import EndCall, Responder, TextDelta, ToolResult, TurnContext
from callwright.core.timeline import TurnTimeline
from callwright.tts.base import TextToSpeech
from callwright.tts.normalize import SpeechNormalizer, accepts_ssml

log = logging.getLogger(__name__)

# Pieces up to this long are normalised on the loop (well under a millisecond); longer ones
# in a thread.
_NORMALIZE_INLINE_CHARS = 600
FALLBACK_APOLOGY = "Sorry, I'm having trouble on my end. Could you say that again?"


@dataclass(slots=True)
class ReplyResult:
    """What a finished (not interrupted) reply did."""

    text: str = ""
    end_call: EndCall | None = None
    tool_results: list[ToolResult] = field(default_factory=list)
    failed: bool = False


@dataclass(frozen=True, slots=True)
class ReplyDeps:
    """What a reply needs from its call."""

    tts: TextToSpeech
    playout: Playout
    now_ms: Callable[[], float]
    on_tool_result: Callable[[ToolResult], None] = lambda _result: None
    filler: FillerOptions | None = None
    # Pieces the caller already heard in full before interrupting the previous reply: a new
    # reply that starts with them skips them instead of repeating itself verbatim.
    already_heard: tuple[str, ...] = ()
    # Every piece passes through it on its way to TTS: written forms become spoken ones.
    speech: SpeechNormalizer = field(default_factory=SpeechNormalizer)


class Reply:
    """Produces and plays one reply. Cancel the task running `run()` to interrupt it.

    The responder's text is cut into speakable pieces as it streams; a second task synthesizes
    piece after piece and queues the audio, so the first sentence plays while the responder
    is still writing the rest.
    """

    def __init__(
        self, reply_id: int, responder: Responder, deps: ReplyDeps, timeline: TurnTimeline
    ) -> None:
        self.reply_id = reply_id
        self._responder = responder
        self._deps = deps
        self.timeline = timeline
        self.result = ReplyResult()
        self._pieces: asyncio.Queue[str | None] = asyncio.Queue()
        self._fillers: list[str] = []
        self._skip = list(deps.already_heard)
        self._skipped: list[str] = []
        self._emitted: list[str] = []
        self._answer_audio = False  # audio of the answer itself (not a filler) is queued

    async def run(self, context: TurnContext) -> ReplyResult:
        """Runs the reply to the end of its playback."""
        playout = self._deps.playout
        playout.begin_reply(self.reply_id)
        synth = asyncio.create_task(self._synthesize(), name=f"tts-{self.reply_id}")
        filler = None
        if self._deps.filler is not None and context.trigger != "call_start":
            filler = asyncio.create_task(self._fill(self._deps.filler))
        try:
            await self._produce(context)
            await synth
            playout.close_reply()
            await playout.wait_drained()
        finally:
            for task in (synth, filler):
                if task is not None and not task.done():
                    task.cancel()
        if self._fillers:
            self.result.text = " ".join([*self._fillers, self.result.text]).strip()
        return self.result

    async def _fill(self, options: FillerOptions) -> None:
        """Speaks fillers while the answer is slow, so the caller never waits in silence."""
        await asyncio.sleep(options.first_after_ms / 1000.0)
        for index in range(options.max_fillers):
            # Pieces play in order: once the answer has text queued, a filler would only
            # follow it (e.g. after a policy line that ends the call, on a slow voice).
            if self._answer_audio or self._emitted:
                return
            phrase = options.phrases[min(index, len(options.phrases) - 1)]
            self._fillers.append(phrase)
            self._pieces.put_nowait(phrase)
            await asyncio.sleep(options.again_after_ms / 1000.0)

    async def _produce(self, context: TurnContext) -> None:
        buffer = SentenceBuffer()
        texts: list[str] = []
        try:
            async for event in self._responder.respond(context):
                if isinstance(event, TextDelta):
                    self.timeline.mark("first_token_ms", self._deps.now_ms())
                    texts.append(event.text)
                    for piece in buffer.push(event.text):
                        self._emit(piece)
                elif isinstance(event, ToolResult):
                    self.result.tool_results.append(event)
                    self._deps.on_tool_result(event)
                elif isinstance(event, EndCall):
                    self.result.end_call = event
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("reply %d: responder failed", self.reply_id)
            self.result.failed = True
            buffer = SentenceBuffer()
            texts = [FALLBACK_APOLOGY]
            self._emit(FALLBACK_APOLOGY)
        for piece in buffer.flush():
            self._emit(piece)
        self.result.text = " ".join(self._emitted) if self._skipped else "".join(texts).strip()
        self._pieces.put_nowait(None)

    def _emit(self, piece: str) -> None:
        if self._skip and piece == self._skip[0]:
            self._skipped.append(self._skip.pop(0))
            return
        self._skip = []  # the reply went its own way: say everything from here on
        self._emitted.append(piece)
        self.timeline.mark("first_sentence_ms", self._deps.now_ms())
        self._pieces.put_nowait(piece)

    async def _spoken(self, piece: str, ssml: bool) -> str:
        """The piece as the voice should read it; as written if normalisation fails."""
        try:
            if len(piece) <= _NORMALIZE_INLINE_CHARS:
                return self._deps.speech.prepare(piece, ssml)
            # A runaway piece (no sentence end) must not hold the event loop.
            return await asyncio.to_thread(self._deps.speech.prepare, piece, ssml)
        except Exception:
            log.exception("reply %d: speech normalisation failed for a piece", self.reply_id)
            return piece

    async def _synthesize(self) -> None:
        tts, playout = self._deps.tts, self._deps.playout
        ssml = accepts_ssml(tts)
        while (piece := await self._pieces.get()) is not None:
            is_filler = piece in self._fillers
            # The piece (as written) labels the audio: history keeps what the reply wrote.
            spoken = await self._spoken(piece, ssml)
            try:
                async for chunk in tts.synthesize(spoken):
                    if not is_filler:
                        self._answer_audio = True
                        self.timeline.mark("tts_first_audio_ms", self._deps.now_ms())
                    playout.enqueue(resample(chunk, tts.sample_rate, playout.sample_rate), piece)
            except asyncio.CancelledError:
                raise
            except Exception:
                # One unspeakable piece must not silence the rest of the reply.
                log.exception("reply %d: TTS failed for a piece", self.reply_id)
