"""Silero VAD provider on speech synthesised by espeak-ng."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from callwright.sim.espeak import espeak_clip
from callwright.vad.base import VadStream, VadWindow, VoiceActivityModel
from callwright.vad.silero import SileroVadModel

SENTENCE = "I would like to speak to someone in customer service."
OTHER_SENTENCE = "The meeting has been moved to next week."


def speak(text: str, sample_rate: int, voice: str = "en-us+f2") -> np.ndarray:
    """Synthesises `text` with espeak-ng as int16 samples at `sample_rate`."""
    return espeak_clip(text, sample_rate, voice)


def with_silence(speech: np.ndarray, sample_rate: int) -> np.ndarray:
    """Adds half a second of digital silence on both sides."""
    silence = np.zeros(sample_rate // 2, dtype=np.int16)
    return np.concatenate((silence, speech, silence))


def speech_span_ms(speech: np.ndarray, sample_rate: int) -> tuple[float, float]:
    """First and last audible sample of `speech`, in ms from its start."""
    loud = np.nonzero(np.abs(speech.astype(np.int32)) > 300)[0]
    return 1000.0 * loud[0] / sample_rate, 1000.0 * loud[-1] / sample_rate


async def run_stream(
    stream: VadStream, audio: np.ndarray, chunk: int, start_ms: float = 0.0
) -> list[VadWindow]:
    """Feeds `audio` in chunks of `chunk` samples with their true timestamps."""
    windows: list[VadWindow] = []
    for offset in range(0, audio.shape[0], chunk):
        timestamp = start_ms + 1000.0 * offset / stream.sample_rate
        windows += await stream.process(audio[offset : offset + chunk], timestamp)
    return windows


@pytest.fixture(scope="module")
def vad() -> Iterator[SileroVadModel]:
    model = SileroVadModel.load(num_threads=2)
    yield model
    model.close()


@pytest.fixture(scope="module")
def speech16() -> np.ndarray:
    return speak(SENTENCE, 16000)


@pytest.fixture(scope="module")
def call16(speech16: np.ndarray) -> np.ndarray:
    return with_silence(speech16, 16000)


def check_speech_and_silence(
    windows: list[VadWindow], speech: np.ndarray, sample_rate: int, start_ms: float
) -> None:
    onset, offset = speech_span_ms(speech, sample_rate)
    onset += start_ms + 500.0
    offset += start_ms + 500.0
    before = [w.probability for w in windows if w.end_ms <= onset]
    during = [w.probability for w in windows if w.start_ms >= onset and w.end_ms <= offset]
    # Silero fades out over a few windows after speech stops.
    after = [w.probability for w in windows if w.start_ms >= offset + 300.0]
    assert len(before) >= 10 and len(after) >= 10 and len(during) >= 50
    assert max(before) < 0.2
    assert max(after) < 0.2
    assert np.median(during) > 0.9
    assert np.mean(np.array(during) > 0.5) > 0.8


async def test_speech_is_detected_and_silence_is_not(
    vad: SileroVadModel, speech16: np.ndarray, call16: np.ndarray
) -> None:
    windows = await run_stream(vad.open_stream(16000), call16, chunk=320, start_ms=1000.0)
    check_speech_and_silence(windows, speech16, 16000, start_ms=1000.0)


async def test_windows_are_contiguous_and_anchored(vad: SileroVadModel, call16: np.ndarray) -> None:
    model: VoiceActivityModel = vad  # checked by mypy against the protocols
    stream: VadStream = model.open_stream(16000)
    windows = await run_stream(stream, call16, chunk=320, start_ms=2500.0)
    assert len(windows) == call16.shape[0] // 512
    assert windows[0].start_ms == pytest.approx(2500.0)
    for index, window in enumerate(windows):
        assert window.start_ms == pytest.approx(2500.0 + 32.0 * index)
        assert window.end_ms == pytest.approx(window.start_ms + 32.0)
        assert 0.0 <= window.probability <= 1.0


@pytest.mark.parametrize("chunk", [160, 320, 512, 1000])
async def test_chunk_size_does_not_change_results(
    vad: SileroVadModel, call16: np.ndarray, chunk: int
) -> None:
    whole = await vad.open_stream(16000).process(call16, 0.0)
    chunked = await run_stream(vad.open_stream(16000), call16, chunk=chunk)
    assert len(chunked) == len(whole) == call16.shape[0] // 512
    assert [w.start_ms for w in chunked] == pytest.approx([w.start_ms for w in whole])
    np.testing.assert_allclose(
        [w.probability for w in chunked], [w.probability for w in whole], atol=1e-6
    )


async def test_interleaved_streams_keep_their_own_state(
    vad: SileroVadModel, call16: np.ndarray
) -> None:
    other = with_silence(speak(OTHER_SENTENCE, 16000, voice="en-us"), 16000)
    alone_a = await run_stream(vad.open_stream(16000), call16, chunk=320)
    alone_b = await run_stream(vad.open_stream(16000), other, chunk=480)

    stream_a, stream_b = vad.open_stream(16000), vad.open_stream(16000)
    mixed_a: list[VadWindow] = []
    mixed_b: list[VadWindow] = []
    steps = max(call16.shape[0] // 320, other.shape[0] // 480) + 1
    for step in range(steps):
        # Both streams are in flight at once, on the shared session and executor.
        got_a, got_b = await asyncio.gather(
            stream_a.process(call16[step * 320 : (step + 1) * 320], step * 20.0),
            stream_b.process(other[step * 480 : (step + 1) * 480], step * 30.0),
        )
        mixed_a += got_a
        mixed_b += got_b

    assert len(alone_a) == call16.shape[0] // 512
    assert mixed_a == alone_a
    assert mixed_b == alone_b


async def test_8khz_stream(vad: SileroVadModel) -> None:
    speech = speak(SENTENCE, 8000)
    audio = with_silence(speech, 8000)
    stream = vad.open_stream(8000)
    windows = await run_stream(stream, audio, chunk=160, start_ms=40.0)
    assert len(windows) == audio.shape[0] // 256
    assert all(w.end_ms - w.start_ms == pytest.approx(32.0) for w in windows)
    assert windows[0].start_ms == pytest.approx(40.0)
    check_speech_and_silence(windows, speech, 8000, start_ms=40.0)


async def test_gap_in_timestamps_reanchors(vad: SileroVadModel, call16: np.ndarray) -> None:
    stream = vad.open_stream(16000)
    first = await stream.process(call16[:1000], 0.0)  # one window, 488 samples left over
    # A little jitter in the timestamp does not move the timeline.
    second = await stream.process(call16[1000:1600], 62.5 + 3.0)
    assert [w.start_ms for w in first + second] == pytest.approx([0.0, 32.0, 64.0])
    # Audio resumes 5 s later: windows restart at the new timestamp, leftovers dropped.
    after_gap = await stream.process(call16[1600:2624], 5000.0)
    assert [w.start_ms for w in after_gap] == pytest.approx([5000.0, 5032.0])


async def test_reset_gives_a_fresh_stream(vad: SileroVadModel, call16: np.ndarray) -> None:
    stream = vad.open_stream(16000)
    fresh = await run_stream(stream, call16, chunk=1000)
    await stream.process(call16[:700], 9000.0)
    stream.reset()
    again = await run_stream(stream, call16, chunk=1000)
    assert again == fresh


def test_unsupported_rate_is_rejected(vad: SileroVadModel) -> None:
    with pytest.raises(ValueError, match="8000 and 16000"):
        vad.open_stream(22050)


async def test_calls_at_once_are_batched_and_each_gets_exactly_its_own_result(
    vad: SileroVadModel, call16: np.ndarray
) -> None:
    """Streams fed concurrently (one ONNX run for all of them per round) give each stream the
    same probabilities as evaluating its windows alone, in order, with the unbatched model."""
    other = with_silence(speak(OTHER_SENTENCE, 16000, voice="en-us+m3"), 16000)
    audios = [call16, other, call16[::-1].copy(), other[: other.size // 2]]
    chunks = [320, 320, 640, 1024]  # 20 ms, 40 ms, 64 ms (two windows per chunk)
    sizes: list[int] = []
    run_batch = vad._run_batch

    def counted(requests: list[Any]) -> list[Any]:
        sizes.append(len(requests))
        return run_batch(requests)

    vad._run_batch = counted  # type: ignore[method-assign]
    try:
        batched = await asyncio.gather(
            *(run_stream(vad.open_stream(16000), a, c) for a, c in zip(audios, chunks, strict=True))
        )
    finally:
        del vad._run_batch
    assert max(sizes) > 1  # some rounds really held several calls
    for audio, got in zip(audios, batched, strict=True):
        floats = audio.astype(np.float32) / 32768.0
        count = floats.size // 512
        windows = floats[: count * 512].reshape(count, 512)
        context = np.zeros(64, dtype=np.float32)
        state = np.zeros((2, 1, 128), dtype=np.float32)
        alone = []
        for window in windows:  # the model's own session, one window at a time
            output, state = vad._session.run(
                None,
                {"input": np.concatenate((context, window))[np.newaxis, :], "state": state,
                 "sr": np.array(16000, dtype=np.int64)},
            )  # fmt: skip
            alone.append(float(output[0, 0]))
            context = window[-64:]
        assert [w.probability for w in got] == pytest.approx(alone, abs=1e-5)


def test_the_model_outlives_an_event_loop_that_left_windows_waiting(
    vad: SileroVadModel, call16: np.ndarray
) -> None:
    """A session-wide model serves calls on a new loop after an old loop closed mid-batch."""

    async def start_then_leave() -> None:
        stream = vad.open_stream(16000)
        asyncio.get_running_loop().create_task(run_stream(stream, call16, 640))
        await asyncio.sleep(0)  # its first windows are queued; the loop then closes

    old = asyncio.new_event_loop()
    old.run_until_complete(start_then_leave())
    old.close()

    async def fresh() -> list[VadWindow]:
        return await asyncio.wait_for(run_stream(vad.open_stream(16000), call16, 320), 60)

    windows = asyncio.run(fresh())
    assert len(windows) == call16.size // 512
