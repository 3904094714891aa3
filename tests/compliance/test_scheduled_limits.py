"""Held-back calls and the outbound limits: a call held back by calling hours counts against
the hourly limit of the credential that asked for it (when asked for, and again when it goes
out if that is more than an hour later), and held-back calls go out one at a time at the
deployment's pace, never in a burst when the window opens, however many workers run."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

from callwright.agent.stack import AgentStack
from callwright.campaigns.dialing import DialRefused, GateRefusal
from callwright.campaigns.runner import CampaignRunner
from callwright.campaigns.scheduled import ScheduledCalls
from callwright.campaigns.store import CampaignStore
from callwright.compliance.consent import ConsentRecords
from callwright.compliance.settings import ComplianceSettings
from callwright.config import SecuritySettings
from callwright.server.outbound import HeldBackLimits, OutboundGate
from callwright.store.sqlite import SqliteCallStore
from callwright.telephony.settings import TelephonySettings
from tests.campaigns.dialers import CountingDialer, FailingDialer
from tests.conftest import ADMIN_HEADERS, TEST_KEY_ID, MovableClock, wait_until
from tests.fakes.twilio_rest import ACCOUNT_SID, AUTH_TOKEN, fake_twilio
from tests.pg_cluster import AnyStore
from tests.security.conftest import secure_server

LA = ZoneInfo("America/Los_Angeles")
NUMBERS = [f"+1415555{n:04d}" for n in range(301, 311)]
FROM = "+12125550199"
LIMIT = 2  # calls per credential per hour in these tests
# The test's API key, as a scheduled call records who asked for it.
TEST_KEY = f"api_key:{TEST_KEY_ID}"


def _telephony(url: str) -> TelephonySettings:
    return TelephonySettings(
        twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
        twilio_api_base_url=url, public_base_url="https://voice.example.org",
    )  # fmt: skip


async def _consent(path: Path, numbers: list[str]) -> None:
    store = await SqliteCallStore.open(path)
    try:
        for number in numbers:
            await ConsentRecords(store).add(number, "*", "written", "signed form (test)")
    finally:
        await store.close()


async def _post(http: aiohttp.ClientSession, base: str, to: str) -> int:
    async with http.post(f"{base}/v1/calls/outbound", json={"to": to, "from": FROM}) as response:
        return response.status


async def test_held_back_calls_count_against_the_limit_of_who_asked(
    stack: AgentStack, tmp_path: Path
) -> None:
    clock = MovableClock(dt.datetime(2026, 6, 2, 22, 0, tzinfo=LA))
    compliance = ComplianceSettings(clock=clock)
    # A fast pace: this test is about the credential's limit, not the pace.
    security = SecuritySettings(outbound_per_hour=LIMIT, scheduled_per_minute=600.0)
    await _consent(tmp_path / "calls.sqlite3", NUMBERS)
    async with fake_twilio() as rest:
        telephony = _telephony(rest.url)
        night: list[int] = []
        async with contextlib.AsyncExitStack() as st:
            workers = [
                await st.enter_async_context(
                    secure_server(stack, tmp_path, security, telephony, compliance)
                )
                for _ in range(2)
            ]
            http = await st.enter_async_context(aiohttp.ClientSession(headers=ADMIN_HEADERS))
            for index, number in enumerate(NUMBERS[:6]):
                night.append(await _post(http, workers[index % 2].base, number))
        # Two workers, one credential: two calls held back for the morning, the rest refused.
        assert night == [202] * LIMIT + [429] * (6 - LIMIT)

        clock.now = dt.datetime(2026, 6, 3, 8, 0, 30, tzinfo=LA)
        async with contextlib.AsyncExitStack() as st:
            morning = await st.enter_async_context(
                secure_server(stack, tmp_path, security, telephony, compliance)
            )
            http = await st.enter_async_context(aiohttp.ClientSession(headers=ADMIN_HEADERS))
            await rest.wait_for(LIMIT)
            # Asked for within the hour, they still count: no direct call on top of them.
            direct = [await _post(http, morning.base, n) for n in NUMBERS[6:8]]
    assert direct == [429, 429]
    assert sorted(str(c.one("To")) for c in rest.creates()) == sorted(NUMBERS[:LIMIT])


async def test_a_call_asked_for_long_ago_counts_again_when_it_goes_out(
    stack: AgentStack, tmp_path: Path
) -> None:
    morning = dt.datetime(2026, 6, 3, 8, 0, 30, tzinfo=LA)
    compliance = ComplianceSettings(clock=lambda: morning)
    security = SecuritySettings(outbound_per_hour=LIMIT, scheduled_per_minute=600.0)
    await _consent(tmp_path / "calls.sqlite3", NUMBERS)
    store = await SqliteCallStore.open(tmp_path / "calls.sqlite3")
    try:
        for number in NUMBERS[:3]:
            await ScheduledCalls(store).add(
                number, FROM, None, {}, morning.timestamp() - 60, TEST_KEY
            )
        # Asked for last night, ten hours ago: those requests are out of this hour's window.
        await store.sql_execute(
            "UPDATE scheduled_calls SET created_at = ?", (time.time() - 10 * 3600,)
        )
    finally:
        await store.close()
    async with (
        fake_twilio() as rest,
        secure_server(stack, tmp_path, security, _telephony(rest.url), compliance) as server,
        aiohttp.ClientSession(headers=ADMIN_HEADERS) as http,
    ):
        await rest.wait_for(LIMIT)
        calls = ScheduledCalls(server.stack.store)  # type: ignore[arg-type]

        async def one_held_back() -> bool:
            return any(c.due_at > morning.timestamp() for c in await calls.all())

        await wait_until(one_held_back, within_s=10.0)
        direct = await _post(http, server.base, NUMBERS[5])
        states = sorted((c.status, c.detail or "") for c in await calls.all())
    # Three asked for by a credential allowed two an hour: two go out, one waits its hour.
    assert len(rest.creates()) == LIMIT
    assert direct == 429
    assert [s for s, _ in states] == ["placed", "placed", "scheduled"]
    assert "hourly outbound limit" in states[2][1]


async def _open(_: str, __: str | None) -> GateRefusal | None:
    return None


async def test_held_back_calls_go_out_at_the_deployments_pace(store: AnyStore) -> None:
    scheduled = ScheduledCalls(store)
    for index, number in enumerate(NUMBERS[:5]):
        await scheduled.add(number, FROM, None, {}, 100.0 + index)  # in this order
    dialer = CountingDialer()
    # Two workers on the store, one held-back call a minute between them.
    runners = [
        CampaignRunner(
            CampaignStore(store),
            dialer,
            _open,
            lambda: 1000.0,
            worker,
            scheduled=ScheduledCalls(store),
            scheduled_pace_s=60.0,
        )
        for worker in ("w1", "w2")
    ]
    for _ in range(3):
        for runner in runners:
            await runner.tick()
    assert dialer.calls == [NUMBERS[0]]  # the first in line, once, by one of them
    statuses = [c.status for c in sorted(await scheduled.all(), key=lambda c: c.to_number)]
    assert statuses == ["placed"] + ["scheduled"] * 4  # the others wait their turn

    # The turn itself, with the time given: one per pace, whoever asks.
    pace = ScheduledCalls(store)
    start = time.time() + 3600.0  # later than the runners' turn above
    assert await pace.take_dial_turn(60.0, now=start)
    assert not await scheduled.take_dial_turn(60.0, now=start + 59.0)
    assert await scheduled.take_dial_turn(60.0, now=start + 60.0)
    # A turn stamped in the future (the clock was set back) does not block for good.
    assert await pace.take_dial_turn(60.0, now=start - 600.0)


async def test_a_held_back_call_holds_a_slot_only_if_it_goes_out(store: AnyStore) -> None:
    scheduled = ScheduledCalls(store)
    for index, number in enumerate(NUMBERS[:3]):
        await scheduled.add(number, FROM, None, {}, 100.0 + index, TEST_KEY)  # in this order
    # Asked for ten hours ago: each takes a slot of the hour again when it goes out.
    await store.sql_execute("UPDATE scheduled_calls SET created_at = ?", (time.time() - 36000,))
    gate = OutboundGate(SecuritySettings(outbound_per_hour=LIMIT), store)
    refusing = FailingDialer(DialRefused("HTTP 400"))
    runner = CampaignRunner(CampaignStore(store), refusing, _open, lambda: 1000.0, "w1",
                            scheduled=scheduled, scheduled_pace_s=3600.0,
                            held_back_limit=HeldBackLimits(gate))  # fmt: skip
    # The first is refused by the platform (no call); the second finds no turn of the pace.
    await runner.tick()
    assert refusing.calls == [NUMBERS[0]]
    assert await gate.slots.held(TEST_KEY) == 0  # neither holds a slot
    placing = CountingDialer()
    runner = CampaignRunner(CampaignStore(store), placing, _open, lambda: 1000.0, "w1",
                            scheduled=scheduled, scheduled_pace_s=0.0,
                            held_back_limit=HeldBackLimits(gate))  # fmt: skip
    await runner.tick()
    assert placing.calls == NUMBERS[1:3]  # both go out, each on a slot of its own
    assert await gate.slots.held(TEST_KEY) == LIMIT
    assert await gate.slots.take(TEST_KEY, LIMIT) is None  # nothing more this hour
    states = sorted((c.to_number, c.status) for c in await scheduled.all())
    assert [status for _, status in states] == ["failed", "placed", "placed"]
