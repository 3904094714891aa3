"""A spoken call placed from the talk page in headless Chromium, then reviewed in the dashboard.

These calls take the page's WebSocket path (its fallback when WebRTC is missing or cannot
connect; WebRTC, the default, is tests/test_browser_webrtc.py): Chromium's fake microphone
plays a WAV of synthesized speech (the barge-in: a scripted microphone that speaks each line
when the test says); the page captures it with an AudioWorklet, streams 16 kHz PCM to the real
server and plays the agent's voice back.
"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from callwright.agent.stack import AgentStack
from examples.clinic.front_desk import CLINIC_FACTS
from tests.browser import (
    caller_lines,
    chromium,
    console_errors,
    fmt_ms,
    placeholder_words,
    screenshot,
    scripted_microphone,
    speech_wav,
)
from tests.conftest import finished_call as _ended_call
from tests.conftest import http_base, word_overlap
from tests.voices import CLEAR_CALLER

CALLER_VOICE = CLEAR_CALLER
QUESTION = "What are your opening hours?"


async def _wait_for_text(page: Page, selector: str, text: str, timeout_ms: float) -> None:
    """Waits until the element's text is `text` (agent replies arrive sentence by sentence)."""
    await page.wait_for_function(
        "([sel, want]) => document.querySelector(sel)?.textContent === want",
        arg=[selector, text],
        timeout=timeout_ms,
    )


async def _story(stack: AgentStack, page: Page) -> str:
    """The call's utterances and turn-taking events so far (a failure's report)."""
    call_id = await _dataset(page, "callId")
    detail = await stack.store.get_call(call_id) if call_id else None
    if detail is None:
        return f"no record of call {call_id!r}"
    events = [(e.kind, round(e.at_ms), str(e.data)[:160]) for e in detail.events]
    said = [(u.role, u.text[:60], u.interrupted) for u in detail.utterances]
    return f"not interrupted: {said} {events}"


async def _dataset(page: Page, name: str) -> str | None:
    value = await page.evaluate(f"document.body.dataset.{name}")
    return str(value) if value is not None else None


async def test_talk_page_call_then_dashboard(
    stack: AgentStack, server_url: str, tmp_path: Path
) -> None:
    base = http_base(server_url)
    # Six seconds of silence first: the greeting plays, then the caller asks.
    mic = await speech_wav(tmp_path / "mic.wav", CALLER_VOICE, [QUESTION], lead_s=6.0, tail_s=12.0)
    async with chromium(mic) as browser:
        page = await browser.new_page()
        errors = console_errors(page)
        # A browser without WebRTC: the page falls back to the WebSocket by itself.
        await page.add_init_script("delete window.RTCPeerConnection;")

        # --- the call, from the talk page ---
        await page.goto(f"{base}/talk")
        await page.click("#call")
        await page.wait_for_selector("body[data-call-state=live]", timeout=15_000)
        assert await _dataset(page, "transport") == "websocket"
        greeting = '.bubble.agent[data-turn="0"] .text'
        await _wait_for_text(page, greeting, CLINIC_FACTS["greeting"], 15_000)

        caller = page.locator(".bubble.caller .text").first
        await caller.wait_for(timeout=30_000)
        heard = await caller.inner_text()
        # The words that carry the question must all be there (through the browser's mic path
        # tiny.en sometimes hears espeak's "What are" as "Well, tell").
        assert word_overlap("your opening hours", heard) == 1.0, heard

        await _wait_for_text(
            page, '.bubble.agent[data-turn="1"] .text', CLINIC_FACTS["hours"], 20_000
        )

        # The turn's latency is shown, next to the reply and in the latency panel.
        turn = page.locator('.turns .turn[data-turn="1"]')
        await turn.wait_for(timeout=10_000)
        shown_ttfa = float(await turn.get_attribute("data-ttfa-ms") or "nan")
        assert shown_ttfa > 0
        assert "ms" in await page.locator('.bubble.agent[data-turn="1"] .lat').inner_text()

        # Audio really flowed both ways: the page sent 20 ms frames and received the agent.
        assert int(await _dataset(page, "framesSent") or 0) > 6000 // 20
        assert int(await _dataset(page, "agentAudioMs") or 0) > 4000
        assert await placeholder_words(page) == []
        await screenshot(page, "talk-call")

        await page.click("#call")  # hang up
        await page.wait_for_selector("body[data-call-state=ended]", timeout=10_000)
        call_id = await _dataset(page, "callId")
        assert call_id
        detail = await _ended_call(stack, call_id)
        stored_caller = [u for u in detail.utterances if u.role == "caller"]
        assert [u.text for u in stored_caller] == [heard]
        stored_ttfa = {t.turn_index: t.ttfa_ms for t in detail.timelines}
        assert stored_ttfa[1] == shown_ttfa

        # --- the same call in the dashboard ---
        await page.click("#view-call")
        await page.wait_for_selector("body[data-loaded=true]")
        assert await page.locator(".utt").count() == len(detail.utterances)
        assert await page.locator(".utt.caller .text").all_inner_texts() == [heard]
        row = page.locator('svg[data-chart=waterfall] g.wf-row[data-turn="1"]')
        assert await row.locator("rect.wf-seg").count() >= 4
        assert await row.locator(".wf-ttfa").text_content() == fmt_ms(shown_ttfa)

        # The recording: a stereo WAV that plays, and clicking a line seeks to it.
        await page.wait_for_selector("#wave[data-channels='2']", timeout=10_000)
        recording_ms = int(await page.get_attribute("#wave", "data-duration-ms") or 0)
        assert recording_ms > 8000
        await page.wait_for_function("document.getElementById('recording').duration > 0")
        caller_line = page.locator(".utt.caller").first
        start_ms = float(await caller_line.get_attribute("data-start-ms") or "nan")
        await caller_line.click()
        await page.wait_for_selector(".utt.caller.playing", timeout=5_000)
        position_s = await page.evaluate("document.getElementById('recording').currentTime")
        assert position_s >= start_ms / 1000 - 0.05
        await page.evaluate("document.getElementById('recording').pause()")

        assert await page.locator("#cost-table tr[data-layer=total]").count() == 1
        assert await placeholder_words(page) == []
        await screenshot(page, "dashboard-call-from-talk-page")

        await page.goto(f"{base}/dashboard")
        await page.wait_for_selector("body[data-loaded=true]")
        listed = page.locator(f'#calls tr[data-call-id="{call_id}"]')
        assert await listed.count() == 1
        assert "caller ended" in await listed.inner_text()
        await screenshot(page, "dashboard-overview")
        assert errors == []


