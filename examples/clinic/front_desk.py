"""The demo agent: a small clinic front desk that answers from its own facts, without an LLM.

Every fact it states is in CLINIC_FACTS (its knowledge base); anything else gets an honest
"I can't help with that here".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from callwright.core.responder import CallInfo, EndCall, ResponseEvent, TextDelta, TurnContext
from callwright.flows.intents import Intent, intents_from, match_intent

CLINIC_FACTS = {
    "greeting": "Hello, thanks for calling Maple Street Clinic. How can I help you today?",
    "hours": "We are open from eight in the morning to six in the evening, Monday to Friday.",
    "address": "We are at one hundred twenty Maple Street, next to the public library.",
    "parking": "There is free parking behind the building.",
    "booking": (
        "I can't book appointments on this line yet. "
        "I can tell you our opening hours or our address."
    ),
    "thanks": "You're welcome. Is there anything else I can help with?",
    "goodbye": "Thank you for calling. Goodbye!",
    "fallback": (
        "Sorry, I didn't catch that. You can ask about our opening hours, our address, or parking."
    ),
}

INTENTS: list[Intent] = intents_from(
    {
        "goodbye": ["goodbye", "bye", "that's all", "that is all", "nothing else", "hang up"],
        "hours": ["hours", "open", "opening", "close", "closing", "what time"],
        "address": [
            "address",
            "where are you",
            "where is",
            "located",
            "location",
            "directions",
            "find you",
            "get there",
        ],
        "parking": ["parking", "park", "car"],
        "booking": ["appointment", "book", "schedule", "see a doctor", "see the doctor"],
        "thanks": ["thank you", "thanks"],
    }
)


@dataclass(slots=True)
class DemoResponder:
    """Per-call state of the demo agent."""

    call: CallInfo
    misunderstood: int = 0
    said: list[str] = field(default_factory=list)
    greeting: str | None = None  # None: CLINIC_FACTS["greeting"]

    async def respond(self, context: TurnContext) -> AsyncIterator[ResponseEvent]:
        intent = "greeting" if context.trigger == "call_start" else self._intent(context)
        text = self.greeting if intent == "greeting" and self.greeting else CLINIC_FACTS[intent]
        self.said.append(intent)
        # Stream sentence by sentence, as an LLM would, so the same pipeline path is exercised.
        for sentence in _sentences(text):
            yield TextDelta(sentence)
        if intent == "goodbye":
            yield EndCall("caller said goodbye")

    def _intent(self, context: TurnContext) -> str:
        last_user = next((m for m in reversed(context.history) if m.role == "user"), None)
        name = match_intent(last_user.content, INTENTS) if last_user else None
        if name is None:
            self.misunderstood += 1
            return "fallback"
        return name


def _sentences(text: str) -> list[str]:
    parts = text.replace(". ", ".\n").replace("? ", "?\n").split("\n")
    return [p + (" " if i < len(parts) - 1 else "") for i, p in enumerate(parts)]


class DemoResponderFactory:
    """Creates the demo agent for each call.

    Args:
        greeting: the first line of each call; None: the clinic's ("Hello, thanks for calling
            Maple Street Clinic. ..."). Tests that do not check it use one word.
    """

    name = "demo-clinic"

    def __init__(self, greeting: str | None = None) -> None:
        self.greeting = greeting

    def for_call(self, call: CallInfo) -> DemoResponder:
        return DemoResponder(call, greeting=self.greeting)

    def phrases(self) -> list[str]:
        """Everything the demo can say, for pre-synthesis into the TTS cache."""
        return [s.strip() for text in CLINIC_FACTS.values() for s in _sentences(text)]
