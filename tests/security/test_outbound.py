"""Outbound calls: admins only, a destination policy with premium-rate prefixes denied, a
per-credential rate limit, URLs from CALLWRIGHT_PUBLIC_BASE_URL only, and clear 400s."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from callwright.agent.stack import AgentStack
from callwright.config import SecuritySettings
from callwright.server.app import create_app
from callwright.server.auth import new_api_key
from callwright.server.outbound import PREMIUM_PREFIXES, DestinationPolicy
from callwright.telephony.settings import TelephonySettings
from tests.conftest import ADMIN_HEADERS
from tests.fakes.twilio_rest import ACCOUNT_SID, AUTH_TOKEN, consent_to_calls, fake_twilio
from tests.security.conftest import secure_server

PUBLIC = "https://voice.example.org"
BODY = {"to": "+14155550777", "from": "+14155550199"}


def rest_settings(url: str) -> TelephonySettings:
    return TelephonySettings(
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_base_url=url,
        public_base_url=PUBLIC,
    )


async def _post(base: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:
        async with http.post(f"{base}/v1/calls/outbound", json=body, headers=headers) as response:
            text = await response.text()
            return response.status, text


async def test_outbound_is_for_admins_only(stack: AgentStack, tmp_path: Path) -> None:
    async with fake_twilio() as rest:
        async with secure_server(stack, tmp_path, telephony=rest_settings(rest.url)) as server:
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{server.base}/v1/calls/outbound", json=BODY) as response:
                    assert response.status == 401
            secret, key = new_api_key("supervisor", "not an admin")
            await server.access.add_key(key)
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {secret}"}) as http:
                async with http.post(f"{server.base}/v1/calls/outbound", json=BODY) as response:
                    assert response.status == 403
            assert rest.creates() == []


async def test_bad_bodies_get_a_clear_400(stack: AgentStack, tmp_path: Path) -> None:
    async with fake_twilio() as rest:
        async with secure_server(stack, tmp_path, telephony=rest_settings(rest.url)) as server:
            bodies: list[Any] = [[], "text", 42, None, {"to": 1, "from": "+1555"}, {"to": "+1"}]
            for body in bodies:
                status, text = await _post(server.base, body)
                assert status == 400, body
                assert "Traceback" not in text and "error" in text
            async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:
                async with http.post(
                    f"{server.base}/v1/calls/outbound", data=b"{not json"
                ) as response:
                    assert response.status == 400
            assert rest.creates() == []


@pytest.mark.parametrize(
    "number", ["+19005550100", "+19765550100", "+449012345678", "+979123456789"]
)
async def test_premium_rate_destinations_are_refused(
    stack: AgentStack, tmp_path: Path, number: str
) -> None:
    async with fake_twilio() as rest:
        async with secure_server(stack, tmp_path, telephony=rest_settings(rest.url)) as server:
            status, text = await _post(server.base, {**BODY, "to": number})
            assert status == 403 and "deny-list" in text
            assert rest.creates() == []


def test_destination_policy() -> None:
    default = DestinationPolicy()
    assert default.refusal("+14155550777") is None
    assert default.refusal("+4915112345678") is None
    for prefix in ("+1900", "+1976", "+4490", "+4491", "+4498", "+4409"):
        assert prefix in PREMIUM_PREFIXES
        assert default.refusal(prefix + "1234567") is not None
    assert default.refusal("15550777") is not None  # not E.164
    allow = DestinationPolicy.from_settings(SecuritySettings(outbound_allow=("+1415",)))
    assert allow.refusal("+14155550777") is None
    assert allow.refusal("+4420712345678") is not None
    both = DestinationPolicy.from_settings(
        SecuritySettings(outbound_allow=("+1",), outbound_deny=("+1415",))
    )
    assert both.refusal("+14155550777") is not None  # the deny wins
    assert both.refusal("+19005550100") is not None  # premium stays denied under an allow


async def test_per_key_rate_limit(stack: AgentStack, tmp_path: Path) -> None:
    settings = SecuritySettings(outbound_per_hour=2)
    async with fake_twilio() as rest:
        telephony = rest_settings(rest.url)
        async with secure_server(stack, tmp_path, settings, telephony) as server:
            await consent_to_calls(server.stack.store, BODY["to"])
            statuses = [(await _post(server.base, BODY))[0] for _ in range(3)]
            assert statuses == [201, 201, 429]
            assert len(rest.creates()) == 2


async def test_the_rate_limit_holds_across_workers(stack: AgentStack, tmp_path: Path) -> None:
    """Two workers on one database: calls placed through either count against the key."""
    settings = SecuritySettings(outbound_per_hour=2)
    async with fake_twilio() as rest:
        telephony = rest_settings(rest.url)
        async with (
            secure_server(stack, tmp_path, settings, telephony) as one,
            secure_server(stack, tmp_path, settings, telephony) as two,
        ):
            await consent_to_calls(one.stack.store, BODY["to"])  # automated calls need consent
            statuses = [(await _post(s.base, BODY))[0] for s in (one, two, one, two)]
            assert statuses == [201, 201, 429, 429]
            assert len(rest.creates()) == 2


async def test_requests_at_the_same_moment_on_two_workers_stay_within_the_limit(
    stack: AgentStack, tmp_path: Path
) -> None:
    """Every request counts the key's calls before any of them is placed: only the slots
    taken with the count (one step on the shared store) decide which go out."""
    settings = SecuritySettings(outbound_per_hour=2)
    async with fake_twilio() as rest:
        telephony = rest_settings(rest.url)
        async with (
            secure_server(stack, tmp_path, settings, telephony) as one,
            secure_server(stack, tmp_path, settings, telephony) as two,
        ):
            await consent_to_calls(one.stack.store, BODY["to"])
            answers = await asyncio.gather(*(_post(s.base, BODY) for s in (one, two) * 3))
            refused = await one.access.audit_entries(action="outbound.refused")
    assert sorted(status for status, _ in answers) == [201, 201, 429, 429, 429, 429]
    assert len(rest.creates()) == 2
    assert [e.detail["reason"] for e in refused] == ["rate limit"] * 4


async def test_a_request_refused_before_its_call_does_not_count(
    stack: AgentStack, tmp_path: Path
) -> None:
    settings = SecuritySettings(outbound_per_hour=1)
    async with fake_twilio() as rest:
        telephony = rest_settings(rest.url)
        async with (
            secure_server(stack, tmp_path, settings, telephony) as one,
            secure_server(stack, tmp_path, settings, telephony) as two,
        ):
            # No consent to automated calls yet: refused by the compliance checks.
            first = await _post(one.base, BODY)
            await consent_to_calls(one.stack.store, BODY["to"])
            # On another worker: the refused request took no call of the hour.
            second = await _post(two.base, BODY)
    assert (first[0], json.loads(first[1])["error"], second[0]) == (403, "no_consent", 201)
    assert len(rest.creates()) == 1


async def test_urls_come_from_the_public_base_url(stack: AgentStack, tmp_path: Path) -> None:
    """A forged X-Forwarded-Host cannot point the call's stream or callbacks elsewhere."""
    async with fake_twilio() as rest:
        async with secure_server(stack, tmp_path, telephony=rest_settings(rest.url)) as server:
            await consent_to_calls(server.stack.store, BODY["to"])
            forged = {"X-Forwarded-Host": "attacker.example", "X-Forwarded-Proto": "https"}
            status, _ = await _post(server.base, BODY, forged)
            assert status == 201
            create = rest.creates()[0]
            twiml, callback = create.one("Twiml") or "", create.one("StatusCallback") or ""
            assert "attacker.example" not in twiml + callback
            assert "wss://voice.example.org/v1/twilio/stream/" in twiml
            assert callback.startswith(f"{PUBLIC}/v1/twilio/status?")


