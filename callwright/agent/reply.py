"""One agent reply: responder stream → sentence buffer → TTS → playout, all overlapping."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import numpy as np

from callwright.agent.first_words import first_words, rest_after
from callwright.agent.head_start import (
    FIRST_PHRASE_WORDS,
    NORMALIZE_INLINE_CHARS,
    HeadStart,
    read_as_clause,
    spoken_text,
)
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
_NORMALIZE_INLINE_CHARS = NORMALIZE_INLINE_CHARS
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
    # The first piece of this reply as the prepared reply wrote it, synthesized while the
    # turn was being decided: played at once if the reply's first piece is the same text.
    head_start: HeadStart | None = None


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
        self._head_start = deps.head_start
        self._head_offered = False  # the answer's first piece went to the head start
        # The head start's first words, when the answer began with them: emitted as a piece
        # of their own (their audio is ready first), the first piece then emits its rest.
        self._head_words: str | None = None
        self._words_asked = False
        self._as_clause: set[str] = set()  # pieces the voice reads as a clause
        self._first_piece: str | None = None  # the whole first piece, once its rest is out
        self._buffer = SentenceBuffer()  # this reply's, once it runs

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
            if self._head_start is not None:  # settled: used (and played) or not
                self._head_start.close("discarded", "the reply ended first")
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
        # A model's text may be cut at its first phrase, exactly as the head start cut it;
        # fixed lines keep the pieces the phrase cache holds.
        head = self._head_start
        phrase_words = FIRST_PHRASE_WORDS if head is not None and head.from_model else 0
        buffer = self._buffer = SentenceBuffer(first_phrase_min_words=phrase_words)
        texts: list[str] = []
        try:
            async for event in self._responder.respond(context):
                if isinstance(event, TextDelta):
                    if head is not None and not head.from_model:
                        buffer.first_phrase_min_words = 0  # the model wrote nothing: a fixed line
                    self.timeline.mark("first_token_ms", self._deps.now_ms())
                    texts.append(event.text)
                    pieces = buffer.push(event.text)
                    if not pieces and buffer.next_is_first:
                        await self._offer_first_words("".join(texts))
                    for piece in pieces:
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

    async def _offer_first_words(self, written: str) -> None:
        """Emits the head start's first words as a piece once the answer began with them
        (asked once, when the answer's own text first has such words)."""
        head = self._head_start
        if head is None or self._words_asked or self._emitted or self._skip:
            return
        words = first_words(written)
        if words is None:
            return
        self._words_asked = True
        if await head.first_words_of(written) == words:
            self._head_words = words
            self._as_clause.add(words)
            self._emit(words)

    def _emit(self, piece: str) -> None:
        words = self._head_words
        if words is not None and len(self._emitted) == 1 and self._emitted[0] == words:
            # The first piece, whose first words are out already: the rest of it.
            after = rest_after(piece, words)
            rest = after if after is not None else piece.removeprefix(words).strip()
            self._first_piece = piece
            if piece in self._buffer.before_phrase:
                self._as_clause.add(rest)
            if not rest:
                self._first_piece = None  # nothing more of it to take
                return
            piece = rest
        if self._skip and piece == self._skip[0]:
            self._skipped.append(self._skip.pop(0))
            return
        self._skip = []  # the reply went its own way: say everything from here on
        self._emitted.append(piece)
        self.timeline.mark("first_sentence_ms", self._deps.now_ms())
        self._pieces.put_nowait(piece)

    async def _synthesize(self) -> None:
        tts, playout = self._deps.tts, self._deps.playout
        ssml = accepts_ssml(tts)
        while (piece := await self._pieces.get()) is not None:
            is_filler = piece in self._fillers
            # The piece (as written) labels the audio: history keeps what the reply wrote.
            try:
                async for chunk in await self._audio_of(piece, ssml, is_filler):
                    if not is_filler:
                        self._answer_audio = True
                        self.timeline.mark("tts_first_audio_ms", self._deps.now_ms())
                    playout.enqueue(resample(chunk, tts.sample_rate, playout.sample_rate), piece)
            except asyncio.CancelledError:
                raise
            except Exception:
                # One unspeakable piece must not silence the rest of the reply.
                log.exception("reply %d: TTS failed for a piece", self.reply_id)

    async def _audio_of(self, piece: str, ssml: bool, is_filler: bool) -> AsyncIterator[np.ndarray]:
        """The piece's audio: synthesized ahead (the head start) if it is that text, else now."""
        head = self._head_start
        # Only the answer's first piece (or its first words and their rest) can have been
        # synthesized ahead.
        if head is not None and not is_filler and self._head_words is not None:
            if not self._head_offered:
                self._head_offered = True
                words = head.take_first_words(piece)
                if words is not None:
                    return words
            elif self._first_piece is not None:
                first, self._first_piece = self._first_piece, None
                ready = await head.take_rest(first)
                if ready is not None:
                    return ready
        elif head is not None and not is_filler and not self._head_offered:
            self._head_offered = True
            ready = await head.take(piece)
            if ready is not None:
                return ready
        as_clause = piece in self._buffer.before_phrase or piece in self._as_clause
        text = read_as_clause(piece) if as_clause else piece
        spoken = await spoken_text(self._deps.speech, text, ssml, _NORMALIZE_INLINE_CHARS)
        return self._deps.tts.synthesize(spoken)
