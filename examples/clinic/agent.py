"""The clinic receptionist as an `Agent` (custom code: its own responders)."""

from __future__ import annotations

from callwright.agents.definition import Agent
from examples.clinic.flow import LINES
from examples.clinic.scope import ESCALATION
from examples.clinic.setup import build_responders

agent = Agent(
    name="clinic",
    greeting=LINES["greeting"],
    responders=build_responders,
    escalation=ESCALATION,
)
