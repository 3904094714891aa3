"""Barge-in: what the agent does when the caller talks over it, decided in one place.

    caller speech starts over the agent ─► duck it (-24 dB, no gap)
        ├─ quick_look_ms of speech: the first words; words that take the floor (a
        │  question, a content word: turns/backchannel.py), read with confidence, stop
        │  the agent now; words that do not, from a caller already quiet, restore full
        │  volume now
        ├─ the caller pauses: the words so far; a backchannel, a noise, a few words
        │  with no content ("And then.", a misheard "uh-huh") or more words than the
        │  overlap could hold (made up from a sound) restore full volume at once,
        │  anything else stops the agent
        ├─ confirm_ms of speech, whatever the words: stop
        └─ the caller's turn is transcribed: words that do not take the floor take no
           turn; anything else stops
    a key pressed, a keypad entry, a policy line, a failed recogniser: stop

`BargeInPolicy` makes these decisions from facts alone (no audio, no clock, no tasks), so
they are tested on text. `BargeIn` applies them to one call's voice: it ducks, looks at the
first words (speech to text on the overlap) and stops or restores the agent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from callwright.stt.base import Transcript
from callwright.turns.backchannel import takes_the_floor


@dataclass(frozen=True, slots=True)
class BargeInOptions:
    """How the agent yields to overlapping speech.

    Attributes:
        duck_gain: the agent's volume while the overlap is judged (0.06: -24 dB).
        quick_look_ms: speech over the agent after which its first words are transcribed.
        confirm_ms: speech over the agent that stops it whatever the words (backchannels,
            even "okay, sure, go on", are shorter).
        quick_look_confidence: mean token probability the first words need to stop the agent
            that early (a murmur cut short comes back as a stray, unsure word: "bruh" at 0.40,
            "as well" at 0.33; "Sorry" and "Wait." at 0.54-0.60 on our caller voices).
    """

    duck_gain: float = 0.06
    quick_look_ms: float = 200.0
    confirm_ms: float = 1200.0
    quick_look_confidence: float = 0.45


class Decision(Enum):
    """What to do with the agent's voice."""

    NOTHING = "nothing"
    DUCK = "duck"  # lower its volume and go on judging
    LOOK = "look"  # transcribe the first words of the overlap
    RESTORE = "restore"  # a backchannel or a noise: full volume again
    STOP = "stop"  # a real interruption: the reply ends


class BargeInPolicy:
    """The decisions of one call, from what is known when each moment comes.

    Holds the overlap being judged: the time the agent was ducked, whether its first words
    were looked at, and the last caller turn taken as a backchannel.
    """

    def __init__(self, options: BargeInOptions | None = None) -> None:
        self.options = options or BargeInOptions()
        self.ducked_at_ms: float | None = None
        self.backchannel_end_ms: float | None = None
        self._looked = False
        # When the words of the caller's turn began over the agent: its first duck. A pause
        # restored ("I will like" [pause]) and the caller went on: the words then read at the
        # next pause run from here, not from the latest duck, or they would look too many for
        # the time and be taken for a sound.
        self._words_from_ms: float | None = None

    @property
    def ducked(self) -> bool:
        """True while overlapping speech is being judged (the agent plays on, ducked)."""
        return self.ducked_at_ms is not None

    def onset(self, agent_speaking: bool) -> Decision:
        """The caller started (or resumed) speaking."""
        return Decision.DUCK if agent_speaking and not self.ducked else Decision.NOTHING

    def overlap(self, speech_ms: float, caller_speaking: bool) -> Decision:
        """`speech_ms` since the agent was ducked, the caller still speaking or not."""
        if not self.ducked or not caller_speaking:
            return Decision.NOTHING
        if speech_ms >= self.options.confirm_ms:
            return Decision.STOP  # well past a backchannel's length: a real interruption
        if speech_ms >= self.options.quick_look_ms and not self._looked:
            self._looked = True
            return Decision.LOOK
        return Decision.NOTHING

    def first_words(self, words: Transcript, caller_speaking: bool) -> Decision:
        """The quick look's transcript of the overlap's first words."""
        text = words.text.strip()
        if not self.ducked:
            return Decision.NOTHING
        if not text:
            return Decision.NOTHING  # the pause decides
        if not takes_the_floor(text):
            # "Uh-huh" and already quiet: no need to wait for the pause's transcript.
            return Decision.NOTHING if caller_speaking else Decision.RESTORE
        confidence = words.confidence
        if confidence is not None and confidence < self.options.quick_look_confidence:
            return Decision.NOTHING  # "And", "You": a murmur cut short, read unsure
        return Decision.STOP

    def pause_words(self, text: str, end_ms: float | None = None) -> Decision:
        """The caller paused at `end_ms`: the words said over the agent so far."""
        if self.ducked_at_ms is None:
            return Decision.NOTHING
        return Decision.STOP if takes_the_floor(text, self._words_ms(end_ms)) else Decision.RESTORE

    def turn_words(self, end_ms: float, text: str, agent_speaking: bool) -> Decision:
        """The caller's turn is over: RESTORE means it was a backchannel and takes no turn."""
        speech_ms = self._words_ms(end_ms)
        self._words_from_ms = None  # the turn is over: its words are judged
        if self.backchannel_end_ms == end_ms or (
            agent_speaking and not takes_the_floor(text, speech_ms)
        ):
            return Decision.RESTORE
        return Decision.STOP if self.ducked else Decision.NOTHING

    def was_ducked(self, at_ms: float) -> None:
        """The agent was ducked for speech that started at `at_ms`."""
        self.ducked_at_ms = at_ms
        self._looked = False
        if self._words_from_ms is None:
            self._words_from_ms = at_ms

    def was_restored(self, end_ms: float) -> None:
        """Full volume again: the speech ending at `end_ms` was a backchannel."""
        self.ducked_at_ms = None
        self.backchannel_end_ms = end_ms

    def was_stopped(self) -> None:
        """The reply ended (stopped, or finished): nothing is being judged."""
        self.ducked_at_ms = None
        self._words_from_ms = None

    def _words_ms(self, end_ms: float | None) -> float | None:
        """How long the words of the caller's turn over the agent took, up to `end_ms`."""
        if end_ms is None or self._words_from_ms is None:
            return None
        return end_ms - self._words_from_ms


