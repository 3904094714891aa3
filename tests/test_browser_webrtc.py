"""The talk page's default path: a spoken WebRTC call from headless Chromium, with barge-in.

Chromium's fake microphone plays synthesized speech through getUserMedia (echo cancellation
and noise suppression on) into an Opus track; the server answers the page's offer and the
call runs in the same pipeline as every other. The caller talks over the agent's answer, and
the call is then reviewed in the dashboard.
"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page

from callwright.agent.stack import AgentStack
from callwright.tts.espeak import EspeakTts
from examples.clinic.front_desk import CLINIC_FACTS
from tests.browser import chromium, console_errors, placeholder_words, screenshot, speech_wav
from tests.conftest import finished_call, http_base

CALLER_VOICE = EspeakTts(voice="en-us", words_per_minute=160)


async def _dataset(page: Page, name: str) -> str | None:
    value = await page.evaluate(f"document.body.dataset.{name}")
    return str(value) if value is not None else None


async def test_webrtc_call_from_the_talk_page_with_barge_in(
    stack: AgentStack, server_url: str, tmp_path: Path
) -> None:
    # The second question starts while the agent is still reading out the opening hours (about
    # five seconds of them): 2.5 s after the first question, which a loaded machine's answer
    # still starts before, and a quick one has not yet finished. The microphone is a file, so
    # the caller cannot wait for the answer as the WebSocket test's scripted one does.
    mic = await speech_wav(
        tmp_path / "mic.wav",
        CALLER_VOICE,
        ["What are your opening hours?", "What is your address?"],
        lead_s=6.0,
        gap_s=2.5,
        tail_s=10.0,
    )
    async with chromium(mic) as browser:
        page = await browser.new_page()
        errors = console_errors(page)
        await page.goto(f"{http_base(server_url)}/talk")
        await page.click("#call")
        await page.wait_for_selector("body[data-call-state=live]", timeout=20_000)
        assert await _dataset(page, "transport") == "webrtc"
        assert await _dataset(page, "codec") == "opus"

        cut = page.locator('.bubble.agent.interrupted[data-turn="1"]')
        await cut.wait_for(timeout=40_000)
        # What the caller heard is kept, and it is the start of the full answer.
        heard = await cut.locator(".text").inner_text()
        assert heard and CLINIC_FACTS["hours"].startswith(heard) and heard != CLINIC_FACTS["hours"]
        assert int(await _dataset(page, "clears") or 0) >= 1
        await page.wait_for_function(
            "([sel, want]) => document.querySelector(sel)?.textContent === want",
            arg=['.bubble.agent[data-turn="2"] .text', CLINIC_FACTS["address"]],
            timeout=20_000,
        )
        # Audio really flowed both ways as RTP: 20 ms packets out, audible agent speech in.
        assert int(await _dataset(page, "framesSent") or 0) > 6000 // 20
        assert int(await _dataset(page, "agentAudioMs") or 0) > 4000
        assert float(await _dataset(page, "agentEnergy") or 0) > 0
        await screenshot(page, "talk-webrtc-barge-in")

        await page.click("#call")  # hang up
        await page.wait_for_selector("body[data-call-state=ended]", timeout=10_000)
        call_id = await _dataset(page, "callId")
        assert call_id
        detail = await finished_call(stack, call_id)
        assert detail.record.channel == "webrtc"
        assert detail.record.outcome == "caller_ended"
        cut_lines = [u.text for u in detail.utterances if u.interrupted]
        assert cut_lines[0] == heard
        assert detail.has_recording

        # --- the same call in the dashboard ---
        await page.click("#view-call")
        await page.wait_for_selector("body[data-loaded=true]")
        assert "webrtc" in await page.inner_text("body")
        marked = page.locator(".utt.interrupted")
        assert await marked.count() == len(cut_lines)
        assert await marked.first.locator(".text").inner_text() == heard
        await page.wait_for_selector("#wave[data-channels='2']", timeout=10_000)
        assert await placeholder_words(page) == []
        await screenshot(page, "dashboard-webrtc-call")

        await page.goto(f"{http_base(server_url)}/dashboard")
        await page.wait_for_selector("body[data-loaded=true]")
        listed = page.locator(f'#calls tr[data-call-id="{call_id}"]')
        assert await listed.count() == 1
        assert "webrtc" in await listed.inner_text()
        assert errors == []
