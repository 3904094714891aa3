"""The clinic's system of record: doctors, schedules, patients and appointments in SQLite.

One worker thread owns the connection, so the event loop never waits on SQLite. Booking is
idempotent by key (a retried booking returns the first one) and a doctor's slot can hold only
one booked appointment (a unique index, not a check-then-insert race).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from examples.clinic.seed import DOCTORS, PATIENTS, SCHEDULES

T = TypeVar("T")
SLOT_MINUTES = 30

_SCHEMA = """
CREATE TABLE IF NOT EXISTS doctors (
    id TEXT PRIMARY KEY, first TEXT NOT NULL, last TEXT NOT NULL, specialty TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS schedules (
    doctor_id TEXT NOT NULL REFERENCES doctors(id), weekday INTEGER NOT NULL,
    start TEXT NOT NULL, "end" TEXT NOT NULL, PRIMARY KEY (doctor_id, weekday)
);
CREATE TABLE IF NOT EXISTS patients (
    id TEXT PRIMARY KEY, first TEXT NOT NULL, last TEXT NOT NULL, dob TEXT NOT NULL,
    phone TEXT
);
CREATE TABLE IF NOT EXISTS appointments (
    id TEXT PRIMARY KEY, patient_id TEXT NOT NULL REFERENCES patients(id),
    doctor_id TEXT NOT NULL REFERENCES doctors(id), start TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'booked', reason TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT UNIQUE, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    call_id TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS one_booking_per_slot
    ON appointments(doctor_id, start) WHERE status = 'booked';
CREATE TABLE IF NOT EXISTS changes (
    idempotency_key TEXT PRIMARY KEY, appointment_id TEXT NOT NULL, kind TEXT NOT NULL
);
"""


class SlotTaken(Exception):
    """The doctor already has an appointment at that time."""


class NotFound(Exception):
    """No such appointment (or it is not the patient's)."""


@dataclass(frozen=True, slots=True)
class Doctor:
    """A doctor of the clinic."""

    id: str
    first: str
    last: str
    specialty: str

    @property
    def spoken(self) -> str:
        """How the agent names the doctor."""
        return f"Doctor {self.last}"


@dataclass(frozen=True, slots=True)
class Patient:
    """A registered patient."""

    id: str
    first: str
    last: str
    dob: dt.date
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Appointment:
    """An appointment; `status` is "booked" or "cancelled"."""

    id: str
    patient_id: str
    doctor_id: str
    start: dt.datetime
    status: str
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, for tool results and webhooks."""
        return {
            "id": self.id,
            "patient_id": self.patient_id,
            "doctor_id": self.doctor_id,
            "start": self.start.isoformat(timespec="minutes"),
            "status": self.status,
            "reason": self.reason,
        }


def _appointment(row: sqlite3.Row) -> Appointment:
    return Appointment(
        row["id"],
        row["patient_id"],
        row["doctor_id"],
        dt.datetime.fromisoformat(row["start"]),
        row["status"],
        row["reason"],
    )


class ClinicStore:
    """Async access to the clinic database. Create with `await ClinicStore.open(path)`."""

    def __init__(self, db: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self._db = db
        self._executor = executor

    @classmethod
    async def open(cls, path: Path | str, seed: bool = True) -> ClinicStore:
        """Opens (creating if needed) the database; seeds the demo data when it is empty."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clinic-db")

        def connect() -> sqlite3.Connection:
            if str(path) != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            if seed and db.execute("SELECT COUNT(*) FROM doctors").fetchone()[0] == 0:
                _seed(db)
            return db

        db = await asyncio.get_running_loop().run_in_executor(executor, connect)
        return cls(db, executor)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, self._db)

    async def close(self) -> None:
        """Closes the database."""
        await self._run(lambda db: db.close())
        self._executor.shutdown(wait=False)

    # --- directory -------------------------------------------------------------------

    async def doctors(self) -> list[Doctor]:
        """Every doctor, in seed order."""
        rows = await self._run(
            lambda db: db.execute("SELECT * FROM doctors ORDER BY rowid").fetchall()
        )
        return [Doctor(r["id"], r["first"], r["last"], r["specialty"]) for r in rows]

    async def patients(self) -> list[Patient]:
        """Every patient."""
        rows = await self._run(lambda db: db.execute("SELECT * FROM patients").fetchall())
        return [_patient(r) for r in rows]

    async def add_patient(self, patient: Patient) -> None:
        """Registers a patient."""
        row = (patient.id, patient.first, patient.last, patient.dob.isoformat(), patient.phone)
        await self._run(lambda db: db.execute("INSERT INTO patients VALUES (?, ?, ?, ?, ?)", row))

    async def patient_by_phone(self, phone: str) -> Patient | None:
        """The patient registered with this phone number, if exactly one is."""
        rows = await self._run(
            lambda db: db.execute("SELECT * FROM patients WHERE phone = ?", (phone,)).fetchall()
        )
        return _patient(rows[0]) if len(rows) == 1 else None

    async def patients_born(self, dob: dt.date) -> list[Patient]:
        """Patients with this date of birth."""
        rows = await self._run(
            lambda db: db.execute(
                "SELECT * FROM patients WHERE dob = ?", (dob.isoformat(),)
            ).fetchall()
        )
        return [_patient(r) for r in rows]

    # --- availability ----------------------------------------------------------------

    async def free_slots(self, doctor_id: str, day: dt.date) -> list[dt.time]:
        """The doctor's free appointment times on `day` (none on days off)."""

        def query(db: sqlite3.Connection) -> list[dt.time]:
            hours = db.execute(
                'SELECT start, "end" FROM schedules WHERE doctor_id = ? AND weekday = ?',
                (doctor_id, day.weekday()),
            ).fetchone()
            if hours is None:
                return []
            taken = {
                r[0]
                for r in db.execute(
                    "SELECT start FROM appointments WHERE doctor_id = ? AND status = 'booked' "
                    "AND start LIKE ?",
                    (doctor_id, f"{day.isoformat()}%"),
                )
            }
            slots: list[dt.time] = []
            at = dt.datetime.combine(day, dt.time.fromisoformat(hours["start"]))
            end = dt.datetime.combine(day, dt.time.fromisoformat(hours["end"]))
            while at < end:
                if at.isoformat(timespec="minutes") not in taken:
                    slots.append(at.time())
                at += dt.timedelta(minutes=SLOT_MINUTES)
            return slots

        return await self._run(query)

    # --- appointments ----------------------------------------------------------------

    async def book(
        self,
        patient_id: str,
        doctor_id: str,
        start: dt.datetime,
        idempotency_key: str,
        reason: str = "",
        call_id: str | None = None,
    ) -> Appointment:
        """Books a slot; the same key returns the appointment it booked before.

        Raises:
            SlotTaken: the doctor is already booked then, or does not work then.
        """

        def insert(db: sqlite3.Connection) -> Appointment:
            prior = db.execute(
                "SELECT * FROM appointments WHERE idempotency_key = ?", (idempotency_key,)
            ).fetchone()
            if prior is not None:
                return _appointment(prior)
            if not _in_schedule(db, doctor_id, start):
                raise SlotTaken(f"{doctor_id} does not see patients at {start}")
            now = dt.datetime.now().isoformat(timespec="seconds")
            new_id = "apt_" + uuid.uuid4().hex[:10]
            try:
                db.execute(
                    "INSERT INTO appointments (id, patient_id, doctor_id, start, reason, "
                    "idempotency_key, created_at, updated_at, call_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        new_id,
                        patient_id,
                        doctor_id,
                        start.isoformat(timespec="minutes"),
                        reason,
                        idempotency_key,
                        now,
                        now,
                        call_id,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise SlotTaken(f"{doctor_id} is already booked at {start}") from exc
            row = db.execute("SELECT * FROM appointments WHERE id = ?", (new_id,)).fetchone()
            return _appointment(row)

        return await self._run(insert)

    async def reschedule(
        self, appointment_id: str, patient_id: str, start: dt.datetime, idempotency_key: str
    ) -> Appointment:
        """Moves a booked appointment; the same key repeats nothing.

        Raises:
            NotFound: no booked appointment of this patient with that id.
            SlotTaken: the new time is not free.
        """

        def move(db: sqlite3.Connection) -> Appointment:
            if _seen(db, idempotency_key):
                return _get(db, appointment_id)
            current = _get(db, appointment_id)
            if current.patient_id != patient_id or current.status != "booked":
                raise NotFound(appointment_id)
            if not _in_schedule(db, current.doctor_id, start):
                raise SlotTaken(f"{current.doctor_id} does not see patients at {start}")
            try:
                db.execute("BEGIN")
                db.execute(
                    "UPDATE appointments SET start = ?, updated_at = ? WHERE id = ?",
                    (start.isoformat(timespec="minutes"), _now(), appointment_id),
                )
                db.execute(
                    "INSERT INTO changes VALUES (?, ?, 'reschedule')",
                    (idempotency_key, appointment_id),
                )
                db.execute("COMMIT")
            except sqlite3.IntegrityError as exc:
                db.execute("ROLLBACK")
                raise SlotTaken(f"{current.doctor_id} is already booked at {start}") from exc
            return _get(db, appointment_id)

        return await self._run(move)

    async def cancel(self, appointment_id: str, patient_id: str) -> Appointment:
        """Cancels an appointment (cancelling twice is harmless).

        Raises:
            NotFound: no appointment of this patient with that id.
        """

        def cancel(db: sqlite3.Connection) -> Appointment:
            current = _get(db, appointment_id)
            if current.patient_id != patient_id:
                raise NotFound(appointment_id)
            db.execute(
                "UPDATE appointments SET status = 'cancelled', updated_at = ? WHERE id = ?",
                (_now(), appointment_id),
            )
            return _get(db, appointment_id)

        return await self._run(cancel)

    async def upcoming(self, patient_id: str, after: dt.datetime) -> list[Appointment]:
        """The patient's booked appointments from `after` on, soonest first."""
        rows = await self._run(
            lambda db: db.execute(
                "SELECT * FROM appointments WHERE patient_id = ? AND status = 'booked' "
                "AND start >= ? ORDER BY start",
                (patient_id, after.isoformat(timespec="minutes")),
            ).fetchall()
        )
        return [_appointment(r) for r in rows]

    async def appointments(self, patient_id: str) -> list[Appointment]:
        """All of a patient's appointments, any status, oldest first."""
        rows = await self._run(
            lambda db: db.execute(
                "SELECT * FROM appointments WHERE patient_id = ? ORDER BY start, created_at",
                (patient_id,),
            ).fetchall()
        )
        return [_appointment(r) for r in rows]

    async def get(self, appointment_id: str) -> Appointment:
        """One appointment.

        Raises:
            NotFound: no such appointment.
        """
        return await self._run(lambda db: _get(db, appointment_id))


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


def _seen(db: sqlite3.Connection, key: str) -> bool:
    return (
        db.execute("SELECT 1 FROM changes WHERE idempotency_key = ?", (key,)).fetchone() is not None
    )


def _get(db: sqlite3.Connection, appointment_id: str) -> Appointment:
    row = db.execute("SELECT * FROM appointments WHERE id = ?", (appointment_id,)).fetchone()
    if row is None:
        raise NotFound(appointment_id)
    return _appointment(row)


def _patient(row: sqlite3.Row) -> Patient:
    return Patient(
        row["id"], row["first"], row["last"], dt.date.fromisoformat(row["dob"]), row["phone"]
    )


def _in_schedule(db: sqlite3.Connection, doctor_id: str, start: dt.datetime) -> bool:
    hours = db.execute(
        'SELECT start, "end" FROM schedules WHERE doctor_id = ? AND weekday = ?',
        (doctor_id, start.weekday()),
    ).fetchone()
    if hours is None or start.minute % SLOT_MINUTES:
        return False
    return (
        dt.time.fromisoformat(hours["start"]) <= start.time() < dt.time.fromisoformat(hours["end"])
    )


def _seed(db: sqlite3.Connection) -> None:
    db.executemany("INSERT INTO doctors VALUES (?, ?, ?, ?)", DOCTORS)
    db.executemany("INSERT INTO schedules VALUES (?, ?, ?, ?)", SCHEDULES)
    db.executemany("INSERT INTO patients VALUES (?, ?, ?, ?, ?)", PATIENTS)
