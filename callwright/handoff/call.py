"""One call's way to a person: route, queue with hold audio, pickup, hand-back, callback.

`CallSession` owns one `CallHandoff`. While `mode` is "agent" nothing here runs. Once a
trigger fires, `escalate` records it with the context packet and routes the call:

- a phone transfer (`TransfersCalls`), with the packet delivered by webhook, when the call
  can be transferred and nobody is signed in to the console (or `route="phone"`);
- the console queue otherwise: the caller hears hold audio and their place in line at
  intervals, until a person picks up (`connect`: audio both ways through the console) and
  later hands back (`hand_back`) or ends the call (`end_by_human`);
- a callback offer when nobody is signed in, or after `wait_limit_s` in the queue.

The hold itself (audio, place in line) is `handoff/hold.py`; the options `handoff/options.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Literal

import numpy as np

from callwright.audio.resample import StreamResampler
from callwright.core.timeline import TurnTimeline
from callwright.flows.spanish import yes_or_no
from callwright.handoff.desk import Desk, HumanLine
from callwright.handoff.hold import Hold
from callwright.handoff.options import CallState, HandoffOptions, position_line
from callwright.handoff.packet import ContextPacket, PacketSummarizer, build_packet
from callwright.handoff.triggers import Escalation

log = logging.getLogger(__name__)

Mode = Literal["agent", "waiting", "callback_offer", "human", "done"]
EventSink = Callable[[str, dict[str, Any]], Awaitable[None]]
HUMAN_RATE = 16000  # console audio, both ways


class CallHandoff:
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
        say: Callable[[str, str | None, TurnTimeline | None], Coroutine[Any, Any, None]],
        hush: Callable[[], Awaitable[None]],
        facts: Callable[[], dict[str, Any] | None],
        emit: EventSink | None = None,
        summarizer: PacketSummarizer | None = None,
        wording: Callable[[], HandoffOptions] | None = None,
    ) -> None:
        self.state = state
        self.desk = desk
        self._options = options
        self._wording = wording
        self._say = say
        self._hush = hush
        self._facts = facts
        self._emit_sink = emit
        self._summarizer = summarizer
        self._summary_task: asyncio.Task[None] | None = None
        self.mode: Mode = "agent"
        self.packet: ContextPacket | None = None
        self._line: HumanLine | None = None
        self._hold = Hold(state, desk, lambda text: self._say(text, None, None))
        self._hold_task: asyncio.Task[None] | None = None
        self._offered = False
        self._back_line: asyncio.Task[None] | None = None
        self._to_caller = StreamResampler(HUMAN_RATE, state.transport.output_sample_rate)

    @property
    def options(self) -> HandoffOptions:
        """Routing, timing and the lines, in the call's language now."""
        return self._wording() if self._wording is not None else self._options

    @property
    def human(self) -> str | None:
        return self._line.name if self._line is not None else None

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
        if self._summarizer is not None:
            self._summary_task = asyncio.create_task(self._improve_summary(self._summarizer))
        route = self.options.route
        if route == "auto":
            route = "console" if await self.desk.signed_in() else "phone"
        if route == "phone":
            transferred = await self._transfer(escalation, announced, transfer_to, timeline)
            if transferred:
                return
            if transferred is False and not announced:
                timeline = None  # the connecting line before the failed transfer answered it
        if await self.desk.signed_in() == 0:
            self.mode = "callback_offer"
            self._offered = True
            await self._say(self.options.nobody_line, None, timeline)
            return
        self.mode = "waiting"
        try:
            await self.desk.enqueue(packet, self)
            position = await self._hold.position()
        except Exception as error:
            await self._desk_failed(error, timeline)
            return
        recorder.event("queued", state.clock.now_ms(), {"position": position})
        await self._hold.tell_position(position)
        if not announced:
            await self._say(self.options.connecting_line, None, timeline)
        self._hold_task = asyncio.create_task(self._hold_or_offer(position))

    async def _desk_failed(self, error: Exception, timeline: TurnTimeline | None) -> None:
        """The desk (its shared store) failed while the caller waits for a person: offer a
        callback, which needs no desk, rather than hold a line nobody can pick up."""
        self.state.record_failure(error, "handoff")
        if self.mode == "waiting":
            self.mode = "callback_offer"
            self._offered = True
            await self._say(self.options.nobody_line, None, timeline)

    async def _hold_or_offer(self, told: int = 0) -> None:
        """Holds the caller; at the wait limit, offers a callback (once)."""
        try:
            end = await self._hold.run(
                lambda: self.options, lambda: self.mode == "waiting", told, not self._offered
            )
        except Exception as error:
            await self._desk_failed(error, None)
            return
        if end == "wait_limit":
            self._offered = True
            self.mode = "callback_offer"
            self.state.recorder.event("callback_offered", self.state.clock.now_ms(), {})
            await self._say(self.options.wait_limit_line, None, None)

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
            wait_s = await self.desk.expected_wait_s(self._id)
            line = position_line(await self._hold.position(), wait_s, self.options)
            await self._say(line, None, timeline)

    @property
    def _id(self) -> str:
        return self.state.call.call_id

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
        if await self.desk.signed_in() and self.packet is not None:
            self.mode = "waiting"
            try:
                await self.desk.enqueue(self.packet, self)
            except Exception as error:
                await self._desk_failed(error, timeline)
                return
            await self._say(self.options.keep_waiting_line, None, timeline)
            self._hold_task = asyncio.create_task(self._hold_or_offer())
            return
        self.mode = "done"
        await self._say(self.options.callback_no_line, "escalated", timeline)

    async def _stop_hold(self) -> None:
        task, self._hold_task = self._hold_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    # --- a person on the line -------------------------------------------------------------

    async def connect(self, line: HumanLine) -> None:
        """A person picked the call up: from now on the caller talks to them."""
        self.mode = "human"
        await self._stop_hold()
        await self._hush()
        await self.state.transport.clear_audio()  # hold audio queued ahead stops at once
        self._line = line
        state = self.state
        state.recorder.event("human_joined", state.clock.now_ms(), {"human": line.name})
        await state.transport.send_event({"type": "human_joined"})
        transcript = [{"role": u.role, "text": u.text} for u in state.transcript]
        packet = self.packet.to_dict() if self.packet else None
        await line.send_event(
            {"type": "picked_up", "call_id": self._id, "packet": packet, "transcript": transcript}
        )

    async def from_caller(self, samples: np.ndarray) -> None:
        """Caller audio (16 kHz) while a person is on the line."""
        if self._line is not None:
            with contextlib.suppress(Exception):  # a console that went away drops audio only
                await self._line.send_audio(samples)

    async def from_human(self, samples: np.ndarray) -> None:
        """The person's microphone (16 kHz), to the caller."""
        if self.mode == "human":
            frame = self._to_caller.process(samples)
            if frame.size:
                await self.state.transport.send_audio(frame)

    async def caller_said(self, text: str) -> None:
        """A caller line while a person is on the line: for their live transcript."""
        if self._line is not None:
            with contextlib.suppress(Exception):
                await self._line.send_event({"type": "transcript", "role": "caller", "text": text})

    async def hand_back(self) -> None:
        """The person hands the call back to the agent, which picks up where it was."""
        if self.mode != "human":
            return
        state = self.state
        state.recorder.event("handed_back", state.clock.now_ms(), {"human": self.human})
        self._line = None
        self.mode = "agent"
        await self.desk.leave(self._id)
        # Spoken in the background: the person's console must not wait for the agent's line.
        self._back_line = asyncio.create_task(self._say(self.options.back_line, None, None))

    async def end_by_human(self) -> None:
        """The person ends the call."""
        if self.mode != "human":
            return
        state = self.state
        self.mode = "done"
        reason = f"ended by {self.human}"
        state.outcome = ("escalated", reason)
        state.recorder.event("human_ended", state.clock.now_ms(), {"human": self.human})
        self._line = None
        await self.desk.leave(self._id)
        await state.transport.close(reason)

    async def close(self) -> None:
        """The call is over (either side): leave the desk, tell the person."""
        await self._stop_hold()
        for task in (self._back_line, self._summary_task):
            if task is not None:
                task.cancel()
        line, self._line = self._line, None
        if self.mode != "agent":
            with contextlib.suppress(Exception):  # a database gone away must not stop the end
                await self.desk.leave(self._id)
        self.mode = "done"
        if line is not None:
            with contextlib.suppress(Exception):
                await line.send_event({"type": "call_ended", "call_id": self._id})

    async def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self._emit_sink is None:
            return
        try:
            await self._emit_sink(kind, data)
        except Exception:
            log.exception("call %s: %s event not delivered", self._id, kind)
