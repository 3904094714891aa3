"""The receptionist's flow: its nodes, their slots and tools, and the fixed lines it says.

Read this file to know what the agent can do; `receptionist.py` is how it does it.
"""

from __future__ import annotations

from callwright.flows.engine import Flow, Node, SlotSpec
from callwright.flows.intents import Intent

ASK_DOCTOR = SlotSpec("doctor", "person", "Which doctor would you like to see?", "doctors")
ASK_DATE = SlotSpec(
    "date", "date", "What day would you like to come in?", retry="Which day works for you?"
)
ASK_TIME = SlotSpec(
    "time",
    "time",
    "What time would suit you?",
    optional=True,
    retry="What time that day? For example, ten in the morning.",
    keypad="the hour and then the minutes, like two three zero for half past two",
)
# Kept when the caller says it ("for a checkup"), never asked for.
ASK_REASON = SlotSpec("reason", "reason", "What is the visit for?", optional=True)
ASK_NAME = SlotSpec(
    "name",
    "person",
    "What is your full name?",
    "patients",
    retry="What are your first and last name?",
)
ASK_DOB = SlotSpec(
    "dob",
    "dob",
    "And your date of birth?",
    retry="What is your date of birth? Month, day and year.",
    keypad="as eight digits: two for the month, two for the day and four for the year",
)

# Words of the clinic's domain callers say and the recogniser mishears; doctors' names come
# from the store. All are matched by sound in questions ("that now" → Aetna).
DOMAIN_TERMS = (
    "Maple Street Clinic",
    "Aetna",
    "Cigna",
    "Blue Cross",
    "United Healthcare",
    "Medicare",
    "Medicaid",
)
# The ones that also bias the recogniser. Insurers are left out on evidence
# (bench/stt_vocabulary.py): biasing with them got no insurer name right that was wrong
# without, and turned "I need a refill" into "Aetna, reveal" on a spoken call.
RECOGNISER_TERMS = ("Maple Street Clinic",)

KNOWLEDGE = frozenset({"search_knowledge", "transfer_to_front_desk"})

CLINIC_FLOW = Flow(
    name="clinic-receptionist",
    start="menu",
    nodes={
        "menu": Node("menu", tools=KNOWLEDGE | {"verify_identity", "check_availability"}),
        "verify": Node("verify", slots=(ASK_NAME, ASK_DOB), tools=KNOWLEDGE | {"verify_identity"}),
        "book": Node(
            "book",
            slots=(ASK_DOCTOR, ASK_DATE, ASK_TIME, ASK_REASON),
            tools=KNOWLEDGE | {"check_availability", "book_appointment"},
            requires_identity=True,
            confirm=True,
        ),
        "reschedule": Node(
            "reschedule",
            slots=(ASK_DATE, ASK_TIME),
            tools=KNOWLEDGE | {"list_appointments", "check_availability", "reschedule_appointment"},
            requires_identity=True,
            confirm=True,
        ),
        "cancel": Node(
            "cancel",
            tools=KNOWLEDGE | {"list_appointments", "cancel_appointment"},
            requires_identity=True,
            confirm=True,
        ),
        "lookup": Node("lookup", tools=KNOWLEDGE | {"list_appointments"}, requires_identity=True),
    },
)

