"""Transaction pieces of the user agent (RFC 3261 17): timers, the INVITE server transaction,
where responses go, and the per-source rate limit applied before any parsing."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field

from callwright.core.pace import TokenBucket
from callwright.sip.message import SipMessage, header_params, is_number

T1, T2 = 0.5, 4.0
TRANSACTION_S = 64 * T1
Address = tuple[str, int]


@dataclass(slots=True)
class InviteServer:
    """An INVITE we received and have not finished answering (the server transaction)."""

    request: SipMessage
    source: Address
    local_tag: str
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    acked: asyncio.Event = field(default_factory=asyncio.Event)
    last: SipMessage | None = None
    retransmit: asyncio.Task[None] | None = None

    @property
    def final(self) -> bool:
        return self.last is not None and self.last.status >= 200


class SourceLimit:
    """A token bucket per source address: `rate` a second, bursts of twice that."""

    def __init__(self, rate: float, max_sources: int = 10000) -> None:
        self._rate = rate
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._max = max_sources
        self.dropped = 0

    def allow(self, source: str) -> bool:
        bucket = self._buckets.pop(source, None) or TokenBucket(self._rate, 2 * self._rate)
        self._buckets[source] = bucket  # the most recently heard last: the oldest go first
        if len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        ok = bucket.take()
        if not ok:
            self.dropped += 1
        return ok


def response_address(request: SipMessage, source: Address) -> Address:
    """Where a response goes: RFC 3581 (rport) the source address and port; otherwise the
    source address (RFC 3261 18.2.2, `received`) and the port the Via names."""
    if "rport" in header_params(request.get("via") or ""):
        return source
    via = (request.get("via") or "").split(";", 1)[0].split()
    port = via[1].rpartition(":")[2] if len(via) > 1 and ":" in via[1] else ""
    return source[0], int(port) if is_number(port) and int(port) < 65536 else 5060
