"""One call's way to a person: route, queue with hold audio, pickup, hand-back, callback.

`CallSession` owns one `CallHandoff`. While `mode` is "agent" nothing here runs. Once a
trigger fires, `escalate` records it with the context packet and routes the call:

- a phone transfer (`TransfersCalls`), with the packet delivered by webhook, when the call
  can be transferred and nobody is signed in to the console (or `route="phone"`);
- the console queue otherwise: the caller hears hold audio and their place in line at
  intervals, until a person picks up (`connect`: audio both ways through the console) and
  later hands back (`hand_back`) or ends the call (`end_by_human`);
- a callback offer when nobody is signed in, or after `wait_limit_s` in the queue.

The hold itself (audio, place in line) is `handoff/hold.py`; what a person on the line
drives, `handoff/person.py`; the options, `handoff/options.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from callwright.core.timeline import TurnTimeline
from callwright.flows.spanish import yes_or_no
from callwright.handoff.desk import Desk
from callwright.handoff.hold import Hold
from callwright.handoff.options import CallState, HandoffOptions, position_line
from callwright.handoff.packet import PacketSummarizer, build_packet
from callwright.handoff.person import PersonSide, Say
from callwright.handoff.triggers import Escalation

log = logging.getLogger(__name__)

EventSink = Callable[[str, dict[str, Any]], Awaitable[None]]


class CallHandoff(PersonSide):
    """The handoff side of one call.

    Args:
        state: the call's shared state.
        desk: the deployment's handoff desk (in memory, or shared through PostgreSQL).
        options: routing and what the caller hears.
        say: speaks a line through the agent's voice; awaitable until it has been played.
            Called with the line, the outcome it ends the call with (or None), and the
            timeline of the caller turn it answers (or None: it answers no turn).
        hush: stops whatever the agent is saying (a person takes over mid-announcement).
        facts: the responder's facts about the call (`HandoffFacts`), or None.
        emit: sends integration events (webhooks).
        summarizer: improves the packet's summary in the background (an LLM), if given.
        wording: `options` with the lines of the call's language at the moment, if the
            session has them per language.
    """

    def __init__(
        self,
        state: CallState,
        desk: Desk,
        options: HandoffOptions,
        say: Say,
        hush: Callable[[], Awaitable[None]],
        facts: Callable[[], dict[str, Any] | None],
        emit: EventSink | None = None,
        summarizer: PacketSummarizer | None = None,
        wording: Callable[[], HandoffOptions] | None = None,
    ) -> None:
        super().__init__(state, desk, options, say, hush, wording)
        self._facts = facts
        self._emit_sink = emit
        self._summarizer = summarizer
        self._summary_task: asyncio.Task[None] | None = None
        self._hold = Hold(state, desk, lambda text: self._say(text, None, None))
        self._offered = False

    # --- escalating ---------------------------------------------------------------------

    async def escalate(
        self,
        escalation: Escalation,
        announced: bool = False,
        transfer_to: str | None = None,
        timeline: TurnTimeline | None = None,
    ) -> None:
        """Records why, builds the packet, and routes the call (see the module docstring).

        Args:
            escalation: the trigger that fired.
            announced: the responder already told the caller they are being transferred.
            transfer_to: the number a phone transfer goes to (None: the configured one).
            timeline: the caller turn that escalated; the first line answering it carries it.
        """
        if self.mode != "agent":
            return
        state = self.state
        recorder = state.recorder
        recorder.event("escalation", escalation.at_ms, escalation.to_dict())
        lines = [(u.role, u.text) for u in state.transcript]
        packet = build_packet(state.call, escalation, lines, list(state.tool_calls), self._facts())
        self.packet = packet
        packet_data = packet.to_dict()
        recorder.event("handoff_context", state.clock.now_ms(), packet_data)
        await self._emit("handoff_requested", packet_data)
        if self._closed:
            return
        if self._summarizer is not None:
            self._summary_task = asyncio.create_task(self._improve_summary(self._summarizer))
        route = self.options.route
        if route == "auto":
            route = "console" if await self.desk.signed_in() else "phone"
        if route == "phone" and not self._closed:
            transferred = await self._transfer(escalation, announced, transfer_to, timeline)
            if transferred:
                return
            if transferred is False and not announced:
                timeline = None  # the connecting line before the failed transfer answered it
        someone = not self._closed and await self.desk.signed_in()
        if self._closed:
            return
        if not someone:
            self.mode = "callback_offer"
            self._offered = True
            await self._say(self.options.nobody_line, None, timeline)
            return
        if not await self._queue(timeline):
            return
        try:
            position = await self._hold.position()
        except Exception as error:
            await self._desk_failed(error, timeline)
            return
        recorder.event("queued", state.clock.now_ms(), {"position": position})
        if position:  # else already being put through to a person
            await self._hold.tell_position(position)
        if not announced:
            await self._say(self.options.connecting_line, None, timeline)
        if self.mode == "waiting" and not self._closed:
            self._hold_task = asyncio.create_task(self._hold_or_offer(position))

    async def _queue(self, timeline: TurnTimeline | None) -> bool:
        """Puts the call in the queue; False if it is not there (the desk failed, and a
        callback is offered; or the caller hung up meanwhile)."""
        assert self.packet is not None
        self.mode = "waiting"
        try:
            await self.desk.enqueue(self.packet, self)
        except Exception as error:
            await self._desk_failed(error, timeline)
            return False
        if self._closed:  # close() may have left the desk before this call was in it
            await self._leave()
            return False
        return True

    async def _desk_failed(self, error: Exception, timeline: TurnTimeline | None) -> None:
        """The desk (its shared store) failed while the caller waits for a person: offer a
        callback, which needs no desk, rather than hold a line nobody can pick up."""
        self.state.record_failure(error, "handoff")
        if self.mode == "waiting" and not self._closed:
            self.mode = "callback_offer"
            self._offered = True
            await self._say(self.options.nobody_line, None, timeline)

    async def _hold_or_offer(self, told: int = 0) -> None:
        """Holds the caller; offers a callback at the wait limit (once), or once nobody is
        left to pick up."""
        try:
            end = await self._hold.run(
                lambda: self.options, lambda: self.mode == "waiting", told, not self._offered
            )
        except Exception as error:
            await self._desk_failed(error, None)
            return
        if end == "left" or self._closed:
            return
        # At the wait limit, or everyone has left (even if the caller declined before: they
        # must not hold for a person who is no longer there).
        self._offered = True
        self.mode = "callback_offer"
        why = "wait_limit" if end == "wait_limit" else "nobody_signed_in"
        self.state.recorder.event("callback_offered", self.state.clock.now_ms(), {"reason": why})
        line = self.options.wait_limit_line if end == "wait_limit" else self.options.nobody_line
        await self._say(line, None, None)

    async def _improve_summary(self, summarizer: PacketSummarizer) -> None:
        """Replaces the flow's summary with the model's, wherever the packet has gone."""
        if self.packet is None or (text := await summarizer.summarize(self.packet)) is None:
            return
        self.packet = packet = dataclasses.replace(self.packet, summary=text, summary_by="llm")
        state = self.state
        state.recorder.event("handoff_summary", state.clock.now_ms(), {"summary": text})
        await self.desk.update_packet(packet)
        await self._emit("handoff_summary", {"call_id": self._id, "summary": text})
        if self._line is not None:
            with contextlib.suppress(Exception):
                await self._line.send_event({"type": "packet", "packet": packet.to_dict()})

    async def _transfer(
        self,
        escalation: Escalation,
        announced: bool,
        to: str | None,
        timeline: TurnTimeline | None,
    ) -> bool | None:
        """A phone transfer with the packet sent ahead by webhook.

        Returns:
            True once transferred; False if it failed; None if the line cannot transfer.
        """
        state = self.state
        transfer = getattr(state.transport, "transfer", None)
        if transfer is None:
            return None
        if not announced:
            await self._say(self.options.connecting_line, None, timeline)
        if self._closed:
            return None  # hung up while hearing they would be transferred
        done = bool(await transfer(to, escalation.reason))
        kind = "transfer" if done else "transfer_failed"
        state.recorder.event(kind, state.clock.now_ms(), {"to": to, "reason": escalation.reason})
        if done:
            self.mode = "done"
            state.outcome = ("transferred", escalation.reason)
            await state.transport.close(escalation.reason)
        return done

    # --- waiting ------------------------------------------------------------------------

    async def on_caller_text(self, text: str, timeline: TurnTimeline | None = None) -> None:
        """A caller turn while waiting or asked about a callback (`timeline`: that turn's)."""
        answer = yes_or_no(text, self.state.language)
        wants_callback = "call me back" in text.lower() or "callback" in text.lower()
        if self.mode == "callback_offer" or (self.mode == "waiting" and wants_callback):
            if answer is True or wants_callback:
                await self._schedule_callback(timeline)
            elif answer is False:
                await self._decline_callback(timeline)
            else:
                await self._say(self.options.yes_or_no_line, None, timeline)
            return
        if self.mode == "waiting":
            position = await self._hold.position()
            wait_s = await self.desk.expected_wait_s(self._id)
            if position:
                await self._say(position_line(position, wait_s, self.options), None, timeline)
            else:  # a person is being put through: never "number 0 in line"
                await self._say(self.options.connecting_line, None, timeline)

    async def _schedule_callback(self, timeline: TurnTimeline | None) -> None:
        state = self.state
        self.mode = "done"
        await self._stop_hold()
        try:
            await self.desk.leave(self._id)
        except Exception:  # the callback needs no desk: it is recorded and sent below
            log.exception("call %s: could not leave the queue", self._id)
        request = {"call_id": self._id, "number": state.call.caller}
        state.recorder.event("callback_requested", state.clock.now_ms(), request)
        packet = self.packet.to_dict() if self.packet else {}
        await self._emit("callback_requested", {**request, "packet": packet})
        await self._say(self.options.callback_yes_line, "callback_requested", timeline)

    async def _decline_callback(self, timeline: TurnTimeline | None) -> None:
        state = self.state
        state.recorder.event("callback_declined", state.clock.now_ms(), {})
        someone = await self.desk.signed_in()
        if self._closed:
            return
        if someone and self.packet is not None:
            if not await self._queue(timeline):
                return
            await self._say(self.options.keep_waiting_line, None, timeline)
            if self.mode == "waiting" and not self._closed:
                self._hold_task = asyncio.create_task(self._hold_or_offer())
            return
        self.mode = "done"
        await self._say(self.options.callback_no_line, "escalated", timeline)

    # --- the end ----------------------------------------------------------------------------

    async def close(self) -> None:
        """The call is over (either side): leave the desk, tell the person. Final: a step
        still under way (routing, queueing, a pickup) sees it and does no more."""
        self._closed = True
        await self._stop_hold()
        for task in (self._back_line, self._summary_task):
            if task is not None:
                task.cancel()
        line, self._line = self._line, None
        if self.mode != "agent":
            await self._leave()
        self.mode = "done"
        if line is not None:
            await self._tell_ended(line)

    async def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self._emit_sink is None:
            return
        try:
            await self._emit_sink(kind, data)
        except Exception:
            log.exception("call %s: %s event not delivered", self._id, kind)
