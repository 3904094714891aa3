"""Remote STT and TTS for capacity runs: the OpenAI-compatible fake of the tests, with the
latency of a real hosted service, in a process of its own.

    python bench/remote_fakes.py --port 18080 --stt-latency-ms 300 --tts-latency-ms 250

Then point a worker at it (`CALLWRIGHT_STT_BASE_URL=http://127.0.0.1:18080/v1`, the same for
`CALLWRIGHT_TTS_BASE_URL`) and run `callwright load`. Transcription answers with a fixed line
after the latency (a hosted recognizer's compute is not on this machine, so neither is ours);
speech is espeak-ng, synthesized once per text and then served from memory after the latency,
streamed in 100 ms chunks as the real API streams.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callwright.tts.espeak import EspeakTts
from tests.fakes.openai_audio import FakeAudioServer, Speak, Text


class LatentFake(FakeAudioServer):
    """The fake, answering each request only after a hosted service's latency."""

    def __init__(self, stt_latency_s: float, tts_latency_s: float, line: str) -> None:
        super().__init__(None, EspeakTts(), (), Text(line), (), Speak())
        self.stt_latency_s = stt_latency_s
        self.tts_latency_s = tts_latency_s
        self._cache: dict[str, bytes] = {}

    async def transcriptions_handler(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(self.stt_latency_s)
        return await super().transcriptions_handler(request)

    async def speech_handler(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(self.tts_latency_s)
        return await super().speech_handler(request)

    async def _speak(self, text: str) -> bytes:
        if text not in self._cache:
            self._cache[text] = await super()._speak(text)
        return self._cache[text]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stt-latency-ms", type=float, default=300.0)
    parser.add_argument("--tts-latency-ms", type=float, default=250.0)
    parser.add_argument("--line", default="What are your opening hours?")
    args = parser.parse_args()
    fake = LatentFake(args.stt_latency_ms / 1000.0, args.tts_latency_ms / 1000.0, args.line)
    app = web.Application()
    app.router.add_post("/v1/audio/transcriptions", fake.transcriptions_handler)
    app.router.add_post("/v1/audio/speech", fake.speech_handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port)
    await site.start()
    host, port = runner.addresses[0][:2]
    print(f"http://{host}:{port}/v1", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
