"""The receptionist's lines and sentence templates in Spanish (see `wording.py`): the same
keys as `flow.LINES` and `wording.TEMPLATES_EN`."""

from __future__ import annotations

LINES_ES = {
    "greeting": "Hola, gracias por llamar a la Clínica Maple Street. ¿En qué puedo ayudarle?",
    "goodbye": "Gracias por llamar. ¡Adiós!",
    "reminder": (
        "Hola, {name}, le llamamos de la Clínica Maple Street para recordarle su cita con "
        "{doctor} mañana a las {time}. ¿Podrá venir? También puede cambiarla o cancelarla."
    ),
    "reminder_confirmed": "Perfecto, le esperamos mañana. ¡Adiós!",
    "anything_else": "¿Puedo ayudarle en algo más?",
    "what_else": "Claro, ¿en qué más puedo ayudarle?",
    "thanks": "De nada. ¿Puedo ayudarle en algo más?",
    "fallback": (
        "Perdone, no le he entendido. Puedo pedir, cambiar o cancelar una cita, "
        "o responder preguntas sobre la clínica."
    ),
    "not_sure": (
        "No estoy segura de eso, así que pediré a recepción que le llamen. O puedo pasarle ahora."
    ),
    "transfer": "Por supuesto. Le paso con recepción. Espere un momento, por favor.",
    "emergency": (
        "Parece una emergencia. Por favor, cuelgue y llame al nueve uno uno ahora mismo."
    ),
    "emergency_maybe": (
        "Si es una emergencia, por favor, cuelgue y llame al nueve uno uno ahora mismo."
    ),
    "abuse_warning": "Quiero ayudarle, pero no puedo seguir si el lenguaje sigue siendo ofensivo.",
    "abuse_end": "Voy a terminar la llamada. Adiós.",
    "out_of_scope": (
        "No puedo dar consejo médico ni gestionar recetas por teléfono. "
        "Puedo darle cita con un médico, o pasarle con recepción."
    ),
    "verify": "Claro. Primero, ¿cuál es su nombre completo y su fecha de nacimiento?",
    "verify_after_request": "Entendido. ¿Y su nombre completo y su fecha de nacimiento?",
    "verify_again": (
        "Perdone, no encuentro ese nombre con esa fecha de nacimiento. "
        "¿Puede decirme otra vez su nombre completo y su fecha de nacimiento?"
    ),
    "verify_failed": (
        "Lo siento, no puedo verificar su identidad, así que no puedo ver sus citas en esta "
        "llamada. Puedo pasarle con recepción, o responder preguntas generales."
    ),
    "ask_name": "Gracias. ¿Y su nombre completo, por favor?",
    "ask_dob": "Gracias. ¿Y su fecha de nacimiento?",
    "start_over": "De acuerdo, empecemos de nuevo. ¿En qué puedo ayudarle?",
    "nothing_to_go_back": "Claro. ¿En qué puedo ayudarle?",
    "what_change": "No hay problema. ¿Qué quiere cambiar: el médico, el día o la hora?",
    "no_appointments": "No veo ninguna cita próxima a su nombre. ¿Quiere pedir una?",
    "kept": "De acuerdo, la dejo como estaba. ¿Puedo ayudarle en algo más?",
    "slot_gone": "Lo siento, esa hora se acaba de ocupar.",
    "error": "Lo siento, ahora mismo tengo problemas con el sistema de citas.",
    "filler": "Un momento, lo compruebo.",
    "offer_person": "O diga recepción para hablar con una persona.",
}

TEMPLATES_ES = {
    "clarify": "¿Pregunta por {topics}?",
    "if_you_mean": "Si se refiere a {terms}: {answer}",
    "thank_you_name": "Gracias, {name}.",
    "which_one": "Perdone, ¿cuál de las dos: {offers}?",
    "which_doctor_narrow": "¿Con qué médico: {names}?",
    "which_would_you_like_list": "¿Cuál prefiere: {offers}?",
    "go_ahead": "¿Sigo adelante?",
    "is_that_right": "{name}, ¿es correcto?",
    "did_you_mean": "¿Se refiere a {names}?",
    "which_task": "¿Quiere {tasks}?",
    "which_doctor": "¿Con qué médico quiere la cita? Tenemos a {names}.",
    "what_day_book": "¿Qué día quiere ver a {doctor}?",
    "what_day_move": "¿A qué día quiere cambiarla?",
    "no_openings": "{doctor} no tiene huecos en las próximas dos semanas.",
    "nothing_that_day": "{doctor} no tiene nada libre ese día. El próximo hueco es",
    "not_free_then": "{doctor} no está libre a esa hora. Tengo",
    "free_on": "{doctor} tiene libre",
    "would_that_work": "¿Le viene bien?",
    "which_would_you_like": "¿Cuál prefiere?",
    "day_at_times": "{day} a {times}",
    "or_between": ", o ",
    "confirm_book": "Entonces, cita con {doctor} {when}{purpose}. ¿La reservo?",
    "purpose": ", para {reason}",
    "confirm_move": "Cambiaré su cita con {doctor} de {before} a {when}. ¿Sigo adelante?",
    "confirm_cancel": "Para confirmar: ¿quiere cancelar su cita con {doctor} {when}?",
    "cancelled": "Su cita está cancelada.",
    "booked": "Listo, tiene cita con {doctor} {when}.",
    "moved": "Hecho. Su cita es ahora {when}.",
    "the_doctor": "el médico",
    "describe": "con {doctor} {when}",
    "you_have_one": "Tiene una cita {listed}.",
    "you_have_many": "Tiene citas {listed}.",
    "which_appointment": "Tiene citas {listed}. ¿Cuál?",
    "when": "{day} a {time}",
}
