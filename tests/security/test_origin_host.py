"""Host and Origin allow-lists on every route (DNS rebinding, cross-site WebSockets), and
`X-Forwarded-*` believed only from configured proxies."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from callwright.agent.stack import AgentStack
from callwright.config import SecuritySettings
from callwright.server.guard import Guard
from callwright.sim.twilio_caller import parse_stream_twiml
from callwright.telephony.settings import TelephonySettings
from tests.conftest import ADMIN_HEADERS
from tests.security.conftest import Server, secure_server

AUTH_TOKEN = "origin-test-auth-token-0123456789"


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8765", "127.0.0.1:1"])
async def test_a_foreign_host_gets_421(server: Server, host: str) -> None:
    async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:
        for path in ("/v1/calls", "/healthz", "/dashboard"):
            async with http.get(server.base + path, headers={"Host": host}) as response:
                assert response.status == 421, path


async def test_local_names_on_the_listening_port_are_allowed(server: Server) -> None:
    async with aiohttp.ClientSession() as http:
        for name in ("localhost", "127.0.0.1", "[::1]"):
            headers = {"Host": f"{name}:{server.port}"}
            async with http.get(f"{server.base}/healthz", headers=headers) as response:
                assert response.status == 200, name


async def test_configured_hosts_and_the_public_host_are_allowed(
    stack: AgentStack, tmp_path: Path
) -> None:
    security = SecuritySettings(allowed_hosts=("calls.internal",))
    telephony = TelephonySettings(public_base_url="https://voice.example.org")
    async with secure_server(stack, tmp_path, security, telephony) as server:
        async with aiohttp.ClientSession() as http:
            for host in ("calls.internal", "voice.example.org"):
                async with http.get(f"{server.base}/healthz", headers={"Host": host}) as r:
                    assert r.status == 200, host


async def test_cross_origin_websockets_are_refused(server: Server) -> None:
    ws_url = server.base.replace("http://", "ws://")
    async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:
        for path in ("/v1/ws", "/v1/console/ws", "/v1/twilio/stream/some-token"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(ws_url + path, origin="https://attacker.example")
            assert refused.value.status == 403, path
        # The page's own origin is fine.
        async with http.ws_connect(ws_url + "/v1/ws", origin=server.base) as ws:
            assert not ws.closed


async def test_cross_origin_posts_are_refused(server: Server) -> None:
    async with aiohttp.ClientSession() as http:
        body = {"name": "Dana", "password": "whatever-it-is"}
        headers = {"Origin": "https://attacker.example"}
        async with http.post(f"{server.base}/v1/auth/signin", json=body, headers=headers) as r:
            assert r.status == 403
            assert (await r.json())["error"] == "forbidden_origin"


async def test_media_streams_may_come_without_an_origin(stack: AgentStack, tmp_path: Path) -> None:
    """The platforms send no Origin: a stream with a good token and no Origin is accepted."""
    telephony = TelephonySettings(twilio_auth_token=AUTH_TOKEN)
    async with secure_server(stack, tmp_path, telephony=telephony) as server:
        _, twiml = await _incoming(server.base, f"{server.base}/v1/twilio/incoming", {})
        stream_url, _ = parse_stream_twiml(twiml)
        async with aiohttp.ClientSession() as http, http.ws_connect(stream_url) as ws:
            assert not ws.closed


async def _incoming(base: str, signed_url: str, headers: dict[str, str]) -> tuple[int, str]:
    params = {"CallSid": "CA" + "5" * 32, "From": "+15550100", "To": "+15550199"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(signed_url, params)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{base}/v1/twilio/incoming",
            data=params,
            headers={**headers, "X-Twilio-Signature": signature},
        ) as response:
            return response.status, await response.text()


async def test_forwarded_headers_only_from_trusted_proxies(
    stack: AgentStack, tmp_path: Path
) -> None:
    telephony = TelephonySettings(twilio_auth_token=AUTH_TOKEN)
    forged = {"X-Forwarded-Host": "attacker.example", "X-Forwarded-Proto": "https"}
    async with secure_server(stack, tmp_path, telephony=telephony) as server:
        # Not from a trusted proxy: the forged host is ignored, our own address is used.
        status, twiml = await _incoming(server.base, f"{server.base}/v1/twilio/incoming", forged)
        assert status == 200
        stream_url, _ = parse_stream_twiml(twiml)
        assert stream_url.startswith(f"ws://127.0.0.1:{server.port}/v1/twilio/stream/")
        assert "attacker.example" not in twiml
    proxied = SecuritySettings(trusted_proxies=("127.0.0.0/8",))
    async with secure_server(stack, tmp_path / "p", proxied, telephony) as server:
        via = {"X-Forwarded-Host": "voice.example.org", "X-Forwarded-Proto": "https"}
        status, twiml = await _incoming(
            server.base, "https://voice.example.org/v1/twilio/incoming", via
        )
        assert status == 200
        stream_url, _ = parse_stream_twiml(twiml)
        assert stream_url.startswith("wss://voice.example.org/v1/twilio/stream/")


def test_the_address_a_connection_arrived_on_is_a_host() -> None:
    """Served on a LAN address, that literal address works; a DNS name still needs listing."""
    guard = Guard(SecuritySettings())
    assert guard.host_ok("192.168.1.5:8765", 8765, "192.168.1.5")
    assert guard.origin_ok("http://192.168.1.5:8765", 8765, "192.168.1.5")
    assert not guard.host_ok("192.168.1.6:8765", 8765, "192.168.1.5")
    assert not guard.host_ok("rebound.example:8765", 8765, "192.168.1.5")
    assert guard.host_ok("[fe80::1]:8765", 8765, "fe80::1")
    assert not guard.origin_ok("null", 8765, "192.168.1.5")


def test_over_https_only_the_https_origin_is_this_servers() -> None:
    guard = Guard(SecuritySettings(), "https://voice.example.com")
    assert guard.origin_ok("https://voice.example.com", 8080, https=True)
    # A page on plain http with the same name is whoever answers on the network path.
    assert not guard.origin_ok("http://voice.example.com", 8080, https=True)
    assert guard.origin_ok("http://voice.example.com", 8080, https=False)
