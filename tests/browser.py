"""Headless Chromium for the browser tests: Debian's chromium driven by Playwright.

Playwright never downloads a browser here: it launches /usr/bin/chromium (installed by
run.sh) with a fake microphone that plays a WAV file the test writes, or, where the caller must
speak at a moment the call decides (over the agent's reply, whenever that starts on a loaded
machine), a scripted microphone (`scripted_microphone`) the test tells when to say each line.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import re
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from playwright.async_api import BrowserContext, Page, async_playwright

from callwright.audio.resample import resample
from callwright.audio.wav import write_wav
from callwright.server.auth import SESSION_COOKIE
from callwright.tts.base import TextToSpeech
from tests.conftest import ARTIFACTS, TEST_SESSION

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ARTIFACTS / "screenshots"
MIC_RATE = 48000  # Chromium's fake capture device runs at 48 kHz
# The flags of /work/shared/TRANSPORTS.md (Playwright adds --headless itself).
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
)


async def speech_wav(
    path: Path,
    tts: TextToSpeech,
    lines: Sequence[str],
    *,
    lead_s: float,
    gap_s: float = 4.0,
    tail_s: float = 10.0,
) -> Path:
    """Writes a 48 kHz mono WAV: silence, then each line with silence between and after.

    Args:
        path: where to write it.
        tts: the voice of the caller.
        lines: what the caller says, in order.
        lead_s: silence before the first line (the agent's greeting plays meanwhile).
        gap_s: silence after each line but the last.
        tail_s: silence after the last line.
    """
    parts: list[np.ndarray] = [np.zeros(round(lead_s * MIC_RATE), np.int16)]
    for i, line in enumerate(lines):
        chunks = [c async for c in tts.synthesize(line)]
        speech = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        parts.append(resample(speech, tts.sample_rate, MIC_RATE).astype(np.int16))
        pause = tail_s if i == len(lines) - 1 else gap_s
        parts.append(np.zeros(round(pause * MIC_RATE), np.int16))
    write_wav(path, np.concatenate(parts), MIC_RATE)
    return path


@contextlib.asynccontextmanager
async def chromium(
    microphone: Path | None = None, signed_in: bool = True
) -> AsyncIterator[BrowserContext]:
    """A fresh headless Chromium (new empty profile) whose microphone plays `microphone` once.

    Args:
        microphone: a WAV file the fake microphone plays, if any.
        signed_in: start with the test admin's session cookie (for any test server on
            127.0.0.1); False starts signed out, to test signing in.
    """
    args = list(CHROMIUM_FLAGS)
    if microphone is not None:
        # "%noloop": Chromium would otherwise loop the file and the caller would repeat itself.
        args.append(f"--use-file-for-fake-audio-capture={microphone}%noloop")
    with tempfile.TemporaryDirectory(prefix="callwright-chromium-") as profile:
        async with async_playwright() as pw:
            context = await pw.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                headless=True,
                args=args,
                viewport={"width": 1440, "height": 900},
                # The pages' CSP forbids eval, which Playwright's string predicates use; the
                # headers themselves are tested in tests/security/test_headers_and_input.py.
                bypass_csp=True,
            )
            if signed_in:
                await context.add_cookies(
                    [
                        {
                            "name": SESSION_COOKIE,
                            "value": TEST_SESSION,
                            "domain": "127.0.0.1",
                            "path": "/",
                            "sameSite": "Strict",
                        }
                    ]
                )
            try:
                yield context
            finally:
                await context.close()


async def screenshot(page: Page, name: str) -> Path:
    """Saves a full-page screenshot under test-artifacts/screenshots/ for review."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


