"""Handing a call to a person: triggers, the handoff packet, the desk, hold music."""
