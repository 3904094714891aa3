"""Stream tokens: random, single-use across every worker, one stream per call.

A token carries a random nonce (the same webhook in the same second gives different tokens);
its use is recorded in the call store, so a second worker on the same store refuses a replay;
a re-sent Twilio webhook (same CallSid) is the same call, and only one stream can start for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from callwright.agent.stack import AgentStack
from callwright.sim.twilio_caller import new_sid, parse_stream_twiml, post_signed, start_message
from callwright.store.sqlite import SqliteCallStore
from callwright.telephony.settings import TelephonySettings
from callwright.telephony.tokens import StreamClaim, StreamTokens
from tests.fakes.twilio_rest import AUTH_TOKEN, serve_phone
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
