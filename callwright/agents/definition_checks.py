"""An agent's definition checked when it is made, so that a mistake fails at start-up with a
message that says what to change, not in the middle of a caller's call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from callwright.agents.routing import ModelRoute
from callwright.agents.tool import FunctionTool
from callwright.flows.engine import Flow
from callwright.flows.names import Directory
from callwright.tools.registry import Tool


class Defined(Protocol):
    """What the checks read of an `Agent`."""

    @property
    def name(self) -> str: ...
    @property
    def tools(self) -> Sequence[Any]: ...
    @property
    def flow(self) -> Flow | None: ...
    @property
    def intents(self) -> Mapping[str, Sequence[str]]: ...
    @property
    def llm_routes(self) -> Sequence[ModelRoute]: ...
    @property
    def directories(self) -> Mapping[str, Directory]: ...
    @property
    def responders(self) -> Any: ...


def check_definition(agent: Defined) -> None:
    """Raises ValueError or TypeError for a definition that would fail during calls."""
    who = f"agent {agent.name!r}"
    for defined in agent.tools:
        if not isinstance(defined, FunctionTool | Tool):
            raise TypeError(
                f"{who}: {defined!r} is not a tool; decorate the function with @tool "
                "(from callwright import tool)"
            )
    names = [t.name for t in agent.tools]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{who}: duplicate tool names {duplicates}")
    for defined in agent.tools:
        needed = set(defined.requires if isinstance(defined, FunctionTool) else ()) - set(names)
        if needed:
            raise ValueError(f"{who}: {defined.name} requires unknown {needed}")
    routes = [r.name for r in agent.llm_routes]
    if len(set(routes)) != len(routes):
        raise ValueError(
            f"{who}: model routes share a name ({routes}); name each one "
            "(ModelRoute(..., name='greetings'))"
        )
    if agent.flow is not None:
        unknown = sorted(set(agent.intents) - set(agent.flow.nodes))
        if unknown:
            raise ValueError(f"{who}: intents for unknown nodes {unknown}")
        if agent.responders is None:
            _check_generic_flow(agent, agent.flow, names)


def _check_generic_flow(agent: Defined, flow: Flow, names: list[str]) -> None:
    """The generic responder's flow: what it can run and ask for (custom responders run
    their flows themselves)."""
    who = f"agent {agent.name!r}"
    known = {*names, "search_knowledge"}
    listed = {t for node in flow.nodes.values() for t in node.tools}
    missing = sorted(listed - known)
    if missing:
        raise ValueError(f"{who}: the flow names unknown tools {missing}")
    for node in flow.nodes.values():
        for spec in node.slots:
            directory = spec.directory or spec.name
            if spec.kind == "person" and directory not in agent.directories:
                raise ValueError(
                    f"{who}: slot {spec.name!r} matches people against the directory "
                    f"{directory!r}, which `directories` does not give"
                )
    identifying = {t.name for t in agent.tools if getattr(t, "identifies", False)}
    guarded = sorted(n.name for n in flow.nodes.values() if n.requires_identity)
    if guarded and not identifying:
        raise ValueError(
            f"{who}: nodes {guarded} require identity, but no tool identifies the caller "
            "(@tool(identifies=True))"
        )
    everywhere = identifying - listed  # a tool no node lists is allowed in every node
    for name in guarded:
        if not everywhere and not identifying & flow.node(name).tools:
            raise ValueError(
                f"{who}: node {name!r} requires identity but cannot run a tool that "
                f"identifies the caller ({sorted(identifying)}): list one in its tools"
            )


def unfillable_arguments(agent: Defined) -> list[str]:
    """The flow's tools whose required arguments no slot of the flow fills, each as "tool
    (argument, ...)". Without a model the generic responder calls a node's tool with the
    slots' values, so these can run only when the model writes the arguments."""
    flow = agent.flow
    if flow is None or agent.responders is not None:
        return []
    filled = {spec.name for node in flow.nodes.values() for spec in node.slots}
    listed = {t for node in flow.nodes.values() for t in node.tools}
    found = []
    for defined in agent.tools:
        if defined.name not in listed:
            continue  # offered to the model only
        required = defined.parameters.get("required", [])
        unfilled = [name for name in required if name not in filled]
        if unfilled:
            found.append(f"{defined.name} ({', '.join(unfilled)})")
    return sorted(found)