# What the caller wants, in the menu. Priority order: "cancel my appointment" is a cancel,
# not a booking, although it says "appointment". The examples are what each task sounds like
# in callers' own words, for recognition by meaning (`callwright.flows.requests`): a few
# varied requests per task, not the phrasings of any test.
TASK_INTENTS: list[Intent] = [
    Intent(
        "reschedule",
        (
            "reschedule",
            "move my appointment",
            "change my appointment",
            "different time",
            "different day",
            "another day",
            "postpone",
        ),
        examples=(
            "I want to reschedule my appointment",
            "I need to move my appointment to another day",
            "can I change the time of my visit",
            "the day I booked doesn't work for me any more, can we find another one",
            "could my appointment be a bit earlier or later",
            "I'm not able to come at the time I have, can we change it",
        ),
    ),
    Intent(
        "cancel",
        ("cancel",),
        examples=(
            "I want to cancel my appointment",
            "please cancel the visit I booked",
            "I won't be coming in, please remove my booking",
            "get rid of my appointment, I don't want it",
        ),
    ),
    Intent(
        "lookup",
        (
            "upcoming",
            "my appointments",
            "when is my appointment",
            "do i have an appointment",
            "check my appointment",
        ),
        examples=(
            "when is my appointment",
            "what time is my next appointment",
            "do I have an appointment booked",
            "can you tell me the details of my upcoming visit",
            "which doctor am I seeing and on what day",
        ),
    ),
    Intent(
        "book",
        (
            "book",
            "appointment",
            "schedule",
            "see a doctor",
            "see the doctor",
            "see doctor",
            "make an appointment",
            "checkup",
            "check up",
        ),
        examples=(
            "I'd like to make an appointment",
            "I need to see a doctor",
            "can I come in to be seen",
            "my daughter needs an appointment with a doctor",
            "when is the soonest a doctor could see me",
            "is there a free slot with a doctor next week",
            "I'd like to come in for a checkup",
        ),
        creates=True,
    ),
    Intent("thanks", ("thank you", "thanks")),
]
# What the tasks act on: said alone, they name no task ("my appointment" may be any of them).
TASK_ITEMS = ("appointment", "visit", "booking")

LINES = {
    "greeting": "Hello, thanks for calling Maple Street Clinic. How can I help you today?",
    "goodbye": "Thank you for calling. Goodbye!",
    "reminder": (
        "Hi {name}, this is Maple Street Clinic with a reminder: you have an appointment with "
        "{doctor} tomorrow at {time}. Will you be able to make it? You can also reschedule or "
        "cancel it."
    ),
    "reminder_confirmed": "Great, we'll see you tomorrow. Goodbye!",
    "anything_else": "Is there anything else I can help with?",
    "what_else": "Sure, what else can I help you with?",
    "thanks": "You're welcome. Is there anything else I can help with?",
    "fallback": (
        "Sorry, I didn't catch that. I can book, move or cancel an appointment, "
        "or answer questions about the clinic."
    ),
    "not_sure": (
        "I'm not sure about that one, so I'll ask the front desk to call you back. "
        "Or I can transfer you now."
    ),
    "transfer": "Of course. I'll transfer you to the front desk now. Please hold.",
    "emergency": (
        "This sounds like an emergency. Please hang up and dial nine one one right away."
    ),
    "emergency_maybe": (
        "If this is an emergency, please hang up and dial nine one one right away."
    ),
    "abuse_warning": "I want to help, but I can't continue if the language stays abusive.",
    "abuse_end": "I'm going to end this call now. Goodbye.",
    "out_of_scope": (
        "I can't give medical advice or handle prescriptions over the phone. "
        "I can book you in with a doctor, or transfer you to the front desk."
    ),
    "verify": "Sure. First, what is your full name and date of birth?",
    "verify_after_request": "Got it. And your full name and date of birth?",
    "verify_again": (
        "Sorry, I couldn't match that name and date of birth. "
        "Could you say your full name and date of birth again?"
    ),
    "verify_failed": (
        "I'm sorry, I can't verify your identity, so I can't access appointments on this "
        "call. I can transfer you to the front desk, or answer general questions."
    ),
    "ask_name": "Thanks. And your full name, please?",
    "ask_dob": "Thanks. And your date of birth?",
    "start_over": "Okay, let's start over. How can I help you?",
    "nothing_to_go_back": "Sure. How can I help you?",
    "what_change": "No problem. What would you like to change: the doctor, the day or the time?",
    "no_appointments": "I don't see any upcoming appointments for you. Would you like to book one?",
    "kept": "Okay, I've left it as it was. Is there anything else I can help with?",
    "slot_gone": "Sorry, that time has just been taken.",
    "error": "Sorry, I'm having trouble with our booking system right now.",
    "filler": "One moment while I check.",
    "offer_person": "Or say front desk to speak to a person.",
}
