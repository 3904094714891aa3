"""The receptionist with an LLM: the model understands and picks tools, the flow sets the rules.

The model (any OpenAI-compatible server) sees only the tools the caller's current node allows:
before identity is verified that is knowledge, availability, identity and transfer; patient
data and bookings come after. A call to any other tool is refused and recorded, whatever the
model says. Irreversible tools (book, reschedule, cancel) never run when the model calls them:
the agent reads the details back in fixed words and runs the call only after the caller's own
"yes", checked deterministically. Guardrails run before the model sees a turn.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

from callwright.core.responder import (
    CallInfo,
    EndCall,
    ResponseEvent,
    TextDelta,
    ToolCall,
    ToolResult,
    TransferCall,
    TurnContext,
)
from callwright.flows.guardrails import Guardrails
from callwright.flows.slots import extract_yes_no
from callwright.flows.speech import speak_moment, speak_when
from callwright.llm.openai_compat import (
    LlmOptions,
    OpenAICompatResponder,
    OpenAICompatResponderFactory,
)
from callwright.tools.registry import ToolRegistry
from examples.clinic.factory import ClinicData, ClinicOptions, ClinicResponderFactory
from examples.clinic.flow import CLINIC_FLOW, LINES
from examples.clinic.handoff_facts import clinic_facts
from examples.clinic.tools import ClinicContext, clinic_tools

log = logging.getLogger(__name__)

IRREVERSIBLE = frozenset({"book_appointment", "reschedule_appointment", "cancel_appointment"})
VERIFIED_TOOLS = frozenset().union(
    *(CLINIC_FLOW.node(n).tools for n in ("book", "reschedule", "cancel", "lookup"))
)
SYSTEM_PROMPT = (
    "You are the receptionist of Maple Street Clinic on a phone call. Replies are spoken: one "
    "or two short sentences, no lists or markdown. Use the tools for every fact: availability, "
    "appointments, hours, address, insurance and prices come only from tool results; if a tool "
    "has no answer, offer a call back from the front desk. Verify the caller's full name and "
    "date of birth with verify_identity before anything about their appointments. Dates are "
    "YYYY-MM-DD, times HH:MM (24 h). Today is {today}."
)


class PolicyTools(ToolRegistry):
    """The clinic's tools as one call's current node allows them.

    Args:
        tools: every clinic tool of the call.
        ctx: the call's clinic context (whether the caller is verified).
    """

    def __init__(self, tools: ToolRegistry, ctx: ClinicContext) -> None:
        super().__init__(tools)
        self._ctx = ctx
        self.pending: ToolCall | None = None
        self.refused: list[ToolCall] = []

    @property
    def node(self) -> str:
        """ "menu" until the caller is verified, then "verified"."""
        return "menu" if self._ctx.patient is None else "verified"

    def allowed(self, name: str) -> bool:
        """May the model call `name` now?"""
        if self._ctx.patient is None:
            return CLINIC_FLOW.allows("menu", name) or name == "verify_identity"
        return name in VERIFIED_TOOLS or CLINIC_FLOW.allows("menu", name)

    def schemas(self) -> list[dict[str, Any]]:
        """Only the tools the current node allows are offered."""
        return [tool.schema() for tool in self if self.allowed(tool.name)]

    async def run(self, call: ToolCall, idempotency_key: str | None = None) -> ToolResult:
        """Refuses what the node does not allow; holds irreversible calls for confirmation."""
        if not self.allowed(call.name):
            self.refused.append(call)
            why = "identity not verified" if self._ctx.patient is None else "not allowed here"
            return ToolResult(call, None, error=f"refused: {call.name} is not allowed now ({why})")
        if call.name in IRREVERSIBLE:
            self.pending = call
            note = "The system now reads the details back and asks the caller to confirm."
            return ToolResult(call, {"status": "awaiting_confirmation", "note": note})
        return await super().run(call, idempotency_key)

    async def run_confirmed(self, call: ToolCall) -> ToolResult:
        """Runs a held call after the caller said yes; keyed by the phone call, so a model
        that asks twice still books once."""
        key = self.idempotency_key(call, scope=self._ctx.call_id)
        return await super().run(call, key)


class ClinicLlmResponder:
    """Serves one call with the model, bounded by the clinic flow's policy."""

    def __init__(
        self,
        call: CallInfo,
        ctx: ClinicContext,
        inner: OpenAICompatResponderFactory,
        guardrails: Guardrails,
    ) -> None:
        self.call = call
        self.ctx = ctx
        self.tools = PolicyTools(clinic_tools(ctx), ctx)
        self._guardrails = guardrails
        options = inner.options
        prompt = SYSTEM_PROMPT.format(today=ctx.today.isoformat())
        self._llm = OpenAICompatResponder(
            call,
            LlmOptions(**{**_fields(options), "system_prompt": prompt}),
            inner._get_session,
            tools=self.tools,
            greeting=LINES["greeting"],
        )

    def handoff_facts(self) -> dict[str, Any]:
        """For the person who takes the call over: identity (the model keeps no slots)."""
        return clinic_facts(self.ctx, None, [])

    async def respond(self, context: TurnContext) -> AsyncIterator[ResponseEvent]:
        """Streams the reply: guardrails, then a held confirmation, then the model."""
        if context.trigger == "call_start":
            await self.ctx.emit("call_started", {"call_id": self.call.call_id})
            self.ctx.look_up_caller(self.call.caller)
            yield TextDelta(LINES["greeting"])
            return
        last = next((m for m in reversed(context.history) if m.role == "user"), None)
        text = last.content if last else ""
        verdict = self._guardrails.check(text)
        if verdict == "emergency":
            yield TextDelta(LINES["emergency"])
            yield ToolResult(ToolCall(_id(), "flag_call", {}), {"flag": "emergency"})
            yield EndCall("emergency")
            return
        if verdict is not None:
            yield TextDelta(LINES["out_of_scope" if verdict == "out_of_scope" else "abuse_warning"])
            return
        pending, self.tools.pending = self.tools.pending, None
        if pending is not None and extract_yes_no(text) is True:
            async for event in self._execute(pending):
                yield event
            return
        stream_of = self._llm.respond(context)
        assert isinstance(stream_of, AsyncGenerator)
        async with aclosing(stream_of) as stream:
            async for event in stream:
                yield event
                if isinstance(event, ToolResult) and event.error is None:
                    if event.call.name == "transfer_to_front_desk":
                        yield TextDelta(" " + LINES["transfer"])
                        yield TransferCall("transfer_requested")
                        return
                    if self.tools.pending is not None:
                        break  # the model does not get to speak for the confirmation
        if self.tools.pending is not None:
            yield TextDelta(await self._readback(self.tools.pending))

    async def _execute(self, call: ToolCall) -> AsyncIterator[ResponseEvent]:
        result = await self.tools.run_confirmed(call)
        yield result
        if result.error is not None:
            yield TextDelta(f"{LINES['slot_gone']} What other time would suit you?")
            return
        done = result.result
        start = dt.datetime.fromisoformat(done["start"])
        when = speak_moment(start, self.ctx.today)
        doctor = next((d.spoken for d in self.ctx.doctors if d.id == done["doctor_id"]), "")
        line = {
            "book_appointment": f"You're all set with {doctor} on {when}.",
            "reschedule_appointment": f"Done. Your appointment is now on {when}.",
            "cancel_appointment": "Your appointment is cancelled.",
        }[call.name]
        yield TextDelta(f"{line} {LINES['anything_else']}")

    async def _readback(self, call: ToolCall) -> str:
        """The fixed-words confirmation question for a held call."""
        args = call.arguments
        if call.name == "cancel_appointment":
            try:
                current = await self.ctx.store.get(str(args.get("appointment_id")))
            except Exception:
                self.tools.pending = None
                return "I couldn't find that appointment. Which one did you mean?"
            when = speak_moment(current.start, self.ctx.today)
            return f"Just to confirm, you want to cancel your appointment on {when}?"
        try:
            day = dt.date.fromisoformat(str(args.get("date")))
            time = dt.time.fromisoformat(str(args.get("time")))
        except ValueError:
            self.tools.pending = None
            return "Sorry, which day and time would you like?"
        when = speak_when(day, time, self.ctx.today)
        if call.name == "reschedule_appointment":
            return f"I'll move your appointment to {when}. Shall I go ahead?"
        try:
            doctor = self.ctx.doctor(str(args.get("doctor"))).spoken
        except Exception:
            self.tools.pending = None
            return "Which doctor would you like to see?"
        return f"So that's {doctor} on {when}. Shall I book it?"


