"""Numbers enter in one form, E.164: the parser, the webhooks' From/To and the outbound API."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from callwright.agent.stack import AgentStack
from callwright.compliance.numbers import NumberError, e164_or_as_given, to_e164
from callwright.sim.twilio_caller import new_sid, parse_stream_twiml, post_signed
from callwright.telephony.settings import TelephonySettings
from tests.conftest import ADMIN_HEADERS
from tests.fakes.twilio_rest import ACCOUNT_SID, AUTH_TOKEN, consent_to_calls, fake_twilio
from tests.security.conftest import secure_server


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(415) 555-0100", "US", "+14155550100"),
        ("415.555.0100", "US", "+14155550100"),
        ("+1 415 555 0100", "GB", "+14155550100"),  # a country code wins over the region
        ("tel:+1-415-555-0100", "US", "+14155550100"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("+44 (0)20 7946 0018", "US", "+442079460018"),
        ("030 901820", "DE", "+4930901820"),
    ],
)
def test_written_forms_become_e164(raw: str, region: str, expected: str) -> None:
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "hello", "+1", "12", "+1555", "9" * 80, "client:alice"])
def test_what_is_not_a_number_is_refused(raw: str) -> None:
    with pytest.raises(NumberError):
        to_e164(raw)


def test_caller_ids_that_are_not_numbers_are_kept() -> None:
    assert e164_or_as_given("anonymous") == "anonymous"
    assert e164_or_as_given("client:alice") == "client:alice"
    assert e164_or_as_given("415-555-0100") == "+14155550100"
    assert e164_or_as_given(None) is None


async def test_webhook_from_and_to_are_normalised(stack: AgentStack, tmp_path: Path) -> None:
    settings = TelephonySettings(twilio_auth_token=AUTH_TOKEN)
    async with secure_server(stack, tmp_path, telephony=settings) as server:
        form = {"CallSid": new_sid("CA"), "From": "(415) 555-0123", "To": "+1 415.555.0199"}
        async with aiohttp.ClientSession() as http:
            response = await post_signed(
                http, f"{server.base}/v1/twilio/incoming", form, AUTH_TOKEN
            )
            assert response.status == 200
            _, params = parse_stream_twiml(await response.text())
    assert params == {"caller": "+14155550123", "to": "+14155550199"}


async def test_outbound_numbers_are_normalised_or_refused(
    stack: AgentStack, tmp_path: Path
) -> None:
    async with fake_twilio() as rest:
        settings = TelephonySettings(
            twilio_account_sid=ACCOUNT_SID,
            twilio_auth_token=AUTH_TOKEN,
            twilio_api_base_url=rest.url,
            public_base_url="https://voice.example.org",
        )
        async with secure_server(stack, tmp_path, telephony=settings) as server:
            await consent_to_calls(server.stack.store, "+14155550777")
            async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:
                url = f"{server.base}/v1/calls/outbound"
                body = {"to": "(415) 555-0777", "from": "415 555 0199"}
                async with http.post(url, json=body) as response:
                    assert response.status == 201
                async with http.post(url, json={**body, "to": "call me maybe"}) as response:
                    assert response.status == 400
                    assert (await response.json())["error"] == "bad_number"
        creates = rest.creates()
    assert len(creates) == 1
    assert (creates[0].one("To"), creates[0].one("From")) == ("+14155550777", "+14155550199")
