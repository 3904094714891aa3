"""Campaigns end to end over the Twilio protocol (the fake REST API, signed status callbacks):
a campaign that crosses the end of the calling window (an injected clock), retries, the
compliance checks per contact, pause/resume/cancel, and a restart that calls no one twice."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import socket
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from callwright.agent.stack import AgentStack
from callwright.campaigns.contacts import Contact, parse_contacts
from callwright.campaigns.dialing import GateRefusal
from callwright.campaigns.records import CampaignPlan
from callwright.campaigns.runner import CampaignRunner
from callwright.campaigns.store import CampaignStore
from callwright.compliance.dnc import DoNotCallList
from callwright.compliance.settings import ComplianceSettings
from callwright.compliance.tables import SqlStore
from callwright.sim.twilio_caller import post_signed
from callwright.store.sqlite import SqliteCallStore
from callwright.telephony.settings import TelephonySettings
from tests.campaigns.dialers import CountingDialer
from tests.conftest import MovableClock, operator_http, wait_until
from tests.fakes.twilio_rest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FakeTwilioRest,
    consent_to_calls,
    fake_twilio,
    serve_phone,
)

LA = ZoneInfo("America/Los_Angeles")


async def _campaign(http: aiohttp.ClientSession, url: str, campaign_id: str) -> dict[str, Any]:
    async with http.get(f"{url}/v1/campaigns/{campaign_id}") as response:
        assert response.status == 200
        return cast(dict[str, Any], await response.json())


async def test_a_campaign_across_the_end_of_the_calling_window(stack: AgentStack) -> None:
    clock = MovableClock(dt.datetime(2026, 6, 2, 20, 58, tzinfo=LA))
    compliance = ComplianceSettings(clock=clock)
    ann, bob, cat = "+14155550191", "+14155550192", "+14155550193"
    listed, unconsented = "+14155550194", "+14155550195"
    await consent_to_calls(stack.store, ann, bob, cat, listed)
    await DoNotCallList(cast(SqlStore, stack.store)).add(listed, "operator")
    csv_text = "number,first_name\n" + "\n".join(
        f"{n},{name}" for n, name in
        ((ann, "Ann"), (bob, "Bob"), (cat, "Cat"), (listed, "Dee"), (unconsented, "Eve"))
    )  # fmt: skip
    async with fake_twilio() as rest:
        settings = TelephonySettings(
            twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
            twilio_api_base_url=rest.url,
        )  # fmt: skip
        async with serve_phone(stack, settings, compliance) as url, operator_http() as http:
            body = {"name": "reminders", "from": "+12125550100", "purpose": "reminders",
                    "contacts_csv": csv_text, "concurrency": 2, "pace_s": 0,
                    "retry_backoff_s": 60, "max_attempts": 2}  # fmt: skip
            async with http.post(f"{url}/v1/campaigns", json=body) as response:
                assert response.status == 201
                created = await response.json()
            cid = created["campaign_id"]
            assert created["contacts"] == 5

            async def dialled(n: int) -> bool:
                return len(rest.creates()) >= n

            await wait_until(lambda: dialled(2))  # the concurrency limit: two at once
            await asyncio.sleep(1.5)
            assert [c.one("To") for c in rest.creates()] == [ann, bob]
            first = rest.creates()[0]
            assert "first_name" in (first.one("Twiml") or "")
            # Past 21:00 in California (before the lines free up): nothing more goes out tonight.
            clock.now = dt.datetime(2026, 6, 2, 21, 1, tzinfo=LA)
            sids = await _sids(http, url, cid)
            await _callback(http, rest, sids, ann, "completed")
            await _callback(http, rest, sids, bob, "no-answer")

            async def settled() -> bool:
                state = {c["number"]: c for c in (await _campaign(http, url, cid))["contacts"]}
                return state[cat]["status"] == "pending" and state[cat]["detail"] is not None

            await wait_until(settled)
            await asyncio.sleep(1.5)
            assert len(rest.creates()) == 2
            state = {c["number"]: c for c in (await _campaign(http, url, cid))["contacts"]}
            tomorrow_8 = dt.datetime(2026, 6, 3, 8, 0, tzinfo=LA).timestamp()
            assert state[cat]["next_at"] == tomorrow_8  # rescheduled, not dropped
            assert state[ann]["status"] == "done" and state[ann]["outcome"] == "completed"
            assert state[bob]["status"] == "pending" and state[bob]["outcome"] == "no_answer"
            assert state[listed]["status"] == "skipped"
            assert state[listed]["outcome"] == "do_not_call"
            # Calling hours come before consent: Eve waits for the morning like Cat.
            assert state[unconsented]["next_at"] == tomorrow_8
            # Paused overnight, resumed in the morning: Bob's retry and Cat go out.
            async with http.post(f"{url}/v1/campaigns/{cid}/pause") as response:
                assert response.status == 200
            clock.now = dt.datetime(2026, 6, 3, 8, 5, tzinfo=LA)
            await asyncio.sleep(1.5)
            assert len(rest.creates()) == 2, "a paused campaign dials no one"
            async with http.post(f"{url}/v1/campaigns/{cid}/resume") as response:
                assert response.status == 200
            await wait_until(lambda: dialled(4))
            assert sorted(str(c.one("To")) for c in rest.creates()[2:]) == sorted([bob, cat])
            sids = await _sids(http, url, cid)
            await _callback(http, rest, sids, bob, "busy")  # the last attempt: failed
            await _callback(http, rest, sids, cat, "completed")

            async def finished() -> bool:
                return (await _campaign(http, url, cid))["status"] == "finished"

            await wait_until(finished)
            final = await _campaign(http, url, cid)
            async with http.post(f"{url}/v1/campaigns/{cid}/cancel") as response:
                assert response.status == 409  # finished: nothing to cancel
    state = {c["number"]: c for c in final["contacts"]}
    assert state[bob]["status"] == "failed" and state[bob]["attempts"] == 2
    assert state[cat]["status"] == "done"
    assert state[unconsented]["status"] == "skipped"
    assert state[unconsented]["outcome"] == "no_consent"
    assert final["progress"] == {"done": 2, "failed": 1, "skipped": 2}
    called = [str(c.one("To")) for c in rest.creates()]
    assert sorted(called) == sorted([ann, bob, bob, cat])  # nobody beyond their attempts


async def _sids(http: aiohttp.ClientSession, url: str, cid: str) -> dict[str, str]:
    contacts = (await _campaign(http, url, cid))["contacts"]
    return {c["number"]: c["call_sid"] for c in contacts if c["call_sid"]}


async def _callback(
    http: aiohttp.ClientSession, rest: FakeTwilioRest, sids: dict[str, str], to: str, status: str
) -> None:
    """Twilio's status callback for the latest call to `to`, signed, to the URL it was given."""
    create = next(c for c in reversed(rest.creates()) if c.one("To") == to)
    callback = create.one("StatusCallback") or ""
    params = {"CallSid": sids[to], "CallStatus": status, "AccountSid": ACCOUNT_SID}
    assert (await post_signed(http, callback, params, AUTH_TOKEN)).status == 204