def test_rest_api_without_public_base_url_refuses_to_start(stack: AgentStack) -> None:
    settings = dataclasses.replace(rest_settings("http://127.0.0.1:9"), public_base_url=None)
    with pytest.raises(ValueError, match="CALLWRIGHT_PUBLIC_BASE_URL"):
        create_app(stack, settings)


@pytest.mark.parametrize(
    "number",
    [
        "+43900123456",  # Austria 0900: premium-rate
        "+3290212345",  # Belgium 0902: premium-rate
        "+319001234567",  # Netherlands 0900: premium-rate
        "+448711234567",  # UK 0871: shared cost
        "+447012345678",  # UK 070: personal numbers, a known toll-fraud route
    ],
)
def test_costly_numbers_outside_the_prefix_list_are_refused_by_their_numbering_plan(
    number: str,
) -> None:
    assert not any(number.startswith(prefix) for prefix in PREMIUM_PREFIXES)
    refusal = DestinationPolicy().refusal(number)
    assert refusal is not None and "premium-rate" in refusal
    # Ordinary numbers of the same countries still pass.
    assert DestinationPolicy().refusal("+43512345678") is None  # Innsbruck landline
    assert DestinationPolicy().refusal("+442071838750") is None  # London landline


def _closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("platform", ["unreachable", "refusing"])
async def test_a_failed_dial_leaves_a_call_record_and_an_audit_entry(
    stack: AgentStack, tmp_path: Path, platform: str
) -> None:
    async with fake_twilio() as rest:
        settings = rest_settings(
            f"http://127.0.0.1:{_closed_port()}" if platform == "unreachable" else rest.url
        )
        if platform == "refusing":  # credentials Twilio does not know: 401 to every request
            settings = dataclasses.replace(settings, twilio_auth_token="not-the-real-token")
        async with secure_server(stack, tmp_path, telephony=settings) as server:
            await consent_to_calls(server.stack.store, BODY["to"])
            status, text = await _post(server.base, BODY)
            calls = await server.stack.store.list_calls(10)
            audit = await server.access.audit_entries(action="outbound.failed")
            placed = await server.access.audit_entries(action="outbound.place")
    assert status == 502
    body = json.loads(text)
    assert body["error"] == "dial_error" and body["message"]
    assert len(rest.creates()) == (1 if platform == "refusing" else 0)
    assert [c.call_id for c in calls] == [body["call_id"]]
    record = calls[0]
    assert (record.status, record.outcome, record.channel) == ("ended", "dial_error", "twilio")
    assert record.parameters["direction"] == "outbound"
    assert [(e.target, e.detail["call_id"]) for e in audit] == [(BODY["to"], body["call_id"])]
    assert placed == []
