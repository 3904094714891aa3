"""A call's stereo recording: caller on the left, agent on the right, on one timeline.

Caller audio is placed where its frames say it belongs on the call's audio timeline (lost
frames leave silence). Agent audio is placed when it is played: a frame sent at audio-clock time
t plays at t, or right after the previous agent frame if the caller's buffer still holds audio
(the playout runs a little ahead of real time). When the agent is cut off (`cut`, at the moment
the transport is told to drop buffered audio), agent audio placed after that instant never
reached the caller's ear and is removed, exactly as `Playout.stop()`/`pause()` count it as
unheard.

Audio that can no longer change (older than the audio clock) is handed out in chunks with
`take_settled`, so it can be stored as the call goes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from callwright.audio.frame import AudioFrame
from callwright.audio.resample import StreamResampler

RECORDING_RATE = 16000
_RESYNC_MS = 40.0  # caller frames further than this from where we expect them: trust the stamp
_INITIAL_SAMPLES = 16000


class StereoRecording:
    """Two aligned tracks at `RECORDING_RATE`, built from the live audio of one call.

    Args:
        caller_rate: sample rate of inbound caller frames.
        agent_rate: sample rate of outbound agent frames.
        rate: the recording's sample rate.
    """

    def __init__(self, caller_rate: int, agent_rate: int, rate: int = RECORDING_RATE) -> None:
        self.rate = rate
        self._agent_rate = agent_rate
        self._caller_resampler = StreamResampler(caller_rate, rate)
        self._agent_resampler = StreamResampler(agent_rate, rate)
        self._base = 0  # absolute sample index of the first sample still held
        # Held audio is [0, _end - _base) of buffers with room to spare, grown by doubling:
        # a frame is written in place, not by concatenating new arrays.
        self._caller = np.zeros(_INITIAL_SAMPLES, dtype=np.int16)
        self._agent = np.zeros(_INITIAL_SAMPLES, dtype=np.int16)
        self._caller_next = 0  # absolute index where the next caller sample goes
        self._agent_next = 0  # absolute index where the caller's ear is done with agent audio
        self._end = 0  # absolute index of the end of everything recorded

    def _index(self, ms: float) -> int:
        return round(ms * self.rate / 1000.0)

    def caller(self, frame: AudioFrame) -> None:
        """Adds a frame of caller audio as received."""
        samples = self._caller_resampler.process(frame.samples)
        at = self._index(frame.timestamp_ms)
        if abs(at - self._caller_next) > self._index(_RESYNC_MS):
            at = max(at, self._base)
        else:
            at = self._caller_next
        self._caller_next = at + samples.size
        self._write("caller", at, samples)

    def agent(self, samples: npt.NDArray[np.int16], sent_at_ms: float) -> None:
        """Adds a frame of agent audio sent to the caller at `sent_at_ms` (audio clock)."""
        out = self._agent_resampler.process(samples)
        at = max(self._agent_next, self._index(sent_at_ms))
        self._agent_next = at + out.size
        self._write("agent", at, out)

    def cut(self, at_ms: float) -> None:
        """The caller's buffered agent audio was dropped at `at_ms`: it was never heard."""
        at = max(self._index(at_ms), self._base)
        if at < self._agent_next:
            start = at - self._base
            self._agent[start:] = 0
            self._agent_next = at
        self._agent_resampler.reset()

    def _write(self, track: str, at: int, samples: npt.NDArray[np.int16]) -> None:
        if at < self._base:  # older than what was already handed out: drop that part
            samples = samples[self._base - at :]
            at = self._base
        if samples.size == 0:
            return
        end = at + samples.size
        self._grow(end)
        buffer = self._caller if track == "caller" else self._agent
        buffer[at - self._base : end - self._base] = samples
        self._end = max(self._end, end)

    def _grow(self, end: int) -> None:
        need = end - self._base
        if need > self._caller.size:
            size = max(need, 2 * self._caller.size)
            for name in ("_caller", "_agent"):
                old = getattr(self, name)
                grown = np.zeros(size, dtype=np.int16)
                grown[: old.size] = old
                setattr(self, name, grown)

    def take_settled(self, before_ms: float) -> tuple[float, bytes] | None:
        """Hands out (start_ms, interleaved stereo PCM16 LE) of the audio before `before_ms`."""
        return self._take(min(self._index(before_ms), self._end))

    def take_all(self) -> tuple[float, bytes] | None:
        """Hands out everything still held (at the end of the call)."""
        return self._take(self._end)

    def _take(self, until: int) -> tuple[float, bytes] | None:
        count = until - self._base
        if count <= 0:
            return None
        self._grow(until)
        stereo = np.empty(2 * count, dtype="<i2")
        stereo[0::2] = self._caller[:count]
        stereo[1::2] = self._agent[:count]
        start_ms = 1000.0 * self._base / self.rate
        held = self._end - until  # what stays (agent audio placed ahead of the caller's)
        for buffer in (self._caller, self._agent):
            buffer[:held] = buffer[count : count + held]
            buffer[held:] = 0
        self._base = until
        return start_ms, stereo.tobytes()


def stereo_tracks(pcm: bytes) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.int16]]:
    """Splits interleaved stereo PCM16 into (caller, agent) tracks."""
    both = np.frombuffer(pcm, dtype="<i2").astype(np.int16)
    return both[0::2].copy(), both[1::2].copy()
