"""What the receptionist says, per language: its lines, its sentence templates, how it says
dates and times, its questions (the flow's slot prompts) and the cues of its tasks.

English is `flow.py`'s wording, unchanged; Spanish is the same receptionist for a caller who
speaks Spanish (the call follows the caller's language: `TurnContext.language`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from callwright.flows import spanish
from callwright.flows.engine import Flow
from callwright.flows.intents import Intent, intents_from, match_intent
from callwright.flows.speech import (
    YEAR_SAID_AFTER_DAYS,
    join_and,
    join_or,
    speak_date,
    speak_time,
)
from callwright.tts.normalize.spanish import MONTHS as MESES
from callwright.tts.normalize.spanish import cardinal, say_time
from examples.clinic.flow import (
    ASK_DATE,
    ASK_DOB,
    ASK_DOCTOR,
    ASK_NAME,
    ASK_REASON,
    ASK_TIME,
    CLINIC_FLOW,
    LINES,
    TASK_INTENTS,
)
from examples.clinic.wording_es import LINES_ES, TEMPLATES_ES

TEMPLATES_EN = {
    "clarify": "Are you asking about {topics}?",
    "if_you_mean": "If you mean {terms}: {answer}",
    "thank_you_name": "Thank you, {name}.",
    "which_one": "Sorry, which one: {offers}?",
    "which_doctor_narrow": "Which doctor: {names}?",
    "which_would_you_like_list": "Which would you like: {offers}?",
    "what_time_in": "What time in the {period} would suit you?",
    "go_ahead": "Shall I go ahead?",
    "is_that_right": "{name}, is that right?",
    "did_you_mean": "Did you mean {names}?",
    "which_task": "Would you like to {tasks}?",
    "which_doctor": "Which doctor would you like to see? We have {names}.",
    "what_day_book": "What day would you like to see {doctor}?",
    "what_day_move": "What day would you like to move it to?",
    "no_openings": "{doctor} has no openings in the next two weeks.",
    "nothing_that_day": "{doctor} has nothing free that day. The next opening is",
    "not_free_then": "{doctor} isn't free then. I have",
    "free_on": "{doctor} is free on",
    "would_that_work": "Would that work?",
    "which_would_you_like": "Which would you like?",
    "day_at_times": "{day} at {times}",
    "or_between": ", or ",
    "confirm_book": "So that's {doctor} on {when}{purpose}. Shall I book it?",
    "purpose": ", for {reason}",
    "confirm_move": (
        "I'll move your appointment with {doctor} from {before} to {when}. Shall I go ahead?"
    ),
    "confirm_cancel": (
        "Just to confirm, you want to cancel your appointment with {doctor} on {when}?"
    ),
    "cancelled": "Your appointment is cancelled.",
    "booked": "You're all set with {doctor} on {when}.",
    "moved": "Done. Your appointment is now on {when}.",
    "the_doctor": "the doctor",
    "describe": "with {doctor} on {when}",
    "you_have_one": "You have an appointment {listed}.",
    "you_have_many": "You have appointments {listed}.",
    "which_appointment": "You have appointments {listed}. Which one?",
    "when": "{day} at {time}",
}

_DIAS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")


def speak_date_es(value: dt.date, today: dt.date | None = None) -> str:
    """ "el jueves tres"; the month is added when the date is not within the next 3 weeks,
    the year when it is more than six months away (as `speak_date`)."""
    day = "primero" if value.day == 1 else cardinal(value.day)
    spoken = f"el {_DIAS[value.weekday()]} {day}"
    if today is not None and 0 <= (value - today).days <= 20:
        return spoken
    spoken = f"{spoken} de {MESES[value.month - 1]}"
    if today is not None and abs((value - today).days) > YEAR_SAID_AFTER_DAYS:
        spoken += f" de {cardinal(value.year)}"
    return spoken


def speak_time_es(value: dt.time) -> str:
    """ "las diez de la mañana", "la una y media de la tarde"."""
    article = "la" if value.hour % 12 == 1 else "las"
    if value.hour == 12 and value.minute == 0:
        return "las doce del mediodía"
    return f"{article} {say_time(value.hour, value.minute)}"


def join_or_es(items: list[str]) -> str:
    """ "A", "A o B", "A, B o C"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} o {items[-1]}"


