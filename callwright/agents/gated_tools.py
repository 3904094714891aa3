"""One call's tools, as the agent's flow allows them, with side effects held for a yes.

The same registry serves the LLM and the deterministic path, so the policy is the same on
both: a tool that belongs to a flow node is offered (and runs) only while the call is in that
node; a tool that `requires` others runs only after they succeeded in the same call for the
same arguments; a tool with `confirm=True` never runs when it is called: the call is held,
the caller hears the details read back in fixed words, and it runs only after their own "yes"
(a node's `confirm` holds its tools the same way, and what runs is what was read back: an
argument the caller gave as a slot is the caller's value, not the model's); in a node that
`requires_identity`, only tools that `identify` the caller run until one of them succeeded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from callwright.agents.definition import Agent
from callwright.agents.tool import FunctionTool
from callwright.core.responder import CallInfo, TextDelta, ToolCall, ToolResult, Working
from callwright.flows.engine import FlowState
from callwright.flows.names import Person
from callwright.flows.slots import TimeSpec
from callwright.flows.speech import speak_date, speak_time
from callwright.kb import KnowledgeBase
from callwright.tools.registry import TOOL_MARGIN_MS, Tool, ToolRegistry

KNOWLEDGE_TOOL = "search_knowledge"


def spoken_value(value: Any) -> Any:
    """A slot value as a tool argument or a fact: dates ISO, times HH:MM, people by name."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, TimeSpec):
        return value.time.strftime("%H:%M") if value.time else value.period
    if isinstance(value, Person):
        return value.spoken
    return value


def _say(value: Any) -> str:
    if isinstance(value, dt.date):
        return speak_date(value)
    if isinstance(value, TimeSpec) and value.time is not None:
        return speak_time(value.time)
    return str(spoken_value(value))


