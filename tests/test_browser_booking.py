"""A clinic booking placed from the talk page in headless Chromium over WebRTC.

The caller speaks with Festival's HTS voice (a Debian engine the agent is not tuned on), one
line per turn in the order the clinic's flow asks: doctor, name and date of birth, day and
time, confirmation, goodbye. A fixed microphone file cannot wait for the agent, so the page's
microphone is scripted (`tests/browser.py`): each line plays once the agent's previous reply
has ended (its `agent_turn_end` on the data channel), however long the loaded machine took.
Everything else is the page's own WebRTC path: Opus from Chromium, the server's answer, the
agent's voice back, and the appointment in the clinic's store afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from callwright.agent.stack import AgentStack
from callwright.flows.slots import extract_date
from callwright.sim.voices import SAMPLE_RATE, parse_voice
from examples.clinic.factory import ClinicResponderFactory
from tests.browser import (
    chromium,
    console_errors,
    data_channel_events,
    say_into_microphone,
    screenshot,
    use_scripted_microphone,
)
from tests.conftest import brief_clinic, finished_call, http_base, serve

CALLER = parse_voice("festival:slt_hts")
# Patel on Tuesday at four, in this module's own clinic.
LINES = [
    "I would like to book an appointment with Doctor Patel.",
    "My name is Sarah Thompson and I was born on October first, two thousand.",
    "Please make it Tuesday at four in the afternoon.",
    "Yes, that is correct.",
    "Thank you, goodbye.",
]
TURN_TIMEOUT_MS = 90_000  # generous: four test processes share two cores


@pytest.fixture(scope="module")
async def stack(
    stack: AgentStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AgentStack]:
    """The process's models with this module's own clinic (its database, a one-word greeting)."""
    async with brief_clinic(stack, tmp_path_factory.mktemp("browser-clinic")) as own:
        yield own


@pytest.fixture(scope="module")
async def server_url(stack: AgentStack) -> AsyncIterator[str]:
    async with serve(stack) as url:
        yield url


REPLY_ENDED = """(n) => window.scriptedMic.events.slice(n).some(
    (e) => e.type === "agent_turn_end" && !e.interrupted)"""


async def _reply_ended(page: Page, after: int) -> None:
    """Waits for the end of an agent reply that arrived after the first `after` events."""
    try:
        await page.wait_for_function(REPLY_ENDED, arg=after, timeout=TURN_TIMEOUT_MS, polling=100)
    except PlaywrightTimeout:
        events = await data_channel_events(page)
        raise AssertionError(f"no reply ended after event {after}: {events}") from None


async def test_a_clinic_booking_from_chromium_over_webrtc(
    stack: AgentStack, server_url: str
) -> None:
    factory = stack.responders
    assert isinstance(factory, ClinicResponderFactory)
    tuesday = extract_date("Tuesday", dt.date.today())
    assert tuesday is not None
    lines = [await CALLER.speak(line) for line in LINES]

    async with chromium() as browser:
        await use_scripted_microphone(browser)
        page = await browser.new_page()
        errors = console_errors(page)
        await page.goto(f"{http_base(server_url)}/talk")
        await page.click("#call")
        await page.wait_for_selector("body[data-call-state=live]", timeout=30_000)
        assert await page.evaluate("document.body.dataset.transport") == "webrtc"
        assert await page.evaluate("document.body.dataset.codec") == "opus"
        await _reply_ended(page, 0)  # the greeting

        for text, audio in zip(LINES, lines, strict=True):
            # Counted before speaking: however slow this page is to answer, the reply's end
            # cannot be missed.
            before = len(await data_channel_events(page))
            await say_into_microphone(page, audio, SAMPLE_RATE)
            if text == LINES[-1]:
                break
            await _reply_ended(page, before)
        # The agent says goodbye and ends the call itself.
        await page.wait_for_selector("body[data-call-state=ended]", timeout=TURN_TIMEOUT_MS)
        await screenshot(page, "talk-webrtc-booking")
        call_id = await page.evaluate("document.body.dataset.callId")
        events = await data_channel_events(page)

    detail = await finished_call(stack, call_id)
    said = "\n".join(f"{u.role}: {u.text}" for u in detail.utterances)
    booked = [
        (a.doctor_id, a.start, a.status) for a in await factory.data.store.appointments("pat_sarah")
    ]
    tuesday_four = dt.datetime.combine(tuesday, dt.time(16, 0))
    assert ("patel", tuesday_four, "booked") in booked, said
    assert detail.record.channel == "webrtc"
    assert detail.record.outcome == "completed", said
    assert any(e["type"] == "end" for e in events)
    # Each caller line was heard as a turn of its own over the Opus track.
    assert len([u for u in detail.utterances if u.role == "caller"]) >= len(LINES), said
    assert errors == []
