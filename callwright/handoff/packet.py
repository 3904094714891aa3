"""The context packet: everything the human who picks up needs, so the caller never repeats.

Written without an LLM, from what the call already holds: the transcript, the tool calls and
their results, the escalation, and the flow's own facts (slots, identity, intent) when the
responder can give them (`HandoffFacts`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from callwright.core.responder import CallInfo
from callwright.handoff.triggers import Escalation


@runtime_checkable
class HandoffFacts(Protocol):
    """A responder that can say what it knows about the call, for the human who takes over."""

    def handoff_facts(self) -> dict[str, Any]:
        """{"intent": str | None, "slots": {...}, "identity": {...}, "done": [...]}."""
        ...


@dataclass(frozen=True, slots=True)
class ContextPacket:
    """What goes with a call handed to a person.

    Attributes:
        call_id: the call.
        channel: "websocket", "twilio", ...
        caller: the calling number or client id, as given (the store redacts it).
        escalation: which trigger fired, why, and when.
        transcript: the conversation so far, as (role, text) lines.
        intent: what the caller came for ("book", "reschedule", ...), if known.
        slots: what the caller has told the agent, in words.
        identity: whether and as whom the caller is verified.
        tool_calls: what the agent already did, with results.
        summary: two or three sentences a human reads first.
        created_at: Unix time of the handoff.
        summary_by: "flow" (written from the flow state) or "llm" (improved by the model).
    """

    call_id: str
    channel: str
    caller: str | None
    escalation: dict[str, Any]
    transcript: list[dict[str, str]]
    intent: str | None
    slots: dict[str, str]
    identity: dict[str, Any]
    tool_calls: list[dict[str, Any]]
    summary: str
    created_at: float = field(default_factory=time.time)
    summary_by: str = "flow"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class PacketSummarizer(Protocol):
    """Writes a better summary than the flow's (an LLM); None when it cannot."""

    async def summarize(self, packet: ContextPacket) -> str | None: ...


def spoken_value(value: Any) -> str:
    """A slot value as a human reads it."""
    if isinstance(value, dt.datetime):
        return value.strftime("%A %Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%A %Y-%m-%d")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    spoken = getattr(value, "spoken", None)
    if isinstance(spoken, str):
        return spoken
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        parts = [spoken_value(v) for v in dataclasses.asdict(value).values() if v is not None]
        return " ".join(parts)
    return str(value)


def build_packet(
    call: CallInfo,
    escalation: Escalation,
    transcript: Sequence[tuple[str, str]],
    tool_calls: list[dict[str, Any]],
    facts: dict[str, Any] | None,
) -> ContextPacket:
    """Assembles the packet from the call's state (see `HandoffFacts` for `facts`)."""
    facts = facts or {}
    slots = {name: spoken_value(v) for name, v in (facts.get("slots") or {}).items()}
    identity = dict(facts.get("identity") or {"verified": False})
    intent = facts.get("intent")
    return ContextPacket(
        call_id=call.call_id,
        channel=call.channel,
        caller=call.caller,
        escalation={**escalation.to_dict(), "at_ms": round(escalation.at_ms, 1)},
        transcript=[{"role": role, "text": text} for role, text in transcript],
        intent=intent,
        slots=slots,
        identity=identity,
        tool_calls=tool_calls,
        summary=summarize(escalation, intent, slots, identity, tool_calls, facts.get("done")),
    )


def summarize(
    escalation: Escalation,
    intent: str | None,
    slots: dict[str, str],
    identity: dict[str, Any],
    tool_calls: list[dict[str, Any]],
    done: list[str] | None,
) -> str:
    """A short summary from the flow state, in the same order a person would ask."""
    who = (
        f"Verified caller {identity.get('name') or identity.get('patient_id')}"
        if identity.get("verified")
        else "Unverified caller"
    )
    wants = f" wants to {intent}" if intent else ""
    given = ", ".join(f"{k}: {v}" for k, v in slots.items())
    lines = [f"{who}{wants}" + (f" ({given})." if given else ".")]
    acted = [c["name"] for c in tool_calls if c.get("error") is None]
    if done:
        lines.append("Done on this call: " + ", ".join(done) + ".")
    elif acted:
        lines.append("The agent already ran: " + ", ".join(dict.fromkeys(acted)) + ".")
    lines.append(f"Handed off because {escalation.reason}.")
    return " ".join(lines)
