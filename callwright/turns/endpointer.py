"""VAD-driven endpointing.

The endpointer turns per-window speech probabilities into turn events, on the audio timeline:

    SpeechStarted ─► PauseStarted ─► (SpeechResumed ─► PauseStarted ─► ...) ─► TurnEnded

`PauseStarted` comes early (a short silence) so the session can transcribe speculatively while
it waits to see whether the caller is really done; `TurnEnded` comes after the longer
end-of-turn silence. It is a plain synchronous state machine so it can be tested without audio.
"""

from __future__ import annotations

from dataclasses import dataclass

from callwright.vad.base import VadWindow


@dataclass(frozen=True, slots=True)
class TurnOptions:
    """Endpointing thresholds.

    Attributes:
        speech_threshold: probability at or above which a window counts as speech.
        silence_threshold: while in speech, probability below which a window counts as silence
            (hysteresis keeps soft word endings inside the utterance).
        min_speech_ms: speech needed before a turn (or a barge-in) is believed.
        pause_ms: silence after which a pause begins and speculative transcription starts.
        end_of_turn_ms: silence after which the turn is over.
        max_turn_ms: a turn longer than this ends at the next pause, whatever its length.
    """

    speech_threshold: float = 0.5
    silence_threshold: float = 0.35
    min_speech_ms: float = 96.0
    pause_ms: float = 64.0
    end_of_turn_ms: float = 480.0
    max_turn_ms: float = 30_000.0


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """The caller started speaking at `at_ms` (start of the first speech window)."""

    at_ms: float


@dataclass(frozen=True, slots=True)
class PauseStarted:
    """Speech stopped at `speech_end_ms`; the turn may or may not be over."""

    speech_start_ms: float
    speech_end_ms: float


@dataclass(frozen=True, slots=True)
class SpeechResumed:
    """The caller spoke again after a pause of `pause_ms`, within the same turn."""

    at_ms: float
    pause_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class TurnEnded:
    """The caller finished a turn: speech from `speech_start_ms` to `speech_end_ms`."""

    speech_start_ms: float
    speech_end_ms: float
    decided_at_ms: float


TurnEvent = SpeechStarted | PauseStarted | SpeechResumed | TurnEnded


class Endpointer:
    """Per-call endpointing state machine. Feed it VAD windows in order."""

    def __init__(self, options: TurnOptions | None = None) -> None:
        self.options = options or TurnOptions()
        self._in_turn = False
        self._speaking = False
        self._onset_start: float | None = None
        self._onset_ms = 0.0
        self._turn_start = 0.0
        self._speech_end = 0.0
        self._pause_reported = False
        self._end_of_turn_ms = self.options.end_of_turn_ms

    @property
    def in_turn(self) -> bool:
        """True from SpeechStarted until TurnEnded."""
        return self._in_turn

    @property
    def speaking(self) -> bool:
        """True while the caller is currently producing speech."""
        return self._speaking

    def set_end_of_turn_ms(self, silence_ms: float) -> None:
        """Sets the silence that ends the turn in the current pause (back to default on speech).

        The session calls this once it knows what was said (semantic endpointing).
        """
        self._end_of_turn_ms = silence_ms

    @property
    def speech_end_ms(self) -> float:
        """End of the caller's latest speech window."""
        return self._speech_end

    def feed(self, window: VadWindow) -> list[TurnEvent]:
        """Consumes one VAD window and returns the events it causes."""
        opts = self.options
        threshold = opts.silence_threshold if self._speaking else opts.speech_threshold
        if window.probability >= threshold:
            return self._on_speech(window)
        return self._on_silence(window)

    def _on_speech(self, window: VadWindow) -> list[TurnEvent]:
        events: list[TurnEvent] = []
        if not self._speaking:
            if self._onset_start is None:
                self._onset_start = window.start_ms
                self._onset_ms = 0.0
            self._onset_ms += window.end_ms - window.start_ms
            if self._onset_ms < self.options.min_speech_ms:
                return events
            self._speaking = True
            if not self._in_turn:
                self._in_turn = True
                self._turn_start = self._onset_start
                events.append(SpeechStarted(self._onset_start))
            elif self._pause_reported:
                pause_ms = self._onset_start - self._speech_end
                events.append(SpeechResumed(self._onset_start, pause_ms))
            self._pause_reported = False
            self._end_of_turn_ms = self.options.end_of_turn_ms
            self._onset_start = None
        self._speech_end = window.end_ms
        return events

    def _on_silence(self, window: VadWindow) -> list[TurnEvent]:
        # A blip shorter than min_speech_ms is noise, not the start of speech.
        self._onset_start = None
        self._onset_ms = 0.0
        if not self._in_turn:
            return []
        self._speaking = False
        events: list[TurnEvent] = []
        silence = window.end_ms - self._speech_end
        opts = self.options
        if not self._pause_reported and silence >= opts.pause_ms:
            self._pause_reported = True
            events.append(PauseStarted(self._turn_start, self._speech_end))
        too_long = self._speech_end - self._turn_start >= opts.max_turn_ms
        if silence >= self._end_of_turn_ms or (too_long and self._pause_reported):
            events.append(TurnEnded(self._turn_start, self._speech_end, window.end_ms))
            self._in_turn = False
            self._pause_reported = False
        return events
