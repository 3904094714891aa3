"""What the clinic agent tells the person who takes a call over (`HandoffFacts`)."""

from __future__ import annotations

from typing import Any

from callwright.flows.engine import FlowState
from examples.clinic.tools import ClinicContext

INTENTS = {
    "book": "book an appointment",
    "reschedule": "reschedule an appointment",
    "cancel": "cancel an appointment",
    "lookup": "hear their upcoming appointments",
}
_RAW_SLOTS = ("name_text",)  # the caller's words before verification, not a fact


def clinic_facts(ctx: ClinicContext, state: FlowState | None, done: list[str]) -> dict[str, Any]:
    """Intent, slots, identity and what was done, from the flow state and the tools' context."""
    identity: dict[str, Any] = {"verified": ctx.patient is not None}
    if ctx.patient is not None:
        patient = ctx.patient
        identity |= {"patient_id": patient.id, "name": f"{patient.first} {patient.last}"}
    lookup = ctx.caller_lookup
    if lookup is not None and lookup.done() and not lookup.cancelled() and not lookup.exception():
        on_file = lookup.result()
        if on_file is not None:  # a hint for the human, never proof of who is calling
            identity["number_registered_to"] = f"{on_file.first} {on_file.last}"
    node = None
    slots: dict[str, Any] = {}
    if state is not None:
        node = state.resume or state.node
        slots = {k: v for k, v in state.slots.items() if k not in _RAW_SLOTS}
    return {"intent": INTENTS.get(node or ""), "slots": slots, "identity": identity, "done": done}
