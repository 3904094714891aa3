"""Sign-in limits against a stranger who sends many attempts at once, from many addresses:
counted before the password is checked, locked out per address rather than per account, IPv6
counted per /64, the checks on a pool of their own, and refusals audited once."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from callwright.agent.stack import AgentStack
from callwright.config import SecuritySettings
from callwright.server.login_limits import ChecksBusy, PasswordChecks, address_key
from tests.conftest import OPERATOR_PASSWORD
from tests.security.conftest import secure_server

# The test client connects from loopback; as a trusted proxy it may say who the client is.
PROXY = ("127.0.0.1",)


async def sign_in(
    http: aiohttp.ClientSession, base: str, name: str, password: str, source: str
) -> int:
    body = {"name": name, "password": password}
    headers = {"X-Forwarded-For": source}
    async with http.post(f"{base}/v1/auth/signin", json=body, headers=headers) as response:
        await response.read()
        return response.status


async def test_guesses_sent_at_once_all_count_against_the_limit(
    stack: AgentStack, tmp_path: Path
) -> None:
    limit = 5
    settings = SecuritySettings(
        login_failures_per_name=limit, login_failures_per_address=1000, trusted_proxies=PROXY
    )
    async with secure_server(stack, tmp_path, settings) as server, aiohttp.ClientSession() as http:
        guesses = [
            sign_in(http, server.base, "Dana", f"guess{n}", "203.0.113.9") for n in range(30)
        ]
        statuses = Counter(await asyncio.gather(*guesses))
        # Every guess either had its password checked (401) or was refused unchecked (429);
        # at most the limit were checked, however they interleaved (all 30 were, before).
        assert set(statuses) <= {401, 429}
        assert statuses[401] <= limit and statuses[429] >= 30 - limit
        # Sent one at a time now, the count is exact: the failures so far, then refusals.
        failed = statuses[401]
        for _ in range(limit - failed):
            assert await sign_in(http, server.base, "Dana", "guess", "203.0.113.9") == 401
        assert await sign_in(http, server.base, "Dana", OPERATOR_PASSWORD, "203.0.113.9") == 429


async def test_strangers_failing_for_a_name_do_not_lock_its_owner_out(
    stack: AgentStack, tmp_path: Path
) -> None:
    settings = SecuritySettings(
        login_failures_per_name=3,
        login_failures_per_name_total=4,
        login_failures_per_address=100,
        trusted_proxies=PROXY,
    )
    async with secure_server(stack, tmp_path, settings) as server, aiohttp.ClientSession() as http:
        # One address fails three times: that address is refused for Dana...
        for _ in range(3):
            assert await sign_in(http, server.base, "Dana", "guess", "198.51.100.1") == 401
        assert await sign_in(http, server.base, "Dana", OPERATOR_PASSWORD, "198.51.100.1") == 429
        # ...but Dana, from her own address, signs in.
        assert await sign_in(http, server.base, "Dana", OPERATOR_PASSWORD, "192.0.2.50") == 200
        # Guessing spread over addresses: past the name's total, an address that already
        # failed for the name is refused, and one that never did still gets a check.
        for n in (2, 3):
            assert await sign_in(http, server.base, "Dana", "guess", f"198.51.100.{n}") == 401
        assert await sign_in(http, server.base, "Dana", "guess", "198.51.100.2") == 429
        assert await sign_in(http, server.base, "Dana", OPERATOR_PASSWORD, "192.0.2.51") == 200


async def test_an_ipv6_client_is_counted_per_64_block(stack: AgentStack, tmp_path: Path) -> None:
    settings = SecuritySettings(
        login_failures_per_name=100, login_failures_per_address=2, trusted_proxies=PROXY
    )
    async with secure_server(stack, tmp_path, settings) as server, aiohttp.ClientSession() as http:
        assert await sign_in(http, server.base, "a1", "guess", "2001:db8:1:2::1") == 401
        assert await sign_in(http, server.base, "a2", "guess", "2001:db8:1:2::ff:1") == 401
        # A third address of the same /64 is the same subscriber: refused.
        assert await sign_in(http, server.base, "Sam", OPERATOR_PASSWORD, "2001:db8:1:2::9") == 429
        # The next /64 is someone else.
        assert await sign_in(http, server.base, "Sam", OPERATOR_PASSWORD, "2001:db8:1:3::9") == 200


async def test_refusals_are_audited_once_per_address_not_per_request(
    stack: AgentStack, tmp_path: Path
) -> None:
    settings = SecuritySettings(
        login_failures_per_name=1, login_failures_per_address=100, trusted_proxies=PROXY
    )
    async with secure_server(stack, tmp_path, settings) as server, aiohttp.ClientSession() as http:
        assert await sign_in(http, server.base, "Dana", "guess", "198.51.100.7") == 401
        for _ in range(10):
            assert await sign_in(http, server.base, "Dana", "guess", "198.51.100.7") == 429
        entries = await server.access.audit_entries(1000, None, None, None)
        refused = [e for e in entries if e.action == "signin.refused"]
        failed = [e for e in entries if e.action == "signin.failed"]
        assert len(refused) == 1 and len(failed) == 1


def test_failures_are_counted_per_address_and_ipv6_per_64() -> None:
    assert address_key("203.0.113.9") == "203.0.113.9"
    assert address_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64"
    assert address_key("::ffff:203.0.113.9") == "203.0.113.9"  # IPv4 seen over IPv6
    assert address_key("unknown") == "unknown"


async def test_password_checks_beyond_the_queue_are_refused_as_busy() -> None:
    checks = PasswordChecks(max_waiting=1)
    release = threading.Event()

    def slow() -> bool:
        release.wait(10)
        return True

    try:
        running = asyncio.ensure_future(checks.run(slow))
        waiting = asyncio.ensure_future(checks.run(slow))
        await asyncio.sleep(0)
        with pytest.raises(ChecksBusy):
            await checks.run(slow)
        release.set()
        assert await running and await waiting
        assert await checks.run(lambda: False) is False  # room again once they finished
    finally:
        release.set()
        checks.close()


async def test_a_known_operator_signs_in_while_strangers_keep_the_checks_busy(
    stack: AgentStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Strangers on many addresses, each under every limit, keep the password checks busy:
    the operator, from where she signed in before, still gets in; from a new address she is
    as busy as anyone."""
    from callwright.server import auth

    release = threading.Event()
    verify = auth._verify

    def slow_for_guesses(password_hash: str | None, password: str) -> bool:
        if password.startswith("guess"):
            release.wait(20)  # a stranger's check that takes its time
        return verify(password_hash, password)

    monkeypatch.setattr(auth, "_verify", slow_for_guesses)
    settings = SecuritySettings(trusted_proxies=PROXY)
    async with secure_server(stack, tmp_path, settings) as server, aiohttp.ClientSession() as http:
        try:
            assert await sign_in(http, server.base, "Dana", OPERATOR_PASSWORD, "192.0.2.50") == 200
            guesses = [
                asyncio.ensure_future(
                    sign_in(http, server.base, "Dana", f"guess{n}", f"198.51.100.{n}")
                )
                for n in range(1, 9)
            ]
            done, _ = await asyncio.wait(guesses, timeout=5, return_when=asyncio.FIRST_COMPLETED)
            assert {g.result() for g in done} == {503}  # the strangers' lane is full
            assert await sign_in(http, server.base, "Dana", OPERATOR_PASSWORD, "192.0.2.50") == 200
            assert await sign_in(http, server.base, "Dana", OPERATOR_PASSWORD, "192.0.2.99") == 503
        finally:
            release.set()
        statuses = Counter(await asyncio.gather(*guesses))
        assert set(statuses) <= {401, 503} and statuses[401] >= 1


async def test_the_known_lane_has_a_queue_of_its_own() -> None:
    checks = PasswordChecks(max_waiting=0)
    release = threading.Event()

    def slow() -> bool:
        release.wait(10)
        return True

    try:
        stranger = asyncio.ensure_future(checks.run(slow))
        await asyncio.sleep(0)
        with pytest.raises(ChecksBusy):
            await checks.run(slow)
        assert await checks.run(lambda: True, known=True)  # not behind the stranger
        release.set()
        assert await stranger
    finally:
        release.set()
        checks.close()
