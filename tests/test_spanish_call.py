"""A caller who speaks Spanish books an appointment over the phone (Twilio Media Streams).

The bilingual clinic (`examples/clinic/agent_es.py`) runs on the real pipeline: Silero VAD,
multilingual Whisper base detecting the language of each utterance, the receptionist, Piper
for English and espeak-ng `es-419` for Spanish. The caller is espeak-ng's Latin American
Spanish voice through µ-law 8 kHz, as a phone delivers it; the call opens in English (the
disclosure and the greeting) and must continue in Spanish once the caller speaks it. The
caller types the date of birth on the keypad, as the clinic offers: an espeak-ng number
spoken over a phone line is beyond Whisper base, and so are its hours ("a las once" came back
as "a la sonde"): the caller asks for a day and picks the first time offered. Times in Spanish
are tested on text (test_languages.py). The appointment is checked in the clinic's own store,
the language switch in the call record.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from callwright.agents.build import settings_for
from callwright.config import Settings
from callwright.server.runtime import load_stack
from callwright.sim.caller import ScriptLine
from callwright.sim.twilio_caller import KeyPresses, TwilioCallerSimulator
from callwright.sim.voices import VoiceAsTts, parse_voice
from callwright.telephony.settings import TelephonySettings
from examples.clinic.agent_es import agent
from examples.clinic.store import ClinicStore, Patient
from tests.fakes.twilio_rest import ACCOUNT_SID, AUTH_TOKEN, fake_twilio, serve_phone
from tests.test_twilio_calls import record_of

CALLER = VoiceAsTts(parse_voice("espeak:es-419+m7@140"))
# The caller's own record in the clinic (the test's data; not one of the seeded patients).
PATIENT = Patient("pat_carlos", "Carlos", "Mendoza", dt.date(1979, 5, 14), "+15550177")


def next_weekday(today: dt.date, weekday: int) -> dt.date:
    """The first `weekday` after `today` (never today), as a caller means "el martes"."""
    return today + dt.timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


@pytest.mark.timeout(300)
async def test_a_spanish_caller_books_an_appointment_by_phone(tmp_path: Path) -> None:
    clinic = await ClinicStore.open(tmp_path / "clinic.sqlite3")  # seeded, then our patient
    await clinic.add_patient(PATIENT)
    await clinic.close()
    settings = settings_for(Settings(data_dir=tmp_path), agent)
    stack = await load_stack(settings, agent)
    try:
        async with fake_twilio() as rest:
            telephony = TelephonySettings(
                twilio_account_sid=ACCOUNT_SID,
                twilio_auth_token=AUTH_TOKEN,
                twilio_api_base_url=rest.url,
            )
            async with serve_phone(stack, telephony) as url:
                simulator = TwilioCallerSimulator(url, CALLER, AUTH_TOKEN, turn_timeout_s=60.0)
                rest.known_call(simulator.report.call_sid)
                today = dt.date.today()
                report = await simulator.run(
                    [
                        ScriptLine("Hola, quiero pedir una cita con el doctor Patel."),
                        ScriptLine("Me llamo Carlos Mendoza."),
                        KeyPresses("05141979#"),
                        ScriptLine("El martes, por favor."),
                        ScriptLine("La primera."),
                        ScriptLine("Sí, claro."),
                        ScriptLine("No, gracias."),
                    ],
                    hang_up=False,
                )
                detail = await record_of(stack, report.call_sid)
    finally:
        await stack.responders.close()  # type: ignore[attr-defined]
        await stack.store.close()

    agent_lines = [u.text for u in detail.utterances if u.role == "agent"]
    dialogue = "\n".join(f"{u.role}: {u.text}" for u in detail.utterances)
    switches = [dict(e.data) for e in detail.events if e.kind == "language"]
    assert switches[:1] == [{"from": "en", "to": "es"}], (switches, dialogue)
    # Every reply after the caller's first words is the Spanish receptionist's.
    verify = "Claro. Primero, ¿cuál es su nombre completo y su fecha de nacimiento?"
    assert agent_lines[1] == verify, dialogue
    # The agent thanked Carlos by name; the stored transcript keeps the name redacted (the
    # patient lookup was given it, so it is the caller's wherever it appears).
    assert "Gracias, [NAME]." in " ".join(agent_lines), dialogue
    assert "Carlos" not in dialogue and "Mendoza" not in dialogue
    # The offer of that Tuesday's first two free times (Doctor Patel starts at nine).
    offer = "Doctor Patel tiene libre el martes"
    assert any(line.startswith(offer) for line in agent_lines), dialogue
    assert any(line.startswith("Listo, tiene cita con Doctor Patel") for line in agent_lines), (
        dialogue
    )
    assert agent_lines[-1] == "Gracias por llamar. ¡Adiós!", dialogue
    assert detail.record.outcome == "completed", detail.record

    clinic = await ClinicStore.open(tmp_path / "clinic.sqlite3")
    try:
        [booked] = await clinic.appointments(PATIENT.id)
    finally:
        await clinic.close()
    tuesday = next_weekday(today, 1)
    assert (booked.doctor_id, booked.start, booked.status) == (
        "patel",
        dt.datetime.combine(tuesday, dt.time(9, 0)),  # her first free time that day
        "booked",
    )
