"""The handoff console page in headless Chromium: a person signs in, picks a spoken call up
from the queue, talks with the caller both ways, and hands the call back to the agent.

The caller is the simulator over the native WebSocket (synthesized speech through the real
models); the person is Chromium with a fake microphone playing a WAV of synthesized speech.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from playwright.async_api import Page

from callwright.agent.stack import AgentStack
from callwright.handoff.desk import HandoffDesk
from callwright.sim.caller import CallerSimulator, ScriptLine
from callwright.stt.whisper import WhisperStt
from callwright.tts.espeak import EspeakTts
from tests.browser import chromium, console_errors, placeholder_words, screenshot
from tests.browser import speech_wav as write_speech_wav
from tests.conftest import OPERATOR_PASSWORD, http_base, serve, word_overlap
from tests.conftest import finished_call as _ended_call

CALLER_VOICE = EspeakTts(voice="en-us", words_per_minute=160)
HUMAN_VOICE = EspeakTts(voice="en-us", words_per_minute=150)
ASK = "Could I please speak to a real person?"
THANKS = "Thank you very much for your help."
DANA_SAYS = "Hello, this is Dana from the front desk. How can I help you?"
LEAD_S = 1.0  # the fake microphone starts with the page's getUserMedia, at pickup
RATE = 16000


class HeldCaller(CallerSimulator):
    """The simulator, with helpers to read what it saw."""

    def __init__(self, url: str) -> None:
        super().__init__(url, CALLER_VOICE, turn_timeout_s=30.0)

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.report.events

    @property
    def call_id(self) -> str:
        return self.report.call_id

    def event(self, kind: str, text: str = "") -> dict[str, Any] | None:
        """The first event of `kind` (whose text contains `text`)."""
        return next(
            (e for e in self.events if e.get("type") == kind and text in str(e.get("text", ""))),
            None,
        )


async def _until(check: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.05)


async def _dataset(page: Page, name: str) -> str | None:
    value = await page.evaluate(f"document.body.dataset.{name}")
    return str(value) if value is not None else None


async def _number(page: Page, name: str) -> float:
    return float(await _dataset(page, name) or 0)


def _on_hold(caller: HeldCaller) -> bool:
    """The caller has heard "I'll connect you" and their place in line: hold audio only."""
    events = caller.events
    said = [i for i, e in enumerate(events) if e.get("type") == "agent_text"]
    place = [i for i in said if "in line" in events[i].get("text", "")]
    return bool(place) and any(e.get("type") == "agent_turn_end" for e in events[place[0] :])


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


async def test_console_picks_up_a_call_talks_and_hands_back(
    stack: AgentStack, oracle_stt: WhisperStt, tmp_path: Path
) -> None:
    assert stack.handoff.route in ("auto", "console")  # someone signed in: the console queue
    # Its own handoff desk: who is signed in and who waits are this test's alone.
    desk = HandoffDesk()
    stack = dataclasses.replace(stack, desk=desk)
    tail_s = 30.0
    mic = await write_speech_wav(
        tmp_path / "dana.wav", HUMAN_VOICE, [DANA_SAYS], lead_s=LEAD_S, tail_s=tail_s
    )
    dana_speech_s = _wav_seconds(mic) - LEAD_S - tail_s
    async with serve(stack) as url, chromium(mic, signed_in=False) as browser:
        base = http_base(url)
        page = await browser.new_page()
        errors = console_errors(page)

        # --- signing in: the console sends us to the sign-in page; a wrong password, then ---
        await page.goto(f"{base}/console")
        assert unquote(page.url) == f"{base}/signin?next=/console"
        assert await page.is_visible("#name") and await page.is_visible("#password")
        await page.fill("#name", "Dana")
        await page.fill("#password", "not-the-password")
        await page.click("#signin")
        await page.wait_for_function(
            "document.getElementById('signin-error').textContent === 'wrong name or password'"
        )
        assert desk.humans_signed_in == 0
        await screenshot(page, "console-sign-in-refused")
        await page.fill("#password", OPERATOR_PASSWORD)  # Dana is a supervisor (conftest)
        await page.click("#signin")
        await page.wait_for_url("**/console")
        await page.wait_for_selector("body[data-console-state=queue]")
        assert "Dana" in await page.inner_text("#who")
        assert await page.is_visible("#signout")
        await _until(lambda: desk.humans_signed_in == 1, "Dana on the desk", 10)
        await page.wait_for_function("document.getElementById('conn').textContent === 'connected'")
        assert await _dataset(page, "waiting") == "0"

        # --- a caller asks for a person and is queued; the page shows the packet ---
        thanks_gate = asyncio.Event()
        caller = HeldCaller(url)
        # The caller answers the person only once the person has spoken.
        script = [ScriptLine(ASK), ScriptLine(THANKS, gate=thanks_gate)]
        call = asyncio.create_task(caller.run(script))
        try:
            card = page.locator("#waiting .qcard")
            await card.wait_for(timeout=40_000)
            assert await _dataset(page, "waiting") == "1"
            card_text = await card.inner_text()
            assert "explicit request" in card_text, card_text
            assert "The caller asked for a person." in card_text, card_text
            assert "Handed off because the caller asked for a person." in card_text, card_text
            assert "+15550100" in card_text  # the simulator's calling number
            shown_summary = await card.locator(".summary").inner_text()
            call_id = await card.get_attribute("data-call-id")
            assert call_id
            await _until(lambda: _on_hold(caller), "the caller to be on hold", 30)
            await page.wait_for_function(
                "/waiting [1-9]/.test(document.querySelector('#waiting .qcard .wait').textContent)"
            )
            await screenshot(page, "console-queue")
            assert caller.event("human_joined") is None

            # --- Pick up: the packet and the transcript so far, then audio both ways ---
            await page.click(f'#waiting button.pickup[data-call-id="{call_id}"]')
            await page.wait_for_selector("body[data-console-state=on-call]", timeout=10_000)
            assert await _dataset(page, "callId") == call_id == caller.call_id
            assert await _dataset(page, "waiting") == "0"
            assert shown_summary in await page.inner_text("#packet")
            so_far = await page.locator("#transcript .utt").all_inner_texts()
            assert len(so_far) >= 3 and int(await _dataset(page, "transcriptLines") or 0) >= 3
            assert any("real person" in line.lower() for line in so_far), so_far
            assert any("connect you" in line for line in so_far), so_far
            active = page.locator(f'#active .qrow[data-call-id="{call_id}"]')
            await active.wait_for(timeout=5_000)
            assert "Dana" in await active.inner_text()

            await _until(lambda: caller.event("human_joined") is not None, "human_joined", 5)
            joined = caller.event("human_joined")
            assert joined is not None
            joined_s = float(joined["_received_s"])
            heard_s = LEAD_S + dana_speech_s + 1.0
            await _until(
                lambda: caller.audio_since(joined_s).size >= heard_s * RATE,
                "Dana's voice to reach the caller",
                heard_s + 10,
            )
            dana = caller.audio_since(joined_s)
            heard = (await oracle_stt.transcribe(dana)).text
            assert word_overlap(DANA_SAYS, heard) >= 0.6, heard
            frames = int(await _dataset(page, "micFramesSent") or 0)
            assert frames >= 0.8 * heard_s / 0.02, frames
            # Until now the caller only listened: what reached the console was silence.
            audio_before = await _number(page, "callerAudioMs")
            assert audio_before >= 0.8 * heard_s * 1000, audio_before
            assert await _number(page, "callerSpeechMs") <= 40

            # --- the caller answers: their voice and their words reach the console ---
            thanks_gate.set()
            line = page.locator("#transcript .utt.caller.live .text")
            await line.wait_for(timeout=20_000)
            said = await line.inner_text()
            assert word_overlap(THANKS, said) >= 0.75, said
            assert await _number(page, "callerSpeechMs") >= 600
            assert await _number(page, "callerPeak") > 0.05
            assert await _number(page, "callerAudioMs") > audio_before + 1000
            assert await placeholder_words(page) == []
            await screenshot(page, "console-on-call")

            # --- Hand back: the agent takes the caller again ---
            await page.click("#hand-back")
            assert await page.is_disabled("#hand-back") and await page.is_disabled("#end-call")
            await page.wait_for_selector("body[data-console-state=queue]", timeout=20_000)
            assert "handed back to the agent" in await page.inner_text("#last-call")
            report = await asyncio.wait_for(call, 40)
        finally:
            call.cancel()
            with contextlib.suppress(BaseException):
                await call

        back = caller.event("agent_text", "You're back with the automated assistant")
        assert back is not None, [e.get("text") for e in report.of_type("agent_text")]
        assert float(back["_received_s"]) > joined_s
        detail = await _ended_call(stack, call_id)
        kinds = [e.kind for e in detail.events]
        handoff_kinds = ("escalation", "queued", "human_joined", "handed_back")
        assert [k for k in kinds if k in handoff_kinds] == list(handoff_kinds), kinds
        escalation = next(e for e in detail.events if e.kind == "escalation")
        assert escalation.data["trigger"] == "explicit_request"
        packet = next(e for e in detail.events if e.kind == "handoff_context")
        assert packet.data["summary"] == shown_summary
        joined_event = next(e for e in detail.events if e.kind == "human_joined")
        assert joined_event.data["human"] == "Dana"
        assert any("You're back with the automated assistant" in u.text for u in detail.utterances)
        await screenshot(page, "console-handed-back")

        # --- signing out takes Dana off the desk ---
        await page.click("#signout")
        await page.wait_for_selector("body[data-console-state=signed-out]")
        await _until(lambda: desk.humans_signed_in == 0, "Dana off the desk", 10)
        assert (await page.request.get(f"{base}/v1/console/me")).status == 401
        # The page's own 401s (the wrong password, signed out) are expected answers.
        assert [e for e in errors if "status of 401" not in e] == []
    assert desk.humans_signed_in == 0
