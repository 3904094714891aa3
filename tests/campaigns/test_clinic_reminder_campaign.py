"""The clinic's whole reminder campaign, spoken, over the Twilio protocol with the fake REST API.

Six patients have an appointment tomorrow. The campaign (`examples/clinic/reminders.py`) starts
at 20:50 in New York with four lines: one patient confirms, one cancels through the same flow
as an inbound caller (identity check included), one asks not to be called again (the number
goes on the do-not-call list and the call ends politely), and one is an answering machine
(Twilio's detection: the voicemail is left after the beep). The window closes at 21:00 while
those calls are live: the last two patients are rescheduled to 08:00, not dropped. The worker
stops overnight; in the morning two workers share the store, and each of the last two is called
once. Nobody is ever called twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from callwright.agent.stack import AgentStack
from callwright.compliance.dnc import DoNotCallList
from callwright.compliance.settings import ComplianceSettings
from callwright.compliance.tables import SqlStore
from callwright.server.runtime import speakable_pieces
from callwright.sim.caller import ScriptLine
from callwright.sim.twilio_caller import (
    PhoneCallReport,
    TwilioCallerSimulator,
    parse_stream_twiml,
    post_signed,
)
from callwright.store.base import CallDetail
from callwright.store.sqlite import SqliteCallStore
from callwright.telephony.settings import TelephonySettings
from callwright.tts.cache import CachedTts
from callwright.tts.normalize import accepts_ssml
from examples.clinic.flow import LINES
from examples.clinic.reminders import PURPOSE, create_reminder_campaign, reminder_contacts
from examples.clinic.store import Patient
from tests.conftest import (
    MovableClock,
    agent_replies,
    finished_call,
    operator_http,
    wait_until,
)
from tests.fakes.clinic import MONDAY, open_test_clinic
from tests.fakes.twilio_rest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FakeTwilioRest,
    consent_to_calls,
    fake_twilio,
    serve_phone,
)
from tests.voices import CLEAR_CALLER as CALLER_VOICE

NY = ZoneInfo("America/New_York")
TOMORROW = MONDAY + dt.timedelta(days=1)
VOICEMAIL = "This is Maple Street Clinic with a reminder of your appointment tomorrow."
# In dialling order (the order they were registered): what each one does.
PATIENTS = [
    Patient("pat_rem_ann", "Ann", "Baker", dt.date(1985, 6, 7), "(212) 555-0171"),  # confirms
    Patient("pat_rem_susan", "Susan", "Miller", dt.date(1980, 3, 4), "(212) 555-0172"),  # cancels
    Patient("pat_rem_tom", "Tom", "Hill", dt.date(1990, 1, 2), "(212) 555-0173"),  # opts out
    Patient("pat_rem_dana", "Dana", "White", dt.date(1975, 8, 9), "(212) 555-0174"),  # machine
    Patient("pat_rem_eve", "Eve", "Long", dt.date(1969, 4, 5), "(212) 555-0175"),  # morning
    Patient("pat_rem_frank", "Frank", "Stone", dt.date(1961, 9, 10), "(212) 555-0176"),  # morning
]
ANN, SUSAN, TOM, DANA, EVE, FRANK = (f"+1212555017{i}" for i in range(1, 7))


async def _contacts(http: aiohttp.ClientSession, url: str, cid: str) -> dict[str, Any]:
    async with http.get(f"{url}/v1/campaigns/{cid}") as response:
        body = await response.json()
    return {c["number"]: c for c in body["contacts"]} | {"": body}


def _create_of(rest: FakeTwilioRest, number: str) -> Any:
    (create,) = [c for c in rest.creates() if c.one("To") == number]
    return create


async def _status(
    http: aiohttp.ClientSession, rest: FakeTwilioRest, sid: str, number: str, status: str
) -> None:
    """Twilio's signed status callback for the call to `number`."""
    callback = _create_of(rest, number).one("StatusCallback") or ""
    params = {"CallSid": sid, "CallStatus": status, "AccountSid": ACCOUNT_SID}
    assert (await post_signed(http, callback, params, AUTH_TOKEN)).status == 204


async def _answer(
    stack: AgentStack,
    url: str,
    rest: FakeTwilioRest,
    contact: dict[str, Any],
    lines: list[str],
    agent_ends: bool,
) -> CallDetail:
    """The patient picks up and speaks `lines`, each after the agent's reply: once the call's
    record counts it finished, not on a pause alone (a reply's next sentence can be slow to
    synthesize on a loaded machine, and the patient would talk into it)."""
    stream_url, custom = parse_stream_twiml(_create_of(rest, contact["number"]).one("Twiml") or "")

    async def replies_done() -> int:
        return await agent_replies(stack.store, contact["call_id"])

    callee = TwilioCallerSimulator(url, CALLER_VOICE, AUTH_TOKEN, caller=contact["number"],
                                   turn_timeout_s=30.0, quiet_ms=2000.0,
                                   replies_done=replies_done)  # fmt: skip
    callee.report.call_sid = contact["call_sid"]
    rest.known_call(contact["call_sid"])
    prepared = [(ScriptLine(t), await callee._prepare(ScriptLine(t))) for t in lines]
    async with aiohttp.ClientSession() as phone:
        await callee.stream(phone, stream_url, custom, prepared, hang_up=not agent_ends)
    detail = await finished_call(stack, contact["call_id"], timeout_s=30.0)
    _CALLEES[contact["call_id"]] = callee.report
    return detail


