"""Scheduling for the receptionist: real availability, offers, read-backs and actions.

A mixin of `Receptionist`, kept apart so each file reads in one sitting: this half talks to
the calendar (check availability, offer free times, confirm, book / move / cancel), the other
half runs the conversation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from callwright.core.responder import ToolResult
from callwright.flows import spanish
from callwright.flows.engine import Flow, FlowState, SlotContext, extract
from callwright.flows.names import Person
from callwright.flows.slots import TimeSpec, extract_choice
from examples.clinic.store import Appointment
from examples.clinic.tools import ClinicContext
from examples.clinic.wording import Wording

Offer = tuple[dt.date, dt.time]
_PERIODS = {"morning": (0, 12), "afternoon": (12, 17), "evening": (17, 24)}


def _in_period(time: dt.time, period: str | None) -> bool:
    low, high = _PERIODS.get(period or "", (0, 24))
    return low <= time.hour < high


class Scheduling:
    """Availability, confirmations and appointment actions of one call."""

    state: FlowState
    ctx: ClinicContext
    flow: Flow
    _slot_ctx: SlotContext
    _done: list[str]
    w: Wording  # what is said, in the call's language

    def say(self, text: str) -> None:
        raise NotImplementedError

    async def tool(self, tool_name: str, **arguments: Any) -> ToolResult:
        raise NotImplementedError

    async def advance(self) -> None:
        raise NotImplementedError

    def _back_to_menu(self, line: str) -> None:
        raise NotImplementedError

    # --- availability ------------------------------------------------------------------

    async def _when(self, confirm: Callable[[], None]) -> None:
        """Fills doctor, day and time against real availability, then confirms."""
        state = self.state
        doctor = state.slots.get("doctor")
        if doctor is None:
            names = self.w.join_or([d.spoken for d in self.ctx.doctors])
            self.say(self.w.says("which_doctor", names=names))
            state.awaiting = "doctor"
            return
        day: dt.date | None = state.slots.get("date")
        if day is None:
            self.say(
                self.w.says("what_day_book", doctor=doctor.spoken)
                if state.node == "book"
                else self.w.says("what_day_move")
            )
            state.awaiting = "date"
            return
        spec: TimeSpec | None = state.slots.get("time")
        free = await self._free(doctor.key, day)
        if free is None:
            return
        wanted = spec.time if spec else None
        if wanted is not None and wanted in free:
            confirm()
            return
        options = [t for t in free if _in_period(t, spec.period if spec else None)] or free
        if wanted is not None:
            # Nearest free times to the one asked for.
            def distance(t: dt.time) -> int:
                return abs(t.hour * 60 + t.minute - wanted.hour * 60 - wanted.minute)

            options = sorted(free, key=distance)[:2]
            options.sort()
        offers = [(day, t) for t in options[:2]]
        if not offers:
            offers = await self._next_days(doctor.key, day)
            if not offers:
                self.say(self.w.says("no_openings", doctor=doctor.spoken))
                self._back_to_menu(self.w.lines["anything_else"])
                return
            lead = self.w.says("nothing_that_day", doctor=doctor.spoken)
        elif wanted is not None:
            lead = self.w.says("not_free_then", doctor=doctor.spoken)
        else:
            lead = self.w.says("free_on", doctor=doctor.spoken)
        state.pending = {"offers": offers}
        state.awaiting = "choice"
        state.failures.pop("choice", None)  # new options: a bare "yes" gets one retry again
        question = self.w.says("would_that_work" if len(offers) == 1 else "which_would_you_like")
        self.say(f"{lead} {self._offer_text(offers)}. {question}")

    async def _free(self, doctor: str, day: dt.date) -> list[dt.time] | None:
        result = await self.tool("check_availability", doctor=doctor, date=day.isoformat())
        if result.error is not None:
            self.say(self.w.lines["error"])
            self._back_to_menu(self.w.lines["anything_else"])
            return None
        return [dt.time.fromisoformat(t) for t in result.result["free"]]

    async def _next_days(self, doctor: str, day: dt.date) -> list[Offer]:
        for ahead in range(1, 15):
            later = day + dt.timedelta(days=ahead)
            free = await self._free(doctor, later)
            if free is None:
                return []
            if free:
                return [(later, t) for t in free[:2]]
        return []

    def _offer_text(self, offers: list[Offer], short: bool = False) -> str:
        """The offers as said: "Tuesday the third at nine or half past nine"; `short` leaves
        out a day they share ("nine in the morning, or half past nine")."""
        if len({d for d, _ in offers}) == 1:
            day = offers[0][0]
            if short:
                return self.w.says("or_between").join([self.w.speak_time(t) for _, t in offers])
            times = self.w.join_or([self.w.speak_time(t) for _, t in offers])
            day_said = self.w.speak_date(day, self.ctx.today)
            return self.w.says("day_at_times", day=day_said, times=times)
        return self.w.join_or([self.w.when(d, t, self.ctx.today) for d, t in offers])

    # --- confirmations and actions -----------------------------------------------------

    def _when_text(self) -> str:
        spec: TimeSpec = self.state.slots["time"]
        assert spec.time is not None
        return self.w.when(self.state.slots["date"], spec.time, self.ctx.today)

    def _choice(self, text: str, count: int) -> int | None:
        """Which of `count` offered options the caller picked, in the call's language."""
        heard = spanish.canonical(text) if self.w.language == "es" else text
        return extract_choice(heard, count)

    def _moment(self, start: dt.datetime) -> str:
        return self.w.when(start.date(), start.time(), self.ctx.today)

    def _confirm_booking(self) -> None:
        doctor = self.state.slots["doctor"]
        self.state.awaiting = "confirm"
        reason = self.state.slots.get("reason")
        purpose = self.w.says("purpose", reason=reason) if reason else ""
        when = self._when_text()
        self.say(self.w.says("confirm_book", doctor=doctor.spoken, when=when, purpose=purpose))

    def _confirm_reschedule(self) -> None:
        current: Appointment = self.state.slots["appointment"]
        before = self._moment(current.start)
        self.state.awaiting = "confirm"
        doctor = self._doctor_name(current.doctor_id)
        self.say(self.w.says("confirm_move", doctor=doctor, before=before, when=self._when_text()))

    def _confirm_cancel(self) -> None:
        current: Appointment = self.state.slots["appointment"]
        when = self._moment(current.start)
        self.state.awaiting = "confirm"
        doctor = self._doctor_name(current.doctor_id)
        self.say(self.w.says("confirm_cancel", doctor=doctor, when=when))

    async def _act(self) -> None:
        state = self.state
        slots = state.slots
        if state.node == "cancel":
            result = await self.tool("cancel_appointment", appointment_id=slots["appointment"].id)
            done = self.w.says("cancelled")
        else:
            when = {
                "date": slots["date"].isoformat(),
                "time": slots["time"].time.isoformat("minutes"),
            }
            if state.node == "book":
                if slots.get("reason"):
                    when["reason"] = slots["reason"]
                result = await self.tool("book_appointment", doctor=slots["doctor"].key, **when)
                done = self.w.says("booked", doctor=slots["doctor"].spoken, when=self._when_text())
            else:
                current = slots["appointment"]
                result = await self.tool(
                    "reschedule_appointment", appointment_id=current.id, **when
                )
                done = self.w.says("moved", when=self._when_text())
        if result.error is not None:
            if "not available" in result.error or "already booked" in result.error:
                self.say(self.w.lines["slot_gone"])
                slots.pop("time", None)
                await self.advance()
                return
            self.say(self.w.lines["error"])
            self._back_to_menu(self.w.lines["anything_else"])
            return
        self._done.append(f"{state.node}:{result.result.get('id')}")
        self._back_to_menu(f"{done} {self.w.lines['anything_else']}")

    # --- existing appointments ---------------------------------------------------------

    async def _appointments(self) -> list[Appointment] | None:
        result = await self.tool("list_appointments")
        if result.error is not None:
            self.say(self.w.lines["error"])
            self._back_to_menu(self.w.lines["anything_else"])
            return None
        return [
            Appointment(
                a["id"],
                a["patient_id"],
                a["doctor_id"],
                dt.datetime.fromisoformat(a["start"]),
                a["status"],
            )
            for a in result.result["appointments"]
        ]

    def _doctor_person(self, doctor_id: str) -> Person:
        return next(d for d in self.ctx.doctor_directory.people if d.key == doctor_id)

    def _doctor_name(self, doctor_id: str) -> str:
        default = self.w.says("the_doctor")
        return next((d.spoken for d in self.ctx.doctors if d.id == doctor_id), default)

    def _describe(self, appointment: Appointment) -> str:
        when = self._moment(appointment.start)
        return self.w.says("describe", doctor=self._doctor_name(appointment.doctor_id), when=when)

    async def _lookup(self) -> None:
        found = await self._appointments()
        if found is None:
            return
        if not found:
            self.state = FlowState("menu", verified=self.state.verified, awaiting="offer_book")
            self.say(self.w.lines["no_appointments"])
            return
        listed = self.w.join_and([self._describe(a) for a in found])
        have = self.w.says("you_have_one" if len(found) == 1 else "you_have_many", listed=listed)
        self._back_to_menu(f"{have} {self.w.lines['anything_else']}")

    async def _choose_appointment(self) -> bool:
        """Makes sure one appointment is chosen; False when the caller must answer first."""
        state = self.state
        if "appointment" in state.slots:
            return True
        found = await self._appointments()
        if found is None:
            return False
        if not found:
            self.state = FlowState("menu", verified=state.verified, awaiting="offer_book")
            self.say(self.w.lines["no_appointments"])
            return False
        if len(found) == 1:
            state.slots["appointment"] = found[0]
            state.slots["doctor"] = self._doctor_person(found[0].doctor_id)
            return True
        listed = self.w.join_or([self._describe(a) for a in found])
        question = self.w.says("which_appointment", listed=listed)
        state.pending = {"appointments": found, "question": question}
        state.awaiting = "appointment"
        self.say(question)
        return False

    def _pick_appointment(self, text: str) -> Appointment | None:
        found: list[Appointment] = self.state.pending.get("appointments", [])
        index = self._choice(text, len(found))
        if index is not None:
            return found[index]
        doctor = self.ctx.doctor_directory.match(text).best
        day = extract(self.flow.node("book").slots[1], text, self._slot_ctx)
        hits = [
            a
            for a in found
            if (doctor is None or a.doctor_id == doctor.key)
            and (day is None or a.start.date() == day)
        ]
        return hits[0] if len(hits) == 1 and (doctor or day) else None
