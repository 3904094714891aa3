"""The clinic's reminder campaign: call every patient with an appointment tomorrow.

    python -m examples.clinic.reminders --from +14155550100 [--date 2026-06-03] [--db FILE]

Each call carries the appointment as parameters; the receptionist opens with the reminder and
the patient confirms, reschedules or cancels through the same flows as an inbound caller (a
reschedule or a cancellation still verifies who they are). An answering machine gets
`CALLWRIGHT_VOICEMAIL` (Twilio's detection on campaign calls). The campaign needs consent
records for the purpose `appointment_reminders` (docs/compliance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
from pathlib import Path
from typing import cast

from callwright.campaigns.contacts import Contact
from callwright.campaigns.records import CampaignPlan
from callwright.campaigns.store import CampaignStore
from callwright.compliance.numbers import NumberError, to_e164
from callwright.compliance.tables import SqlStore
from callwright.store.open import open_store
from examples.clinic.store import ClinicStore

PURPOSE = "appointment_reminders"
log = logging.getLogger(__name__)


async def reminder_contacts(clinic: ClinicStore, day: dt.date) -> list[Contact]:
    """Patients with a booked appointment on `day`, with what the reminder says."""
    doctors = {d.id: d for d in await clinic.doctors()}
    contacts = []
    for patient in await clinic.patients():
        booked = [
            a for a in await clinic.appointments(patient.id)
            if a.status == "booked" and a.start.date() == day
        ]  # fmt: skip
        if not booked or not patient.phone:
            continue
        try:
            number = to_e164(patient.phone)
        except NumberError:
            log.warning("patient %s has no callable number; no reminder", patient.id)
            continue
        first = booked[0]
        doctor = doctors.get(first.doctor_id)
        contacts.append(
            Contact(
                number,
                {
                    "reminder": "appointment",
                    "patient_id": patient.id,
                    "first_name": patient.first,
                    "appointment_id": first.id,
                    "appointment_time": first.start.strftime("%I:%M %p").lstrip("0"),
                    "doctor": doctor.spoken if doctor else "your doctor",
                },
            )
        )
    return contacts


async def create_reminder_campaign(
    store: SqlStore,
    clinic: ClinicStore,
    day: dt.date,
    from_number: str,
    concurrency: int = 2,
    pace_s: float = 5.0,
) -> tuple[str, int]:
    """Creates the campaign for `day`; its id and how many patients it calls."""
    contacts = await reminder_contacts(clinic, day)
    plan = CampaignPlan(
        f"appointment reminders {day.isoformat()}", to_e164(from_number), PURPOSE,
        concurrency=concurrency, pace_s=pace_s, max_attempts=2, retry_backoff_s=3600.0,
    )  # fmt: skip
    return await CampaignStore(store).create(plan, contacts), len(contacts)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--from", dest="from_number", required=True)
    parser.add_argument("--date", type=dt.date.fromisoformat,
                        default=dt.date.today() + dt.timedelta(days=1))  # fmt: skip
    parser.add_argument("--db", type=Path, default=Path("var/clinic.sqlite3"))
    args = parser.parse_args()
    data_dir = Path(os.environ.get("CALLWRIGHT_DATA_DIR", "var"))
    store = await open_store(data_dir / "calls.sqlite3")
    clinic = await ClinicStore.open(args.db)
    try:
        campaign_id, count = await create_reminder_campaign(
            cast(SqlStore, store), clinic, args.date, args.from_number
        )
    finally:
        await clinic.close()
        await store.close()
    print(f"campaign {campaign_id}: {count} patients to remind")


if __name__ == "__main__":
    asyncio.run(main())
