"""WAV file helpers for prompts, fixtures and call recordings (16-bit PCM only, stdlib ``wave``)."""

from __future__ import annotations

import io
import os
import wave
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

WavSource = str | os.PathLike[str] | bytes | bytearray | memoryview
WavTarget = str | os.PathLike[str] | BinaryIO


def _check_pcm16(samples: npt.NDArray[np.int16], name: str) -> None:
    if samples.dtype != np.int16:
        raise TypeError(f"{name} must be int16 samples, got {samples.dtype}")
    if samples.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {samples.shape}")


def _check_rate(sample_rate: int) -> None:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")


def read_wav(source: WavSource) -> tuple[npt.NDArray[np.int16], int]:
    """Reads a 16-bit PCM WAV file as mono.

    Args:
        source: a file path, or the bytes of a whole WAV file.

    Returns:
        ``(samples, sample_rate)``: int16 mono samples (multi-channel files are averaged,
        rounding to nearest) and the file's sample rate in Hz.

    Raises:
        ValueError: if the data is not a readable 16-bit PCM WAV (not RIFF/WAVE, compressed or
            float, 8/24/32-bit, truncated header).
        OSError: if the path cannot be opened.
    """
    label = "WAV bytes" if isinstance(source, bytes | bytearray | memoryview) else str(source)
    # Python 3.11's wave.open accepts str or a file object, not PathLike.
    stream = (
        io.BytesIO(source)
        if isinstance(source, bytes | bytearray | memoryview)
        else os.fspath(source)
    )
    try:
        with wave.open(stream, "rb") as reader:
            channels = reader.getnchannels()
            width = reader.getsampwidth()
            sample_rate = reader.getframerate()
            raw = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError) as exc:
        # wave reports float and WAVE_FORMAT_EXTENSIBLE files as "unknown format: 3/65534".
        raise ValueError(f"{label}: not a 16-bit PCM WAV file ({exc})") from exc
    if width != 2:
        raise ValueError(f"{label}: only 16-bit PCM WAV is supported, got {8 * width}-bit")
    if channels < 1 or sample_rate <= 0:
        raise ValueError(f"{label}: invalid header ({channels} channels, {sample_rate} Hz)")
    frame_bytes = 2 * channels
    # A file cut mid-frame still yields every complete frame rather than failing outright.
    raw = raw[: len(raw) - len(raw) % frame_bytes]
    samples = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    if channels == 1:
        return samples, sample_rate
    mixed = samples.reshape(-1, channels).astype(np.int32).sum(axis=1) / channels
    return np.rint(mixed).astype(np.int16), sample_rate


def _write(target: WavTarget, interleaved: npt.NDArray[np.int16], channels: int, rate: int) -> None:
    destination = os.fspath(target) if isinstance(target, str | os.PathLike) else target
    with wave.open(destination, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(interleaved.astype("<i2", copy=False).tobytes())


def write_wav(path: WavTarget, samples: npt.NDArray[np.int16], sample_rate: int) -> None:
    """Writes int16 mono samples as a 16-bit PCM WAV file.

    Args:
        path: destination path or a writable binary file object.
        samples: 1-D int16 samples.
        sample_rate: sample rate in Hz.

    Raises:
        TypeError: if ``samples`` is not int16.
        ValueError: if ``samples`` is not 1-D or the rate is not a positive integer.
    """
    _check_pcm16(samples, "samples")
    _check_rate(sample_rate)
    _write(path, samples, 1, sample_rate)


def wav_bytes(samples: npt.NDArray[np.int16], sample_rate: int) -> bytes:
    """Returns int16 mono samples encoded as the bytes of a 16-bit PCM WAV file.

    Args:
        samples: 1-D int16 samples.
        sample_rate: sample rate in Hz.

    Raises:
        TypeError: if ``samples`` is not int16.
        ValueError: if ``samples`` is not 1-D or the rate is not a positive integer.
    """
    buffer = io.BytesIO()
    write_wav(buffer, samples, sample_rate)
    return buffer.getvalue()


def write_stereo_wav(
    path: WavTarget,
    left: npt.NDArray[np.int16],
    right: npt.NDArray[np.int16],
    sample_rate: int,
) -> None:
    """Writes two int16 mono tracks as one stereo 16-bit PCM WAV (e.g. caller left, agent right).

    The shorter track is padded with silence at the end so both channels have equal length.

    Args:
        path: destination path or a writable binary file object.
        left: 1-D int16 samples for the left channel.
        right: 1-D int16 samples for the right channel.
        sample_rate: sample rate in Hz, shared by both tracks.

    Raises:
        TypeError: if a track is not int16.
        ValueError: if a track is not 1-D or the rate is not a positive integer.
    """
    _check_pcm16(left, "left")
    _check_pcm16(right, "right")
    _check_rate(sample_rate)
    interleaved = np.zeros((max(left.shape[0], right.shape[0]), 2), dtype=np.int16)
    interleaved[: left.shape[0], 0] = left
    interleaved[: right.shape[0], 1] = right
    _write(path, interleaved.reshape(-1), 2, sample_rate)