class GatedTools(ToolRegistry):
    """The agent's tools for one call (see the module docstring).

    Args:
        agent: the definition (tools, flow, lines).
        call: the call served; `@tool` functions that ask for it get it.
        kb: the knowledge base, offered to the LLM as `search_knowledge`.
        state: the call's flow state, or None when the agent has no flow.
    """

    def __init__(
        self, agent: Agent, call: CallInfo, kb: KnowledgeBase | None, state: FlowState | None
    ) -> None:
        super().__init__()
        self._agent = agent
        self._call = call
        self._state = state
        self._defined: dict[str, FunctionTool] = {}
        for defined in agent.tools:
            if isinstance(defined, FunctionTool):
                self._defined[defined.name] = defined
                self.register(defined.for_call(call))
            else:
                self.register(defined)
        if kb is not None and KNOWLEDGE_TOOL not in self:
            self.register(_knowledge_tool(kb))
        flow = agent.flow
        self._owners: dict[str, set[str]] = {}
        # Nodes whose action is read back (`Node.confirm`) and that need a verified caller.
        self._confirming: set[str] = set()
        self._identity_nodes: set[str] = set()
        if flow is not None:
            for node in flow.nodes.values():
                for name in node.tools:
                    self._owners.setdefault(name, set()).add(node.name)
                if node.confirm:
                    self._confirming.add(node.name)
                if node.requires_identity:
                    self._identity_nodes.add(node.name)
        self._identifying = {n for n, d in self._defined.items() if d.identifies}
        self.pending: ToolCall | None = None
        self.done: list[str] = []
        self.succeeded: list[ToolCall] = []
        self.refused: list[ToolCall] = []

    def allowed(self, name: str) -> bool:
        """May `name` run now? Tools of no node always; a node's tools only in that node, and
        in a node that `requires_identity` only the identifying ones until one succeeded."""
        owners = self._owners.get(name)
        if not owners:
            return True
        state = self._state
        if state is None or state.node not in owners:
            return False
        return not self.needs_identity(name)

    def identifies(self, name: str) -> bool:
        """Does a success of `name` verify the caller (`FunctionTool.identifies`)?"""
        return name in self._identifying

    def needs_identity(self, name: str) -> bool:
        """Is `name` waiting for the caller to be verified (`FunctionTool.identifies`)?"""
        state = self._state
        if state is None or state.verified is not None or name in self._identifying:
            return False
        return self._guarded(name)

    def _guarded(self, name: str) -> bool:
        """Is `name` a tool of the current node, one that requires identity?"""
        state = self._state
        if state is None:
            return False
        return state.node in self._identity_nodes and state.node in self._owners.get(name, ())

    def about_someone_else(self, call: ToolCall) -> bool:
        """Is `call`, a tool of a node that requires identity, about another person than the
        caller verified? It must agree with the identifying call on every argument they share
        ("name": verified as Ann, the record read must be Ann's)."""
        if call.name in self._identifying or not self._guarded(call.name):
            return False
        verified = [done for done in self.succeeded if done.name in self._identifying]
        return bool(verified) and not any(_same_subject(done, call) for done in verified)

    def unmet(self, call: ToolCall) -> list[str]:
        """The tools `call` requires that have not yet succeeded for the same arguments."""
        defined = self._defined.get(call.name)
        if defined is None:
            return []
        return [
            name
            for name in defined.requires
            if not any(_same_subject(done, call) for done in self.succeeded if done.name == name)
        ]

    def needs_confirmation(self, name: str) -> bool:
        """Does `name` wait for the caller's yes (its own `confirm`, or its node's)?"""
        defined = self._defined.get(name)
        if defined is not None and defined.confirm:
            return True
        # A node's confirm is for its action, not for the check of who is calling.
        return name not in self._identifying and bool(
            self._owners.get(name, set()) & self._confirming
        )

    def key(self, call: ToolCall) -> str | None:
        """The idempotency key of `call` (see `FunctionTool.key_for`)."""
        defined = self._defined.get(call.name)
        if defined is None:
            return self.idempotency_key(call, scope=self._call.call_id)
        return defined.key_for(call.arguments, self._call.call_id)

    def schemas(self) -> list[dict[str, Any]]:
        """Only the tools allowed now are offered to the model."""
        return [tool.schema() for tool in self if self.allowed(tool.name)]

    def changes_things(self, name: str) -> bool:
        """A side-effect tool, or one that waits for the caller's yes."""
        return super().changes_things(name) or self.needs_confirmation(name)

    def offers_changes(self) -> bool:
        return any(self.changes_things(t.name) for t in self if self.allowed(t.name))

    def filler(self, name: str) -> tuple[str, float] | None:
        """The tool's own `filler`, said once it has run `slow_after` seconds."""
        defined = self._defined.get(name)
        if defined is None or not defined.filler:
            return None
        return defined.filler, defined.slow_after

    def arguments(self, name: str) -> dict[str, Any]:
        """The flow's slot values that are arguments of tool `name`."""
        tool = self.get(name)
        if tool is None or self._state is None:
            return {}
        wanted = tool.parameters.get("properties", {})
        slots = self._state.slots
        return {k: spoken_value(v) for k, v in slots.items() if k in wanted}

    def with_slots(self, call: ToolCall) -> ToolCall:
        """`call` with every argument the caller gave as a slot set to the caller's value: what
        is read back and confirmed is what runs, whatever the model wrote."""
        given = self.arguments(call.name)
        if all(call.arguments.get(k) == v for k, v in given.items()):
            return call
        return dataclasses.replace(call, arguments={**call.arguments, **given})

    def readback(self, call: ToolCall) -> str:
        """The fixed-words question that asks the caller to confirm `call` (its arguments)."""
        defined = self._defined.get(call.name)
        if defined is not None and defined.confirm_prompt:
            try:
                return defined.confirm_prompt.format(**call.arguments)
            except (KeyError, IndexError, ValueError):
                pass
        slots = self._state.slots if self._state is not None else {}

        def said(key: str, value: Any) -> str:
            # A slot's own value speaks better ("Wednesday, November twenty fifth"), but only
            # when it is the argument that will run.
            slot = slots.get(key)
            same = slot is not None and spoken_value(slot) == value
            return _say(slot if same else value)

        details = ", ".join(
            f"{k.replace('_', ' ')} {said(k, v)}" for k, v in call.arguments.items()
        )
        action = call.name.replace("_", " ")
        return self._agent.lines.confirm.format(action=action, details=details or "as discussed")

    async def run(self, call: ToolCall, idempotency_key: str | None = None) -> ToolResult:
        """What the model's calls go through: refused if not allowed, held if confirmed.

        An argument the caller gave as a slot is the slot's value before anything is checked:
        what a required tool succeeded for, what is read back and what runs are all the
        caller's own words, whatever the model wrote ("Wednesday" read as another week's)."""
        call = self.with_slots(call)
        if self.needs_identity(call.name):
            self.refused.append(call)
            ways = " or ".join(sorted(self._identifying)) or "an identity check"
            why = f"{call.name} needs the caller's identity verified first ({ways})"
            return ToolResult(call, None, error=f"refused: {why}")
        if self.about_someone_else(call):
            self.refused.append(call)
            why = f"{call.name} is for someone other than the caller who was verified; only "
            why += "the verified caller's own details may be used"
            return ToolResult(call, None, error=f"refused: {why}")
        if not self.allowed(call.name):
            self.refused.append(call)
            steps = " or ".join(sorted(self._owners.get(call.name, ())))
            why = f"{call.name} is not allowed now: it belongs to the {steps} step, which the "
            why += "caller has not asked for; ask them what they want to do"
            return ToolResult(call, None, error=f"refused: {why}")
        problem = self.invalid(call)
        if problem is not None:  # before any hold: nothing unchecked is read back or run
            self.refused.append(call)
            return ToolResult(call, None, error=f"refused: {problem}")
        unmet = self.unmet(call)
        if unmet:
            self.refused.append(call)
            why = f"{call.name} needs {' and '.join(unmet)} to succeed first for the same "
            why += "arguments; call it first"
            return ToolResult(call, None, error=f"refused: {why}")
        if self.needs_confirmation(call.name):
            if self.pending is not None and self.pending.call_id != call.call_id:
                # One read-back, one yes: a second change held now would replace the first
                # without the caller ever hearing it.
                self.refused.append(call)
                why = f"{self.pending.name} is waiting for the caller's yes; one change at a time"
                return ToolResult(call, None, error=f"refused: {why}")
            self.pending = call
            note = "The system now reads the details back and asks the caller to confirm."
            return ToolResult(call, {"status": "awaiting_confirmation", "note": note})
        return await self.run_now(call)

    async def run_now(self, call: ToolCall) -> ToolResult:
        """Runs `call` (confirmed, or needing no confirmation) with its idempotency key."""
        result = await super().run(call, self.key(call))
        if result.error is None:
            self.done.append(call.name)
            self.succeeded.append(call)
            if call.name in self._identifying and self._state is not None:
                self._state.verified = _caller_id(result.result, call)
        return result

    async def run_speaking(self, call: ToolCall) -> AsyncIterator[TextDelta | ToolResult | Working]:
        """Runs `call` now; yields its filler line first if it is slow, then the result."""
        task = asyncio.ensure_future(self.run_now(call))
        defined = self._defined.get(call.name)
        try:
            yield Working(self.longest_ms(call.name) + TOOL_MARGIN_MS)  # not a stall
            if defined is not None and defined.filler:
                finished, _ = await asyncio.wait({task}, timeout=defined.slow_after)
                if not finished:
                    yield TextDelta(f"{defined.filler} ")
                    yield Working(self.longest_ms(call.name) + TOOL_MARGIN_MS)
            yield await task
        finally:
            if not task.done():
                task.cancel()


def _caller_id(result: Any, call: ToolCall) -> str:
    """Who an identifying tool found: its result's id, else the call that verified them."""
    if isinstance(result, dict):
        for key in ("id", "caller_id", "customer_id", "patient_id", "account_id"):
            if result.get(key) is not None:
                return str(result[key])
    return call.call_id


def _same_subject(earlier: ToolCall, later: ToolCall) -> bool:
    """Do two calls agree on every argument they share (compared as spoken text)?"""
    shared = earlier.arguments.keys() & later.arguments.keys()
    return all(
        str(earlier.arguments[k]).strip().lower() == str(later.arguments[k]).strip().lower()
        for k in shared
    )


def _knowledge_tool(kb: KnowledgeBase) -> Tool:
    async def search_knowledge(question: str) -> str:
        found = await kb.answer(question)
        return found.passage.text if found is not None else "No answer in the knowledge base."

    return Tool(
        name=KNOWLEDGE_TOOL,
        description="Looks up the answer to the caller's question in the knowledge base.",
        parameters={
            "type": "object",
            "properties": {"question": {"type": "string", "description": "the question"}},
            "required": ["question"],
        },
        handler=search_knowledge,
    )
