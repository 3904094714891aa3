"""Signed webhooks and stream tokens: only what a verified webhook started gets a stream."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from callwright.agent.stack import AgentStack
from callwright.sim.twilio_caller import new_sid, parse_stream_twiml, post_signed
from callwright.telephony.settings import TelephonySettings
from callwright.telephony.tokens import StreamClaim, StreamTokens
from tests.fakes.twilio_rest import AUTH_TOKEN, serve_phone

CALL = {"AccountSid": "AC" + "1" * 32, "From": "+15550100", "To": "+15550199"}


@pytest.fixture(scope="module")
async def phone_url(stack: AgentStack) -> AsyncIterator[str]:
    async with serve_phone(stack, TelephonySettings(twilio_auth_token=AUTH_TOKEN)) as url:
        yield url


async def test_signed_incoming_webhook_gets_a_stream(phone_url: str) -> None:
    url = f"{phone_url}/v1/twilio/incoming"
    async with aiohttp.ClientSession() as http:
        response = await post_signed(http, url, {**CALL, "CallSid": new_sid("CA")}, AUTH_TOKEN)
        assert response.status == 200
        assert response.content_type == "text/xml"
        stream_url, params = parse_stream_twiml(await response.text())
    assert stream_url.startswith("ws://127.0.0.1:") and "/v1/twilio/stream/" in stream_url
    assert params == {"caller": "+15550100", "to": "+15550199"}


@pytest.mark.parametrize(
    "path", ["/v1/twilio/incoming", "/v1/twilio/status", "/v1/twilio/after-stream"]
)
async def test_unsigned_or_badly_signed_webhooks_get_403(
    phone_url: str, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = phone_url + path
    params = {**CALL, "CallSid": new_sid("CA"), "CallStatus": "ringing"}
    other_token = "not-the-auth-token"
    async with aiohttp.ClientSession() as http:
        with caplog.at_level(logging.WARNING, logger="callwright.server.telephony"):
            unsigned = await post_signed(http, url, params, AUTH_TOKEN, signature="")
            wrong_key = await post_signed(http, url, params, other_token)
            # A genuine signature over other parameters: tampering with the body is caught.
            tampered = await post_signed(
                http, url, params, AUTH_TOKEN,
                signature=_signature(url, {**params, "From": "+15550666"}),
            )  # fmt: skip
    assert [unsigned.status, wrong_key.status, tampered.status] == [403, 403, 403]
    refusals = [r for r in caplog.records if "refused Twilio webhook" in r.getMessage()]
    assert len(refusals) == 3
    assert "missing X-Twilio-Signature" in refusals[0].getMessage()


async def test_webhooks_are_refused_without_an_auth_token(stack: AgentStack) -> None:
    async with serve_phone(stack, TelephonySettings()) as url, aiohttp.ClientSession() as http:
        response = await post_signed(
            http, f"{url}/v1/twilio/incoming", {**CALL, "CallSid": new_sid("CA")}, AUTH_TOKEN
        )
    assert response.status == 403


async def test_stream_needs_a_fresh_token_from_a_verified_webhook(phone_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        # No token, a forged one, an expired one: refused before the WebSocket upgrade.
        forged = StreamTokens("some other secret").issue(new_sid("CA"), 30)
        expired = StreamTokens(AUTH_TOKEN).issue(new_sid("CA"), -5)
        for token in ("nothing", forged, expired):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(f"{phone_url.replace('http', 'ws')}/v1/twilio/stream/{token}")
            assert refused.value.status == 403
        # A genuine token works once only.
        response = await post_signed(
            http, f"{phone_url}/v1/twilio/incoming", {**CALL, "CallSid": new_sid("CA")}, AUTH_TOKEN
        )
        stream_url, _ = parse_stream_twiml(await response.text())
        first = await http.ws_connect(stream_url)
        await first.close()
        with pytest.raises(aiohttp.WSServerHandshakeError) as reused:
            await http.ws_connect(stream_url)
        assert reused.value.status == 403


def test_tokens_name_their_call_and_expire() -> None:
    tokens = StreamTokens("secret")
    token = tokens.issue("CA123", ttl_s=30, now=1000.0)
    assert tokens.redeem(token, now=1010.0) == StreamClaim("CA123", 1030.0)
    assert tokens.redeem(token, now=1011.0) == "stream token already used"
    late = tokens.issue("CA456", ttl_s=30, now=1000.0)
    assert tokens.redeem(late, now=1031.0) == "stream token expired"
    mac = tokens.issue("CA789", ttl_s=30, now=1000.0).partition(".")[2]
    other_body = tokens.issue("CA000", ttl_s=30, now=1000.0).partition(".")[0]
    assert tokens.redeem(f"{other_body}.{mac}", now=1001.0) == (
        "stream token signature does not match"
    )


def _signature(url: str, params: dict[str, str]) -> str:
    from twilio.request_validator import RequestValidator

    return str(RequestValidator(AUTH_TOKEN).compute_signature(url, params))
