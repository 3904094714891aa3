"""Every operator route needs a credential; /healthz and the platforms' routes do not."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from yarl import URL

from callwright.server.auth import new_api_key
from callwright.store.base import CallRecord
from tests.conftest import ADMIN_HEADERS
from tests.security.conftest import Server

API_ROUTES = [
    ("GET", "/v1/calls"),
    ("GET", "/v1/calls/c-auth"),
    ("GET", "/v1/calls/c-auth/recording.wav"),
    ("GET", "/v1/kpis"),
    ("GET", "/metrics"),
    ("GET", "/v1/audit"),
    ("POST", "/v1/calls/outbound"),
    ("GET", "/v1/console/me"),
    ("GET", "/v1/auth/me"),
    ("GET", "/v1/no-such-route"),
]
PAGES = ["/dashboard", "/dashboard/calls/c-auth", "/talk", "/console", "/dashboard/audit"]


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
async def test_api_routes_refuse_anonymous_requests(server: Server, method: str, path: str) -> None:
    await server.stack.store.start_call(CallRecord("c-auth", "websocket", "+15550100", time.time()))
    async with aiohttp.ClientSession() as http:
        async with http.request(method, server.base + path, json={}) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert (await response.json())["error"] == "unauthorized"
        # A made-up bearer token, or a key-shaped one that was never issued, is no better.
        for token in ("nonsense", "cwk_0123456789abcdef_" + "x" * 43):
            headers = {"Authorization": f"Bearer {token}"}
            async with http.request(method, server.base + path, headers=headers) as response:
                assert response.status == 401


@pytest.mark.parametrize("path", PAGES)
async def test_pages_send_anonymous_visitors_to_sign_in(server: Server, path: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(server.base + path, allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"].startswith("/signin?next=")
        async with http.get(server.base + path) as followed:
            assert followed.status == 200
            assert 'id="password"' in await followed.text()


async def test_native_websocket_needs_a_credential(server: Server) -> None:
    ws_url = server.base.replace("http://", "ws://") + "/v1/ws"
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(ws_url)
        assert refused.value.status == 401
        async with http.ws_connect(ws_url, headers=ADMIN_HEADERS) as ws:
            assert not ws.closed  # accepted: now it waits for the start message


async def test_console_socket_needs_a_credential(server: Server) -> None:
    ws_url = server.base.replace("http://", "ws://") + "/v1/console/ws"
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(ws_url)
        assert refused.value.status == 401


async def test_health_stays_open(server: Server) -> None:
    async with aiohttp.ClientSession() as http, http.get(server.base + "/healthz") as response:
        assert response.status == 200


async def test_platform_routes_never_accept_operator_credentials(server: Server) -> None:
    """A webhook or media stream with an admin's key and no platform signature is refused."""
    async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:
        form = {"CallSid": "CA" + "0" * 32, "From": "+15550100"}
        twilio = ("incoming", "status", "after-stream", "dial-done", "callback-answer")
        for path in [*(f"/v1/twilio/{hook}" for hook in twilio), "/v1/telnyx/incoming"]:
            async with http.post(server.base + path, data=form) as response:
                assert response.status == 403, path
        ws_url = server.base.replace("http://", "ws://") + "/v1/twilio/stream/made-up-token"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(ws_url)
        assert refused.value.status == 403


@pytest.mark.parametrize(
    "path", ["/v1/twilio/../calls", "/static/%2e%2e/v1/calls", "/v1/telnyx/..%2f..%2fv1/calls"]
)
async def test_an_open_prefix_with_dot_segments_is_not_open(server: Server, path: str) -> None:
    """Sent raw (clients normalise dot segments away), without a credential: refused (401, or
    the sign-in page for what looks like a page)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nConnection: close\r\n\r\n"
    writer.write(request.encode())
    await writer.drain()
    status_line = (await reader.readline()).decode()
    writer.close()
    assert status_line.split()[1] in ("401", "303"), status_line


async def test_a_recording_path_with_an_encoded_slash_still_needs_a_supervisor(
    server: Server,
) -> None:
    # The router reads "a%2Fb" as one call id; the role must not be read from "a/b" (two
    # segments, which no longer look like a recording and would need only a viewer).
    secret, key = new_api_key("viewer", "a viewer")
    await server.access.add_key(key)
    headers = {"Authorization": f"Bearer {secret}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for call_id in ("abc", "a%2Fb"):
            url = URL(f"{server.base}/v1/calls/{call_id}/recording.wav", encoded=True)
            async with http.get(url) as response:
                assert response.status == 403, call_id
