"""The caller's words during a turn: speculative transcripts at each pause, the end-of-turn
judgement they feed, and the turn's final transcript.

    PauseStarted ─► transcribe the utterance so far (off the loop) ─► TurnJudge: the silence
                    that ends the turn ─► Endpointer; the words over the agent ─► barge-in
    RECHECK_MS of silence on a long wait ─► transcribe again with the silence ─► maybe sooner
    SpeechResumed ─► the speculation is dropped
    TurnEnded ─► the speculation of that pause is the transcript (else transcribe now)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np

from callwright.agent.caller_audio import CallerAudio
from callwright.agent.stack import AgentStack
from callwright.agent.turn_judge import RECHECK_MS, TurnJudge
from callwright.core.timeline import TurnTimeline
from callwright.stt.base import DetectsLanguage, Transcript
from callwright.stt.deadline import optional_within
from callwright.turns.endpointer import Endpointer, TurnEnded

PREROLL_MS = 250.0  # speech onset is confirmed late; keep the audio just before it
# The quick look at words over the agent and the second look at a long pause are worth
# something only soon: on a busy shared recogniser they are skipped if they cannot start by
# then (the pause's own transcript decides, as without them).
OPTIONAL_LOOK_START_S = 0.3


class TurnTranscriber:
    """Transcribes one call's turns, speculatively, and sets how long each pause must last.

    Args:
        stack: the shared stages (STT, endpointing and patience options).
        audio: the call's caller audio (16 kHz, after echo cancellation).
        endpointer: the call's endpointer, whose end-of-turn silence this sets.
        judge: judges the words against the agent's open question.
        record: adds an event to the call record (kind, at_ms, data).
        now_ms: the end of the caller audio received so far (pipeline timeline).
        over_the_agent: whether the agent is talking (then the words answer no question).
        on_pause_words: hears the words of each judged pause (end ms, text): barge-in.
        preempt: hears the words the reply may start on while the silence decides
            (preemptive generation), and None when the caller went on.
    """

    def __init__(
        self,
        stack: AgentStack,
        audio: CallerAudio,
        endpointer: Endpointer,
        judge: TurnJudge,
        record: Callable[[str, float, dict[str, Any]], None],
        now_ms: Callable[[], float],
        over_the_agent: Callable[[], bool],
        on_pause_words: Callable[[float, str], None],
        preempt: Callable[[str | None], None] = lambda _text: None,
        language: Callable[[], str] | None = None,
    ) -> None:
        self._stack = stack
        self._language = language
        self._audio = audio
        self._endpointer = endpointer
        self._judge = judge
        self._record = record
        self._now_ms = now_ms
        self._over_the_agent = over_the_agent
        self._on_pause_words = on_pause_words
        self._preempt = preempt
        # Words of an earlier turn the caller continued before it was answered.
        self.carry_text = ""
        self._speculation: tuple[float, asyncio.Task[Transcript]] | None = None
        self._span: tuple[float, float] | None = None  # the speech of the current pause
        self._recheck_due: tuple[float, float, float] | None = None  # (start, end, wait) ms
        self._rechecks: set[asyncio.Task[None]] = set()

    def utterance_audio(self, start_ms: float, end_ms: float) -> np.ndarray:
        """The caller's audio of one utterance, with the onset's preroll and the pause's start."""
        return self._audio.extract(start_ms - PREROLL_MS, end_ms + self._stack.turns.pause_ms)

    async def since(self, start_ms: float) -> Transcript:
        """Transcribes the caller's audio from `start_ms` to now (barge-in's first words)."""
        audio = self._audio.extract(start_ms - PREROLL_MS, self._now_ms())
        with optional_within(OPTIONAL_LOOK_START_S):
            return await self._transcribe(audio)

    def pause_started(self, start_ms: float, end_ms: float) -> None:
        """Speech stopped at `end_ms`: transcribe it now, while the silence grows."""
        self.drop()
        audio = self.utterance_audio(start_ms, end_ms)
        task = asyncio.create_task(self._transcribe(audio))
        task.add_done_callback(lambda done: self._judge_pause(end_ms, done))
        self._speculation = (end_ms, task)
        self._span = (start_ms, end_ms)
        self._recheck_due = None
        # Until the words are known the turn is not over (up to the hard maximum): deciding
        # blind on a busy machine would answer "What is your..." before "...address?".
        self._endpointer.set_end_of_turn_ms(self._stack.patience.max_ms)

    def heard(self) -> None:
        """More caller audio arrived: a long wait may be due for a second look."""
        due = self._recheck_due
        if due is None or self._now_ms() - due[1] < RECHECK_MS:
            return
        self._recheck_due = None
        if self._endpointer.in_turn and self._endpointer.speech_end_ms == due[1]:
            task = asyncio.create_task(self._recheck(*due))
            self._rechecks.add(task)
            task.add_done_callback(self._rechecks.discard)

    def drop(self) -> None:
        """The caller went on: the speculation of the last pause is not the turn's transcript."""
        if self._speculation is not None:
            self._speculation[1].cancel()
            self._speculation = None
            self._preempt(None)

    async def transcript_of(self, event: TurnEnded, timeline: TurnTimeline) -> Transcript:
        """The turn's transcript: the speculation of its last pause if there was one."""
        spec, self._speculation = self._speculation, None
        if spec is not None and spec[0] == event.speech_end_ms:
            timeline.speculative_hit = True
            return await spec[1]
        if spec is not None:
            spec[1].cancel()
        timeline.speculative_hit = False
        audio = self.utterance_audio(event.speech_start_ms, event.speech_end_ms)
        return await self._transcribe(audio)

    async def _transcribe(self, audio: np.ndarray) -> Transcript:
        """The words, in whichever of the agent's languages they are (when it has several)."""
        stt, languages = self._stack.stt, self._stack.languages
        if languages and self._language is not None and isinstance(stt, DetectsLanguage):
            codes = [self._stack.language, *languages]
            return await stt.transcribe_detecting(audio, codes, self._language())
        return await stt.transcribe(audio)

    def close(self) -> None:
        """At the end of the call: drops the speculation and any second look."""
        self.drop()
        for task in list(self._rechecks):
            task.cancel()

    def _judge_pause(self, end_ms: float, task: asyncio.Task[Transcript]) -> None:
        """Decides how long to wait, and tells barge-in what was said over the agent."""
        current = self._speculation
        if current is None or current[0] != end_ms:
            return
        if task.cancelled() or task.exception():
            self._endpointer.set_end_of_turn_ms(self._stack.turns.end_of_turn_ms)
            return
        heard = task.result()
        text = f"{self.carry_text} {heard.text}".strip()
        over = self._over_the_agent()
        judgement = self._judge.judge(text, over_the_agent=over, confidence=heard.confidence)
        self._endpointer.set_end_of_turn_ms(judgement.wait_ms)
        # How late the words came: the wait cannot end before they are known.
        late = {"judged_after_ms": round(self._now_ms() - end_ms)}
        self._record("pause", end_ms, judgement.record() | late)
        self._preempt(text)
        if judgement.worth_rechecking and self._span is not None:
            self._recheck_due = (self._span[0], end_ms, judgement.wait_ms)
        self._on_pause_words(end_ms, text)

    async def _recheck(self, start_ms: float, end_ms: float, wait_ms: float) -> None:
        """The words judged again with the silence so far: the turn may end now after all."""
        audio = self._audio.extract(start_ms - PREROLL_MS, self._now_ms())
        with optional_within(OPTIONAL_LOOK_START_S):
            task = asyncio.create_task(self._transcribe(audio))
        try:
            transcript = await task
        except Exception:
            return  # the first judgement stands
        endpointer, spec = self._endpointer, self._speculation
        if not endpointer.in_turn or endpointer.speaking or endpointer.speech_end_ms != end_ms:
            return  # the caller went on, or the turn already ended
        if spec is None or spec[0] != end_ms:
            return
        text = f"{self.carry_text} {transcript.text}".strip()
        over = self._over_the_agent()
        judgement = self._judge.judge(
            text, over_the_agent=over, after_silence=True, confidence=transcript.confidence
        )
        self._record("pause", end_ms, judgement.record() | {"recheck": True})
        if judgement.wait_ms < wait_ms:
            self._speculation = (end_ms, task)  # the turn's transcript is this one
            endpointer.set_end_of_turn_ms(judgement.wait_ms)
            self._preempt(text)
