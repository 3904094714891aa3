"""Signing in: argon2 hashes, server-side sessions revoked by sign-out, cookie flags, login
rate limiting, and no shared console token any more."""

from __future__ import annotations

import dataclasses
from http.cookies import SimpleCookie
from pathlib import Path

import aiohttp

from callwright.agent.stack import AgentStack
from callwright.config import SecuritySettings
from tests.conftest import OPERATOR_PASSWORD
from tests.security.conftest import Server, secure_server


def _jar() -> aiohttp.CookieJar:
    return aiohttp.CookieJar(unsafe=True)  # the test server is an IP address


async def _sign_in(
    http: aiohttp.ClientSession, base: str, name: str, password: str, **headers: str
) -> aiohttp.ClientResponse:
    body = {"name": name, "password": password}
    async with http.post(f"{base}/v1/auth/signin", json=body, headers=headers) as response:
        await response.read()
        return response


def _session_cookie(response: aiohttp.ClientResponse) -> SimpleCookie:
    cookie: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie"):
        cookie.load(header)
    return cookie


async def test_passwords_are_stored_as_argon2id_hashes(server: Server) -> None:
    user = await server.access.get_user("Dana")
    assert user is not None
    assert user.password_hash.startswith("$argon2id$")
    assert OPERATOR_PASSWORD not in user.password_hash


async def test_sign_in_sets_a_strict_http_only_cookie_and_sign_out_revokes_it(
    server: Server,
) -> None:
    async with aiohttp.ClientSession(cookie_jar=_jar()) as http:
        response = await _sign_in(http, server.base, "Vic", OPERATOR_PASSWORD)
        assert response.status == 200
        morsel = _session_cookie(response)["cw_session"]
        assert morsel["httponly"] and morsel["samesite"] == "Strict"
        assert not morsel["secure"]  # plain http on loopback, not configured
        token = morsel.value
        async with http.get(f"{server.base}/v1/auth/me") as me:
            assert (await me.json()) == {"name": "Vic", "role": "viewer", "kind": "user"}
        async with http.post(f"{server.base}/v1/auth/signout") as out:
            assert out.status == 200
    # The old cookie, replayed by someone who copied it, is revoked on the server.
    async with aiohttp.ClientSession(cookies={"cw_session": token}) as thief:
        async with thief.get(f"{server.base}/v1/calls") as response:
            assert response.status == 401


async def test_the_cookie_is_secure_behind_tls(stack: AgentStack, tmp_path: Path) -> None:
    proxied = SecuritySettings(trusted_proxies=("127.0.0.1",))
    async with secure_server(stack, tmp_path, proxied) as server:
        async with aiohttp.ClientSession(cookie_jar=_jar()) as http:
            https = {"X-Forwarded-Proto": "https"}
            response = await _sign_in(http, server.base, "Vic", OPERATOR_PASSWORD, **https)
            assert _session_cookie(response)["cw_session"]["secure"]
    forced = SecuritySettings(cookie_secure=True)
    async with secure_server(stack, tmp_path / "forced", forced) as server:
        async with aiohttp.ClientSession(cookie_jar=_jar()) as http:
            response = await _sign_in(http, server.base, "Vic", OPERATOR_PASSWORD)
            assert _session_cookie(response)["cw_session"]["secure"]


async def test_an_untrusted_forwarded_proto_does_not_count(server: Server) -> None:
    async with aiohttp.ClientSession(cookie_jar=_jar()) as http:
        https = {"X-Forwarded-Proto": "https"}
        response = await _sign_in(http, server.base, "Vic", OPERATOR_PASSWORD, **https)
        assert not _session_cookie(response)["cw_session"]["secure"]


async def test_failed_sign_ins_are_limited_per_user_name(stack: AgentStack, tmp_path: Path) -> None:
    settings = SecuritySettings(login_failures_per_name=3, login_failures_per_address=100)
    async with secure_server(stack, tmp_path, settings) as server:
        async with aiohttp.ClientSession() as http:
            for _ in range(3):
                assert (await _sign_in(http, server.base, "Dana", "guess")).status == 401
            # Even the right password is refused now, without being checked.
            refused = await _sign_in(http, server.base, "Dana", OPERATOR_PASSWORD)
            assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0
            # Another user from the same address is not locked out by Dana's failures.
            assert (await _sign_in(http, server.base, "Sam", OPERATOR_PASSWORD)).status == 200


