"""The agents a server may hand an outbound call to, besides the one it serves.

An operator names them in the configuration (`CALLWRIGHT_AGENTS="reminders=office/reminders.py,
survey=surveys.agent:agent"`), never in a request: a campaign (or an admin's outbound call)
picks one by name, and an unknown name is refused when the campaign is created. Each named
agent is loaded at start-up beside the served one and shares its models (VAD, STT, TTS) and
store; its responder, escalation and integration events are its own. The choice travels as the
call's `agent` parameter, which only the server writes into the stream's TwiML: a caller on the
native WebSocket cannot pick an agent (only phone streams, whose parameters come from our own
TwiML, are routed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from aiohttp import web

from callwright.agent.stack import AgentStack

AGENT_PARAMETER = "agent"
AGENTS = web.AppKey("agents", dict[str, AgentStack])


def parse_agent_specs(value: str | None) -> dict[str, str]:
    """`name=spec,name=spec` into {name: spec}.

    Raises:
        ValueError: an entry without a name or a spec, or a name used twice.
    """
    specs: dict[str, str] = {}
    for entry in (value or "").split(","):
        if not entry.strip():
            continue
        name, sep, spec = entry.partition("=")
        name, spec = name.strip(), spec.strip()
        if not sep or not name or not spec:
            raise ValueError(f"CALLWRIGHT_AGENTS: {entry.strip()!r} is not name=module:attr")
        if name in specs:
            raise ValueError(f"CALLWRIGHT_AGENTS: {name!r} is named twice")
        specs[name] = spec
    return specs


def install_agents(app: web.Application, agents: Mapping[str, AgentStack] | None) -> None:
    """Keeps the configured agents on the app (none: every call gets the served agent)."""
    app[AGENTS] = dict(agents or {})


def _agents(app: web.Application) -> dict[str, AgentStack]:
    return app[AGENTS] if AGENTS in app else {}


def agent_names(app: web.Application) -> list[str]:
    """The names a campaign may pick, sorted."""
    return sorted(_agents(app))


def stack_for(
    app: web.Application, served: AgentStack, parameters: Mapping[str, str]
) -> AgentStack:
    """The stack a phone call's session runs on: the named agent's, or the served one.

    A name that is not (or no longer) configured falls back to the served agent: the call is
    answered either way.
    """
    name = parameters.get(AGENT_PARAMETER)
    chosen = _agents(app).get(name, served) if name else served
    if chosen.store is not served.store:
        chosen = dataclasses.replace(chosen, store=served.store)  # one store per server
    return chosen


def agent_stack(served: AgentStack, **stages: object) -> AgentStack:
    """A named agent's stack: the served one's models and store with its own stages."""
    return dataclasses.replace(served, **stages)  # type: ignore[arg-type]
