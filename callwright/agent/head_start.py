"""The first clause of a speculative reply, synthesized while the end of the turn is decided.

    pause judged ─► responder.prepare(words) ─► the model starts (llm/, agents/)
                └─► HeadStart: responder.preview() ─► SentenceBuffer ─► first piece
                                ─► speech normalisation ─► TTS ─► audio kept, not played
                       (its first few words go to TTS on their own as soon as they are
                        known, agent/first_words.py; the rest of the piece follows them)
    turn ended ─► Reply (agent/reply.py): its first piece the same text? play the kept audio
                  at once (still arriving: as it arrives); other words: throw it away

The match is on the text the reply really says, so whatever made the reply differ (other
final words, a guardrail, a confirmation, another route), the caller never hears audio of
words the reply does not say. A preview only reads the model's text: no tool runs and no
flow state changes before the turn is answered. The marks (on the call's audio clock) go to
the call record as a `head_start` event, for the benchmark's breakdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np

from callwright.agent.first_words import (
    MAX_SPLIT_PACE,
    VoicePace,
    first_words,
    rest_after,
    trim_trailing_silence,
)
from callwright.agent.sentences import SentenceBuffer
from callwright.tts.base import TextToSpeech, TtsError
from callwright.tts.normalize import SpeechNormalizer, accepts_ssml

log = logging.getLogger(__name__)

# Pieces up to this long are normalised on the loop (well under a millisecond); longer ones
# in a thread.
NORMALIZE_INLINE_CHARS = 600
# How long a reply that has its first piece waits for the head start to name its own: both
# read the same stream, so this is a few turns of the event loop (a preview of another
# request ends when that request is dropped); the bound only matters if something is stuck.
DECIDE_WAIT_S = 0.2
# A model's reply may end its first piece between words, before a phrase, after this many
# words (`SentenceBuffer.first_phrase_min_words`): its first comma often comes late.
FIRST_PHRASE_WORDS = 4
UNCLAIMED_S = 10.0  # a head start no reply claimed by then is dropped (with its audio)


async def spoken_text(
    speech: SpeechNormalizer, piece: str, ssml: bool, inline_chars: int = NORMALIZE_INLINE_CHARS
) -> str:
    """The piece as the voice should read it (numbers, times... in words); as written if
    normalisation fails. Pieces over `inline_chars` are normalised in a thread."""
    try:
        if len(piece) <= inline_chars:
            return speech.prepare(piece, ssml)
        # A runaway piece (no sentence end) must not hold the event loop.
        return await asyncio.to_thread(speech.prepare, piece, ssml)
    except Exception:
        log.exception("speech normalisation failed for a piece")
        return piece


def read_as_clause(piece: str) -> str:
    """What the voice is given for a first piece cut before a phrase: with a comma, so it is
    read as a clause (its voice rising on), not as a finished sentence (falling)."""
    return piece if piece.endswith((",", ";", ":")) else f"{piece},"


class HeadStart:
    """Synthesizes (never plays) the first piece of a prepared reply, for `Reply` to take.

    Args:
        preview: the prepared reply's text as it streams (`PreviewsReply.preview`).
        tts: the call's voice.
        speech: the call's speech normalisation.
        now_ms: the call's clock (audio timeline), for the marks.
        on_closed: hears the head start once it is settled (used or thrown away).
        max_split_pace: the first words go to TTS on their own only while the voice's
            measured pace is at most this (`VoicePace.allows_split`).
        pace: the voice's pace, shared by the calls that speak with it (`AgentStack.spoken`);
            None: measured by this head start alone.
    """

    def __init__(
        self,
        preview: AsyncIterator[str],
        tts: TextToSpeech,
        speech: SpeechNormalizer,
        now_ms: Callable[[], float],
        on_closed: Callable[[HeadStart], None] | None = None,
        max_split_pace: float = MAX_SPLIT_PACE,
        pace: VoicePace | None = None,
    ) -> None:
        self._tts = tts
        self._pace = pace if pace is not None else VoicePace()
        self._speech = speech
        self._now_ms = now_ms
        self._on_closed = on_closed
        self._max_split_pace = max_split_pace
        self.marks: dict[str, float] = {"words_ms": round(now_ms(), 1)}
        self.piece: str | None = None  # the first piece, once the text has one
        self.first_words: str | None = None  # its first words, synthesized before it was known
        self._seen = 0  # characters of the preview's text read so far
        self.outcome: str | None = None  # "used", "discarded", "dropped"
        self.reason = ""
        self._chunks: list[np.ndarray] = []  # the first words' audio, then the rest's
        self._words_end: int | None = None  # chunks of the first words, once all are in
        # Their own synthesis was slower than the split allows (the machine got loaded since
        # the pace was last measured): they wait for the rest of their clause.
        self.words_held = False
        self._finished = False  # synthesis ended (all chunks in), or failed
        self._closed = False  # settled: its audio is gone
        self._failed = False
        self._decided = asyncio.Event()  # the piece is known, or there will be none
        self._grew = asyncio.Event()
        self._task = asyncio.create_task(self._run(preview), name="head-start")
        # A turn that never claims it (a handoff took the call, the caller said nothing more).
        self._expiry = asyncio.get_running_loop().call_later(UNCLAIMED_S, self._expire)

    def _expire(self) -> None:
        if self.outcome is None:
            self.close("dropped", "unclaimed")

    def _mark(self, name: str) -> None:
        self.marks.setdefault(name, round(self._now_ms(), 1))

    async def _run(self, preview: AsyncIterator[str]) -> None:
        words: asyncio.Task[None] | None = None  # the first words' synthesis, if started
        try:
            buffer = SentenceBuffer(first_phrase_min_words=FIRST_PHRASE_WORDS)
            piece, words = await self._first_piece(preview, buffer)
            rest = piece
            if words is not None and piece is not None:
                unit = self.first_words or ""
                after = rest_after(piece, unit)
                if after is None and self.outcome is None:
                    # The piece is not those words and more (text the buffer reads otherwise)
                    # and no reply took their audio: the piece is synthesized whole.
                    words.cancel()
                    words, self._chunks, self.first_words = None, [], None
                else:
                    rest = after if after is not None else piece.removeprefix(unit).strip()
            if words is None:
                self._words_end = 0
            self.piece = piece
            self._decided.set()
            self._wake()
            if piece is None:
                return
            if words is not None:
                await words  # its audio comes first
            if rest:
                text = read_as_clause(rest) if piece in buffer.before_phrase else rest
                await self._synthesize(text)
            self._mark("synthesized_ms")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("head start failed (the reply synthesizes its own audio)")
            self._failed = True
        finally:
            if words is not None:
                words.cancel()
            self._finished = True
            self._decided.set()
            self._wake()
            aclose = getattr(preview, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def _synthesize(self, text: str) -> None:
        spoken = await spoken_text(self._speech, text, accepts_ssml(self._tts))
        started, samples = time.monotonic(), 0
        async for chunk in self._tts.synthesize(spoken):
            self._mark("audio_ready_ms")
            samples += chunk.size
            self._chunks.append(chunk)
            self._wake()
        self._pace.note(time.monotonic() - started, samples / self._tts.sample_rate)

    async def _synthesize_words(self, text: str) -> None:
        """The first words' audio, without the silence the voice ends a clip with (their
        clause goes on); the last chunk is kept back until it is known to be the last."""
        spoken = await spoken_text(self._speech, text, accepts_ssml(self._tts))
        last: np.ndarray | None = None
        started, samples = time.monotonic(), 0
        async for chunk in self._tts.synthesize(spoken):
            self._mark("audio_ready_ms")
            samples += chunk.size
            if last is not None:
                self._chunks.append(last)
                self._wake()
            last = chunk
        spent, audio = time.monotonic() - started, samples / self._tts.sample_rate
        self._pace.note(spent, audio)
        # The split keeps a margin of two (`first_words.MAX_SPLIT_PACE`); past twice the
        # allowed pace the rest would not be ready before the first words have played.
        self.words_held = audio > 0.0 and spent / audio > 2.0 * self._max_split_pace
        if last is not None:
            self._chunks.append(trim_trailing_silence(last, self._tts.sample_rate))
        self._words_end = len(self._chunks)  # the rest's synthesis starts after this
        self._wake()

    async def _first_piece(
        self, preview: AsyncIterator[str], buffer: SentenceBuffer
    ) -> tuple[str | None, asyncio.Task[None] | None]:
        """The reply's first piece, cut exactly as the reply's own sentence buffer cuts it,
        and the synthesis of its first words (`first_words`), started as soon as they are
        known if the piece was not known first."""
        written = ""
        words: asyncio.Task[None] | None = None
        async for text in preview:
            self._mark("first_token_ms")
            pieces = buffer.push(text)
            if pieces:
                self._mark("first_clause_ms")
                return pieces[0], words
            written += text
            if words is None and self._pace.allows_split(self._max_split_pace):
                if (unit := first_words(written)) is not None:
                    self.first_words = unit
                    self._mark("first_words_ms")
                    words = asyncio.create_task(self._synthesize_words(read_as_clause(unit)))
            self._seen = len(written)
            self._wake()
        # The preview ended (the whole text, or text before a tool call): the reply's buffer
        # cuts the same piece at its end or when more text follows; if not, it won't match.
        rest = buffer.flush()
        if rest:
            self._mark("first_clause_ms")
        return (rest[0] if rest else None), words

    def _wake(self) -> None:
        self._grew.set()
        self._grew = asyncio.Event()

    @property
    def from_model(self) -> bool:
        """Whether the reply is probably the model's: False once the preview ended without a
        word (the responder prepared nothing: a fixed line answers the turn)."""
        wordless = self.piece is None and "first_token_ms" not in self.marks
        return not (self._decided.is_set() and wordless)

    async def decided(self) -> None:
        """Returns once the first piece is known (`piece`), or it is known there is none."""
        await self._decided.wait()

    async def take(self, piece: str) -> AsyncIterator[np.ndarray] | None:
        """The audio of `piece` if it is the one synthesized here (the reply's first piece);
        None otherwise, and then everything here is thrown away."""
        if not self._decided.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.decided(), DECIDE_WAIT_S)
        if self._closed:
            return None
        if self.piece is None or self.piece != piece:
            self.close("discarded", "other words" if self.piece else "no first piece yet")
            return None
        if self._failed and not self._chunks:
            self.close("discarded", "synthesis failed")
            return None
        self.outcome = "used"
        self._mark("taken_ms")
        return self._audio(0, lambda: None)

    async def first_words_of(self, written: str) -> str | None:
        """The first words synthesized on their own, once this head start has read as much
        of the text as `written` (the reply's, from the same stream: a reply may read a delta
        a few turns of the event loop before the head start does); None if there are none."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DECIDE_WAIT_S):
                while self.first_words is None and self._seen < len(written):
                    if self._decided.is_set():
                        break
                    await self._grew.wait()
        return None if self._closed or self.outcome is not None else self.first_words

    def take_first_words(self, words: str) -> AsyncIterator[np.ndarray] | None:
        """The audio of the first words alone, if `words` are the ones synthesized here (the
        reply's own text began with them; its first piece is not cut yet). The reply takes
        the rest of the piece later (`take_rest`), or synthesizes its own rest."""
        if self.outcome is not None or self.first_words is None or self.first_words != words:
            return None
        self.outcome = "used"
        self._mark("taken_ms")
        return self._first_words_audio()

    async def _first_words_audio(self) -> AsyncIterator[np.ndarray]:
        """The first words' chunks; held until the rest of their piece is synthesized when
        their own synthesis showed the voice too slow to have it ready in time: a gap after
        the first words would sound like the end of the turn, and dead air, where a later
        start costs only the split's gain."""
        while self._words_end is None and not self._finished:
            await self._grew.wait()
        if self.words_held:
            self._mark("words_held_ms")
            while not self._finished:
                await self._grew.wait()
        async for chunk in self._audio(0, lambda: self._words_end, settle=False):
            yield chunk

    async def take_rest(self, piece: str) -> AsyncIterator[np.ndarray] | None:
        """After `take_first_words`: the audio of the rest of `piece` if it is the piece
        synthesized here; None otherwise (the reply synthesizes the rest itself)."""
        if not self._decided.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.decided(), DECIDE_WAIT_S)
        if self._closed or self.piece is None or self.piece != piece or self._failed:
            self.close("used", "first words only")
            return None
        return self._audio(None, lambda: None, settle=True)

    async def _audio(
        self, start: int | None, end: Callable[[], int | None], settle: bool = True
    ) -> AsyncIterator[np.ndarray]:
        """The chunks from `start` (None: where the first words' audio ends) to `end()` (None:
        to the last); `settle`: close the head start once they are all given."""
        try:
            while start is None:
                if self._words_end is not None:
                    start = self._words_end
                elif self._finished:
                    return
                else:
                    await self._grew.wait()
            index = start
            while True:
                stop = end()
                while index < len(self._chunks) and (stop is None or index < stop):
                    index += 1
                    yield self._chunks[index - 1]
                if stop is not None and index >= stop:
                    return
                if self._finished:
                    if self._failed:
                        raise TtsError("the head start's synthesis failed part way")
                    return
                await self._grew.wait()
        finally:
            if settle:
                self.close("used")

    def close(self, outcome: str, reason: str = "") -> None:
        """Settles the head start: stops its work and drops its audio; the first outcome given
        stays ("used" once `take` handed the audio over). Idempotent."""
        if self.outcome is None:
            self.outcome, self.reason = outcome, reason
        self._closed = True
        self._expiry.cancel()
        self._task.cancel()
        self._chunks = []
        self._finished = True
        self._decided.set()
        self._wake()
        on_closed, self._on_closed = self._on_closed, None
        if on_closed is not None:
            on_closed(self)

    def record(self) -> dict[str, Any]:
        """The call record's `head_start` event data: the outcome and the marks."""
        data: dict[str, Any] = {"outcome": self.outcome, **self.marks}
        if self.reason:
            data["reason"] = self.reason
        if self.piece is not None:
            data["chars"] = len(self.piece)
        if self.first_words is not None:
            data["first_words_chars"] = len(self.first_words)
        return data
