"""The clinic receptionist in English and Spanish: `--agent examples/clinic/agent_es.py`.

The call starts in English and follows the caller: a caller who speaks Spanish is answered in
Spanish (lines, questions, dates and times, knowledge and voice), and a caller who switches
back is answered in English again. Two languages need the multilingual recognizer (Whisper
base, `stt_model="base"`): it is slower than tiny.en, so the English-only clinic
(`agent.py`) keeps tiny.en.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from callwright import Agent, Language, SessionLines
from examples.clinic.flow import LINES
from examples.clinic.scope import ESCALATION, GUARDRAILS_ES
from examples.clinic.setup import build_responders
from examples.clinic.wording_es import LINES_ES, TEMPLATES_ES

KNOWLEDGE_ES = Path(__file__).resolve().parent / "knowledge_es"

# What the call session itself says in a Spanish call (the receptionist's own lines are in
# wording_es.py).
SESSION_LINES_ES = SessionLines(
    disclosure=(
        "Hola, le informamos de que habla con un asistente automático y de que esta llamada "
        "se graba."
    ),
    consent_question="¿Le parece bien que grabemos esta llamada?",
    consent_granted="Gracias.",
    consent_declined="De acuerdo, esta llamada no se grabará.",
    consent_reask="Perdone, ¿podemos grabar esta llamada? Diga sí o no, por favor.",
    still_there="¿Sigue ahí?",
    silent_goodbye=(
        "No le oigo, así que voy a terminar la llamada. Llámenos cuando quiera. Adiós."
    ),
    unheard="Perdone, no le he entendido. ¿Puede repetirlo?",
    fillers=("Un momento, lo compruebo.", "Sigo en ello, un momento, por favor."),
    time_limit="Lo siento, hemos llegado al tiempo máximo de esta llamada. Adiós.",
    shutdown="Lo siento, tengo que terminar la llamada ahora. Vuelva a llamarnos. Adiós.",
    opt_out=(
        "Entendido. He añadido su número a nuestra lista de exclusión y no volverá a recibir "
        "llamadas como esta. Adiós."
    ),
    handoff_connecting=(
        "Le paso con una persona de nuestro equipo. Ya le he contado lo que hemos hablado, "
        "así que no tendrá que repetirlo."
    ),
    handoff_nobody=(
        "Ahora mismo no hay nadie libre en nuestro equipo. ¿Quiere que le llamemos al número "
        "desde el que llama? Diga sí o no, por favor."
    ),
    handoff_wait_limit=(
        "Perdone la espera, todos siguen ocupados. ¿Prefiere que le llamemos nosotros? "
        "Diga sí o no, por favor."
    ),
    handoff_callback_yes="Hecho. Alguien de nuestro equipo le llamará lo antes posible. ¡Adiós!",
    handoff_keep_waiting="De acuerdo, sigue en la cola.",
    handoff_callback_no="De acuerdo. Llámenos cuando quiera. ¡Adiós!",
    handoff_yes_or_no="¿Quiere que le llamemos? Diga sí o no, por favor.",
    handoff_back="Vuelve a hablar con el asistente automático. ¿Puedo ayudarle en algo más?",
    handoff_position="Es el número {position} en la cola. Enseguida le atenderá alguien.",
    handoff_position_wait=(
        "Es el número {position} en la cola. La espera será de {minutes} aproximadamente."
    ),
    handoff_minute_words=("minuto", "minutos"),
)

SPANISH = Language(
    code="es",
    greeting=LINES_ES["greeting"],
    phrases=[v for k, v in LINES_ES.items() if k not in ("filler", "reminder")]
    + [v for v in TEMPLATES_ES.values() if "{" not in v],
    knowledge=KNOWLEDGE_ES,
    guardrails=GUARDRAILS_ES,
    voice="es-419",
    vocabulary=("Clínica Maple Street", "cita"),
    session_lines=SESSION_LINES_ES,
)

agent = Agent(
    name="clinic",
    greeting=LINES["greeting"],
    responders=partial(build_responders, knowledge_by_language={"es": KNOWLEDGE_ES}),
    stt_model="base",
    languages=(SPANISH,),
    escalation=ESCALATION,
)
