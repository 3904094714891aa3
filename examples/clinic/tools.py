"""The clinic's tools: typed, JSON-schema described, shared by the flow and the LLM path.

One registry per call, because the tools act for that call's verified patient: nothing that
reads or changes patient data runs before `verify_identity` succeeded, whoever asks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from callwright.flows.names import Directory, NameMatch, Person
from callwright.kb import KnowledgeBase
from callwright.tools.registry import Tool, ToolRefused, ToolRegistry
from examples.clinic.store import ClinicStore, Doctor, NotFound, Patient, SlotTaken

log = logging.getLogger(__name__)

EventSink = Callable[[str, dict[str, Any]], Awaitable[None]]


async def _no_events(_kind: str, _data: dict[str, Any]) -> None:
    return None


@dataclass(slots=True)
class ClinicContext:
    """What the tools of one call share: the data, the caller, and where events go.

    Attributes:
        call_id: the phone call.
        store: the clinic database.
        kb: the knowledge base (of the call's language).
        doctors: the doctor directory (for fuzzy names).
        patients: the patient directory.
        today: the date of the call.
        emit: receives "appointment_booked" and the like (webhooks, calendar sync).
        patient: the caller, once verified.
        caller_lookup: the patient registered to the calling number, looked up while the
            greeting plays. Never trusted as identity (a phone can be borrowed): it only goes
            first when a spoken name matches more than one patient born that day.
    """

    call_id: str
    store: ClinicStore
    kb: KnowledgeBase
    doctors: list[Doctor]
    patients: list[Patient]
    today: dt.date
    emit: EventSink = _no_events
    patient: Patient | None = None
    caller_lookup: asyncio.Task[Patient | None] | None = None
    # Knowledge in the clinic's other languages; `kb` is the one of the call's language.
    kb_by_language: dict[str, KnowledgeBase] = field(default_factory=dict)
    doctor_directory: Directory = field(init=False)
    patient_directory: Directory = field(init=False)

    def __post_init__(self) -> None:
        self.doctor_directory = Directory(
            [Person(d.id, d.first, d.last, d.spoken) for d in self.doctors]
        )
        self.patient_directory = Directory(
            [Person(p.id, p.first, p.last, f"{p.first} {p.last}") for p in self.patients]
        )

    def look_up_caller(self, phone: str | None) -> None:
        """Starts looking `phone` up in the background (the greeting plays meanwhile)."""
        if phone and self.caller_lookup is None:
            self.caller_lookup = asyncio.create_task(self.store.patient_by_phone(phone))

    async def caller_on_file(self) -> Patient | None:
        """The patient registered to the calling number, if the lookup found exactly one."""
        if self.caller_lookup is None:
            return None
        try:
            return await self.caller_lookup
        except Exception:  # a failed pre-fetch only loses an ordering hint
            log.warning("caller lookup failed for call %s", self.call_id, exc_info=True)
            return None

    def doctor(self, name_or_id: str) -> Doctor:
        """A doctor by id or spoken name.

        Raises:
            ToolRefused: nobody, or more than one doctor, matches.
        """
        by_id = {d.id: d for d in self.doctors}
        if name_or_id.lower() in by_id:
            return by_id[name_or_id.lower()]
        match = self.doctor_directory.match(name_or_id)
        if match.best is None:
            names = ", ".join(d.spoken for d in self.doctors)
            if match.candidates:
                names = " or ".join(c.spoken for c in match.candidates)
                raise ToolRefused(f"ambiguous doctor {name_or_id!r}: {names}?")
            raise ToolRefused(f"no doctor called {name_or_id!r}; doctors: {names}")
        return by_id[match.best.key]

    def require_patient(self) -> Patient:
        """The verified caller.

        Raises:
            ToolRefused: identity is not verified yet.
        """
        if self.patient is None:
            raise ToolRefused("identity not verified: call verify_identity first")
        return self.patient


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ToolRefused(f"date must be YYYY-MM-DD, got {value!r}") from exc


def _time(value: str) -> dt.time:
    try:
        return dt.time.fromisoformat(value)
    except ValueError as exc:
        raise ToolRefused(f"time must be HH:MM, got {value!r}") from exc


def _schema(props: dict[str, str], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {k: {"type": "string", "description": v} for k, v in props.items()},
        "required": required,
    }


def clinic_tools(ctx: ClinicContext) -> ToolRegistry:
    """The tools of one call."""

    async def verify_identity(name: str, dob: str) -> dict[str, Any]:
        born = _date(dob)
        candidates = [p for p in ctx.patients if p.dob == born]
        directory = Directory([Person(p.id, p.first, p.last, p.first) for p in candidates])
        match = directory.match(name)
        on_file = await ctx.caller_on_file()
        if match.best is None and on_file is not None:
            # Two patients with this name and birthday: the calling number's owner is the one.
            # The number alone never verifies anybody (a phone can be borrowed).
            match = NameMatch(best=next((c for c in match.candidates if c.key == on_file.id), None))
        if match.best is None:
            await ctx.emit("identity_failed", {"call_id": ctx.call_id})
            return {"verified": False}
        ctx.patient = next(p for p in candidates if p.id == match.best.key)
        return {"verified": True, "patient_id": ctx.patient.id, "first_name": ctx.patient.first}

    async def check_availability(doctor: str, date: str) -> dict[str, Any]:
        found = ctx.doctor(doctor)
        day = _date(date)
        if day < ctx.today:
            raise ToolRefused("that date is in the past")
        free = await ctx.store.free_slots(found.id, day)
        if day == ctx.today:
            now = dt.datetime.now().time()
            free = [t for t in free if t > now]
        return {
            "doctor": found.id,
            "date": day.isoformat(),
            "free": [t.isoformat(timespec="minutes") for t in free],
        }

    async def book_appointment(
        doctor: str, date: str, time: str, idempotency_key: str, reason: str = ""
    ) -> dict[str, Any]:
        patient = ctx.require_patient()
        found = ctx.doctor(doctor)
        start = dt.datetime.combine(_date(date), _time(time))
        try:
            booked = await ctx.store.book(
                patient.id, found.id, start, idempotency_key, reason, ctx.call_id
            )
        except SlotTaken as exc:
            raise ToolRefused(f"slot not available: {exc}") from exc
        await ctx.emit("appointment_booked", {"call_id": ctx.call_id, **booked.to_dict()})
        return booked.to_dict()

    async def list_appointments() -> dict[str, Any]:
        patient = ctx.require_patient()
        start = dt.datetime.combine(ctx.today, dt.time(0, 0))
        found = await ctx.store.upcoming(patient.id, start)
        return {"appointments": [a.to_dict() for a in found]}

    async def reschedule_appointment(
        appointment_id: str, date: str, time: str, idempotency_key: str
    ) -> dict[str, Any]:
        patient = ctx.require_patient()
        start = dt.datetime.combine(_date(date), _time(time))
        try:
            moved = await ctx.store.reschedule(appointment_id, patient.id, start, idempotency_key)
        except (SlotTaken, NotFound) as exc:
            raise ToolRefused(f"cannot reschedule: {exc}") from exc
        await ctx.emit("appointment_rescheduled", {"call_id": ctx.call_id, **moved.to_dict()})
        return moved.to_dict()

    async def cancel_appointment(appointment_id: str, idempotency_key: str) -> dict[str, Any]:
        patient = ctx.require_patient()
        try:
            cancelled = await ctx.store.cancel(appointment_id, patient.id)
        except NotFound as exc:
            raise ToolRefused(f"no such appointment: {exc}") from exc
        await ctx.emit("appointment_cancelled", {"call_id": ctx.call_id, **cancelled.to_dict()})
        return cancelled.to_dict()

    async def search_knowledge(question: str) -> dict[str, Any]:
        verdict = await ctx.kb.judge(question)
        if verdict.answer is not None:
            return {"answer": verdict.answer.passage.text, "confidence": verdict.answer.confidence}
        if verdict.choices:
            return {
                "answer": None,
                "clarify": [p.title for p in verdict.choices],
                "keys": [p.key for p in verdict.choices],
                "note": "unsure which topic: ask the caller which one they mean",
            }
        return {"answer": None, "note": "not in the knowledge base: offer a follow-up"}

    async def transfer_to_front_desk(reason: str = "") -> dict[str, Any]:
        await ctx.emit("transfer_requested", {"call_id": ctx.call_id, "reason": reason})
        return {"transferring": True}

    date_help = "date as YYYY-MM-DD"
    return ToolRegistry(
        [
            Tool(
                "verify_identity",
                "Verifies the caller by full name and date of birth. Required before any "
                "patient data is read or changed.",
                _schema({"name": "full name", "dob": "date of birth, YYYY-MM-DD"}, ["name", "dob"]),
                verify_identity,
            ),
            Tool(
                "check_availability",
                "Free appointment times of a doctor on a date.",
                _schema({"doctor": "doctor's name", "date": date_help}, ["doctor", "date"]),
                check_availability,
                retries=2,
            ),
            Tool(
                "book_appointment",
                "Books an appointment for the verified caller, after they confirmed it.",
                _schema(
                    {"doctor": "doctor's name", "date": date_help, "time": "HH:MM", "reason": ""},
                    ["doctor", "date", "time"],
                ),
                book_appointment,
                retries=2,
                side_effect=True,
            ),
            Tool(
                "list_appointments",
                "The verified caller's upcoming appointments.",
                _schema({}, []),
                list_appointments,
                retries=2,
            ),
            Tool(
                "reschedule_appointment",
                "Moves one of the verified caller's appointments, after they confirmed it.",
                _schema(
                    {"appointment_id": "", "date": date_help, "time": "HH:MM"},
                    ["appointment_id", "date", "time"],
                ),
                reschedule_appointment,
                retries=2,
                side_effect=True,
            ),
            Tool(
                "cancel_appointment",
                "Cancels one of the verified caller's appointments, after they confirmed it.",
                _schema({"appointment_id": ""}, ["appointment_id"]),
                cancel_appointment,
                retries=2,
                side_effect=True,
            ),
            Tool(
                "search_knowledge",
                "Answers questions about the clinic (hours, address, insurance, policies).",
                _schema({"question": "the caller's question"}, ["question"]),
                search_knowledge,
            ),
            Tool(
                "transfer_to_front_desk",
                "Transfers the caller to a person at the front desk.",
                _schema({"reason": "why"}, []),
                transfer_to_front_desk,
            ),
        ]
    )
