"""Audio conditions on the caller's side of a simulated call, deterministic for a seed.

A condition says what happens between the caller's mouth and the agent's ear: a phone line
(8 kHz µ-law), a network that loses and reorders 20 ms frames, background noise at a set
signal-to-noise ratio, a speakerphone that leaks the agent's voice back into the microphone,
a caller who pauses mid-sentence, a caller who talks over the agent. The simulators apply the
frame-level parts (noise, loss, echo) as they stream; the line-level parts (phone band,
pauses, talking over) shape each line before it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from callwright.audio.mulaw import mulaw_decode, mulaw_encode
from callwright.audio.resample import resample
from callwright.sim.voices import SPEECH_LEVEL_DBFS

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Condition:
    """One audio condition.

    Attributes:
        name: its id in scenario files and reports.
        description: one line for reports and docs.
        phone_band: the call is a phone call: Twilio's Media Streams protocol, µ-law 8 kHz
            (`phone_line` does the same to a clip).
        snr_db: continuous background noise at this ratio to the caller's speech level.
        loss: share of 20 ms frames lost on the way (concealed as silence where the protocol
            has no sequence numbers).
        reorder: share of frames delivered after the frame that follows them (jitter).
        echo_gain: share of the agent's audio that leaks back into the caller's microphone.
        echo_delay_ms: delay of that leak (loudspeaker to microphone, plus the device).
        pause_ms: the caller pauses this long in the middle of each longer line.
        talk_over_ms: the caller starts each line after the first this long after the agent's
            reply began, talking over it (scripted callers only).
        seed: seed of every random choice (noise, lost frames).
    """

    name: str
    description: str
    phone_band: bool = False
    snr_db: float | None = None
    loss: float = 0.0
    reorder: float = 0.0
    echo_gain: float = 0.0
    echo_delay_ms: float = 120.0
    pause_ms: float = 0.0
    talk_over_ms: float | None = None
    seed: int = 12


CONDITIONS: dict[str, Condition] = {
    c.name: c
    for c in (
        Condition("clean", "the voice as synthesized"),
        Condition("phone", "8 kHz µ-law phone line", phone_band=True),
        Condition(
            "lossy", "3 % of frames lost, 5 % reordered", phone_band=True, loss=0.03, reorder=0.05
        ),
        Condition("noisy", "background noise at 15 dB SNR", snr_db=15.0),
        Condition(
            "speakerphone",
            "the agent's voice leaks back at -12 dB after 120 ms",
            echo_gain=0.25,
            echo_delay_ms=120.0,
        ),
        Condition("pauses", "the caller pauses 1.2 s mid-sentence", pause_ms=1200.0),
        Condition(
            "talk_over", "the caller starts 1.5 s into the agent's reply", talk_over_ms=1500.0
        ),
    )
}


def condition(name: str) -> Condition:
    """The condition called `name`; raises KeyError listing the known ones."""
    try:
        return CONDITIONS[name]
    except KeyError:
        raise KeyError(f"unknown condition {name!r}; known: {', '.join(CONDITIONS)}") from None


def phone_line(samples: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """The audio after an 8 kHz µ-law line, back at `sample_rate`."""
    narrow = resample(samples, sample_rate, 8000)
    return resample(mulaw_decode(mulaw_encode(narrow)), 8000, sample_rate)


# Closed-class words that open a phrase (articles, possessives, prepositions, auxiliaries,
# conjunctions, the infinitive "to"): speakers who stop to plan stop mostly after such a word,
# before the content word it announces (Maclay & Osgood 1959; Clark & Wasow 1998), so a pause
# there leaves the sentence audibly open.
_PHRASE_OPENERS = frozenset(
    """a an the my your his her our their its this that to of for on in at with about from by
    is are was were am be will would can could should and or but if""".split()
)


def insert_pause(text: str) -> str:
    """Marks a mid-sentence pause ("|") where a caller planning the next words would stop.

    The pause goes after a phrase-opening word ("to", "the", "on", "is") nearest the middle,
    else at the word boundary nearest the middle that follows no punctuation: never after a
    comma or a full stop, where a clause or a list item has ended and the pause would be a
    caller who finished, not one who paused. Lines of fewer than four words are said in one
    breath.
    """
    words = text.split()
    if len(words) < 4 or "|" in text:
        return text
    # Boundaries after word i (not after the last word), with the character offset of each.
    offsets, at = [], 0
    for word in words:
        at = text.index(word, at) + len(word)
        offsets.append(at)
    middle = len(text) / 2
    inside = [i for i in range(len(words) - 1) if words[i][-1].isalnum()]
    openers = [i for i in inside if words[i].lower() in _PHRASE_OPENERS and i > 0]
    candidates = openers or inside or list(range(len(words) - 1))
    cut = min(candidates, key=lambda i: abs(offsets[i] - middle))
    return " ".join(words[: cut + 1]) + " | " + " ".join(words[cut + 1 :])


class NoiseSource:
    """Continuous pink background noise at a fixed level, frame after frame.

    A loop of `loop_s` seconds is made once (white noise shaped to 1/f in the frequency
    domain, band-limited to 60 Hz-7 kHz, scaled to the exact RMS) and read cyclically, so a
    frame costs a copy.

    Args:
        snr_db: ratio of the caller's speech level (`SPEECH_LEVEL_DBFS`) to the noise.
        seed: the noise is the same for the same seed.
        sample_rate: rate of the frames asked for.
        loop_s: length of the loop.
    """

    def __init__(
        self, snr_db: float, seed: int = 0, sample_rate: int = 16000, loop_s: float = 7.3
    ) -> None:
        self.rms = 32768.0 * 10 ** ((SPEECH_LEVEL_DBFS - snr_db) / 20.0)
        n = int(loop_s * sample_rate)
        spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
        freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
        band = (freqs >= 60.0) & (freqs <= 7000.0)
        spectrum = np.where(band, spectrum / np.sqrt(np.maximum(freqs, 1.0)), 0.0)
        loop = np.fft.irfft(spectrum, n)
        self._loop = loop * (self.rms / float(np.sqrt(np.mean(loop**2))))
        self._at = 0

    def next(self, n: int) -> np.ndarray:
        """The next `n` samples of noise (float64, int16 scale)."""
        index = (self._at + np.arange(n)) % self._loop.size
        self._at = (self._at + n) % self._loop.size
        return self._loop[index]

    def mix(self, frame: np.ndarray) -> np.ndarray:
        """`frame` (int16) with the next stretch of noise added."""
        mixed = frame.astype(np.float64) + self.next(frame.size)
        return np.clip(np.round(mixed), -32768, 32767).astype(np.int16)


class FrameNetwork(Generic[T]):
    """Loses and reorders frames like a poor network path, deterministically for a seed.

    `push` takes the next frame and returns what arrives now: nothing (lost, or held back),
    the frame, or the frame followed by the one held back before it.
    """

    def __init__(self, loss: float, reorder: float, seed: int = 0) -> None:
        self.loss = loss
        self.reorder = reorder
        self._rng = np.random.default_rng(seed)
        self._held: T | None = None
        self.lost = 0
        self.reordered = 0

    def push(self, frame: T) -> list[T]:
        lost = self._rng.random() < self.loss
        late = self._rng.random() < self.reorder
        if lost:
            self.lost += 1
            out: list[T] = []
        elif late and self._held is None:
            self._held = frame
            self.reordered += 1
            return []
        else:
            out = [frame]
        if self._held is not None:
            out.append(self._held)
            self._held = None
        return out


class EchoPath:
    """A speakerphone: what the device plays comes back into its microphone, later and softer.

    Args:
        gain: linear gain of the leak.
        delay_ms: its delay.
        sample_rate: rate of the audio both ways.
    """

    def __init__(self, gain: float, delay_ms: float, sample_rate: int) -> None:
        self.gain = gain
        self._line = np.zeros(int(delay_ms * sample_rate / 1000), dtype=np.float64)

    def played(self, samples: np.ndarray) -> None:
        """The device played these samples (silence included, so the delay stays exact)."""
        self._line = np.concatenate([self._line, samples.astype(np.float64)])

    def mix(self, frame: np.ndarray) -> np.ndarray:
        """`frame` (int16) with the leak that reaches the microphone during it."""
        leak = self._line[: frame.size]
        self._line = self._line[frame.size :]
        if leak.size < frame.size:
            leak = np.concatenate([leak, np.zeros(frame.size - leak.size)])
        mixed = frame.astype(np.float64) + self.gain * leak
        return np.clip(np.round(mixed), -32768, 32767).astype(np.int16)