def _agent(detail: CallDetail) -> str:
    return " ".join(u.text for u in detail.utterances if u.role == "agent")


# What each patient's phone saw, by call id: for a failing assertion's message.
_CALLEES: dict[str, PhoneCallReport] = {}


def _dialogue(detail: CallDetail) -> str:
    """The call as said and heard, what happened, and what the patient's phone did, for a
    failing assertion's message (a string: pytest shows it whole)."""
    said = [f"{u.role} @{u.start_ms}: {u.text}" for u in detail.utterances]
    happened = [f"{e.kind} @{e.at_ms}: {str(dict(e.data))[:300]}" for e in detail.events]
    phone = _CALLEES.get(detail.record.call_id)
    seen = []
    if phone is not None:
        t0 = phone.playback[0][0] if phone.playback else 0.0  # the stream's first tick
        seen = [f"phone: said {t.line!r} from {t.speech_start_s - t0:.2f} s to "
                f"{t.speech_end_s - t0:.2f} s, ttfa {t.ttfa_ms}" for t in phone.lines]  # fmt: skip
        seen += [f"phone: {phone.frames_received} frames, {phone.clears} clears, "
                 f"ended by agent {phone.ended_by_agent}, events {phone.events[:5]}"]  # fmt: skip
    return "\n".join(["", *said, *happened, *seen])


def _flow_results(detail: CallDetail, name: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in detail.events if e.kind == "tool_call" and e.data["name"] == name]


