"""Tests for the audio core: G.711 µ-law, resampling, WAV helpers."""

from __future__ import annotations

import io
import itertools
import struct
import warnings
import wave
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import numpy.typing as npt
import pytest
import soxr

from callwright.audio.frame import SUPPORTED_RATES
from callwright.audio.mulaw import mulaw_decode, mulaw_encode
from callwright.audio.resample import (
    DEFAULT_STREAM_QUALITY,
    QUALITIES,
    Quality,
    StreamResampler,
    resample,
)
from callwright.audio.wav import read_wav, wav_bytes, write_stereo_wav, write_wav

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))
RATE_PAIRS = [(a, b) for a, b in itertools.permutations(SUPPORTED_RATES, 2)]


def _import_audioop() -> ModuleType | None:
    """CPython's C µ-law codec, the reference while it exists (removed in 3.13)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:
            return None
    return audioop


AUDIOOP = _import_audioop()


# --- G.711 reference, written straight from the spec (scalar, segment search) -------------

_SEG_END = (0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF, 0x3FFF, 0x7FFF)  # 16-bit, bias included


def _spec_encode(sample: int) -> int:
    """ITU-T G.711 µ-law encoding of one 16-bit sample (14 significant bits)."""
    pcm = sample >> 2
    sign = 0x00 if pcm >= 0 else 0x80  # complemented below, so positives end up with 0x80
    magnitude = min(abs(pcm), 8159) + 33
    for segment, end in enumerate(_SEG_END):
        if magnitude <= end >> 2:
            return ~(sign | (segment << 4) | ((magnitude >> (segment + 1)) & 0x0F)) & 0xFF
    return ~(sign | 0x7F) & 0xFF


def _spec_decode(code: int) -> int:
    """ITU-T G.711 µ-law decoding of one code to a 16-bit sample."""
    code = ~code & 0xFF
    magnitude = ((((code & 0x0F) << 3) + 0x84) << ((code & 0x70) >> 4)) - 0x84
    return -magnitude if code & 0x80 else magnitude


def _reference_encode(samples: npt.NDArray[np.int16]) -> bytes:
    if AUDIOOP is not None:
        return bytes(AUDIOOP.lin2ulaw(samples.astype("<i2").tobytes(), 2))
    return bytes(_spec_encode(int(s)) for s in samples)


def _reference_decode(codes: bytes) -> npt.NDArray[np.int16]:
    if AUDIOOP is not None:
        return np.frombuffer(AUDIOOP.ulaw2lin(codes, 2), dtype="<i2").astype(np.int16)
    return np.array([_spec_decode(c) for c in codes], dtype=np.int16)


# --- µ-law ------------------------------------------------------------------------------


def test_mulaw_encode_bit_exact_for_every_int16_value() -> None:
    assert mulaw_encode(ALL_INT16) == _reference_encode(ALL_INT16)


def test_mulaw_decode_bit_exact_for_every_code() -> None:
    np.testing.assert_array_equal(mulaw_decode(ALL_CODES), _reference_decode(ALL_CODES))


def test_mulaw_matches_spec_reference_even_when_audioop_exists() -> None:
    # Keeps the post-3.13 fallback reference honest while audioop can still vouch for it.
    spec_codes = bytes(_spec_encode(int(s)) for s in ALL_INT16)
    assert mulaw_encode(ALL_INT16) == spec_codes
    assert mulaw_decode(ALL_CODES).tolist() == [_spec_decode(c) for c in ALL_CODES]


def test_mulaw_code_round_trip() -> None:
    codes = mulaw_encode(mulaw_decode(ALL_CODES))
    # 0x7F is "negative zero": it decodes to 0, which encodes as positive zero 0xFF.
    expected = bytes(0xFF if c == 0x7F else c for c in ALL_CODES)
    assert codes == expected


def test_mulaw_round_trip_error_within_segment_half_step() -> None:
    x = ALL_INT16.astype(np.int32)
    error = np.abs(mulaw_decode(mulaw_encode(ALL_INT16)).astype(np.int32) - x)
    in_range = np.abs(x) <= 32124
    # Half a quantization step of the sample's segment (in 16-bit units) plus the 2 bits G.711
    # drops before quantizing.
    biased = np.minimum(np.abs(x >> 2), 8159) + 33
    segment = np.floor(np.log2(biased)).astype(np.int32) - 5
    bound = 4 * 2**segment + 3
    assert np.all(error[in_range] <= bound[in_range])
    # Beyond the largest code value the codec saturates instead of wrapping.
    assert np.all(error[~in_range] == np.abs(x[~in_range]) - 32124)


def test_mulaw_round_trip_sqnr_of_a_speech_level_tone() -> None:
    tone = _tone(440.0, 8000, amplitude=8000.0)
    decoded = mulaw_decode(mulaw_encode(tone)).astype(np.float64)
    noise = decoded - tone
    sqnr_db = 10 * np.log10(np.mean(tone.astype(np.float64) ** 2) / np.mean(noise**2))
    assert sqnr_db > 35.0  # G.711 gives ~38 dB over most of its range


def test_mulaw_accepts_any_buffer_and_rejects_float_samples() -> None:
    assert mulaw_decode(bytearray(b"\xff\x00")).tolist() == [0, -32124]
    assert mulaw_decode(memoryview(b"\x80")).tolist() == [32124]
    assert mulaw_decode(b"").shape == (0,)
    assert mulaw_encode(np.zeros(0, dtype=np.int16)) == b""
    with pytest.raises(TypeError):
        mulaw_encode(np.zeros(4, dtype=np.float32))


# --- resampling helpers -----------------------------------------------------------------


def _tone(freq: float, rate: int, seconds: float = 1.0, amplitude: float = 10000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.rint(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def _middle(samples: np.ndarray) -> np.ndarray:
    # Skip the first and last quarter: onset/offset transients are not what is measured.
    n = samples.shape[0]
    return samples[n // 4 : 3 * n // 4].astype(np.float64)


def _amplitude_at(samples: np.ndarray, rate: int, freq: float) -> float:
    y = _middle(samples)
    t = np.arange(y.shape[0]) / rate
    basis = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    return float(np.hypot(*coef))


def _peak_frequency(samples: np.ndarray, rate: int) -> float:
    y = _middle(samples) * np.hanning(_middle(samples).shape[0])
    n_fft = 1 << 20  # zero-padded: bins of 0.02 Hz at 24 kHz
    spectrum = np.abs(np.fft.rfft(y, n_fft))
    return float(np.argmax(spectrum) * rate / n_fft)


def _stream(
    resampler: StreamResampler, samples: np.ndarray, chunk_sizes: Callable[[int], int]
) -> tuple[list[np.ndarray], np.ndarray]:
    chunks: list[np.ndarray] = []
    i = 0
    while i < samples.shape[0]:
        size = chunk_sizes(i)
        chunks.append(resampler.process(samples[i : i + size]))
        i += size
    chunks.append(resampler.flush())
    return chunks, np.concatenate(chunks)


def _frames_20ms(rate: int) -> Callable[[int], int]:
    return lambda _: rate // 50


# --- resampling -------------------------------------------------------------------------


@pytest.mark.parametrize(("from_rate", "to_rate"), RATE_PAIRS)
@pytest.mark.parametrize("mode", ["oneshot", "stream"])
def test_resampling_preserves_tone_frequency_and_amplitude(
    from_rate: int, to_rate: int, mode: str
) -> None:
    tone = _tone(440.0, from_rate)
    if mode == "oneshot":
        out = resample(tone, from_rate, to_rate)
    else:
        _, out = _stream(StreamResampler(from_rate, to_rate), tone, _frames_20ms(from_rate))
    assert out.dtype == np.int16
    assert out.shape[0] == to_rate  # one second in, one second out
    assert abs(_peak_frequency(out, to_rate) - 440.0) < 0.1
    assert _amplitude_at(out, to_rate, 440.0) == pytest.approx(10000.0, rel=0.005)


@pytest.mark.parametrize("quality", [q for q in QUALITIES if q != "QQ"])
@pytest.mark.parametrize("mode", ["oneshot", "stream"])
def test_downsampling_rejects_aliases_by_40_db(quality: Quality, mode: str) -> None:
    # 6 kHz does not exist at 8 kHz; an unfiltered decimator would fold it onto 2 kHz.
    tone = _tone(6000.0, 16000)
    if mode == "oneshot":
        out = resample(tone, 16000, 8000, quality=quality)
    else:
        resampler = StreamResampler(16000, 8000, quality=quality)
        _, out = _stream(resampler, tone, _frames_20ms(16000))
    rms_in = np.sqrt(np.mean(_middle(tone) ** 2))
    rms_out = np.sqrt(np.mean(_middle(out) ** 2))
    assert 20 * np.log10(max(rms_out, 1e-3) / rms_in) <= -40.0
    assert _amplitude_at(out, 8000, 2000.0) < 10000.0 * 10 ** (-40 / 20)


@pytest.mark.parametrize(("from_rate", "to_rate"), RATE_PAIRS)
@pytest.mark.parametrize("quality", [DEFAULT_STREAM_QUALITY, "HQ"])
def test_streaming_in_20ms_frames_equals_oneshot(
    from_rate: int, to_rate: int, quality: Quality
) -> None:
    rng = np.random.default_rng(7)
    speechlike = np.rint(rng.standard_normal(from_rate) * 3000).astype(np.int16)
    oneshot = resample(speechlike, from_rate, to_rate, quality=quality)
    resampler = StreamResampler(from_rate, to_rate, quality=quality)
    _, streamed = _stream(resampler, speechlike, _frames_20ms(from_rate))
    assert streamed.shape == oneshot.shape
    assert np.max(np.abs(streamed.astype(np.int32) - oneshot)) <= 1


def test_streaming_output_does_not_depend_on_chunking() -> None:
    rng = np.random.default_rng(3)
    signal = np.rint(rng.standard_normal(22050) * 3000).astype(np.int16)
    sizes = itertools.cycle([1, 441, 7, 1000, 0, 333])
    _, irregular = _stream(StreamResampler(22050, 8000), signal, lambda _: next(sizes))
    _, framed = _stream(StreamResampler(22050, 8000), signal, _frames_20ms(22050))
    np.testing.assert_array_equal(irregular, framed)


@pytest.mark.parametrize(("from_rate", "to_rate"), [(8000, 16000), (24000, 8000), (22050, 16000)])
def test_streaming_has_no_discontinuities_at_frame_edges(from_rate: int, to_rate: int) -> None:
    amplitude, freq = 10000.0, 440.0
    chunks, out = _stream(
        StreamResampler(from_rate, to_rate), _tone(freq, from_rate), _frames_20ms(from_rate)
    )
    steady = out[to_rate // 20 : -to_rate // 20].astype(np.float64)
    # A sine cannot move faster than its peak slope; a click at a frame edge would.
    max_step = amplitude * 2 * np.pi * freq / to_rate
    assert np.max(np.abs(np.diff(steady))) <= max_step * 1.02 + 2
    # Each chunk continues its predecessor as smoothly as the interior does.
    edges = np.cumsum([c.shape[0] for c in chunks])[:-1]
    edges = edges[(edges > to_rate // 20) & (edges < out.shape[0] - to_rate // 20)]
    assert edges.size > 10
    assert np.max(np.abs(out[edges].astype(np.int32) - out[edges - 1])) <= max_step * 1.02 + 2


@pytest.mark.parametrize(("from_rate", "to_rate"), RATE_PAIRS)
def test_default_stream_emits_every_frame_with_bounded_lag(from_rate: int, to_rate: int) -> None:
    resampler = StreamResampler(from_rate, to_rate)
    frame = _tone(440.0, from_rate, seconds=0.02)
    sizes, lags = [], []
    for _ in range(50):
        sizes.append(resampler.process(frame).shape[0])
        lags.append(resampler.lag_ms)
    # The fixed-ratio soxr engines hold ~100 ms and emit it in bursts; the default must not.
    assert min(sizes[3:]) > 0
    assert max(lags) <= 35.0
    resampler.flush()
    assert resampler.lag_ms == 0.0


def test_identity_is_a_no_copy_pass_through() -> None:
    samples = _tone(440.0, 16000, seconds=0.02)
    assert resample(samples, 16000, 16000) is samples
    resampler = StreamResampler(16000, 16000)
    assert resampler.process(samples) is samples
    assert resampler.lag_ms == 0.0
    assert resampler.flush().shape == (0,)


def test_full_scale_input_saturates_instead_of_wrapping() -> None:
    t = np.arange(16000) / 16000
    square = np.where(np.sin(2 * np.pi * 300 * t) >= 0, 32767, -32768).astype(np.int16)
    ideal = soxr.resample(square.astype(np.float64), 16000, 8000, quality="HQ")
    assert ideal.max() > 32767 and ideal.min() < -32768  # the filter does overshoot
    expected = np.clip(np.rint(ideal), -32768, 32767)
    out = resample(square, 16000, 8000)
    assert np.max(np.abs(out.astype(np.int64) - expected)) <= 1
    _, streamed = _stream(StreamResampler(16000, 8000), square, _frames_20ms(16000))
    assert streamed.max() == 32767 and streamed.min() == -32768
    # A wrapped overshoot would show up as a full-scale jump between neighbours.
    assert np.max(np.abs(np.diff(streamed.astype(np.int32)))) < 50000


@pytest.mark.parametrize("quality", QUALITIES)
def test_digital_silence_stays_silent(quality: Quality) -> None:
    silence = np.zeros(1600, dtype=np.int16)
    assert not resample(silence, 16000, 8000, quality=quality).any()
    resampler = StreamResampler(8000, 16000, quality=quality)
    _, out = _stream(resampler, silence, _frames_20ms(8000))
    assert out.shape == (3200,)
    assert not out.any()


def test_resampler_is_reusable_after_flush() -> None:
    signal = _tone(300.0, 24000, seconds=0.5)
    resampler = StreamResampler(24000, 8000)
    _, first = _stream(resampler, signal, _frames_20ms(24000))
    _, second = _stream(resampler, signal, _frames_20ms(24000))
    np.testing.assert_array_equal(first, second)


def test_resample_rejects_bad_arguments() -> None:
    samples = np.zeros(160, dtype=np.int16)
    with pytest.raises(TypeError):
        resample(samples.astype(np.float32), 8000, 16000)
    with pytest.raises(ValueError):
        resample(samples.reshape(2, 80), 8000, 16000)
    with pytest.raises(ValueError):
        resample(samples, 0, 16000)
    with pytest.raises(ValueError):
        StreamResampler(8000, 16000, quality="best")  # type: ignore[arg-type]
    assert resample(np.zeros(0, dtype=np.int16), 8000, 16000).shape == (0,)


# --- the half-band path between 8 and 16 kHz --------------------------------------------


def test_phone_rates_stream_through_the_half_band_filter_by_default() -> None:
    assert StreamResampler(8000, 16000).quality == "HB"
    assert StreamResampler(16000, 8000).quality == "HB"
    assert StreamResampler(24000, 8000).quality == "VR"  # not a factor of two
    with pytest.raises(ValueError, match="factor of two"):
        StreamResampler(24000, 8000, quality="HB")


@pytest.mark.parametrize(("from_rate", "to_rate"), [(8000, 16000), (16000, 8000)])
def test_half_band_passes_the_phone_band_flat(from_rate: int, to_rate: int) -> None:
    for freq in (300.0, 1000.0, 2500.0, 3400.0):
        _, out = _stream(
            StreamResampler(from_rate, to_rate), _tone(freq, from_rate), _frames_20ms(from_rate)
        )
        assert out.shape[0] == to_rate
        # within 0.05 dB (int16 rounding included)
        assert _amplitude_at(out, to_rate, freq) == pytest.approx(10000.0, rel=0.006)


def test_half_band_upsampling_adds_no_image() -> None:
    # Doubling the rate mirrors each tone at 8000 - f unless the filter removes it.
    for freq in (400.0, 2000.0, 3600.0):
        _, out = _stream(StreamResampler(8000, 16000), _tone(freq, 8000), _frames_20ms(8000))
        assert _amplitude_at(out, 16000, 8000.0 - freq) < 10000.0 * 10 ** (-70 / 20)


def test_half_band_downsampling_folds_nothing_back() -> None:
    for freq in (4400.0, 6000.0, 7600.0):
        _, out = _stream(StreamResampler(16000, 8000), _tone(freq, 16000), _frames_20ms(16000))
        assert _amplitude_at(out, 8000, 8000.0 - freq) < 10000.0 * 10 ** (-70 / 20)


@pytest.mark.parametrize(("from_rate", "to_rate"), [(8000, 16000), (16000, 8000)])
def test_half_band_is_time_aligned_with_a_few_ms_of_lag(from_rate: int, to_rate: int) -> None:
    # A click at 0.25 s comes out at 0.25 s of the output's own timeline.
    click = np.zeros(from_rate // 2, dtype=np.int16)
    click[from_rate // 4] = 20000
    resampler = StreamResampler(from_rate, to_rate)
    chunks, out = _stream(resampler, click, _frames_20ms(from_rate))
    assert out.shape[0] == to_rate // 2
    assert int(np.argmax(np.abs(out))) == to_rate // 4
    # The filter fills once: only the first frame comes out short, by at most 4 ms.
    full = to_rate // 50
    assert all(c.shape[0] == full for c in chunks[1:-1])
    assert full - chunks[0].shape[0] <= 4 * to_rate // 1000
    assert chunks[-1].shape[0] == full - chunks[0].shape[0]


@pytest.mark.parametrize(("from_rate", "to_rate"), [(8000, 16000), (16000, 8000)])
def test_half_band_output_does_not_depend_on_chunking(from_rate: int, to_rate: int) -> None:
    rng = np.random.default_rng(11)
    signal = np.rint(rng.standard_normal(from_rate) * 3000).astype(np.int16)
    sizes = itertools.cycle([1, 441, 7, 1000, 0, 333])
    _, irregular = _stream(StreamResampler(from_rate, to_rate), signal, lambda _: next(sizes))
    _, framed = _stream(StreamResampler(from_rate, to_rate), signal, _frames_20ms(from_rate))
    np.testing.assert_array_equal(irregular, framed)
    assert framed.shape[0] == to_rate
    np.testing.assert_array_equal(resample(signal, from_rate, to_rate, quality="HB"), framed)


# --- WAV --------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", SUPPORTED_RATES)
def test_wav_round_trip_through_file_and_bytes(tmp_path: Path, rate: int) -> None:
    samples = np.concatenate([_tone(440.0, rate, 0.1), np.array([-32768, 32767, 0], np.int16)])
    path = tmp_path / "mono.wav"
    write_wav(path, samples, rate)
    from_file, file_rate = read_wav(path)
    from_bytes, bytes_rate = read_wav(wav_bytes(samples, rate))
    assert file_rate == bytes_rate == rate
    np.testing.assert_array_equal(from_file, samples)
    np.testing.assert_array_equal(from_bytes, samples)
    assert from_bytes.dtype == np.int16


def test_stereo_wav_pads_shorter_channel_and_reads_back_as_mono(tmp_path: Path) -> None:
    left = np.array([1000, -2000, 32767, -32768, 5], dtype=np.int16)
    right = np.array([3000, 1, 32767], dtype=np.int16)
    path = tmp_path / "call.wav"
    write_stereo_wav(path, left, right, 8000)
    with wave.open(str(path), "rb") as reader:
        assert reader.getnchannels() == 2
        frames = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    np.testing.assert_array_equal(frames.reshape(-1, 2)[:, 0], left)
    np.testing.assert_array_equal(frames.reshape(-1, 2)[:, 1], [3000, 1, 32767, 0, 0])
    mono, rate = read_wav(path)
    assert rate == 8000
    assert mono.tolist() == [2000, -1000, 32767, -16384, 2]  # (l + r) / 2, rounded half-even


def _wav_with_width(width: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(width)
        writer.setframerate(8000)
        writer.writeframes(b"\x00" * width * 10)
    return buffer.getvalue()


def _float_wav() -> bytes:
    data = np.zeros(10, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32)  # WAVE_FORMAT_IEEE_FLOAT
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"definitely not a wav file", "not a 16-bit PCM WAV"),
        (b"", "not a 16-bit PCM WAV"),
        (_wav_with_width(1), "got 8-bit"),
        (_wav_with_width(3), "got 24-bit"),
        (_float_wav(), "not a 16-bit PCM WAV"),
        (_wav_with_width(2)[:30], "not a 16-bit PCM WAV"),
    ],
    ids=["garbage", "empty", "8-bit", "24-bit", "float", "truncated-header"],
)
def test_bad_wav_raises_value_error(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_wav(data)


def test_wav_writers_reject_bad_samples(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        wav_bytes(np.zeros(4, dtype=np.float32), 8000)
    with pytest.raises(ValueError):
        wav_bytes(np.zeros(4, dtype=np.int16), 0)
    with pytest.raises(ValueError):
        write_stereo_wav(
            tmp_path / "x.wav", np.zeros((2, 2), np.int16), np.zeros(2, np.int16), 8000
        )
