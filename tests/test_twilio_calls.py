"""Phone calls over Twilio's Media Streams protocol: real µ-law 8 kHz speech both ways."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import numpy as np
import pytest

from callwright.agent.stack import AgentStack
from callwright.audio.resample import resample
from callwright.audio.wav import write_wav
from callwright.sim.caller import ScriptLine
from callwright.sim.twilio_caller import KeyPresses, PhoneCallReport, TwilioCallerSimulator
from callwright.store.base import CallDetail
from callwright.stt.whisper import WhisperStt
from callwright.telephony.settings import TelephonySettings
from callwright.tts.espeak import EspeakTts
from examples.clinic.front_desk import CLINIC_FACTS
from tests.conftest import ARTIFACTS, brief_demo, normalize, word_overlap
from tests.fakes.twilio_rest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FakeTwilioRest,
    fake_twilio,
    serve_phone,
)

# Phone-band espeak is hard for tiny.en; these lines transcribe reliably at 8 kHz at 140 wpm.
CALLER_VOICE = EspeakTts(voice="en-us", words_per_minute=140)


@dataclass(frozen=True, slots=True)
class Phone:
    url: str
    rest: FakeTwilioRest


@pytest.fixture(scope="module")
async def phone(stack: AgentStack) -> AsyncIterator[Phone]:
    # The deterministic demo agent, whatever the default agent is: these tests are about the
    # phone line, and its answers are known word for word. The opening is brief: the greeting
    # and the disclosure have their own tests.
    demo = brief_demo(stack)
    async with fake_twilio() as rest:
        settings = TelephonySettings(
            twilio_account_sid=ACCOUNT_SID,
            twilio_auth_token=AUTH_TOKEN,
            twilio_api_base_url=rest.url,
        )
        async with serve_phone(demo, settings) as url:
            yield Phone(url, rest)


def caller(phone: Phone, **kwargs: object) -> TwilioCallerSimulator:
    simulator = TwilioCallerSimulator(phone.url, CALLER_VOICE, AUTH_TOKEN, **kwargs)  # type: ignore[arg-type]
    phone.rest.known_call(simulator.report.call_sid)
    return simulator


async def record_of(stack: AgentStack, call_sid: str) -> CallDetail:
    """The finished call record of a Twilio call."""
    for _ in range(100):
        for record in await stack.store.list_calls(1000):
            if record.parameters.get("call_sid") == call_sid and record.status != "active":
                detail = await stack.store.get_call(record.call_id)
                assert detail is not None
                return detail
        await asyncio.sleep(0.1)
    raise AssertionError(f"no finished record for {call_sid}")


async def heard(stt: WhisperStt, audio: list[np.ndarray]) -> str:
    """What the caller heard of the agent, from its 8 kHz audio (Whisper full window)."""
    samples = np.concatenate(audio) if audio else np.zeros(0, np.int16)
    return (await stt.transcribe(resample(samples, 8000, stt.sample_rate))).text


async def test_spoken_phone_call(stack: AgentStack, phone: Phone, oracle_stt: WhisperStt) -> None:
    lines = ["What are your opening hours?", "Where are you located?"]
    simulator = caller(phone)
    report = await simulator.run([ScriptLine(t) for t in lines])

    detail = await record_of(stack, report.call_sid)
    assert detail.record.channel == "twilio"
    assert detail.record.caller  # the number (redacted by the store's policy)
    assert detail.record.parameters["stream_sid"] == report.stream_sid
    said = [u.text for u in detail.utterances if u.role == "caller"]
    assert len(said) == 2
    for line, text in zip(lines, said, strict=True):
        # Recognisably the line: the recogniser's slips over the phone band ("Well, how are
        # you opening hours?", 3 of 5 words) are the evals' to measure, not this test's.
        assert word_overlap(line, text) >= 0.6, (line, text)
    # The agent at 8 kHz µ-law, transcribed back: intelligible on a phone line.
    ARTIFACTS.mkdir(exist_ok=True)
    for i, turn in enumerate(report.turns, start=1):
        write_wav(ARTIFACTS / f"twilio-agent-{i}.wav", np.concatenate(turn.agent_audio), 8000)
    hours = await heard(oracle_stt, report.turns[0].agent_audio)
    assert word_overlap("open eight morning six evening Monday Friday", hours) >= 0.6, hours
    address = await heard(oracle_stt, report.turns[1].agent_audio)
    assert word_overlap("Maple Street", address) >= 0.5, address
    assert detail.utterances[2].text == CLINIC_FACTS["hours"]
    # Marks went out with the agent's audio and came back as it played.
    assert report.marks_echoed > 10
    assert detail.record.outcome == "caller_hung_up"
    assert all(t.ttfa_ms is not None and t.ttfa_ms > 0 for t in report.turns)


def finished_replies(
    stack: AgentStack, simulator: TwilioCallerSimulator
) -> Callable[[], Awaitable[int]]:
    """The agent's replies the call's record counts as played to the end (not cut short)."""

    async def count() -> int:
        for record in await stack.store.list_calls(1000):
            if record.parameters.get("call_sid") == simulator.report.call_sid:
                detail = await stack.store.get_call(record.call_id)
                agent = [u for u in detail.utterances if u.role == "agent"] if detail else []
                return sum(not u.interrupted for u in agent)
        return 0

    return count


async def test_barge_in_clears_and_keeps_what_was_heard(stack: AgentStack, phone: Phone) -> None:
    simulator = caller(phone)
    # After the barge-in the caller waits for the answer the record counts, not for a pause:
    # the cut reply's last frames count as audio after the line, and on a loaded machine the
    # answer can start later than the pause that would end the call.
    simulator.replies_done = finished_replies(stack, simulator)
    report = await simulator.run(
        [
            ScriptLine("What are your opening hours?"),
            ScriptLine("Where are you located?", barge_in_after_ms=1500),
        ]
    )
    assert report.clears >= 1, "barge-in must send clear"
    detail = await record_of(stack, report.call_sid)
    cut = [u for u in detail.utterances if u.interrupted]
    full = CLINIC_FACTS["hours"]
    assert len(cut) == 1 and cut[0].role == "agent"
    assert cut[0].text and full.startswith(cut[0].text) and len(cut[0].text) < len(full)
    barge = [e for e in detail.events if e.kind == "barge_in"]
    assert len(barge) == 1
    # What the marks confirmed is what counts: never more than the phone played of the reply
    # before the clear that stopped it (the simulator plays 20 ms per tick and echoes marks
    # only for played audio). The reply plays on ducked while the overlap is judged, so that
    # is the phone's playback up to the last clear, not the audio received before the
    # interruption's words were spoken.
    stopped_s = max(e["_received_s"] for e in report.of_type("clear"))
    reply_from_s = report.turns[0].speech_end_s
    played = sum(n for t, n in report.playback if reply_from_s <= t <= stopped_s)
    assert 0 < barge[0].data["heard_ms"] <= 1000.0 * played / 8000
    # The agent then answers the question that interrupted it.
    assert any("Maple Street" in u.text for u in detail.utterances if u.role == "agent")


async def test_keypad_entry_becomes_a_turn(stack: AgentStack, phone: Phone) -> None:
    simulator = caller(phone)
    report = await simulator.run([KeyPresses("19840312#"), KeyPresses("42")])
    detail = await record_of(stack, report.call_sid)
    caller_lines = [u.text for u in detail.utterances if u.role == "caller"]
    # "#" ends an entry; so do 1.5 s without a key. (The store's redaction policy may mask an
    # eight-digit entry as a phone number.)
    assert len(caller_lines) == 2 and caller_lines[1] == "42"
    assert caller_lines[0] in ("19840312", "[PHONE]")
    keys = [e.data["digit"] for e in detail.events if e.kind == "dtmf"]
    assert "".join(keys) == "19840312#42"
    assert all(turn.agent_audio for turn in report.turns), "the agent answers each entry"


async def test_agent_hangs_up_through_the_rest_api(
    stack: AgentStack, phone: Phone, oracle_stt: WhisperStt
) -> None:
    simulator = caller(phone)
    report = await simulator.run([ScriptLine("Thank you, goodbye.")], hang_up=False)
    assert report.ended_by_agent
    # The goodbye reached the phone before the hang-up (Whisper at 8 kHz sometimes drops the
    # short last word, so the check is on the sentence before it).
    heard_words = normalize(await heard(oracle_stt, report.turns[0].agent_audio))
    assert heard_words[:4] == ["thank", "you", "for", "calling"], heard_words
    updates = phone.rest.updates_of(report.call_sid)
    assert [u.one("Status") for u in updates] == ["completed"]
    detail = await record_of(stack, report.call_sid)
    assert detail.record.outcome == "completed"


def report_summary(report: PhoneCallReport) -> str:
    return f"{report.call_sid}: {len(report.turns)} turns, {report.clears} clears"
