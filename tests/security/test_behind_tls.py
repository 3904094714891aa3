"""Behind TLS: the shipped nginx configuration in front of a worker, WebSocket calls included.

Debian's nginx runs without root privileges of its own (a `-p` prefix, pid file, logs and
temporary files in a temp dir) with `deploy/nginx/callwright.conf`, only its EDIT lines
changed: a free port, a self-signed certificate made here with openssl, the worker's port. A
call's WebSocket (wss://) and HTTP routes go through it, with the forwarded headers set by
nginx (not by the client).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from callwright.agent.stack import AgentStack
from callwright.config import SecuritySettings
from callwright.server.app import create_app
from callwright.telephony.settings import TelephonySettings
from tests.conftest import ADMIN_HEADERS, finished_call, provision_operators
from tests.security.worker_process import SILENCE_20MS, free_port

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "deploy" / "nginx" / "callwright.conf"


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} should appear once in {CONFIG.name}"
    return text.replace(old, new)


def site_config(tls_port: int, plain_port: int, upstream_port: int, certs: Path) -> str:
    """The shipped site configuration with its EDIT lines set for this test."""
    text = CONFIG.read_text()
    text = _replace_once(text, "listen 443 ssl;", f"listen 127.0.0.1:{tls_port} ssl;")
    text = _replace_once(text, "listen 80;", f"listen 127.0.0.1:{plain_port};")
    text = _replace_once(text, "server 127.0.0.1:8765;", f"server 127.0.0.1:{upstream_port};")
    text = _replace_once(text, "/etc/ssl/certs/callwright.pem", str(certs / "cert.pem"))
    return _replace_once(text, "/etc/ssl/private/callwright.key", str(certs / "key.pem"))


def main_config(prefix: Path, site: Path) -> str:
    """A minimal nginx.conf keeping everything in `prefix` (no system paths, no daemon)."""
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {name}_temp_path {prefix / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}worker_processes 1;
daemon off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 64; }}
http {{
    access_log {prefix / "access.log"};
{temp}
    include {site};
}}
"""


@contextlib.contextmanager
def nginx(prefix: Path, site_text: str) -> Iterator[subprocess.Popen[bytes]]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(binary).exists(), "nginx is missing: ./run.sh setup installs it"
    site = prefix / "callwright.conf"
    site.write_text(site_text)
    conf = prefix / "nginx.conf"
    conf.write_text(main_config(prefix, site))
    check = subprocess.run([binary, "-t", "-p", str(prefix), "-c", str(conf)],
                           capture_output=True, text=True, timeout=30)  # fmt: skip
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen([binary, "-p", str(prefix), "-c", str(conf)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def self_signed(certs: Path) -> None:
    certs.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(certs / "key.pem"), "-out", str(certs / "cert.pem"),
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


@contextlib.asynccontextmanager
async def worker(stack: AgentStack) -> AsyncIterator[int]:
    """The server on a free port, plus a route showing what the proxy forwarded."""
    await provision_operators(stack.store)
    # As docs/security.md says to deploy it: the public https address, nginx a trusted proxy.
    app = create_app(
        stack,
        TelephonySettings(public_base_url="https://localhost"),
        security=SecuritySettings(trusted_proxies=("127.0.0.1",)),
    )

    async def forwarded(request: web.Request) -> web.Response:
        names = ("Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host")
        return web.json_response({n: request.headers.get(n) for n in names})

    app.router.add_get("/test/forwarded", forwarded)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield port
    finally:
        await runner.cleanup()


@pytest.fixture
def client_tls(tmp_path: Path) -> ssl.SSLContext:
    self_signed(tmp_path / "certs")
    return ssl.create_default_context(cafile=str(tmp_path / "certs" / "cert.pem"))


async def test_calls_and_routes_through_nginx_tls(
    stack: AgentStack, tmp_path: Path, client_tls: ssl.SSLContext
) -> None:
    tls_port, plain_port = free_port(), free_port()
    async with worker(stack) as upstream:
        site = site_config(tls_port, plain_port, upstream, tmp_path / "certs")
        with nginx(tmp_path, site):
            base = f"https://localhost:{tls_port}"
            async with aiohttp.ClientSession() as http:
                for _ in range(100):  # until nginx listens
                    with contextlib.suppress(aiohttp.ClientConnectionError):
                        async with http.get(f"{base}/livez", ssl=client_tls) as r:
                            live = r.status
                            break
                    await asyncio.sleep(0.1)
                headers = {
                    "X-Forwarded-For": "6.6.6.6",
                    "X-Forwarded-Proto": "gopher",
                    **ADMIN_HEADERS,
                }
                async with http.get(f"{base}/test/forwarded", ssl=client_tls, headers=headers) as r:
                    seen = await r.json()
                async with http.get(
                    f"http://127.0.0.1:{plain_port}/livez", allow_redirects=False
                ) as r:
                    redirect = (r.status, r.headers.get("Location"))
                events = []
                url = f"wss://localhost:{tls_port}/v1/ws"
                async with http.ws_connect(url, ssl=client_tls, headers=ADMIN_HEADERS) as ws:
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
    assert live == 200
    assert seen == {
        "Host": "localhost",
        "X-Forwarded-For": "127.0.0.1",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "localhost",
    }
    assert redirect == (301, "https://127.0.0.1/livez")
    kinds = [e["type"] for e in events]
    assert kinds[0] == "started" and "agent_text" in kinds and kinds[-1] == "end"
    detail = await finished_call(stack, events[0]["call_id"])
    assert detail.record.outcome == "caller_ended"
    assert [u.role for u in detail.utterances][:1] == ["agent"]
