"""Formant speech synthesis with the espeak-ng command-line program.

Robotic but tiny, fast (a sentence in ~20 ms) and always available: it is the agent's
last-resort voice and the caller simulator's voice. The program runs as a subprocess (it is
GPL, and a process per request keeps the event loop and the interpreter free).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import AsyncGenerator, AsyncIterator

import numpy as np

from callwright.tts.base import TtsError

logger = logging.getLogger(__name__)

_SAMPLE_RATE = 22050
_READ_SIZE = 16384
# espeak-ng's header is 44 bytes; anything far beyond that is not a header we understand.
_MAX_HEADER_BYTES = 4096


def parse_wav_header(buf: bytes) -> tuple[int, int] | None:
    """Finds the sample rate and the start of the samples in a streamed PCM16 mono WAV.

    Chunk sizes in the RIFF and `data` headers are ignored: espeak-ng writes placeholders
    (e.g. 0x7FFFF024) when it streams to a pipe, so the audio is simply everything after
    the `data` chunk header.

    Args:
        buf: the first bytes of the stream.

    Returns:
        (sample_rate, offset of the first sample), or None if more bytes are needed.

    Raises:
        TtsError: the bytes are not a PCM16 mono WAV.
    """
    if len(buf) < 12:
        return None
    if buf[:4] != b"RIFF" or buf[8:12] != b"WAVE":
        raise TtsError(f"espeak-ng did not write a WAV stream (starts with {buf[:12]!r})")
    sample_rate: int | None = None
    pos = 12
    while pos + 8 <= len(buf):
        chunk_id = buf[pos : pos + 4]
        (size,) = struct.unpack_from("<I", buf, pos + 4)
        body = pos + 8
        if chunk_id == b"data":
            if sample_rate is None:
                raise TtsError("espeak-ng WAV stream has no fmt chunk before its data")
            return sample_rate, body
        if chunk_id == b"fmt ":
            if body + 16 > len(buf):
                return None
            fmt_tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", buf, body)
            if fmt_tag != 1 or channels != 1 or bits != 16:
                raise TtsError(
                    f"espeak-ng wrote unsupported WAV audio: format {fmt_tag}, "
                    f"{channels} channels, {bits} bits"
                )
            sample_rate = rate
        pos = body + size + (size & 1)  # RIFF chunks are padded to an even length
    if pos > _MAX_HEADER_BYTES:
        raise TtsError("espeak-ng WAV stream has no data chunk")
    return None


class _NoAudio(Exception):
    """espeak-ng's output ended before a WAV header."""


class EspeakTts:
    """Speaks through the `espeak-ng` program, streaming its audio as it is produced.

    Each request runs its own espeak-ng process, so requests never wait for each other.

    Attributes:
        name: "espeak-ng:" followed by the voice.
        sample_rate: 22050 Hz.
        accepts_ssml: True: a text that is a `<speak>` document is read as SSML (`-m`).
    """

    accepts_ssml: bool = True

    def __init__(
        self,
        voice: str = "en-us",
        words_per_minute: int = 165,
        pitch: int | None = None,
        *,
        executable: str = "espeak-ng",
    ) -> None:
        """Configures the voice; nothing runs until `synthesize`.

        Args:
            voice: an espeak-ng voice, optionally with a variant (e.g. "en-us+f2").
            words_per_minute: speaking rate, 80 to 450.
            pitch: base pitch 0-99 (espeak-ng's default is 50); None keeps the voice's own.
            executable: the program to run, looked up on PATH unless it is a path.

        Raises:
            ValueError: an argument is out of range or the voice name is empty.
        """
        if not voice or voice.startswith("-"):
            raise ValueError(f"invalid espeak-ng voice {voice!r}")
        if not 80 <= words_per_minute <= 450:
            raise ValueError(f"words_per_minute must be 80-450, got {words_per_minute}")
        if pitch is not None and not 0 <= pitch <= 99:
            raise ValueError(f"pitch must be 0-99, got {pitch}")
        self.voice = voice
        self.words_per_minute = words_per_minute
        self.pitch = pitch
        self.executable = executable
        self.name = f"espeak-ng:{voice}"
        self.sample_rate = _SAMPLE_RATE

    def _argv(self, text: str) -> list[str]:
        argv = [self.executable, "-v", self.voice, "-s", str(self.words_per_minute)]
        if self.pitch is not None:
            argv += ["-p", str(self.pitch)]
        if text.lstrip().startswith("<speak"):
            argv.append("-m")  # SSML markup, not words
        # After "--" the text is never read as an option, whatever it starts with.
        return [*argv, "--stdout", "--", text]

    async def synthesize(self, text: str) -> AsyncGenerator[np.ndarray, None]:
        """Yields int16 mono audio at 22050 Hz as espeak-ng writes it.

        Args:
            text: the text to speak; blank text yields nothing.

        Raises:
            TtsError: the program is missing, fails, or writes something that is not audio.
        """
        if not text.strip():
            return
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._argv(text),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise TtsError(f"cannot run {self.executable!r}: {exc}") from exc
        assert proc.stdout is not None and proc.stderr is not None
        # Drained concurrently so a chatty stderr can never stall the process.
        stderr_task = asyncio.ensure_future(proc.stderr.read())
        try:
            wrote_audio = True
            try:
                async for chunk in self._read_audio(proc.stdout):
                    yield chunk
            except _NoAudio:
                wrote_audio = False
            returncode = await proc.wait()
            stderr = (await stderr_task).decode(errors="replace").strip()
            if returncode != 0:
                raise TtsError(
                    f"espeak-ng (voice {self.voice!r}) exited with {returncode}: {stderr}"
                )
            if not wrote_audio:
                raise TtsError(f"espeak-ng (voice {self.voice!r}) wrote no audio: {stderr}")
        finally:
            if proc.returncode is None:
                # The caller stopped listening (barge-in) or an error occurred: don't leak it.
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
            if not stderr_task.done():
                stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await stderr_task

    async def _read_audio(self, stdout: asyncio.StreamReader) -> AsyncIterator[np.ndarray]:
        buf = b""
        data_offset: int | None = None
        while True:
            block = await stdout.read(_READ_SIZE)
            if not block:
                break
            buf += block
            if data_offset is None:
                header = parse_wav_header(buf)
                if header is None:
                    continue
                rate, data_offset = header
                if rate != self.sample_rate:
                    # e.g. an mbrola voice (16 kHz); refuse rather than mislabel the audio.
                    raise TtsError(
                        f"espeak-ng voice {self.voice!r} produces {rate} Hz, "
                        f"expected {self.sample_rate} Hz"
                    )
                buf = buf[data_offset:]
            usable = len(buf) & ~1  # keep a trailing odd byte for the next read
            if usable:
                yield np.frombuffer(buf[:usable], dtype="<i2").astype(np.int16)
                buf = buf[usable:]
        if data_offset is None:
            # A failed run writes nothing; the caller reports the exit status instead.
            raise _NoAudio
        if buf:
            logger.debug("espeak-ng output ended with a stray byte")
