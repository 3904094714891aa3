"""Disclosure and recording consent at the start of a phone call.

By default every phone call (Twilio, Telnyx) opens with a short disclosure: the call is recorded
and the caller is talking to an automated assistant. When either party's number is in an
all-party-consent jurisdiction (`jurisdictions.py`), the disclosure ends with a question; a
caller who declines is not recorded, and the call goes on. Every step is an event on the call
(`disclosure`, `recording_consent`, `recording_stopped`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from callwright.compliance.jurisdictions import ALL_PARTY_CONSENT, all_party_jurisdiction
from callwright.core.responder import Responder, ResponseEvent, TextDelta, TurnContext
from callwright.flows import spanish
from callwright.flows.slots import extract_yes_no

DISCLOSURE = (
    "Hi, just so you know, you're talking with an automated assistant, and this call is recorded."
)
CONSENT_QUESTION = "Is it okay with you if we record this call?"
DECLINED_LINE = "No problem, this call won't be recorded."
GRANTED_LINE = "Thank you."
REASK_LINE = "Sorry, may we record this call? Please say yes or no."

# Declines said in other words than "no", checked first: "I'd rather you didn't" has no "no".
_DECLINE = re.compile(
    r"\b(?:don't|do not|dont|rather not|rather you didn't|rather you did not|prefer not|"
    r"prefer you didn't|not okay|not ok|no thanks|no thank you|i object|i don't consent|"
    r"i do not consent|i don't agree|i do not agree|please don't|not comfortable)\b"
)
_AGREE = re.compile(
    r"\b(?:i don't mind|i do not mind|don't mind|that's fine|thats fine|fine|i agree|i consent|"
    r"no problem|that's okay|that's ok|go ahead|of course|alright|all right)\b"
)


def consent_answer(text: str, language: str = "en") -> bool | None:
    """True if the caller agrees to the recording, False if not, None if the answer is unclear.

    A Spanish answer ("sí, claro", "no, gracias") is read through the same rewriting the
    flows use (`flows/spanish.py`), whose yes and no are English words.
    """
    if language == "es":
        text = spanish.canonical(text)
    said = " ".join(re.findall(r"[a-z']+", text.lower().replace("’", "'")))
    if not said:
        return None
    if _AGREE.search(said) and not re.search(r"\b(?:not fine|isn't fine|not alright)\b", said):
        return True
    if _DECLINE.search(said):
        return False
    return extract_yes_no(said)


@dataclass(frozen=True, slots=True)
class DisclosureOptions:
    """What phone calls open with.

    Attributes:
        enabled: speak the disclosure at the start of calls on `channels`.
        channels: the transports that are phone calls.
        text: the disclosure (recording, automated assistant).
        ask_consent: ask when a party is in an all-party-consent jurisdiction.
        all_party_consent: those jurisdictions ("US-CA", "DE"...).
        always_ask: ask every caller, wherever they are.
        question, granted, declined, reask: the lines of the consent exchange.
        max_asks: unclear answers after which the call goes on unrecorded.
    """

    enabled: bool = True
    channels: Sequence[str] = ("twilio", "telnyx", "sip")
    text: str = DISCLOSURE
    ask_consent: bool = True
    all_party_consent: frozenset[str] = ALL_PARTY_CONSENT
    always_ask: bool = False
    question: str = CONSENT_QUESTION
    granted: str = GRANTED_LINE
    declined: str = DECLINED_LINE
    reask: str = REASK_LINE
    max_asks: int = 2

    def applies(self, channel: str) -> bool:
        return self.enabled and channel in self.channels

    def consent_needed(self, *numbers: str | None) -> str | None:
        """Why consent is asked on a call between these numbers (every party's, ours among
        them): a jurisdiction, or None."""
        if not self.ask_consent:
            return None
        if self.always_ask:
            return "always"
        return all_party_jurisdiction(numbers, self.all_party_consent)


class PrefixedResponder:
    """Says a fixed line, then the agent's own reply, as one turn (the disclosure and the
    greeting are heard as one opening, with no gap for the caller to fill).

    Args:
        line: what is said first.
        inner: the call's responder.
    """

    def __init__(self, line: str, inner: Responder) -> None:
        self._line = line
        self._inner = inner

    async def respond(self, context: TurnContext) -> AsyncIterator[ResponseEvent]:
        yield TextDelta(self._line + " ")
        async for event in self._inner.respond(context):
            yield event
