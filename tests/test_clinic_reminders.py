"""The clinic's reminder campaign: who is called (patients with an appointment tomorrow and a
callable number), and the reminder call itself: confirm, or cancel through the same flows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from callwright.core.responder import CallInfo
from examples.clinic.reminders import reminder_contacts
from examples.clinic.store import Patient
from tests.fakes.clinic import MONDAY, Conversation, open_test_clinic

NUMBER = "+12125550150"


async def test_the_reminder_campaign(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        store = clinic.data.store
        patient = Patient("pat_rita", "Rita", "Moreno", dt.date(1971, 2, 3), "(212) 555-0150")
        await store.add_patient(patient)
        clinic.data.patients.append(patient)
        tomorrow = MONDAY + dt.timedelta(days=1)
        doctor = clinic.data.doctors[0]
        slot = (await store.free_slots(doctor.id, tomorrow))[0]
        booked = await store.book(patient.id, doctor.id, dt.datetime.combine(tomorrow, slot), "k1")
        contacts = await reminder_contacts(store, tomorrow)
        mine = [c for c in contacts if c.parameters["patient_id"] == patient.id]
        assert [c.number for c in mine] == [NUMBER]
        params = mine[0].parameters
        assert params["appointment_id"] == booked.id and params["first_name"] == "Rita"
        # Seeded patients' numbers are not callable: they are never on the list.
        assert all(c.number.startswith("+1") and len(c.number) == 12 for c in contacts)

        def reminder_call(call_id: str) -> Conversation:
            call = CallInfo(call_id, "twilio", NUMBER, dict(params) | {"direction": "outbound"})
            return Conversation(clinic.for_call(call), call)

        confirm = reminder_call("r-confirm")
        opening = await confirm.say("", "call_start")
        assert "Rita" in opening and doctor.spoken in opening and "tomorrow" in opening
        await confirm.say("Yes, I'll be there.")
        assert confirm.ended is not None
        assert confirm.result_of("confirm_appointment").result["appointment_id"] == booked.id

        cancel = reminder_call("r-cancel")
        await cancel.say("", "call_start")
        await cancel.say("I need to cancel it.")
        assert cancel.ended is None
        # The same cancel flow as an inbound call: who is calling is verified first.
        assert clinic.receptionists["r-cancel"].state.node == "verify"
        await cancel.say("Rita Moreno, born February 3rd, 1971.")
        assert cancel.result_of("verify_identity").result["patient_id"] == patient.id
        assert clinic.receptionists["r-cancel"].state.node == "cancel"
