"""What a browser call's data channel says, read within limits.

The channel carries the native protocol's JSON control messages (docs/webrtc.md): keys
(`{"type": "dtmf", "digit": "5"}`), the caller's `end` and `ping`. A browser sends a few a
second at most. Messages past `CONTROL_PER_S` (bursts of `CONTROL_BURST`) are dropped before
they are parsed, and a peer that keeps sending past that pace (`MAX_DROPPED`) is no page but a
flood: its call ends as a protocol error. Each kind of mistake is logged once per call, so a
sender cannot fill the log either.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from callwright.core.pace import TokenBucket
from callwright.transports.base import DTMF_DIGITS, DtmfIn, HangupIn

log = logging.getLogger(__name__)

MAX_CONTROL_BYTES = 4096  # one data channel message
CONTROL_PER_S = 20.0
CONTROL_BURST = 40.0
MAX_DROPPED = 200


class ControlMessages:
    """Reads one call's control messages.

    Args:
        reply: sends a text message back on the channel (`pong`, errors).
        clock: monotonic seconds (the pace).
    """

    def __init__(self, reply: Callable[[str], None], clock: Callable[[], float] = time.monotonic):
        self._reply = reply
        self._pace = TokenBucket(CONTROL_PER_S, CONTROL_BURST, clock)
        self.dropped = 0
        self._logged: set[str] = set()

    def read(self, message: str | bytes, heard_until_ms: float) -> DtmfIn | HangupIn | None:
        """The event a message asks for (a key, the end of the call), or None."""
        if not self._pace.take():
            self.dropped += 1
            if self.dropped == 1:
                log.warning("webrtc call: control messages past %g/s dropped", CONTROL_PER_S)
            if self.dropped == MAX_DROPPED:
                log.warning("webrtc call: %d control messages dropped; call ended", MAX_DROPPED)
                return HangupIn("protocol_error")
            return None
        if isinstance(message, bytes) or len(message) > MAX_CONTROL_BYTES:
            self._error("bad_message", f"control messages are JSON text of {MAX_CONTROL_BYTES} B")
            return None
        try:
            msg = json.loads(message)
        except (ValueError, RecursionError):
            self._error("bad_json", "control messages must be JSON objects")
            return None
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "dtmf":
            digit = str(msg.get("digit", ""))
            if digit not in DTMF_DIGITS:
                self._error("bad_dtmf", "digit must be one of 0-9, *, #, A-D")
                return None
            return DtmfIn(digit, heard_until_ms)
        if kind == "end":
            return HangupIn("caller_ended")
        if kind == "ping":
            self._reply(json.dumps({"type": "pong"}))
            return None
        self._error("unknown_type", f"unknown message type {kind!r:.40}")
        return None

    def _error(self, code: str, message: str) -> None:
        if code not in self._logged:
            self._logged.add(code)
            log.warning("webrtc call: %s: %s", code, message)
        self._reply(json.dumps({"type": "error", "code": code, "message": message}))
