"""The per-frame audio buffers written in place (the echo reference ring, the call's stereo
recording), checked against plain whole-timeline arrays built here."""

from __future__ import annotations

import numpy as np

from callwright.agent.echo import ReferenceLine
from callwright.audio.frame import AudioFrame
from callwright.observe.audio_recording import StereoRecording, stereo_tracks


def test_the_reference_ring_gives_what_was_sent_where_it_was_sent() -> None:
    rate, ring = 1000, 50  # a 50-sample ring, so the writes below wrap it many times
    line = ReferenceLine(rate, ring / rate)
    timeline = np.zeros(2000, dtype=np.float32)  # everything sent, by timeline sample
    rng = np.random.default_rng(7)
    at = 0
    # Chunks shorter and longer than the ring, back to back and after gaps.
    for size, gap in [(7, 0), (13, 0), (30, 5), (49, 0), (50, 0), (120, 0), (3, 60), (11, 200)]:
        at += gap
        chunk = rng.integers(-3000, 3000, size).astype(np.int16)
        line.add(chunk, 1000.0 * at / rate)
        timeline[at : at + size] = chunk
        at += size
        assert line.end == at
        for lo, hi in [(at - ring, at), (at - 17, at + 5), (at - ring - 9, at - 20), (0, 4)]:
            expected = np.zeros(hi - lo, dtype=np.float32)
            kept_lo = max(lo, at - ring, 0)  # only the last `ring` samples are kept
            if hi > kept_lo:
                expected[kept_lo - lo : min(hi, at) - lo] = timeline[kept_lo : min(hi, at)]
            np.testing.assert_array_equal(line.span(lo, hi), expected)


def test_a_recording_longer_than_its_first_buffer_keeps_every_sample_in_place() -> None:
    rate, frame = 8000, 160
    recording = StereoRecording(rate, rate, rate)
    seconds = 5  # well past the buffer's first size: it grows while chunks are taken
    caller = np.zeros(seconds * rate, dtype=np.int16)
    agent = np.zeros(seconds * rate, dtype=np.int16)
    taken: list[tuple[float, bytes]] = []
    for i in range(seconds * rate // frame):
        at = i * frame
        samples = np.full(frame, (i % 200) + 1, dtype=np.int16)
        recording.caller(AudioFrame(samples, rate, 1000.0 * at / rate))
        caller[at : at + frame] = samples
        if 100 <= i < 180:  # the agent talks for 1.6 s, played as it is sent
            said = np.full(frame, -((i % 50) + 1), dtype=np.int16)
            recording.agent(said, 1000.0 * at / rate)
            agent[at : at + frame] = said
        if i % 37 == 0:  # settled audio is handed out as the call goes
            chunk = recording.take_settled(1000.0 * (at - 3 * frame) / rate)
            if chunk is not None:
                taken.append(chunk)
    last = recording.take_all()
    assert last is not None
    taken.append(last)
    starts = [start for start, _ in taken]
    assert starts[0] == 0.0 and starts == sorted(starts)
    left, right = stereo_tracks(b"".join(pcm for _, pcm in taken))
    np.testing.assert_array_equal(left, caller)
    np.testing.assert_array_equal(right, agent)
