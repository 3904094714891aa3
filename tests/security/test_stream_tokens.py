"""Stream tokens: random, single-use across every worker, one stream per call.

A token carries a random nonce (the same webhook in the same second gives different tokens);
its use is recorded in the call store, so a second worker on the same store refuses a replay;
a re-sent Twilio webhook (same CallSid) is the same call, and only one stream can start for it.
Only the token as issued is accepted (a lenient base64 decoder read `<token>~` as the same
token, counted as another), and an outbound call keeps its one stream after it started.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from callwright.agent.stack import AgentStack
from callwright.sim.twilio_caller import new_sid, parse_stream_twiml, post_signed, start_message
from callwright.store.sqlite import SqliteCallStore
from callwright.telephony.settings import TelephonySettings
from callwright.telephony.tokens import StreamClaim, StreamTokens
from tests.conftest import operator_http
from tests.fakes.twilio_rest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    consent_to_calls,
    fake_twilio,
    serve_phone,
)
from tests.test_twilio_bad_input import ACCOUNT, SILENCE


@pytest.fixture(scope="module")
async def phone_url(stack: AgentStack) -> AsyncIterator[str]:
    async with serve_phone(stack, TelephonySettings(twilio_auth_token=AUTH_TOKEN)) as url:
        yield url


def test_tokens_carry_a_random_nonce() -> None:
    tokens = StreamTokens("secret")
    first = tokens.issue("CA1", ttl_s=30, now=1000.0)
    second = tokens.issue("CA1", ttl_s=30, now=1000.0)
    assert first != second
    assert tokens.verify(first, now=1001.0) == tokens.verify(second, now=1001.0)
    assert tokens.verify(first, now=1001.0) == StreamClaim("CA1", 1030.0)


async def test_a_token_used_on_one_worker_is_refused_by_another(tmp_path: Path) -> None:
    db = tmp_path / "calls.sqlite3"
    worker_1, worker_2 = StreamTokens(AUTH_TOKEN), StreamTokens(AUTH_TOKEN)
    store_1, store_2 = await SqliteCallStore.open(db), await SqliteCallStore.open(db)
    try:
        token = worker_1.issue("CA2", ttl_s=30)
        claim = await worker_1.redeem_once(token, store_1.claim_once)
        assert isinstance(claim, StreamClaim) and claim.ref == "CA2"
        assert claim.expires_at == pytest.approx(time.time() + 30, abs=2)
        assert await worker_2.redeem_once(token, store_2.claim_once) == (
            "stream token already used"
        )
        other = worker_2.issue("CA3", ttl_s=30)
        assert isinstance(await worker_2.redeem_once(other, store_1.claim_once), StreamClaim)
    finally:
        await store_1.close()
        await store_2.close()


async def test_resent_webhook_is_one_call_with_one_stream(
    stack: AgentStack, phone_url: str
) -> None:
    call_sid, stream_sid = new_sid("CA"), new_sid("MZ")
    params = {"CallSid": call_sid, "AccountSid": ACCOUNT, "From": "+15550100", "To": "+15550199"}
    async with aiohttp.ClientSession() as http:
        urls = []
        for _ in range(2):  # Twilio retries a webhook whose answer it did not get
            response = await post_signed(
                http, f"{phone_url}/v1/twilio/incoming", params, AUTH_TOKEN
            )
            urls.append(parse_stream_twiml(await response.text()))
        assert urls[0][0] != urls[1][0]
        first = await http.ws_connect(urls[0][0])
        await first.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await first.send_json(start_message(stream_sid, call_sid, ACCOUNT, urls[0][1]))
        for chunk in range(1, 6):
            media = {"track": "inbound", "chunk": str(chunk), "timestamp": str(20 * (chunk - 1)),
                     "payload": SILENCE}  # fmt: skip
            await first.send_json({"event": "media", "streamSid": stream_sid, "media": media})
            await asyncio.sleep(0.02)
        second = await http.ws_connect(urls[1][0])
        await second.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await second.send_json(start_message(new_sid("MZ"), call_sid, ACCOUNT, urls[1][1]))
        async with asyncio.timeout(15):
            while (await second.receive()).type not in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
            ):
                pass
        second_code = second.close_code
        # The first stream is still the call; replaying its token fails too.
        with pytest.raises(aiohttp.WSServerHandshakeError) as replay:
            await http.ws_connect(urls[0][0])
        assert not first.closed
        await first.send_json({"event": "stop", "streamSid": stream_sid})
        await first.close()
    with_sid = [
        c for c in await stack.store.list_calls(1000) if c.parameters.get("call_sid") == call_sid
    ]
    assert second_code == 1008
    assert replay.value.status == 403
    outcomes = sorted((c.outcome or "") for c in with_sid)
    rejected = [c for c in with_sid if c.outcome == "rejected"]
    assert len(with_sid) == 2 and len(rejected) == 1, outcomes
    assert (rejected[0].end_reason or "").startswith("duplicate_stream")


def altered(token: str) -> list[str]:
    """Texts that differ from `token` by characters outside URL-safe base64 or a padding."""
    body, _, mac = token.partition(".")
    return [
        token + "~",
        token + "!",
        token + "*",
        token + "=",
        token + ".",
        token + " ",
        f"{body}.{mac[:5]}!{mac[5:]}",
        f"{body[:3]}~{body[3:]}.{mac}",
        f"{body}.={mac}",
    ]


async def test_only_the_token_as_issued_is_accepted() -> None:
    used: set[str] = set()

    async def claim_once(key: str, until: float) -> bool:
        fresh = key not in used
        used.add(key)
        return fresh

    tokens = StreamTokens("secret")
    token = tokens.issue("CA4", ttl_s=30)
    for text in altered(token):
        assert not isinstance(tokens.verify(text), StreamClaim), text
    assert await tokens.redeem_once(token, claim_once) == StreamClaim("CA4", tokens_expiry(token))
    for text in [token, *altered(token)]:
        assert not isinstance(await tokens.redeem_once(text, claim_once), StreamClaim), text
    local = StreamTokens("secret")
    assert isinstance(local.redeem(token), StreamClaim)
    for text in [token, *altered(token)]:
        assert not isinstance(local.redeem(text), StreamClaim), text


def tokens_expiry(token: str) -> float:
    """The expiry written in a token's body (read as anyone holding the URL can)."""
    return float(_body_fields(token)[1])


