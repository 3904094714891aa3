"""A single outbound call outside calling hours is scheduled, not dropped: the API answers 202
with the scheduled call, lists and cancels it, the compliance and audit logs say so, and when
the window opens it is placed exactly once (over the fake Twilio REST API), even by a worker
that started after the one that scheduled it, with another worker on the same store."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from callwright.agent.stack import AgentStack
from callwright.compliance.consent import ConsentRecords
from callwright.compliance.log import ComplianceLog
from callwright.compliance.settings import ComplianceSettings
from callwright.server.auth import new_api_key
from callwright.store.sqlite import SqliteCallStore
from callwright.telephony.settings import TelephonySettings
from tests.conftest import ADMIN_HEADERS, MovableClock
from tests.fakes.twilio_rest import ACCOUNT_SID, AUTH_TOKEN, fake_twilio
from tests.security.conftest import secure_server

LA = ZoneInfo("America/Los_Angeles")
SF, OAKLAND = "+14155550161", "+15105550162"


async def _json(response: aiohttp.ClientResponse) -> Any:
    return await response.json()


async def test_a_call_outside_the_window_is_scheduled_and_placed_once(
    stack: AgentStack, tmp_path: Path
) -> None:
    clock = MovableClock(dt.datetime(2026, 6, 2, 21, 30, tzinfo=LA))
    compliance = ComplianceSettings(clock=clock)
    store = await SqliteCallStore.open(tmp_path / "calls.sqlite3")
    for number in (SF, OAKLAND):
        await ConsentRecords(store).add(number, "*", "written", "signed form (test)")
    await store.close()
    async with fake_twilio() as rest:
        settings = TelephonySettings(
            twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
            twilio_api_base_url=rest.url, public_base_url="https://voice.example.org",
        )  # fmt: skip
        async with (
            secure_server(stack, tmp_path, telephony=settings, compliance=compliance) as server,
            aiohttp.ClientSession(headers=ADMIN_HEADERS) as http,
        ):
            url = f"{server.base}/v1/calls/outbound"
            body = {"to": SF, "from": "+12125550199", "parameters": {"first_name": "Ann"}}
            async with http.post(url, json=body) as response:
                assert response.status == 202
                scheduled = await response.json()
            async with http.post(url, json={**body, "to": OAKLAND}) as response:
                assert response.status == 202
                other = await response.json()
            sid, other_sid = scheduled["scheduled_id"], other["scheduled_id"]
            # Not before 08:00 in California tomorrow.
            tomorrow_8 = dt.datetime(2026, 6, 3, 8, 0, tzinfo=LA)
            assert scheduled["status"] == "scheduled"
            assert scheduled["due_at"] == tomorrow_8.timestamp()
            assert dt.datetime.fromisoformat(scheduled["retry_at"]) == tomorrow_8
            base = f"{server.base}/v1/scheduled-calls"
            async with http.get(base) as response:
                listed = {c["scheduled_id"]: c for c in (await response.json())["scheduled_calls"]}
            assert set(listed) == {sid, other_sid}
            assert listed[sid]["parameters"] == {"first_name": "Ann"}
            secret, key = new_api_key("supervisor", "not an admin")
            await server.access.add_key(key)
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {secret}"}) as s:
                for method, path in (("GET", base), ("POST", f"{base}/{other_sid}/cancel")):
                    async with s.request(method, path) as response:
                        assert response.status == 403, path
            async with http.post(f"{base}/{other_sid}/cancel") as response:
                assert response.status == 200
            async with http.post(f"{base}/{other_sid}/cancel") as response:
                assert response.status == 409  # cancelled already
            await asyncio.sleep(1.5)
            assert rest.creates() == [], "nothing is dialled before the window opens"
            audit = [e.action for e in await server.access.audit_entries()]
            log = await ComplianceLog(server.stack.store).entries()  # type: ignore[arg-type]
        assert audit.count("outbound.scheduled") == 2 and "outbound.scheduled_cancel" in audit
        kinds = [(e.kind, e.number) for e in log]
        assert ("call_scheduled", SF) in kinds and ("call_scheduled", OAKLAND) in kinds
        assert ("scheduled_call_cancelled", OAKLAND) in kinds

        # The worker that scheduled it is gone; in the morning two workers share the store.
        clock.now = dt.datetime(2026, 6, 3, 8, 1, tzinfo=LA)
        async with contextlib.AsyncExitStack() as workers:
            one = await workers.enter_async_context(
                secure_server(stack, tmp_path, telephony=settings, compliance=compliance)
            )
            await workers.enter_async_context(
                secure_server(stack, tmp_path, telephony=settings, compliance=compliance)
            )
            http = await workers.enter_async_context(aiohttp.ClientSession(headers=ADMIN_HEADERS))
            await rest.wait_for(1)
            await asyncio.sleep(2.5)  # both runners tick again: nobody dials it a second time
            async with http.get(f"{one.base}/v1/scheduled-calls/{sid}") as response:
                placed = await response.json()
            async with http.get(f"{one.base}/v1/scheduled-calls/{other_sid}") as response:
                cancelled = await response.json()
    assert [c.one("To") for c in rest.creates()] == [SF]
    twiml = rest.creates()[0].one("Twiml") or ""
    assert "first_name" in twiml and sid in twiml
    assert placed["status"] == "placed" and placed["call_sid"].startswith("CA")
    assert cancelled["status"] == "cancelled"