def console_errors(page: Page) -> list[str]:
    """Collects the page's JavaScript errors as they happen (a page must have none)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if msg.type == "error" else None,
    )
    return errors


async def placeholder_words(page: Page) -> list[str]:
    """Words a page should never show: a value that was missing and rendered raw."""
    text = await page.inner_text("body")
    return re.findall(r"\b(?:undefined|null|NaN|\[object Object\])", text)


def fmt_ms(value: float) -> str:
    """A latency as the pages show it (common.js fmtMs: JavaScript rounds halves up)."""
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    return f"{math.floor(value + 0.5)} ms"


async def caller_lines(tts: TextToSpeech, lines: Sequence[str]) -> list[np.ndarray]:
    """Each line synthesized by the caller's voice, at the microphone's rate."""
    out: list[np.ndarray] = []
    for line in lines:
        chunks = [c async for c in tts.synthesize(line)]
        speech = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        out.append(resample(speech, tts.sample_rate, MIC_RATE).astype(np.int16))
    return out


# A microphone the test speaks into turn by turn, for dialogues a fixed WAV cannot follow: the
# page's getUserMedia gets a Web Audio stream, silent until the test says a line. Lines given
# up front play with `await window.callerMic.say(i)`; any WAV with
# `await window.scriptedMic.say(wavBase64)`; both resolve once the line has played. The page's
# own code runs unchanged. Every message of the page's data channels is kept in
# `window.scriptedMic.events`.
_SCRIPTED_MIC_JS = """
(() => {
  const RATE = %d;
  const lines = %s;
  const events = [];
  let ctx = null;
  let out = null;
  const open = async () => {
    if (!ctx) {
      ctx = new AudioContext({ sampleRate: 48000 });
      out = ctx.createMediaStreamDestination();
      out.channelCount = 1;
      // A destination with nothing playing into it yields no frames, and Chromium then sends
      // no RTP at all: a silent source keeps the track flowing between lines, as a mic does.
      const silence = ctx.createConstantSource();
      silence.offset.value = 0;
      silence.connect(out);
      silence.start();
    }
    await ctx.resume();
  };
  navigator.mediaDevices.getUserMedia = async () => {
    await open();
    return out.stream;
  };
  const createDataChannel = RTCPeerConnection.prototype.createDataChannel;
  RTCPeerConnection.prototype.createDataChannel = function (...args) {
    const channel = createDataChannel.apply(this, args);
    channel.addEventListener("message", (m) => events.push(JSON.parse(m.data)));
    return channel;
  };
  const play = async (buffer) => {
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(out);
    await new Promise((resolve) => { source.onended = resolve; source.start(); });
  };
  const decode = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  window.scriptedMic = {
    events,
    async say(wavBase64) {
      await open();
      await play(await ctx.decodeAudioData(decode(wavBase64).buffer));
    },
  };
  window.callerMic = {
    said: 0,
    async say(index) {
      await open();
      const pcm = new Int16Array(decode(lines[index]).buffer);
      const buffer = ctx.createBuffer(1, pcm.length, RATE);
      const samples = buffer.getChannelData(0);
      for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 32768;
      await play(buffer);
      window.callerMic.said += 1;
      return true;
    },
  };
})();
"""


def scripted_microphone(lines: Sequence[np.ndarray] = ()) -> str:
    """A page init script: the scripted microphone, saying `lines[i]` when the test calls
    `window.callerMic.say(i)` (a promise that resolves once the line has played), and any WAV
    given to `say_into_microphone`; silent otherwise.

    Args:
        lines: 16-bit mono speech at `MIC_RATE` (see `caller_lines`).
    """
    encoded = [base64.b64encode(line.astype("<i2").tobytes()).decode() for line in lines]
    return _SCRIPTED_MIC_JS % (MIC_RATE, json.dumps(encoded))


async def use_scripted_microphone(context: BrowserContext) -> None:
    """Gives every page of `context` the scripted microphone (`say_into_microphone`)."""
    await context.add_init_script(scripted_microphone())


async def say_into_microphone(page: Page, samples: np.ndarray, rate: int) -> None:
    """Plays int16 mono `samples` into the page's scripted microphone; returns once played."""
    with tempfile.TemporaryDirectory(prefix="callwright-line-") as folder:
        wav = Path(folder) / "line.wav"
        write_wav(wav, samples.astype(np.int16), rate)
        encoded = base64.b64encode(wav.read_bytes()).decode()
    await page.evaluate("(wav) => window.scriptedMic.say(wav)", encoded)


async def data_channel_events(page: Page) -> list[dict[str, Any]]:
    """The events the page received on its data channels so far (scripted microphone pages)."""
    events: list[dict[str, Any]] = await page.evaluate("window.scriptedMic.events")
    return events
