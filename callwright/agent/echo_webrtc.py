"""WebRTC's echo canceller (AEC3) on the caller's audio, through LiveKit's binding.

AEC3 takes the far-end (agent) audio and the near-end (caller) audio in 10 ms frames, finds
the delay between them itself, and removes the echo adaptively, keeping the caller's voice when
both talk at once. We feed it both streams on the session timeline: for each 10 ms of caller
audio, first the agent audio sent in the same 10 ms, then the caller's. The echo comes back
later than the agent audio was sent (network, jitter buffers, the device), which is the
positive delay AEC3 expects.

The far end's playout buffer fills differently for each reply, so the echo's delay moves by
tens of milliseconds from one reply to the next, and AEC3 would take most of a second to find
it again each time (the agent's first words leaking through, read as the caller barging in).
So the delay is tracked by cross-correlation while the agent talks (`EchoPathTracker`) and
the reference is fed to AEC3 already aligned, a few milliseconds ahead of its echo; AEC3
then removes what is left: the room's reflections, level changes, the caller's voice kept.
Where the caller's audio is the echo and nothing else (it correlates almost perfectly with the
reference) it is silenced outright, which also covers the first moments of a call, before
AEC3 has converged.

AEC3 is engaged only once a stretch of the caller's audio has been nothing but the echo (most
callers hold a handset or wear a headset, and their barge-ins should reach VAD untouched).
Until then, that check (two correlations over most of a second of reference) runs on every
frame loud enough to be speech, and every `QUIET_CHECK_MS` on quieter ones: a handset's line
noise under the agent's voice would otherwise cost the check on every frame of every call,
and audio below `QUIET_RMS` cannot start a turn, so the check may wait for it. On quiet audio
that looks nothing like the echo (a handset's hiss) the wait doubles after each such check, up
to `QUIET_CHECK_MAX_MS`, and starts again at `QUIET_CHECK_MS` with each reply, with any loud
frame and with any check that finds a likeness: a quiet echo is still found within a reply,
and a line that is only noise costs a few checks per reply instead of ten a second.

While the agent has been silent for longer than any echo path, both streams skip the
canceller: there is nothing to cancel, and a process with hundreds of calls should not spend a
core on listening to silence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from callwright.agent.echo import ReferenceLine
from callwright.agent.echo_correlation import EchoOptions, EchoPathTracker, options_span

if TYPE_CHECKING:
    from livekit import rtc

FRAME_MS = 10  # AEC3 works on 10 ms frames
ECHO_TAIL_MS = 1000  # the longest echo path kept cancelling after the agent stops
# The aligned reference reaches AEC3 this much before its echo: a delay estimate a little too
# long (reflections, the caller talking) must still leave the reference ahead of its echo.
LEAD_MS = 24
# Caller audio quieter than this (RMS of int16 samples, -54 dBFS: a phone line's own noise) is
# not speech to VAD, so before engagement it is checked for being the echo only this often.
QUIET_RMS = 64.0
QUIET_CHECK_MS = 100
# The longest wait between two checks of quiet audio that looked nothing like the echo (its
# correlation under `EchoOptions.min_correlation`), reached by doubling from QUIET_CHECK_MS.
QUIET_CHECK_MAX_MS = 800


class WebRtcEchoCanceller:
    """Per-call AEC3 on the pipeline's timeline."""

    def __init__(self, sample_rate: int = 16000) -> None:
        from livekit import rtc  # native code, loaded only when this canceller is used

        self._rtc = rtc
        self.sample_rate = sample_rate
        self._frame = sample_rate * FRAME_MS // 1000
        self._tail = sample_rate * ECHO_TAIL_MS // 1000
        options = EchoOptions()
        self._line = ReferenceLine(
            sample_rate, 4 * options_span(options, sample_rate) / sample_rate
        )
        self._path = EchoPathTracker(self._line, options)
        self._lead = sample_rate * LEAD_MS // 1000
        self._shift = 0  # samples the reference is read back to meet its echo
        # AEC3 takes a caller talking over the agent for double talk and turns them down
        # while it is unsure; on a line with no echo (a handset, a headset) that only costs
        # barge-ins and backchannels. So it starts once the caller's audio has been the echo
        # and nothing else: then the line surely has an acoustic echo path.
        self._engaged = False
        self._quiet_first = sample_rate * QUIET_CHECK_MS // 1000
        self._quiet_most = sample_rate * QUIET_CHECK_MAX_MS // 1000
        self._quiet_check = self._quiet_first  # the current wait between quiet checks
        self._next_check = 0  # timeline sample from which quiet audio is checked again
        self._unlike = options.min_correlation  # below it, quiet audio is not the echo
        self._apm = rtc.AudioProcessingModule(echo_cancellation=True)

    @property
    def active(self) -> bool:
        """True once the agent has sent audio."""
        return self._line.end > 0

    def add_reference(self, samples: np.ndarray, at_ms: float) -> None:
        """Records agent audio (int16 at `sample_rate`) sent at `at_ms`."""
        self._line.add(samples, at_ms)

    def process(self, samples: np.ndarray, start_ms: float) -> np.ndarray:
        """The caller's chunk starting at `start_ms` with the agent's echo removed.

        Whole 10 ms frames go through AEC3; a shorter remainder (a gap filled with silence
        of odd length) passes unchanged.
        """
        start = round(start_ms * self.sample_rate / 1000)
        if start - self._line.last_audible > self._tail:
            self._quiet_check = self._quiet_first  # the next reply is checked afresh
            return samples  # no echo can still be arriving
        mic = samples.astype(np.float32)
        self._path.push_mic(mic)
        if not self._engaged:
            quiet = float(np.dot(mic, mic)) < QUIET_RMS * QUIET_RMS * mic.size
            if quiet and start < self._next_check:
                return samples  # checked again later (module docstring)
            likeness = self._path.echo_likeness(start + mic.size)
            if quiet and likeness < self._unlike:
                self._next_check = start + self._quiet_check
                self._quiet_check = min(2 * self._quiet_check, self._quiet_most)
            else:
                self._quiet_check = self._quiet_first
                self._next_check = start + self._quiet_check
            if likeness < self._path.options.gate_correlation:
                return samples  # no sign of an acoustic echo on this call yet
            self._engaged = True
            echo_only = True
        else:
            echo_only = self._path.only_echo(start + mic.size)
        out = np.array(samples, dtype=np.int16, copy=True)
        shift = self._aligned_shift()
        f = self._frame
        for i in range(0, out.size - f + 1, f):
            far = self._line.span(start + i - shift, start + i - shift + f)
            self._apm.process_reverse_stream(self._audio_frame(far.astype(np.int16)))
            near = self._audio_frame(out[i : i + f])
            self._apm.process_stream(near)
            out[i : i + f] = np.frombuffer(near.data, dtype=np.int16)
        if echo_only:
            # Nothing but the agent's voice (AEC3 has learnt from it all the same): silence,
            # also while AEC3 is still converging at the start of the call.
            return np.zeros_like(out)
        return out

    def _aligned_shift(self) -> int:
        """How far back to read the reference so that it leads its echo by about LEAD_MS.

        The shift holds while the estimated delay stays within what AEC3's own filter covers
        (the reference ahead of the echo by a little to twice the lead): moving it for every
        small change of the estimate (reflections, double talk) would make AEC3 adapt again.
        """
        delay = self._path.delay
        if delay is None:
            return self._shift
        lead = delay - self._shift
        if not self._lead // 4 <= lead <= 2 * self._lead:
            self._shift = max(0, delay - self._lead)
        return self._shift

    def _audio_frame(self, samples: np.ndarray) -> rtc.AudioFrame:
        return self._rtc.AudioFrame(samples.tobytes(), self.sample_rate, 1, samples.size)
