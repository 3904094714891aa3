"""Languages on text: Spanish slots, Spanish speech normalisation, the bilingual clinic booking
and following a caller who changes language, and the configuration errors.

The spoken Spanish phone call is in test_spanish_call.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from callwright import Agent, Language, Lines
from callwright.config import Settings, SttSettings
from callwright.core.responder import CallInfo, TurnContext
from callwright.flows.globals import match_global
from callwright.flows.guardrails import SPANISH_GUARDRAILS, Guardrails
from callwright.flows.slots import (
    extract_choice,
    extract_date,
    extract_dob,
    extract_time,
    extract_yes_no,
)
from callwright.flows.spanish import canonical, yes_or_no
from callwright.llm.openai_compat import in_language
from callwright.server.runtime import load_stack
from callwright.stt.whisper import WhisperOptions, WhisperStt
from callwright.testing import text_agent
from callwright.tts.normalize import SpeechNormalizer
from examples.clinic.agent_es import agent as bilingual_clinic
from examples.clinic.scope import GUARDRAILS_ES
from examples.clinic.store import ClinicStore

WEDNESDAY = dt.date(2026, 12, 2)  # the day these calls are taken on

# (what a Spanish caller said, the date, the time) — dates worked out by hand from WEDNESDAY.
WHEN = [
    ("el jueves", dt.date(2026, 12, 3), None),
    ("El jueves a las diez de la mañana.", dt.date(2026, 12, 3), dt.time(10, 0)),
    ("el 10 de diciembre", dt.date(2026, 12, 10), None),
    ("el diez de diciembre a las once y media", dt.date(2026, 12, 10), dt.time(11, 30)),
    ("Mañana por la tarde, a las cuatro.", dt.date(2026, 12, 3), dt.time(16, 0)),
    ("pasado mañana a la una menos cuarto", dt.date(2026, 12, 4), dt.time(12, 45)),
    ("el lunes que viene", dt.date(2026, 12, 7), None),
    ("el próximo martes al mediodía", dt.date(2026, 12, 8), dt.time(12, 0)),
    ("el miércoles a las ocho y veinte", dt.date(2026, 12, 9), dt.time(8, 20)),
    ("el día 15 a las 9:30", dt.date(2026, 12, 15), dt.time(9, 30)),
    ("el viernes a las nueve de la noche", dt.date(2026, 12, 4), dt.time(21, 0)),
    ("el sábado a las siete y cuarto de la tarde", dt.date(2026, 12, 5), dt.time(19, 15)),
    ("El martes a la sonse.", dt.date(2026, 12, 8), dt.time(11, 0)),
    ("hoy a las tres", WEDNESDAY, dt.time(15, 0)),
    ("el 3 de enero", dt.date(2027, 1, 3), None),
]


@pytest.mark.parametrize(("said", "day", "time"), WHEN)
def test_spanish_days_and_times(said: str, day: dt.date, time: dt.time | None) -> None:
    heard = canonical(said)
    assert extract_date(heard, WEDNESDAY) == day, heard
    found = extract_time(heard)
    assert (found.time if found else None) == time, heard


@pytest.mark.parametrize(
    ("said", "answer"),
    [
        ("Sí.", True),
        ("Sí, por favor.", True),
        ("Si, claro", True),
        ("Claro que sí.", True),
        ("De acuerdo.", True),
        ("Perfecto.", True),
        ("No.", False),
        ("No, gracias.", False),
        ("No es correcto.", False),
        ("Mejor no.", False),
        ("No sé.", None),  # a negated verb is no answer
        ("Si puede ser el lunes.", None),  # "si" without its accent: "if"
        ("Quiero una cita.", None),
    ],
)
def test_spanish_yes_and_no(said: str, answer: bool | None) -> None:
    assert extract_yes_no(canonical(said)) is answer
    # What a caller waiting for a person answers to the callback offer, in the call's language.
    assert yes_or_no(said, "es") is answer


def test_a_yes_or_no_is_read_in_the_calls_language() -> None:
    assert yes_or_no("Yes please.", "en") is True and yes_or_no("No thanks.", "en") is False
    # Read as English, a Spanish yes is no answer at all.
    assert yes_or_no("Sí, por favor.", "en") is None and yes_or_no("Sí, por favor.", "es")


@pytest.mark.parametrize(
    ("said", "born"),
    [
        ("Nací el cuatro de julio de mil novecientos noventa.", dt.date(1990, 7, 4)),
        ("doce de marzo de mil novecientos ochenta y cuatro", dt.date(1984, 3, 12)),
        ("el 5 de mayo de 1978", dt.date(1978, 5, 5)),
        ("primero de octubre del dos mil", dt.date(2000, 10, 1)),
    ],
)
def test_spanish_dates_of_birth(said: str, born: dt.date) -> None:
    assert extract_dob(canonical(said), WEDNESDAY) == born


def test_spanish_global_intents() -> None:
    assert match_global("Quiero hablar con una persona, por favor.", "es") == "human"
    assert match_global("Eso es todo, adiós.", "es") == "goodbye"
    assert match_global("¿Puede repetirlo?", "es") == "repeat"
    assert match_global("Olvídelo.", "es") == "abort"
    assert match_global("Quiero una cita.", "es") is None


SPOKEN_ES = [
    ("La cita es el 10/12/2026.", "La cita es el diez de diciembre de dos mil veintiséis."),
    ("A las 10:00.", "A las diez de la mañana."),
    ("A las 17:30 h.", "A las cinco y media de la tarde."),
    ("A las 9:15 de la mañana.", "A las nueve y cuarto de la mañana."),
    ("A las 12:00.", "A las doce del mediodía."),
    ("A las 3 p. m.", "A las tres de la tarde."),
    ("El 1 de diciembre.", "El primero de diciembre."),
    ("El 2026-12-10.", "El diez de diciembre de dos mil veintiséis."),
    ("Cuesta $120.", "Cuesta ciento veinte dólares."),
    ("Son 45,50 €.", "Son cuarenta y cinco euros con cincuenta céntimos."),
    ("Un 15 % menos.", "Un quince por ciento menos."),
    ("Tenemos 1.200 pacientes.", "Tenemos mil doscientos pacientes."),
    ("Con la Dra. Patel y el Dr. Nguyen.", "Con la doctora Patel y el doctor Nguyen."),
    ("Habitación 21.", "Habitación veintiuno."),
]


@pytest.mark.parametrize(("written", "spoken"), SPOKEN_ES)
def test_spanish_speech_normalisation(written: str, spoken: str) -> None:
    assert SpeechNormalizer(language="es", date_order="dmy").normalize(written) == spoken


def test_no_english_words_in_another_language() -> None:
    # A language without rules of its own keeps its digits (its voice reads them) rather
    # than getting English words.
    assert SpeechNormalizer(language="fr").normalize("À 14:30, 3 €.") == "À 14:30, 3 €."


async def test_a_spanish_caller_books_and_asks_in_spanish(tmp_path: Path) -> None:
    async with text_agent(bilingual_clinic, data_dir=tmp_path, today=lambda: WEDNESDAY) as s:
        call = await s.call()
        assert call.greeting.startswith("Hello")  # a call opens in the main language
        turn = await call.say("¿Aceptan Medicare?", "es")  # the Spanish knowledge answers
        assert turn.text.startswith("Aceptamos") and "Medicare" in turn.text
        turn = await call.say("Bien. Quiero pedir una cita con la doctora Patel.")
        assert turn.text == "Claro. Primero, ¿cuál es su nombre completo y su fecha de nacimiento?"
        turn = await call.say("María García, doce de marzo de mil novecientos ochenta y cuatro.")
        assert turn.text == "Gracias, Maria. ¿Qué día quiere ver a Doctor Patel?"
        turn = await call.say("El jueves a las diez de la mañana.")
        assert turn.text == (
            "Entonces, cita con Doctor Patel el jueves tres a las diez de la mañana. ¿La reservo?"
        )
        turn = await call.say("Sí, por favor.")
        assert turn.text.startswith("Listo, tiene cita con Doctor Patel el jueves tres")
        turn = await call.say("No, gracias.")
        assert turn.text == "Gracias por llamar. ¡Adiós!" and turn.ended is not None
    clinic = await ClinicStore.open(tmp_path / "clinic.sqlite3")
    try:
        [booked] = await clinic.appointments("pat_maria")
    finally:
        await clinic.close()
    assert (booked.doctor_id, booked.start) == ("patel", dt.datetime(2026, 12, 3, 10, 0))


async def test_a_spanish_emergency_ends_the_call_in_spanish(tmp_path: Path) -> None:
    async with text_agent(bilingual_clinic, data_dir=tmp_path, today=lambda: WEDNESDAY) as s:
        call = await s.call()
        turn = await call.say("Mi padre tiene un dolor en el pecho y no puede respirar.", "es")
        assert turn.text == (
            "Parece una emergencia. Por favor, cuelgue y llame al nueve uno uno ahora mismo."
        )
        assert turn.ended is not None and turn.ended.reason == "emergency"


def test_spanish_guardrails() -> None:
    spanish = Guardrails(SPANISH_GUARDRAILS)
    assert spanish.check("Creo que es un infarto.") == "emergency"
    # What is out of scope is the agent's own: the framework's Spanish rules name no topic,
    # the clinic's name its medical ones.
    assert spanish.check("¿Me puede recetar un antibiótico?") is None
    clinic = Guardrails(GUARDRAILS_ES)
    assert clinic.check("¿Me puede recetar un antibiótico?") == "out_of_scope"
    assert clinic.check("Creo que es un infarto.") == "emergency"
    assert clinic.check("Quiero pedir una cita para una revisión.") is None


async def test_a_caller_who_switches_language_is_answered_in_it(tmp_path: Path) -> None:
    async with text_agent(bilingual_clinic, data_dir=tmp_path, today=lambda: WEDNESDAY) as s:
        call = await s.call()
        turn = await call.say("Quiero una cita con el doctor Nguyen.", "es")
        assert turn.text.startswith("Claro. Primero")
        # The flow goes on where it was, now in English.
        turn = await call.say("Sorry, English please. I'm John Smith, born July 4, 1990.", "en")
        assert turn.text == "Thank you, John. What day would you like to see Doctor Nguyen?"
        turn = await call.say("El viernes por la mañana.", "es")
        assert turn.text.startswith("Doctor Nguyen tiene libre el viernes cuatro a las ocho")
        turn = await call.say("La segunda.")
        assert turn.text == (
            "Entonces, cita con Doctor Nguyen el viernes cuatro a las ocho y media de la mañana."
            " ¿La reservo?"
        )


async def test_the_generic_responder_follows_the_language(tmp_path: Path) -> None:
    knowledge = tmp_path / "es"
    knowledge.mkdir()
    (knowledge / "horario.md").write_text(
        "# Horario\nKeywords: horario, abren, abierto\nAbrimos de nueve a cinco.\n"
    )
    spanish = Language(
        "es",
        greeting="Hola, ¿en qué puedo ayudarle?",
        lines=Lines(fallback="Lo siento, no puedo ayudarle con eso.", goodbye="¡Adiós!"),
        knowledge=knowledge,
        goodbye_cues=("adios", "hasta luego"),
    )
    agent = Agent(name="shop", greeting="Hello!", stt_model="base", languages=(spanish,))
    async with text_agent(agent, data_dir=tmp_path) as session:
        call = await session.call()
        assert call.greeting == "Hello!"
        turn = await call.say("¿A qué hora abren? ¿Cuál es el horario?", "es")
        assert turn.text == "Abrimos de nueve a cinco."
        turn = await call.say("¿Venden bicicletas?")
        assert turn.text == "Lo siento, no puedo ayudarle con eso."
        turn = await call.say("Gracias, adiós.")
        assert turn.text == "¡Adiós!" and turn.ended is not None


def test_the_model_is_told_the_callers_language() -> None:
    call = CallInfo(call_id="c-lang", channel="test")
    english = TurnContext(call, (), "user_turn", "en")
    spanish = TurnContext(call, (), "user_turn", "es")
    assert in_language("You book appointments.", english) == "You book appointments."
    assert in_language("You book appointments.", spanish) == (
        "You book appointments.\n\nThe caller speaks Spanish: answer in Spanish."
    )


def test_two_languages_need_the_multilingual_recognizer() -> None:
    spanish = Language("es", greeting="Hola.")
    with pytest.raises(ValueError, match="multilingual"):
        Agent(name="bilingual", stt_model="tiny.en", languages=(spanish,))
    Agent(name="bilingual", stt_model="base", languages=(spanish,))  # fine
    with pytest.raises(ValueError, match="twice"):
        Agent(name="twice", languages=(Language("es"), Language("es")))


async def test_the_server_refuses_tiny_en_for_two_languages(tmp_path: Path) -> None:
    agent = Agent(name="bilingual", languages=(Language("es", greeting="Hola."),))
    settings = Settings(data_dir=tmp_path, stt=SttSettings(model="tiny.en"))
    with pytest.raises(ValueError, match="multilingual recognizer"):
        await load_stack(settings, agent)


async def test_tiny_en_cannot_detect_languages() -> None:
    stt = WhisperStt.load(WhisperOptions(model="tiny.en"))
    try:
        with pytest.raises(ValueError, match="English only"):
            await stt.transcribe_detecting(np.zeros(16000, np.int16), ["en", "es"], "en")
    finally:
        stt.close()


@pytest.mark.parametrize(
    ("said", "index"),
    [("La primera.", 0), ("la segunda opción", 1), ("La última, por favor.", 2), ("Sí.", None)],
)
def test_spanish_choices(said: str, index: int | None) -> None:
    assert extract_choice(canonical(said), 3) == index