async def _open(_: str, __: str | None) -> GateRefusal | None:
    return None


async def test_a_restart_calls_no_one_twice(tmp_path: Path) -> None:
    store = await SqliteCallStore.open(tmp_path / "calls.sqlite3")
    try:
        campaigns = CampaignStore(store)
        contacts = parse_contacts('[{"number": "+12125550181"}, {"number": "+12125550182"}]',
                                  "json").contacts  # fmt: skip
        assert contacts == [Contact("+12125550181"), Contact("+12125550182")]
        plan = CampaignPlan("restart", "+12125550100", "reminders", concurrency=5, pace_s=0)
        cid = await campaigns.create(plan, contacts)
        first = (await campaigns.due(cid, 1e10, 5))[0]
        # A worker claims the first contact and dies before it knows whether the dial went out.
        assert await campaigns.claim(first, "worker-a", 1e10)
        assert not await campaigns.claim(first, "worker-b", 1e10)  # claimed once, by one worker
        assert await campaigns.orphaned_dials(stale_s=0.0) == 1
        dialer = CountingDialer()
        runner = CampaignRunner(campaigns, dialer, _open, lambda: 1e10, "worker-b")
        await runner.tick()
        await runner.tick()
        assert dialer.calls == ["+12125550182"]
        state = {c.number: c for c in await campaigns.contacts(cid)}
        assert state["+12125550181"].status == "unknown"
        assert state["+12125550182"].status == "in_call"
    finally:
        await store.close()


async def test_a_contact_list_cannot_pick_the_agent_or_the_calls_direction(tmp_path: Path) -> None:
    store = await SqliteCallStore.open(tmp_path / "calls.sqlite3")
    try:
        campaigns = CampaignStore(store)
        row = {"first_name": "Ada", "agent": "collections", "direction": "inbound",
               "campaign_id": "another", "to": "+12125550199"}  # fmt: skip
        plan = CampaignPlan("columns", "+12125550100", "reminders", concurrency=1, pace_s=0)
        cid = await campaigns.create(plan, [Contact("+12125550181", row)])
        dialer = CountingDialer()
        await CampaignRunner(campaigns, dialer, _open, lambda: 1e10, "worker-a").tick()
        assert dialer.calls == ["+12125550181"]
        assert dialer.parameters == [{"first_name": "Ada", "campaign_id": cid}]
    finally:
        await store.close()