async def test_barge_in_from_the_talk_page(stack: AgentStack, server_url: str) -> None:
    # The caller speaks when the call says so, not at fixed times: a loaded machine may start
    # the answer late, and a second question asked before it starts would be no barge-in.
    lines = await caller_lines(CALLER_VOICE, [QUESTION, "What is your address?"])
    async with chromium() as browser:
        page = await browser.new_page()
        errors = console_errors(page)
        await page.add_init_script(scripted_microphone(lines))
        await page.goto(f"{http_base(server_url)}/talk?transport=websocket")
        await page.click("#call")
        await page.wait_for_selector('.bubble.agent[data-turn="0"][data-ended]', timeout=30_000)
        await page.evaluate("window.callerMic.say(0)")
        # The second question starts once the caller has heard a second of the answer (of
        # about five), so the agent is cut off in the middle of it.
        await page.wait_for_selector('.bubble.agent[data-turn="1"]', timeout=40_000)
        answer_from = int(await _dataset(page, "agentAudioMs") or 0)
        await page.wait_for_function(
            "from => Number(document.body.dataset.agentAudioMs) >= from + 1000",
            arg=answer_from,
            timeout=20_000,
        )
        await page.evaluate("window.callerMic.say(1)")
        cut = page.locator('.bubble.agent.interrupted[data-turn="1"]')
        try:
            await cut.wait_for(timeout=40_000)
        except PlaywrightTimeout:  # what the call heard and decided instead, for the report
            raise AssertionError(await _story(stack, page)) from None
        # What the caller heard is kept, and it is the start of the full answer.
        heard = await cut.locator(".text").inner_text()
        assert heard and CLINIC_FACTS["hours"].startswith(heard) and heard != CLINIC_FACTS["hours"]
        # The page dropped the agent audio it had queued the moment the server said so.
        assert int(await _dataset(page, "clears") or 0) >= 1
        assert await _dataset(page, "queuedAfterClearMs") == "0"
        await _wait_for_text(
            page, '.bubble.agent[data-turn="2"] .text', CLINIC_FACTS["address"], 40_000
        )
        await screenshot(page, "talk-barge-in")
        await page.click("#call")
        await page.wait_for_selector("body[data-call-state=ended]", timeout=10_000)
        call_id = await _dataset(page, "callId")
        assert call_id
        detail = await _ended_call(stack, call_id)
        # (Hanging up during the address may cut that reply too: it is kept as heard.)
        cut_lines = [u.text for u in detail.utterances if u.interrupted]
        assert cut_lines[0] == heard

        await page.click("#view-call")
        await page.wait_for_selector("body[data-loaded=true]")
        marked = page.locator(".utt.interrupted")
        assert await marked.count() == len(cut_lines)
        assert await marked.first.locator(".text").inner_text() == heard
        assert "interrupted" in await marked.first.inner_text()
        assert (
            await page.locator('svg[data-chart=waterfall] g.wf-row[data-turn="1"] tspan').count()
            == 1
        )
        await screenshot(page, "dashboard-call-with-barge-in")
        assert errors == []