async def test_failed_sign_ins_are_limited_per_address(stack: AgentStack, tmp_path: Path) -> None:
    settings = SecuritySettings(login_failures_per_name=100, login_failures_per_address=4)
    async with secure_server(stack, tmp_path, settings) as server:
        async with aiohttp.ClientSession() as http:
            for name in ("a1", "a2", "a3", "a4"):  # spraying names from one address
                assert (await _sign_in(http, server.base, name, "guess")).status == 401
            assert (await _sign_in(http, server.base, "Sam", OPERATOR_PASSWORD)).status == 429


async def test_the_shared_console_token_is_not_accepted(stack: AgentStack, tmp_path: Path) -> None:
    """The old console sign-in (a name plus a shared token) is gone."""
    async with secure_server(stack, tmp_path) as server:
        async with aiohttp.ClientSession(cookie_jar=_jar()) as http:
            body = {"name": "Mallory", "token": "anything"}
            async with http.post(f"{server.base}/v1/console/signin", json=body) as response:
                assert response.status in (401, 404, 405)
                assert "cw_session" not in response.cookies
            async with http.get(f"{server.base}/v1/console/me") as me:
                assert me.status == 401


async def test_the_console_needs_the_supervisor_role(server: Server) -> None:
    async with aiohttp.ClientSession(cookie_jar=_jar()) as http:
        assert (await _sign_in(http, server.base, "Vic", OPERATOR_PASSWORD)).status == 200
        async with http.get(f"{server.base}/v1/console/me") as response:
            assert response.status == 403
    async with aiohttp.ClientSession(cookie_jar=_jar()) as http:
        assert (await _sign_in(http, server.base, "Dana", OPERATOR_PASSWORD)).status == 200
        async with http.get(f"{server.base}/v1/console/me") as response:
            assert response.status == 200 and (await response.json())["name"] == "Dana"


async def test_a_removed_user_loses_their_sessions(server: Server) -> None:
    async with aiohttp.ClientSession(cookie_jar=_jar()) as http:
        assert (await _sign_in(http, server.base, "Sam", OPERATOR_PASSWORD)).status == 200
        assert await server.access.remove_user("Sam")
        async with http.get(f"{server.base}/v1/calls") as response:
            assert response.status == 401


def test_secure_settings_read_from_the_environment() -> None:
    env = {
        "CALLWRIGHT_COOKIE_SECURE": "1",
        "CALLWRIGHT_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1",
        "CALLWRIGHT_METRICS_TOKEN": "scrape",
    }
    settings = SecuritySettings.from_env(env)
    expected = dataclasses.replace(
        SecuritySettings(),
        cookie_secure=True,
        trusted_proxies=("10.0.0.0/8", "127.0.0.1"),
        metrics_token="scrape",
    )
    assert settings == expected


async def test_the_limits_hold_across_workers(stack: AgentStack, tmp_path: Path) -> None:
    """Two workers on one database: failures on one count on the other."""
    settings = SecuritySettings(login_failures_per_name=2, login_failures_per_address=100)
    async with (
        secure_server(stack, tmp_path, settings) as one,
        secure_server(stack, tmp_path, settings) as two,
        aiohttp.ClientSession() as http,
    ):
        assert (await _sign_in(http, one.base, "Dana", "guess")).status == 401
        assert (await _sign_in(http, two.base, "Dana", "guess")).status == 401
        assert (await _sign_in(http, one.base, "Dana", OPERATOR_PASSWORD)).status == 429
        assert (await _sign_in(http, two.base, "Dana", OPERATOR_PASSWORD)).status == 429


async def test_a_body_nested_past_the_parsers_limit_is_a_bad_request(server: Server) -> None:
    """Sign-in is open to anyone: JSON nested deeper than Python recurses is a 400 that says
    what was wrong, not a 500 and a traceback."""
    async with aiohttp.ClientSession() as http:
        body = "[" * 100_000
        headers = {"Content-Type": "application/json"}
        async with http.post(f"{server.base}/v1/auth/signin", data=body, headers=headers) as r:
            assert r.status == 400
            assert (await r.json())["error"] == "bad_request"
