"""Answering machine detection from the call's audio, on any transport.

Two signals, both cheap enough for every frame:

- the greeting's shape: people answer with a short phrase ("Hello?", "Yeah, this is Sam")
  and wait; a recorded greeting talks on ("Hi, you've reached ... please leave a message").
  Speech that runs longer than `machine_speech_ms` with no pause of `pause_ms` is a machine; a
  short greeting followed by `human_silence_ms` of silence is a person.
- the beep: a steady pure tone (one Goertzel bin between 300 and 2500 Hz holding most of the
  energy for `beep_ms`). A beep means a machine, and that the message can start now.

Speech is found by energy against an adaptive noise floor, so the detector needs no model and
works on 8 kHz phone audio as on 16 kHz.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Verdict = Literal["human", "machine", "unknown"]
FRAME_MS = 20.0
BEEP_FREQUENCIES = tuple(range(300, 2501, 50))


@dataclass(frozen=True, slots=True)
class MachineDetectionOptions:
    """Thresholds of the detector (defaults measured with `bench/answering_machine.py`)."""

    machine_speech_ms: float = 2600.0
    pause_ms: float = 600.0
    human_silence_ms: float = 900.0
    human_max_speech_ms: float = 2000.0
    beep_ms: float = 160.0
    beep_purity: float = 0.6
    give_up_ms: float = 8000.0
    speech_over_floor: float = 6.0


@dataclass(frozen=True, slots=True)
class MachineListening:
    """Whether outbound calls listen before greeting, and what a machine is left.

    Attributes:
        enabled: on outbound calls the agent waits for the callee's first words (or the
            beep) instead of greeting at once, and decides whether a person answered.
        voicemail: left on a machine after its beep ("": hang up instead).
        wait_for_beep_ms: silence after a recorded greeting that ends it when no beep came.
        detection: the detector's thresholds.
    """

    enabled: bool = False
    voicemail: str = ""
    wait_for_beep_ms: float = 5000.0
    detection: MachineDetectionOptions = MachineDetectionOptions()

    def beep_waiter(self) -> MachineDetectionOptions:
        """Options of a detector that listens for the end of a recorded greeting: the beep, or
        `wait_for_beep_ms` of silence after it (some machines never beep), or 30 s."""
        never = 1e12
        return MachineDetectionOptions(
            machine_speech_ms=never, human_silence_ms=self.wait_for_beep_ms,
            human_max_speech_ms=never, give_up_ms=30000.0,
            beep_ms=self.detection.beep_ms, beep_purity=self.detection.beep_purity,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Detection:
    """A decision: what answered, why, and when (ms of audio since the answer)."""

    verdict: Verdict
    reason: str
    at_ms: float
    beep: bool = False


class MachineDetector:
    """Feeds on the first seconds of an answered call; decides once.

    Args:
        sample_rate: of the audio fed.
        options: thresholds.
    """

    def __init__(self, sample_rate: int, options: MachineDetectionOptions | None = None) -> None:
        self.options = options or MachineDetectionOptions()
        self.sample_rate = sample_rate
        self._frame = int(sample_rate * FRAME_MS / 1000)
        self._buffer = np.zeros(0, np.float32)
        self._now_ms = 0.0
        self._noise: float | None = None
        self._speech_ms = 0.0  # speech since the greeting started (pauses under pause_ms kept)
        self._run_ms = 0.0  # the current stretch of speech, short pauses included
        self._silence_ms = 0.0
        self._heard_speech = False
        self._tone_ms = 0.0
        self._tone_hz: float | None = None
        self._bins = _goertzel_bank(sample_rate, self._frame)
        # A pure tone's power in its bin, per unit of frame energy (so purity 1.0 = a pure tone).
        self._tone_gain = float(np.sum(np.hanning(self._frame))) ** 2 / 2.0
        self.decision: Detection | None = None

    def feed(self, samples: npt.NDArray[np.int16]) -> Detection | None:
        """Adds audio; the decision once there is one (then always the same)."""
        if self.decision is not None:
            return self.decision
        self._buffer = np.concatenate([self._buffer, samples.astype(np.float32) / 32768.0])
        while self.decision is None and self._buffer.size >= self._frame:
            frame, self._buffer = self._buffer[: self._frame], self._buffer[self._frame :]
            self._now_ms += FRAME_MS
            self.decision = self._step(frame)
        return self.decision

    def _step(self, frame: npt.NDArray[np.float32]) -> Detection | None:
        opts = self.options
        energy = float(np.mean(frame * frame)) + 1e-12
        if self._beep(frame, energy):
            return Detection("machine", "a beep", self._now_ms, beep=True)
        noise = self._noise if self._noise is not None else energy
        speech = energy > noise * opts.speech_over_floor and energy > 1e-6
        if not speech:  # the floor follows the quiet frames only
            self._noise = 0.95 * noise + 0.05 * energy if self._noise is not None else energy
        if speech:
            self._heard_speech = True
            self._silence_ms = 0.0
            self._run_ms += FRAME_MS
            self._speech_ms += FRAME_MS
            if self._run_ms >= opts.machine_speech_ms:
                return Detection("machine", "a long uninterrupted greeting", self._now_ms)
        elif self._heard_speech:
            self._silence_ms += FRAME_MS
            if self._silence_ms < opts.pause_ms:
                self._run_ms += FRAME_MS  # a breath inside a sentence
            else:
                self._run_ms = 0.0
            if self._silence_ms >= opts.human_silence_ms:
                if self._speech_ms <= opts.human_max_speech_ms:
                    return Detection("human", "a short greeting, then waiting", self._now_ms)
        if self._now_ms >= opts.give_up_ms:
            return Detection("unknown", "no decision in time", self._now_ms)
        return None

    def _beep(self, frame: npt.NDArray[np.float32], energy: float) -> bool:
        powers = np.abs(self._bins @ frame) ** 2
        best = int(np.argmax(powers))
        total = energy * self._tone_gain
        purity = float(powers[best]) / max(total, 1e-12)
        hz = float(BEEP_FREQUENCIES[best])
        if (
            purity >= self.options.beep_purity
            and energy > 1e-5
            and (self._tone_hz is None or abs(hz - self._tone_hz) <= 50.0)
        ):
            self._tone_hz = hz
            self._tone_ms += FRAME_MS
        else:
            self._tone_ms, self._tone_hz = 0.0, None
        return self._tone_ms >= self.options.beep_ms


def _goertzel_bank(rate: int, size: int) -> npt.NDArray[np.complex128]:
    """A DFT row per candidate beep frequency (the Goertzel filters, as one matrix)."""
    t = np.arange(size) / rate
    window = np.hanning(size)
    return np.array([window * np.exp(-2j * np.pi * f * t) for f in BEEP_FREQUENCIES])