def _body_fields(token: str) -> list[str]:
    body = token.partition(".")[0]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode().split("\0")


async def test_an_outbound_call_takes_one_stream_however_its_token_is_spelled(
    stack: AgentStack,
) -> None:
    async with fake_twilio() as rest:
        settings = TelephonySettings(
            twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
            twilio_api_base_url=rest.url,
        )  # fmt: skip
        async with serve_phone(stack, settings) as url, operator_http() as http:
            await consent_to_calls(stack.store, "+14155550666")
            body = {"to": "+14155550666", "from": "+14155550199"}
            async with http.post(f"{url}/v1/calls/outbound", json=body) as response:
                assert response.status == 201
                placed = await response.json()
            stream_url, custom = parse_stream_twiml(rest.creates()[-1].one("Twiml") or "")
            call_sid = placed["call_sid"]
            first = await http.ws_connect(stream_url)
            await first.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            await first.send_json(start_message(new_sid("MZ"), call_sid, ACCOUNT, custom))
            async with asyncio.timeout(30):  # the call is live: the agent speaks
                while (await first.receive_json())["event"] != "media":
                    pass
            base, _, token = stream_url.rpartition("/")
            for text in [*altered(token), token + "%21"]:
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await http.ws_connect(URL(f"{base}/{text}", encoded=True))
                assert refused.value.status == 403, text
            # Even a genuine second token for the call (the ref is in the token's body) cannot
            # start another stream, whichever CallSid its start names.
            ref = _body_fields(token)[0]
            codes = []
            for named in (ref, call_sid):
                again = StreamTokens(AUTH_TOKEN).issue(ref, ttl_s=30)
                second = await http.ws_connect(f"{base}/{again}")
                await second.send_json(
                    {"event": "connected", "protocol": "Call", "version": "1.0.0"}
                )
                await second.send_json(start_message(new_sid("MZ"), named, ACCOUNT, custom))
                async with asyncio.timeout(15):
                    while (msg := await second.receive()).type not in (
                        aiohttp.WSMsgType.CLOSE,
                        aiohttp.WSMsgType.CLOSED,
                    ):
                        assert msg.type is not aiohttp.WSMsgType.TEXT, "a second call ran"
                codes.append(second.close_code)
            assert not first.closed
            await first.close()
    assert codes == [1008, 1008]
    refused_calls = [
        c for c in await stack.store.list_calls(1000)
        if c.outcome == "rejected" and (c.end_reason or "").startswith("duplicate_stream")
        and c.parameters.get("call_sid") in (ref, call_sid)
    ]  # fmt: skip
    assert len(refused_calls) == 2
