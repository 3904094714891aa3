"""SIGTERM drains a real worker: no new calls, live calls finish or end with "server_shutdown".

Three callers are on the line when the worker gets SIGTERM. From then on `/readyz` answers 503
while `/livez` stays 200, and a new call is refused with close code 1013 (and recorded). One
caller hangs up during the drain: its call ends as the caller ended it. The two others are
still there at the deadline: the agent tells them it must end the call, and they are recorded
"server_shutdown", never "caller_hung_up". The worker then exits by itself with status 0, and
the store was closed (SQLite removes its write-ahead log when the last connection closes).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from aiohttp import web

from callwright.agent.limits import CallLimits
from callwright.agent.stack import AgentStack
from callwright.server.app import create_app
from callwright.store.sqlite import SqliteCallStore
from callwright.telephony.settings import TelephonySettings
from tests.conftest import finished_call, provision_operators
from tests.fakes.twilio_rest import AUTH_TOKEN
from tests.security.worker_process import (
    SilentCaller,
    free_port,
    refused_call,
    serve_worker,
    terminate,
)
from tests.test_twilio_bad_input import finished, open_stream

DRAIN_S = 8.0


async def test_sigterm_drains_live_calls_and_closes_the_store(tmp_path: Path) -> None:
    port = free_port()
    base, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/v1/ws"
    env = {"CALLWRIGHT_DRAIN_SECONDS": str(DRAIN_S)}
    async with serve_worker(tmp_path, port, tmp_path / "worker.log", env) as process:
        callers = [SilentCaller(ws_url) for _ in range(3)]
        running = [asyncio.create_task(c.run()) for c in callers]
        for caller in callers:
            await asyncio.wait_for(caller.started.wait(), 30)
        await asyncio.sleep(1.0)
        terminate(process)
        await asyncio.sleep(0.5)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/readyz") as r:
                ready_status, ready = r.status, await r.json()
            async with http.get(f"{base}/livez") as r:
                live_status = r.status
        refused_code, refused_events = await refused_call(ws_url)
        callers[0].hang_up.set()  # this caller finishes on their own during the drain
        await asyncio.wait_for(asyncio.gather(*running), DRAIN_S + 30)
        exit_code = await asyncio.wait_for(process.wait(), 30)

    assert ready_status == 503 and ready["draining"] is True and ready["live_calls"] == 3
    assert live_status == 200
    assert refused_code == 1013
    assert [e.get("code") for e in refused_events] == ["server_draining"]
    assert exit_code == 0
    for caller in callers[1:]:
        assert CallLimits().shutdown_line in caller.agent_text(), caller.events[-5:]
        assert caller.events[-1]["type"] == "end"

    assert not (tmp_path / "calls.sqlite3-wal").exists(), "the store was not closed"
    store = await SqliteCallStore.open(tmp_path / "calls.sqlite3")
    try:
        outcomes = []
        for caller in callers:
            assert caller.call_id is not None
            detail = await store.get_call(caller.call_id)
            assert detail is not None and detail.record.status == "ended"
            outcomes.append(detail.record.outcome)
        rejected = [c for c in await store.list_calls(20) if c.outcome == "rejected"]
    finally:
        await store.close()
    assert outcomes == ["caller_ended", "server_shutdown", "server_shutdown"]
    assert len(rejected) == 1 and (rejected[0].end_reason or "").startswith("server_draining")


async def test_shutdown_without_drain_records_server_shutdown(stack: AgentStack) -> None:
    """Stopping a server (SIGINT, or an embedding app's cleanup) never says the caller hung up."""
    await provision_operators(stack.store)
    app = create_app(stack, TelephonySettings(twilio_auth_token=AUTH_TOKEN))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    caller = SilentCaller(f"ws://127.0.0.1:{port}/v1/ws")
    running = asyncio.create_task(caller.run())
    async with aiohttp.ClientSession() as http:
        phone = await open_stream(http, base)
        for _ in range(10):
            await phone.send(phone.media())
            await asyncio.sleep(0.02)
        await asyncio.wait_for(caller.started.wait(), 30)
        await asyncio.sleep(0.5)
        await runner.cleanup()
        await asyncio.wait_for(running, 30)
        phone_call = await finished(stack, phone.call_sid)
        await phone.ws.close()
    assert caller.call_id is not None
    web_call = await finished_call(stack, caller.call_id)
    assert web_call.record.outcome == "server_shutdown"
    assert phone_call.record.outcome == "server_shutdown"
