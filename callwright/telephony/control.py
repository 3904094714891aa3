"""Call control: hang up, transfer to a human, place outbound calls.

Through Twilio's REST API with the official `twilio` package (its aiohttp client, so nothing
blocks the event loop) at a configurable API base URL. Without REST credentials, a call can
still be transferred or hung up through TwiML: the stream's `<Redirect>` after `</Connect>`
is answered with `<Dial>` or `<Hangup/>` once the stream closes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from callwright.telephony import twiml
from callwright.telephony.calls import TelephonyCalls
from callwright.telephony.settings import TelephonySettings

log = logging.getLogger(__name__)

STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]


class TwilioRest:
    """Twilio's REST API for one account; the HTTP session opens on first use.

    Args:
        settings: account SID, auth token and API base URL.
    """

    def __init__(self, settings: TelephonySettings) -> None:
        if not settings.twilio_rest_enabled:
            raise ValueError("the Twilio REST API needs an account SID and an auth token")
        self._settings = settings
        self._client: Client | None = None
        self._http: AsyncTwilioHttpClient | None = None

    def _get(self) -> Client:
        if self._client is None:
            self._http = AsyncTwilioHttpClient(timeout=10.0)
            settings = self._settings
            client = Client(
                settings.twilio_account_sid, settings.twilio_auth_token, http_client=self._http
            )
            client.api.base_url = settings.twilio_api_base_url.rstrip("/")
            self._client = client
        return self._client

    async def update_call(self, call_sid: str, **changes: Any) -> None:
        """`calls(sid).update(...)`: e.g. `twiml=` (transfer) or `status="completed"`."""
        await self._get().calls(call_sid).update_async(**changes)

    async def create_call(
        self,
        to: str,
        from_: str,
        twiml_doc: str,
        status_callback: str | None,
        machine_detection_callback: str | None = None,
    ) -> str:
        """Places a call that runs `twiml_doc` once answered; returns its CallSid.

        With `machine_detection_callback`, Twilio's answering machine detection runs alongside
        the call (`MachineDetection=DetectMessageEnd`, asynchronous) and posts its result
        (`AnsweredBy`) there once the greeting ends, at the beep.
        """
        extra: dict[str, Any] = {}
        if status_callback:
            extra = {
                "status_callback": status_callback,
                "status_callback_event": STATUS_EVENTS,
                "status_callback_method": "POST",
            }
        if machine_detection_callback:
            extra |= {
                "machine_detection": "DetectMessageEnd",
                "async_amd": "true",
                "async_amd_status_callback": machine_detection_callback,
                "async_amd_status_callback_method": "POST",
            }
        call = await self._get().calls.create_async(to=to, from_=from_, twiml=twiml_doc, **extra)
        return str(call.sid)

    async def aclose(self) -> None:
        if self._http is not None and self._http.session is not None:
            await self._http.session.close()
        self._client = None
        self._http = None


@dataclass(slots=True)
class TwilioCallControl:
    """Hang-up and transfer of one live Twilio call (the media stream's `StreamCallControl`).

    Attributes:
        call_sid: the live call.
        calls: the server's registry (for the TwiML fallback).
        rest: the REST API, or None when no credentials are configured.
        transfer_number: where a transfer naming no number goes.
        dial_action: where Twilio posts how a transfer's dial went, and asks what the call
            does next (`/v1/twilio/dial-done`); None: the call ends with the dial.
    """

    call_sid: str
    calls: TelephonyCalls
    rest: TwilioRest | None
    transfer_number: str | None
    dial_action: str | None = None

    async def hangup(self) -> bool:
        if self.rest is None:
            await self.calls.after_stream(self.call_sid, twiml.hangup())
            return False  # closing the stream ends the call (via the <Redirect>)
        await self.rest.update_call(self.call_sid, status="completed")
        log.info("twilio call %s: hung up through the REST API", self.call_sid)
        return True

    async def transfer(self, to: str | None) -> bool:
        number = to or self.transfer_number
        if not number:
            log.warning("twilio call %s: transfer asked, but no number", self.call_sid)
            return False
        document = twiml.dial(number, action=self.dial_action)
        if self.rest is None:
            await self.calls.after_stream(self.call_sid, document)
        else:
            await self.rest.update_call(self.call_sid, twiml=document)
        log.info("twilio call %s: transferred to %s", self.call_sid, number)
        return True