def join_and_es(items: list[str]) -> str:
    """ "A", "A y B", "A, B y C"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} y {items[-1]}"


def _spanish_flow() -> Flow:
    """The clinic's flow with its questions in Spanish (same nodes, slots and tools)."""
    asks = {
        ASK_DOCTOR.name: dataclasses.replace(ASK_DOCTOR, ask="¿Con qué médico quiere la cita?"),
        ASK_DATE.name: dataclasses.replace(
            ASK_DATE, ask="¿Qué día quiere venir?", retry="¿Qué día le viene bien?"
        ),
        ASK_TIME.name: dataclasses.replace(
            ASK_TIME,
            ask="¿A qué hora le vendría bien?",
            retry="¿A qué hora ese día? Por ejemplo, a las diez de la mañana.",
            keypad="la hora y luego los minutos, por ejemplo dos tres cero para las dos y media",
        ),
        ASK_REASON.name: dataclasses.replace(ASK_REASON, ask="¿Cuál es el motivo de la visita?"),
        ASK_NAME.name: dataclasses.replace(
            ASK_NAME, ask="¿Cuál es su nombre completo?", retry="¿Cuál es su nombre y apellido?"
        ),
        ASK_DOB.name: dataclasses.replace(
            ASK_DOB,
            ask="¿Y su fecha de nacimiento?",
            retry="¿Cuál es su fecha de nacimiento? Día, mes y año.",
            keypad="con ocho cifras: dos del mes, dos del día y cuatro del año",
        ),
    }
    nodes = {
        name: dataclasses.replace(node, slots=tuple(asks[s.name] for s in node.slots))
        for name, node in CLINIC_FLOW.nodes.items()
    }
    return dataclasses.replace(CLINIC_FLOW, nodes=nodes)


# The tasks in Spanish, matched on words without accents; priority order as in English.
TASK_INTENTS_ES: list[Intent] = intents_from(
    {
        "reschedule": [
            "cambiar mi cita",
            "cambiar la cita",
            "mover mi cita",
            "mover la cita",
            "otro dia",
            "otra hora",
            "reprogramar",
            "aplazar",
        ],
        "cancel": ["cancelar", "anular"],
        "lookup": ["mis citas", "cuando es mi cita", "tengo una cita", "tengo cita"],
        "book": [
            "pedir una cita",
            "pedir cita",
            "una cita",
            "reservar",
            "agendar",
            "pedir hora",
            "ver a un medico",
            "ver al medico",
            "ver a la doctora",
            "ver al doctor",
            "consulta",
            "revision",
            "chequeo",
        ],
        "thanks": ["gracias"],
    }
)

_QUESTION_WORDS_ES = frozenset(
    "que cual cuales donde cuando como cuanto cuanta tienen aceptan puedo hay abren es".split()
)


@dataclass(frozen=True, slots=True)
class Wording:
    """Everything the receptionist says or listens for that depends on the language."""

    language: str
    lines: Mapping[str, str]
    templates: Mapping[str, str]
    flow: Flow
    speak_date: Callable[[dt.date, dt.date | None], str]
    speak_time: Callable[[dt.time], str]
    join_or: Callable[[list[str]], str]
    join_and: Callable[[list[str]], str]
    repair: tuple[str, str, str] | None = None

    def says(self, key: str, **values: str) -> str:
        """The template `key` filled in."""
        return self.templates[key].format(**values)

    def when(self, day: dt.date, time: dt.time, today: dt.date | None) -> str:
        """ "Tuesday the third at half past two" / "el martes tres a las dos y media"."""
        return self.says("when", day=self.speak_date(day, today), time=self.speak_time(time))

    def intent(self, text: str) -> str | None:
        """The task the cues of this language find in `text` (before any special rule)."""
        if self.language == "es":
            return match_intent(spanish.without_accents(text), TASK_INTENTS_ES)
        return match_intent(text, TASK_INTENTS)

    def is_question(self, text: str) -> bool | None:
        """Whether `text` asks something; None: the English rule decides."""
        if self.language != "es":
            return None
        said = spanish.without_accents(text).lower().replace("¿", " ").split()
        return (
            "¿" in text
            or text.rstrip().endswith("?")
            or bool(said and said[0].strip(",") in _QUESTION_WORDS_ES)
        )


ENGLISH = Wording("en", LINES, TEMPLATES_EN, CLINIC_FLOW, speak_date, speak_time, join_or, join_and)
SPANISH = Wording(
    "es",
    LINES_ES,
    TEMPLATES_ES,
    _spanish_flow(),
    speak_date_es,
    speak_time_es,
    join_or_es,
    join_and_es,
    repair=(
        "Perdone, no le he entendido.",
        "Perdone, sigo sin entenderle.",
        "También puede marcarlo en el teclado, {keypad}.",
    ),
)
WORDINGS = {"en": ENGLISH, "es": SPANISH}


def wording_for(language: str) -> Wording:
    """The wording of `language`, English for a language the clinic does not speak."""
    return WORDINGS.get(language, ENGLISH)
