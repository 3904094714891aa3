"""Pages carry CSP, X-Frame-Options, nosniff and Referrer-Policy; JSON bodies get clear 400s."""

from __future__ import annotations

import aiohttp
import pytest

from tests.conftest import ADMIN_HEADERS
from tests.security.conftest import Server

PAGES = ["/signin", "/dashboard", "/talk", "/console", "/dashboard/audit", "/static/style.css"]


@pytest.mark.parametrize("path", PAGES)
async def test_pages_carry_the_security_headers(server: Server, path: str) -> None:
    async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:
        async with http.get(server.base + path) as response:
            assert response.status == 200
            headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self';" in csp  # no inline scripts, no eval
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    # Pages hold personal data: no browser or cache keeps them (static files may be kept).
    assert headers.get("Cache-Control") == (None if path.startswith("/static/") else "no-store")


async def test_api_answers_are_never_stored(server: Server) -> None:
    async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:
        for path in ("/v1/calls", "/v1/kpis", "/v1/audit"):
            async with http.get(server.base + path) as response:
                assert response.status == 200, path
                assert response.headers["Cache-Control"] == "no-store", path
                assert "Strict-Transport-Security" not in response.headers  # plain http here


async def test_errors_carry_them_too(server: Server) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{server.base}/v1/calls") as response:
        assert response.status == 401
        assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "body", [b"", b"{", b"[]", b'"text"', b"42", b"null", b'{"name": 1, "password": 2}', b"\xff"]
)
async def test_sign_in_bodies_are_validated(server: Server, body: bytes) -> None:
    async with aiohttp.ClientSession() as http:
        headers = {"Content-Type": "application/json"}
        async with http.post(f"{server.base}/v1/auth/signin", data=body, headers=headers) as r:
            assert r.status == 400
            answer = await r.json()
    assert answer["error"] == "bad_request" and answer["message"]


async def test_an_overlong_name_is_refused(server: Server) -> None:
    async with aiohttp.ClientSession() as http:
        body = {"name": "x" * 61, "password": "p"}
        async with http.post(f"{server.base}/v1/auth/signin", json=body) as response:
            assert response.status == 400
