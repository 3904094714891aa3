"""The compose balancer: Debian's HAProxy with `deploy/haproxy/haproxy.cfg` in front of two
workers.

Only the lines that depend on Docker change: the listening address, and the replicas found by
Docker's DNS (`server-template ... worker:8765`) become two workers on two loopback addresses
sharing one free port (so the health check's `Host: localhost:<port>` suits both, as it suits
every replica in compose). The test checks what the configuration promises: requests spread
over ready workers, `X-Forwarded-For` set by the balancer (never the client's), a worker whose
`/readyz` fails (draining) gets no new requests, and a WebSocket call goes through.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
from aiohttp import web

from callwright.agent.stack import AgentStack
from callwright.config import SecuritySettings
from callwright.server.admission import ADMISSION
from callwright.server.app import create_app
from callwright.store.sqlite import SqliteCallStore
from callwright.telephony.settings import TelephonySettings
from tests.conftest import ADMIN_HEADERS, finished_call, provision_operators
from tests.security.worker_process import SILENCE_20MS, free_port

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "deploy" / "haproxy" / "haproxy.cfg"
WORKER_ADDRESSES = {"a": "127.0.0.2", "b": "127.0.0.3"}


def balancer_config(listen_port: int, worker_port: int) -> str:
    """The shipped configuration with its Docker-specific lines set for this test."""
    text = CONFIG.read_text()
    servers = "\n".join(
        f"    server {name} {address}:{worker_port}" for name, address in WORKER_ADDRESSES.items()
    )
    text, n = re.subn(r"^\s*server-template \S+ \S+ worker:8765 .*$", servers, text, flags=re.M)
    assert n == 1, "one server-template line for the worker replicas"
    text, n = re.subn(r"^(\s*bind) :8080$", rf"\1 127.0.0.1:{listen_port}", text, flags=re.M)
    assert n == 1
    assert text.count("hdr Host localhost:8765") == 1
    return text.replace("hdr Host localhost:8765", f"hdr Host localhost:{worker_port}")


@contextlib.contextmanager
def haproxy(workdir: Path, config_text: str) -> Iterator[subprocess.Popen[bytes]]:
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    assert Path(binary).exists(), "haproxy is missing: ./run.sh setup installs it"
    config = workdir / "haproxy.cfg"
    config.write_text(config_text)
    check = subprocess.run([binary, "-c", "-f", str(config)], capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    log = (workdir / "haproxy.log").open("wb")
    process = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=log, stderr=log)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@dataclasses.dataclass(slots=True)
class Worker:
    name: str
    app: web.Application
    stack: AgentStack


@contextlib.asynccontextmanager
async def worker(
    name: str, stack: AgentStack, port: int, public_port: int, data_dir: Path
) -> AsyncIterator[Worker]:
    """A server with its own store, configured as compose configures a worker."""
    store = await SqliteCallStore.open(data_dir / "calls.sqlite3")
    own = dataclasses.replace(stack, store=store)
    await provision_operators(store)
    app = create_app(
        own,
        TelephonySettings(public_base_url=f"http://127.0.0.1:{public_port}"),
        security=SecuritySettings(trusted_proxies=("127.0.0.1",)),
    )

    async def who(request: web.Request) -> web.Response:
        return web.json_response(
            {"worker": name, "forwarded_for": request.headers.get("X-Forwarded-For")}
        )

    app.router.add_get("/test/who", who)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, WORKER_ADDRESSES[name], port).start()
    try:
        yield Worker(name, app, own)
    finally:
        await runner.cleanup()
        await store.close()


async def who_answers(base: str, count: int) -> list[str]:
    """Which worker served each of `count` requests, each on a new connection."""
    names = []
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector, headers=ADMIN_HEADERS) as http:
        for _ in range(count):
            async with http.get(f"{base}/test/who") as response:
                assert response.status == 200, await response.text()
                names.append((await response.json())["worker"])
    return names


async def test_haproxy_balances_checks_readyz_and_passes_websocket_calls(
    stack: AgentStack, tmp_path: Path
) -> None:
    listen, port = free_port(), free_port()
    base = f"http://127.0.0.1:{listen}"
    async with (
        worker("a", stack, port, listen, tmp_path / "a") as a,
        worker("b", stack, port, listen, tmp_path / "b") as b,
    ):
        with haproxy(tmp_path, balancer_config(listen, port)):
            async with aiohttp.ClientSession() as http:
                ready = None
                for _ in range(100):  # until HAProxy listens and sees a ready worker
                    with contextlib.suppress(aiohttp.ClientConnectionError):
                        async with http.get(f"{base}/readyz") as r:
                            ready = r.status
                            if ready == 200:
                                break
                    await asyncio.sleep(0.1)
                assert ready == 200
                spoofed = {"X-Forwarded-For": "6.6.6.6", **ADMIN_HEADERS}
                async with http.get(f"{base}/test/who", headers=spoofed) as r:
                    forwarded = (await r.json())["forwarded_for"]
            assert forwarded == "127.0.0.1"
            assert set(await who_answers(base, 8)) == {"a", "b"}

            # Worker a drains: its /readyz says 503, and the balancer's checks take it out.
            a.app[ADMISSION].draining = True
            recent: list[str] = []
            for _ in range(60):
                recent = (recent + await who_answers(base, 1))[-6:]
                if recent == ["b"] * 6:
                    break
                await asyncio.sleep(0.25)
            assert recent == ["b"] * 6, recent
            assert await who_answers(base, 10) == ["b"] * 10

            # A call's WebSocket goes through the balancer to the ready worker.
            events = []
            async with (
                aiohttp.ClientSession(headers=ADMIN_HEADERS) as http,
                http.ws_connect(f"ws://127.0.0.1:{listen}/v1/ws") as ws,
            ):
                await ws.send_str(json.dumps({"type": "start", "sample_rate": 16000}))
                async with asyncio.timeout(60):
                    async for msg in ws:
                        if msg.type == aiohttp.WSMsgType.BINARY:
                            continue  # the agent's audio
                        if msg.type != aiohttp.WSMsgType.TEXT:
                            break
                        events.append(json.loads(msg.data))
                        if events[-1]["type"] == "agent_turn_end":
                            await ws.send_str(json.dumps({"type": "end"}))
                        elif events[-1]["type"] == "started":
                            for _ in range(25):
                                await ws.send_bytes(SILENCE_20MS)
        kinds = [e["type"] for e in events]
        assert kinds[0] == "started" and "agent_text" in kinds and kinds[-1] == "end", kinds
        # The call was on b (a's store never saw it), and b recorded it whole.
        detail = await finished_call(b.stack, events[0]["call_id"])
        assert detail.record.outcome == "caller_ended"
        assert await a.stack.store.get_call(events[0]["call_id"]) is None


async def test_haproxy_sends_a_dead_workers_requests_to_another_worker(
    stack: AgentStack, tmp_path: Path
) -> None:
    # A worker is killed: until its health checks fail, the balancer still picks it. Those
    # requests (a webhook, a stream's upgrade) must reach a live worker, not fail.
    listen, port = free_port(), free_port()
    base = f"http://127.0.0.1:{listen}"
    async with contextlib.AsyncExitStack() as workers:
        await workers.enter_async_context(worker("b", stack, port, listen, tmp_path / "b"))
        dying = contextlib.AsyncExitStack()
        await dying.enter_async_context(worker("a", stack, port, listen, tmp_path / "a"))
        with haproxy(tmp_path, balancer_config(listen, port)):
            seen: list[str] = []
            for _ in range(100):  # until HAProxy listens and both workers passed their checks
                with contextlib.suppress(aiohttp.ClientError, AssertionError):
                    seen = (seen + await who_answers(base, 1))[-4:]
                    if set(seen) == {"a", "b"}:
                        break
                await asyncio.sleep(0.1)
            assert set(seen) == {"a", "b"}
            await dying.aclose()  # a is gone; the balancer has not noticed yet
            assert await who_answers(base, 6) == ["b"] * 6