class YieldingVoice(Protocol):
    """What barge-in needs of the agent's voice (`AgentVoice`)."""

    @property
    def speaking(self) -> bool: ...

    async def duck(self, at_ms: float, gain: float) -> None: ...

    def restore(self, end_ms: float, text: str) -> None: ...

    async def barge_in(self, at_ms: float) -> None: ...


class BargeIn:
    """The policy applied to one call's voice.

    Args:
        options: thresholds.
        voice: the agent's voice.
        first_words: transcribes the caller's audio from a time (ms) to now.
        record: adds an event to the call record (kind, at_ms, data).
        now_ms: the call's audio clock.
    """

    def __init__(
        self,
        options: BargeInOptions,
        voice: YieldingVoice,
        first_words: Callable[[float], Awaitable[Transcript]],
        record: Callable[[str, float, dict[str, Any]], None],
        now_ms: Callable[[], float],
    ) -> None:
        self.policy = BargeInPolicy(options)
        self._voice = voice
        self._first_words = first_words
        self._record = record
        self._now_ms = now_ms
        self._tasks: set[asyncio.Task[None]] = set()
        self._caller_speaking = False

    @property
    def ducked(self) -> bool:
        """True while overlapping speech is being judged."""
        return self.policy.ducked

    async def onset(self, at_ms: float) -> None:
        """Caller speech started or resumed at `at_ms`."""
        if self.policy.onset(self._voice.speaking) is Decision.DUCK:
            await self._voice.duck(at_ms, self.policy.options.duck_gain)
            self.policy.was_ducked(at_ms)

    async def heard(self, now_ms: float, caller_speaking: bool) -> None:
        """More caller audio arrived (up to `now_ms` of the pipeline's timeline)."""
        self._caller_speaking = caller_speaking
        ducked_at = self.policy.ducked_at_ms
        if ducked_at is None:
            return
        if not self._voice.speaking:  # the reply ended meanwhile: nothing left to judge
            self.policy.was_stopped()
            return
        decision = self.policy.overlap(now_ms - ducked_at, caller_speaking)
        if decision is Decision.STOP:
            await self.stop(ducked_at)
        elif decision is Decision.LOOK:
            self._spawn(self._look(ducked_at))

    def pause_words(self, end_ms: float, text: str) -> None:
        """The words said over the agent up to a pause (from a callback: never blocks)."""
        decision = self.policy.pause_words(text, end_ms)
        if decision is Decision.RESTORE:
            self._restore(end_ms, text)
        elif decision is Decision.STOP and self.policy.ducked_at_ms is not None:
            self._spawn(self.stop(self.policy.ducked_at_ms))

    async def turn_words(self, end_ms: float, text: str) -> bool:
        """The caller's whole turn; True when it was a backchannel and takes no turn."""
        decision = self.policy.turn_words(end_ms, text, self._voice.speaking)
        if decision is Decision.RESTORE:
            if self.policy.ducked:
                self._restore(end_ms, text)
            return True
        if decision is Decision.STOP:
            await self.stop(self.policy.ducked_at_ms or end_ms)
        return False

    async def stop(self, at_ms: float) -> None:
        """Stops the agent for good (if it is speaking); history keeps what was heard."""
        self.policy.was_stopped()
        await self._voice.barge_in(at_ms)

    async def stop_judged(self) -> None:
        """Stops the agent if overlapping speech was being judged (the words are lost)."""
        if self.policy.ducked_at_ms is not None:
            await self.stop(self.policy.ducked_at_ms)

    def close(self) -> None:
        """At the end of the call: cancels quick looks still running."""
        for task in list(self._tasks):
            task.cancel()

    def _restore(self, end_ms: float, text: str) -> None:
        self.policy.was_restored(end_ms)
        self._voice.restore(end_ms, text)

    async def _look(self, ducked_at: float) -> None:
        try:
            words = await self._first_words(ducked_at)
        except Exception:
            return  # the pause decides, as without a quick look
        if self.policy.ducked_at_ms != ducked_at:
            return  # decided meanwhile
        decision = self.policy.first_words(words, self._caller_speaking)
        if decision is Decision.STOP:
            self._record("interruption_heard", self._now_ms(), {})
            await self.stop(ducked_at)
        elif decision is Decision.RESTORE:
            self._restore(self._now_ms(), words.text.strip())

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