# Three spoken calls and two workers' worth of campaign: longer than the default limit when the
# session's models are loaded for this test alone on a busy machine.
@pytest.mark.timeout(600)
async def test_the_reminder_campaign_end_to_end(stack: AgentStack, tmp_path: Path) -> None:
    clock = MovableClock(dt.datetime(2026, 11, 23, 20, 50, tzinfo=NY))
    compliance = ComplianceSettings(clock=clock, voicemail=VOICEMAIL)
    store = await SqliteCallStore.open(tmp_path / "calls.sqlite3")
    async with open_test_clinic(tmp_path) as clinic, fake_twilio() as rest:
        own = dataclasses.replace(stack, store=store, responders=clinic)
        doctor = clinic.data.doctors[0]
        slots = await clinic.data.store.free_slots(doctor.id, TOMORROW)
        for patient, slot in zip(PATIENTS, slots, strict=False):
            await clinic.data.store.add_patient(patient)
            clinic.data.patients.append(patient)
            start = dt.datetime.combine(TOMORROW, slot)
            await clinic.data.store.book(patient.id, doctor.id, start, f"seed-{patient.id}")
        await consent_to_calls(store, ANN, SUSAN, TOM, DANA, EVE, FRANK)
        # Each reminder is new text (names, times), synthesized while the disclosure plays; on a
        # machine shared by many test runs that can take longer than the disclosure, and the
        # patient would talk into the pause. Latency is the benches' business: warm the cache.
        openings = [
            LINES["reminder"].format(name=c.parameters["first_name"], doctor=c.parameters["doctor"],
                                     time=c.parameters["appointment_time"])
            for c in await reminder_contacts(clinic.data.store, TOMORROW)
        ]  # fmt: skip
        assert isinstance(own.tts, CachedTts)
        await own.tts.prewarm(speakable_pieces(openings, own.speech, accepts_ssml(own.tts)))
        settings = TelephonySettings(
            twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
            twilio_api_base_url=rest.url, outbound_token_ttl_s=900.0,
        )  # fmt: skip
        async with serve_phone(own, settings, compliance) as url, operator_http() as http:
            cid, count = await create_reminder_campaign(
                cast(SqlStore, store), clinic.data.store, TOMORROW, "+12125550100",
                concurrency=4, pace_s=0,
            )  # fmt: skip
            assert count == 6

            async def four_dialled() -> bool:
                return len(rest.creates()) >= 4

            await wait_until(four_dialled, 30.0)
            # 21:01 in New York: the window closes while the four calls are live.
            clock.now = dt.datetime(2026, 11, 23, 21, 1, tzinfo=NY)
            assert [c.one("To") for c in rest.creates()] == [ANN, SUSAN, TOM, DANA]
            assert _create_of(rest, DANA).one("MachineDetection") == "DetectMessageEnd"
            state = await _contacts(http, url, cid)

            yes = ["Yes, I'll be there."]
            confirmed = await _answer(own, url, rest, state[ANN], yes, True)
            await _status(http, rest, state[ANN]["call_sid"], ANN, "completed")
            cancelled = await _answer(own, url, rest, state[SUSAN], [
                "I need to cancel it.",
                "My name is Susan Miller, born on the fourth of March, nineteen eighty.",
                "Yes, that's right.",
            ], False)  # fmt: skip
            await _status(http, rest, state[SUSAN]["call_sid"], SUSAN, "completed")
            # Said again if the agent did not take it (the recogniser once heard "start calling
            # me"), as a person would; understood the first time, the call ends before it.
            opted_out = await _answer(own, url, rest, state[TOM], [
                "Hmm, actually, please stop calling me.",
                "No. I said, stop calling me.",
            ], True)  # fmt: skip
            await _status(http, rest, state[TOM]["call_sid"], TOM, "completed")
            # Dana's phone: Twilio's detection hears a machine, and reports after the beep.
            amd_url = _create_of(rest, DANA).one("AsyncAmdStatusCallback") or ""
            rest.known_call(state[DANA]["call_sid"])
            amd = {"CallSid": state[DANA]["call_sid"], "AnsweredBy": "machine_end_beep",
                   "AccountSid": ACCOUNT_SID}  # fmt: skip
            assert (await post_signed(http, amd_url, amd, AUTH_TOKEN)).status == 204

            async def rescheduled() -> bool:
                now = await _contacts(http, url, cid)
                return all(now[n]["status"] == "pending" and now[n]["detail"] for n in (EVE, FRANK))

            await wait_until(rescheduled, 30.0)
            await asyncio.sleep(1.5)
            evening = await _contacts(http, url, cid)
        assert len(rest.creates()) == 4, "nobody is dialled after 21:00"
        morning_8 = dt.datetime(2026, 11, 24, 8, 0, tzinfo=NY).timestamp()
        assert [evening[n]["next_at"] for n in (EVE, FRANK)] == [morning_8, morning_8]
        # Claimed, held back by the hours, and put back: that was not an attempt.
        assert [evening[n]["attempts"] for n in (EVE, FRANK)] == [0, 0]

        # The worker stopped overnight; at 08:01 two workers share the store.
        clock.now = dt.datetime(2026, 11, 24, 8, 1, tzinfo=NY)
        async with contextlib.AsyncExitStack() as workers:
            url = await workers.enter_async_context(serve_phone(own, settings, compliance))
            await workers.enter_async_context(serve_phone(own, settings, compliance))
            http = await workers.enter_async_context(operator_http())

            async def six_dialled() -> bool:
                return len(rest.creates()) >= 6

            await wait_until(six_dialled, 30.0)
            morning = await _contacts(http, url, cid)
            for number in (EVE, FRANK):
                await _status(http, rest, morning[number]["call_sid"], number, "completed")

            async def finished() -> bool:
                return (await _contacts(http, url, cid))[""]["status"] == "finished"

            await wait_until(finished, 30.0)
            await asyncio.sleep(2.5)  # both workers tick again
            final = await _contacts(http, url, cid)
        dialled = [str(c.one("To")) for c in rest.creates()]
        appointments = {p.id: await clinic.data.store.appointments(p.id) for p in PATIENTS[:2]}
        on_list = await DoNotCallList(cast(SqlStore, store)).find(TOM)
        dana_updates = rest.updates_of(state[DANA]["call_sid"])
    await store.close()

    assert sorted(dialled) == sorted([ANN, SUSAN, TOM, DANA, EVE, FRANK])  # each once
    outcomes = {n: (final[n]["status"], final[n]["outcome"]) for n in dialled}
    assert outcomes[DANA] == ("done", "voicemail")
    assert all(outcomes[n] == ("done", "completed") for n in (ANN, SUSAN, TOM, EVE, FRANK))
    assert final[""]["purpose"] == PURPOSE

    # Ann heard her reminder (names are redacted in the stored transcript) and confirmed it.
    assert _agent(confirmed).startswith("Hi, just so you know")
    assert "Will you be able to make it?" in _agent(confirmed)
    confirmations = _flow_results(confirmed, "confirm_appointment")
    assert len(confirmations) == 1, _dialogue(confirmed)
    confirmation = confirmations[0]
    assert confirmation["result"]["patient_id"] == "pat_rem_ann"
    assert [a.status for a in appointments["pat_rem_ann"]] == ["booked"]
    # Susan cancelled through the inbound flow, identity check included.
    assert [a.status for a in appointments["pat_rem_susan"]] == ["cancelled"], _dialogue(cancelled)
    assert _flow_results(cancelled, "verify_identity")
    # Tom opted out: on the list, told so, and the call ended there.
    assert on_list is not None and on_list.source == "opt_out", _dialogue(opted_out)
    assert "do-not-call list" in _agent(opted_out)
    assert opted_out.record.outcome == "opted_out"
    # Dana's machine got the voicemail after the beep, then the call ended.
    assert len(dana_updates) == 1 and VOICEMAIL in (dana_updates[0].one("Twiml") or "")
