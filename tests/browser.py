"""Headless Chromium for the browser tests: Debian's chromium driven by Playwright.

Playwright never downloads a browser here: it launches /usr/bin/chromium (installed by
run.sh) with a fake microphone that plays a WAV file the test writes.
"""

from __future__ import annotations

import contextlib
import math
import re
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

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
