"""Call control of Telnyx calls through its Call Control API (v2): transfer and hang-up.

Telnyx documents both as commands on the live call, authenticated with an API key as a
bearer token, answered with `{"data": {"result": "ok"}}`:

- `POST {base}/calls/{call_control_id}/actions/transfer`, `{"to": "+1...", "from": "+1...",
  "command_id": "..."}`: `to` (a number or SIP URI) is required; `from` is the caller id the
  person sees (Telnyx's default: the number the caller dialled); `command_id` makes a retried
  command a no-op at Telnyx.
- `POST {base}/calls/{call_control_id}/actions/hangup`, `{"command_id": "..."}`.

The HTTP session is aiohttp's (nothing blocks the event loop), opened on first use.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from callwright.telephony.settings import TELNYX_API_BASE_URL

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0


class TelnyxApiError(Exception):
    """Telnyx refused a command (`status` and its error body)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"Telnyx answered {status}: {body:.300}")
        self.status = status


class TelnyxRest:
    """Telnyx's Call Control API for one account.

    Args:
        api_key: the account's API key (sent as `Authorization: Bearer ...`).
        base_url: the API root; point it at a proxy or a fake.
    """

    def __init__(self, api_key: str, base_url: str = TELNYX_API_BASE_URL) -> None:
        self._api_key = api_key
        self._base = base_url.rstrip("/")
        self._http: aiohttp.ClientSession | None = None

    async def command(self, call_control_id: str, action: str, body: dict[str, Any]) -> None:
        """Sends one call command (`transfer`, `hangup`...).

        Raises:
            TelnyxApiError: Telnyx answered with an error status.
            aiohttp.ClientError: the API could not be reached.
        """
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))
        url = f"{self._base}/calls/{quote(call_control_id, safe='')}/actions/{action}"
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}
        payload = {**body, "command_id": uuid.uuid4().hex}
        async with self._http.post(url, json=payload, headers=headers) as response:
            if response.status >= 300:
                raise TelnyxApiError(response.status, await response.text())

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None


@dataclass(slots=True)
class TelnyxCallControl:
    """Hang-up and transfer of one live Telnyx call (the media stream's `StreamCallControl`).

    Attributes:
        call_control_id: the live call.
        rest: the Call Control API.
        transfer_number: where a transfer naming no number goes.
        caller_id: the `from` of a transfer (None: Telnyx's default, the number dialled).
    """

    call_control_id: str
    rest: TelnyxRest
    transfer_number: str | None
    caller_id: str | None = None

    async def hangup(self) -> bool:
        await self.rest.command(self.call_control_id, "hangup", {})
        log.info("telnyx call %s: hung up through call control", self.call_control_id)
        return True

    async def transfer(self, to: str | None) -> bool:
        number = to or self.transfer_number
        if not number:
            log.warning("telnyx call %s: transfer asked, but no number", self.call_control_id)
            return False
        body = {"to": number}
        if self.caller_id:
            body["from"] = self.caller_id
        await self.rest.command(self.call_control_id, "transfer", body)
        log.info("telnyx call %s: transferred", self.call_control_id)
        return True
