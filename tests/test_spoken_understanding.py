"""A caller in a voice the agent was not tuned on (Festival's HTS voice) books with Doctor
Nguyen over Twilio's Media Streams protocol: 8 kHz µ-law, real Whisper, real server."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from callwright.agent.stack import AgentStack
from callwright.flows.slots import extract_date
from callwright.sim.caller import ScriptLine
from callwright.sim.twilio_caller import TwilioCallerSimulator
from callwright.sim.voices import VoiceAsTts, parse_voice
from callwright.stt.whisper import WhisperOptions, WhisperStt, _collapse_repeats
from callwright.telephony.settings import TelephonySettings
from examples.clinic.factory import ClinicResponderFactory
from tests.conftest import brief_clinic
from tests.fakes.twilio_rest import ACCOUNT_SID, AUTH_TOKEN, fake_twilio, serve_phone
from tests.test_twilio_calls import Phone, record_of

CALLER_VOICE = VoiceAsTts(parse_voice("festival:slt_hts"))


@pytest.fixture(scope="module")
async def stack(
    stack: AgentStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AgentStack]:
    """The process's models with this module's own clinic (its database, a brief opening)."""
    async with brief_clinic(stack, tmp_path_factory.mktemp("understanding-clinic")) as own:
        yield own


@pytest.fixture(scope="module")
async def clinic_phone(stack: AgentStack) -> AsyncIterator[Phone]:
    async with fake_twilio() as rest:
        settings = TelephonySettings(
            twilio_account_sid=ACCOUNT_SID,
            twilio_auth_token=AUTH_TOKEN,
            twilio_api_base_url=rest.url,
        )
        async with serve_phone(stack, settings) as url:
            yield Phone(url, rest)


async def test_festival_caller_books_with_doctor_nguyen(
    stack: AgentStack, clinic_phone: Phone
) -> None:
    assert isinstance(stack.responders, ClinicResponderFactory)
    store = stack.responders.data.store
    thursday = extract_date("Thursday", dt.date.today())
    assert thursday is not None
    wanted = dt.datetime.combine(thursday, dt.time(10, 0))
    simulator = TwilioCallerSimulator(clinic_phone.url, CALLER_VOICE, AUTH_TOKEN, turn_timeout_s=30)
    clinic_phone.rest.known_call(simulator.report.call_sid)
    report = await simulator.run(
        [
            ScriptLine(
                "I'd like to make an appointment with Doctor Nguyen "
                "for Thursday at ten in the morning."
            ),
            ScriptLine("My name is John Smith, and I was born on July fourth, nineteen ninety."),
            # Either confirms a name the agent was unsure of, or the booking's read-back;
            # the second yes confirms the booking in the first case and is harmless otherwise.
            ScriptLine("Yes, that is correct."),
            ScriptLine("Yes."),
        ]
    )
    detail = await record_of(stack, report.call_sid)
    lines = [u.text for u in detail.utterances]
    booked = [a for a in await store.appointments("pat_john") if a.start == wanted]
    assert [(a.doctor_id, a.status) for a in booked] == [("nguyen", "booked")], lines
    # The day and time of the first sentence were used: the agent never asked for them.
    agent = [u.text for u in detail.utterances if u.role == "agent"]
    assert not any("What day" in t or "What time" in t for t in agent), lines


def test_the_vocabulary_goes_in_as_whispers_previous_text() -> None:
    stt = WhisperStt.load(WhisperOptions(vocabulary=("Doctor Nguyen", "Aetna")))
    try:
        tokenizer = stt._tokenizer
        prompt = stt._prompt
        assert prompt[0] == tokenizer.sot_prev
        start = prompt.index(tokenizer.sot)
        assert tokenizer.decode(prompt[1:start]).strip() == "Doctor Nguyen, Aetna."
        stt.set_vocabulary([])
        assert stt._prompt == [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    finally:
        stt.close()


def test_a_sentence_whisper_wrote_twice_in_a_row_is_kept_once() -> None:
    assert _collapse_repeats("Do you take Aetna? Do you take Aetna?") == "Do you take Aetna?"
    assert _collapse_repeats("Yes. No. Yes.") == "Yes. No. Yes."