async def test_an_answering_machine_gets_the_voicemail(stack: AgentStack) -> None:
    message = "This is a reminder of your appointment tomorrow. Please call us back."
    compliance = ComplianceSettings(
        clock=lambda: dt.datetime(2026, 6, 2, 11, 0, tzinfo=LA), voicemail=message
    )
    number = "+14155550196"
    await consent_to_calls(stack.store, number)
    async with fake_twilio() as rest:
        settings = TelephonySettings(
            twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
            twilio_api_base_url=rest.url,
        )  # fmt: skip
        async with serve_phone(stack, settings, compliance) as url, operator_http() as http:
            body = {"name": "vm", "from": "+12125550100", "purpose": "reminders",
                    "contacts": [{"number": number}], "pace_s": 0}  # fmt: skip
            async with http.post(f"{url}/v1/campaigns", json=body) as response:
                cid = (await response.json())["campaign_id"]
            await rest.wait_for(1)
            create = rest.creates()[0]
            assert create.one("MachineDetection") == "DetectMessageEnd"
            assert create.one("AsyncAmd") == "true"
            amd_url = create.one("AsyncAmdStatusCallback") or ""
            sid = (await _sids(http, url, cid))[number]
            rest.known_call(sid)
            params = {"CallSid": sid, "AnsweredBy": "machine_end_beep", "AccountSid": ACCOUNT_SID}
            assert (await post_signed(http, amd_url, params, AUTH_TOKEN)).status == 204
            updates = rest.updates_of(sid)
            contact = (await _campaign(http, url, cid))["contacts"][0]
    assert len(updates) == 1 and message in (updates[0].one("Twiml") or "")
    assert (contact["status"], contact["outcome"]) == ("done", "voicemail")


async def test_a_lost_final_status_frees_its_line_and_the_campaign_finishes(
    tmp_path: Path,
) -> None:
    store = await SqliteCallStore.open(tmp_path / "calls.sqlite3")
    try:
        campaigns = CampaignStore(store)
        contacts = [Contact("+12125550181"), Contact("+12125550182")]
        plan = CampaignPlan("lost", "+12125550100", "reminders", concurrency=1, pace_s=0)
        cid = await campaigns.create(plan, contacts)
        dialer = CountingDialer()
        runner = CampaignRunner(campaigns, dialer, _open, lambda: 1e10, "worker-a",
                                silent_after_s=0.5)  # fmt: skip
        await runner.tick()  # the first contact is in a call; its final status never comes
        await runner.tick()
        assert len(dialer.calls) == 1 and await campaigns.active(cid) == 1
        await asyncio.sleep(0.6)
        runner._swept_at = 0.0  # the next sweep is due (one a minute otherwise)
        await runner.tick()
        state = {c.number: c for c in await campaigns.contacts(cid)}
        first = state[dialer.calls[0]]
        assert (first.status, first.detail) == ("unknown", "no final call status was heard")
        assert len(dialer.calls) == 2  # its line went to the second contact
        # Its final status comes after all (a transferred call outlasted the agent's limit).
        await runner.on_call_status(first.call_sid or "", "completed")
        state = {c.number: c for c in await campaigns.contacts(cid)}
        assert (state[dialer.calls[0]].status, state[dialer.calls[0]].outcome) == (
            "done", "completed"
        )  # fmt: skip
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("platform", "dials", "status"),
    [
        # Twilio answered 401 (credentials it does not know): no call exists; tried again,
        # up to the campaign's two attempts.
        ("refusing", 2, "failed"),
        # Nothing listens where the API should be: the request never left; tried again.
        ("unreachable", 2, "failed"),
        # Twilio failed after the request reached it (500): the call may exist; never again.
        ("failing", 1, "unknown"),
    ],
)
async def test_a_dial_is_retried_only_when_the_platform_clearly_placed_no_call(
    stack: AgentStack, platform: str, dials: int, status: str
) -> None:
    number = "+14155550197"
    await consent_to_calls(stack.store, number)
    async with fake_twilio() as rest:
        settings = TelephonySettings(
            twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
            twilio_api_base_url=rest.url,
        )  # fmt: skip
        if platform == "refusing":
            settings = dataclasses.replace(settings, twilio_auth_token="not-the-real-token")
        elif platform == "unreachable":
            with socket.socket() as closed:  # a port nothing listens on
                closed.bind(("127.0.0.1", 0))
                port = closed.getsockname()[1]
            settings = dataclasses.replace(settings, twilio_api_base_url=f"http://127.0.0.1:{port}")
        else:
            rest.create_error = 500
        async with serve_phone(stack, settings) as url, operator_http() as http:
            body = {"name": platform, "from": "+12125550100", "purpose": "reminders",
                    "contacts": [{"number": number}], "pace_s": 0, "max_attempts": 2,
                    "retry_backoff_s": 0}  # fmt: skip
            async with http.post(f"{url}/v1/campaigns", json=body) as response:
                cid = (await response.json())["campaign_id"]

            async def settled() -> bool:
                contact = (await _campaign(http, url, cid))["contacts"][0]
                return bool(contact["status"] not in ("pending", "dialing"))

            await wait_until(settled)
            await asyncio.sleep(2.5)  # the runner ticks on: nothing more goes out
            contact = (await _campaign(http, url, cid))["contacts"][0]
    reached = 0 if platform == "unreachable" else dials
    assert [c.one("To") for c in rest.creates()] == [number] * reached
    assert (contact["status"], contact["outcome"]) == (status, "dial_error")
    assert contact["attempts"] == dials