def _id() -> str:
    return f"flow_{uuid.uuid4().hex[:8]}"


def _fields(options: LlmOptions) -> dict[str, Any]:
    return {name: getattr(options, name) for name in LlmOptions.__dataclass_fields__}


class ClinicLlmResponderFactory(ClinicResponderFactory):
    """Creates the LLM-guided receptionist for each call.

    Args:
        data: the opened clinic.
        options: clinic options.
        llm: the model server.
    """

    name = "clinic-receptionist-llm"

    def __init__(self, data: ClinicData, options: ClinicOptions, llm: LlmOptions) -> None:
        super().__init__(data, options)
        self.llm = OpenAICompatResponderFactory(llm)
        self.llm_responders: dict[str, ClinicLlmResponder] = {}

    def for_call(self, call: CallInfo) -> ClinicLlmResponder:  # type: ignore[override]
        """Returns the LLM receptionist that will serve `call`."""
        responder = ClinicLlmResponder(call, self.context(call), self.llm, self.guardrails)
        self.llm_responders[call.call_id] = responder
        if len(self.llm_responders) > 1000:
            self.llm_responders.pop(next(iter(self.llm_responders)))
        return responder

    def deterministic(self) -> ClinicResponderFactory:
        """The receptionist without the model, on the same data: the LLM's fallback."""
        return ClinicResponderFactory(self.data, self.options)

    async def close(self) -> None:
        """Closes the HTTP session and the clinic data."""
        await self.llm.close()
        await super().close()
