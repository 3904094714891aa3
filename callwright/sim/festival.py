"""Festival and flite voices for simulated callers: natural-sounding speech the agent was not
tuned on (Debian `festival` with `festvox-us-slt-hts`, and `flite`)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncGenerator
from pathlib import Path

import numpy as np

from callwright.audio.resample import resample
from callwright.audio.wav import read_wav
from callwright.tts.base import TtsError

_RATE = 16000


class FestivalTts:
    """A caller voice from Festival (`text2wave`) or flite, one whole clip per text.

    Args:
        voice: "festival:<voice function>" (e.g. "festival:cmu_us_slt_arctic_hts") or
            "flite:<voice>" (kal, awb, rms, slt).
    """

    sample_rate = _RATE

    def __init__(self, voice: str = "festival:cmu_us_slt_arctic_hts") -> None:
        engine, _, name = voice.partition(":")
        if engine not in ("festival", "flite") or not name.replace("_", "").isalnum():
            raise ValueError(f"unknown voice {voice!r}")
        self.engine = engine
        self.voice = name
        self.name = voice

    async def synthesize(self, text: str) -> AsyncGenerator[np.ndarray, None]:
        """Yields the clip of `text` at 16 kHz; raises TtsError when the program fails."""
        if not text.strip():
            return
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "speech.wav"
            if self.engine == "flite":
                argv = ["flite", "-voice", self.voice, "-t", text, "-o", str(out)]
                stdin = None
            else:
                argv = ["text2wave", "-eval", f"(voice_{self.voice})", "-o", str(out)]
                stdin = text.encode()
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.PIPE,
                )
            except OSError as exc:
                raise TtsError(f"{argv[0]} not found: {exc}") from exc
            _, err = await process.communicate(stdin)
            if process.returncode != 0 or not out.exists():
                raise TtsError(f"{argv[0]} failed: {err.decode(errors='replace')[:200]}")
            samples, rate = await asyncio.to_thread(read_wav, out)
        yield resample(samples, rate, _RATE)
