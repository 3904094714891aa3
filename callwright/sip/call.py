"""One SIP call as a `CallTransport`: the dialog for control, `RtpStream` for media.

The session sees what every transport gives it: caller audio (8 kHz, timestamped from RTP),
keys (RFC 4733), and the hang-up (the peer's BYE, a session timer that ran out, our answer
never acknowledged). Hanging up sends BYE; a transfer sends REFER to the dialog's peer (a PBX
or trunk that takes it connects the caller to the target and we leave the call).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import numpy as np

from callwright.sip.dialog import SipDialog
from callwright.sip.message import address_uri, uri_user_host
from callwright.transports.base import HangupIn, InboundEvent
from callwright.transports.inbound_queue import BoundedInbound
from callwright.transports.rtp import RATE, RtpStats, RtpStream

log = logging.getLogger(__name__)

# After the transferee reports its call to the target answered, the target has this long to
# end our consultation leg (RFC 3891: it replaced it) before we hang the leg up ourselves.
REPLACE_GRACE_S = 5.0


class SipCallTransport:
    """The session's view of one SIP call.

    Args:
        dialog: the call's dialog.
        rtp: its media stream (already started towards the peer).
        queue: where the stream delivers inbound events.
        transfer_target: where a transfer naming no number goes.
    """

    channel = "sip"
    input_sample_rate = RATE
    output_sample_rate = RATE

    def __init__(
        self,
        dialog: SipDialog,
        rtp: RtpStream,
        queue: asyncio.Queue[InboundEvent],
        transfer_target: str | None,
    ) -> None:
        self.dialog = dialog
        self.rtp = rtp
        self._queue = queue
        self._transfer_target = transfer_target
        self._handed_over = False
        self._closed = False
        # Attended transfer: places the consultation call to a target (None: blind transfer).
        self.consult: Callable[[str], Awaitable[SipDialog | None]] | None = None

    @staticmethod
    def sink(
        queue: asyncio.Queue[InboundEvent], stats: Callable[[], RtpStats]
    ) -> Callable[[InboundEvent], None]:
        """The function an `RtpStream` delivers into: audio beyond the limit is dropped."""

        def dropped(_event: InboundEvent) -> None:
            stats().overflow += 1

        bounded = BoundedInbound(queue, dropped)

        def put(event: InboundEvent) -> None:
            bounded.put(event)

        return put

    async def inbound(self) -> AsyncIterator[InboundEvent]:
        ended = asyncio.ensure_future(self.dialog.ended.wait())
        try:
            while True:
                if not self._queue.empty():
                    yield self._queue.get_nowait()
                    continue
                if ended.done():
                    break
                getter = asyncio.ensure_future(self._queue.get())
                done, _ = await asyncio.wait({getter, ended}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    yield getter.result()
                else:
                    getter.cancel()
        finally:
            ended.cancel()
        reason = self.dialog.end_reason or "connection_lost"
        if reason != "local_bye":
            yield HangupIn(reason, self.dialog.end_detail or "ended by the caller")

    async def send_audio(self, samples: np.ndarray) -> None:
        self.rtp.send(samples)

    async def send_event(self, event: Mapping[str, Any]) -> None:
        """A SIP peer takes no control events."""

    async def clear_audio(self) -> None:
        # Packets leave as they are paced, so nothing is queued here; the next one starts a
        # new talk spurt so the peer's jitter buffer may resynchronise.
        self.rtp.talk_spurt()

    def target_uri(self, to: str | None) -> str | None:
        """A transfer target as a SIP URI: numbers go to the caller's domain."""
        target = to or self._transfer_target
        if not target:
            return None
        if target.startswith(("sip:", "sips:", "tel:")):
            return target
        _, host, port = uri_user_host(address_uri(self.dialog.local))
        return f"sip:{target}@{host}" + (f":{port}" if port else "")

    async def transfer(self, to: str | None, reason: str) -> bool:
        """REFER the caller to the target; True once the peer took it.

        Blind by default. With a `consult` function (attended transfer), a consultation call
        to the target is placed first and the REFER carries `Replaces` for it (RFC 3891):
        the caller's side calls the target, which swaps our consultation leg for the caller.
        """
        target = self.target_uri(to)
        if target is None or self.dialog.ended.is_set():
            return False
        replaces = None
        consultation: SipDialog | None = None
        if self.consult is not None:
            consultation = await self.consult(target)
            if consultation is None:
                log.info(
                    "sip call %s: the target %s did not take the consultation call",
                    self.dialog.call_id,
                    target,
                )
                return False
            replaces = (
                f"{consultation.call_id};to-tag={consultation.remote_tag}"
                f";from-tag={consultation.local_tag}"
            )
        done = await self.dialog.refer(target, replaces)
        if consultation is not None:
            self.dialog.ua.spawn(release_unreplaced(consultation, REPLACE_GRACE_S if done else 0))
        kind = "attended" if replaces else "blind"
        log.info(
            "sip call %s: %s transfer to %s %s",
            self.dialog.call_id,
            kind,
            target,
            "accepted" if done else "failed",
        )
        self._handed_over = done
        return done

    async def close(self, reason: str) -> None:
        """Hangs up (BYE, also after a transfer: RFC 5589 says the transferor leaves)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            await self.dialog.bye()
        self.rtp.close()


async def release_unreplaced(leg: SipDialog, grace_s: float) -> None:
    """Hangs up a consultation leg the target has not replaced within `grace_s`.

    A transferee that ignores `Replaces` (baresip 1.0 dials the Refer-To URI as a new call)
    leaves the target with our silent leg beside the caller's call; a failed REFER leaves it
    with nothing to swap in at all.
    """
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(leg.ended.wait(), grace_s)
    await leg.bye()
