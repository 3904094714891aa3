"""Outgoing, signed webhooks with retries and a dead-letter record.

Events (call started, appointment booked, call ended with a summary, ...) are queued without
waiting and delivered by a few background tasks side by side (a receiver that hangs holds
those, not every event behind one): each POST is signed with HMAC-SHA256 over
"<timestamp>.<body>" (header `X-Callwright-Signature: t=<ts>,v1=<hex>`), retried with
exponential backoff, and written to a dead-letter record when every attempt failed (a SQLite
file of the worker's, or with the PostgreSQL store an outbox every worker shares:
`integrations/outbox.py`).
Dead letters are retried periodically (and on `redeliver()`), a batch claimed at a time, so a
receiver that was down gets the event later; the event id stays the same, so the receiver can
deduplicate. The queue in memory is bounded: past `max_queued` events an event goes straight
to the dead-letter record, and at shutdown the queued ones do, so none is lost. A redirect is
not followed (the signed event would go where the receiver points): it counts as a failure.

Events carry personal data (a handoff packet has the caller's number and words), so they follow
the redaction policy before they are queued: the receiver, the queue and the dead-letter record
only ever see redacted data unless a destination is configured to receive it raw. Dead letters
older than the retention period are deleted, delivered or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from callwright.core import env as read
from callwright.integrations.outbox import DeadLetter, SqliteOutbox, WebhookOutbox
from callwright.observe.redact import RedactionPolicy, Redactor

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Callwright-Signature"
EVENT_ID_HEADER = "X-Callwright-Event-Id"


@dataclass(frozen=True, slots=True)
class WebhookOptions:
    """Where to send events and how hard to try.

    Attributes:
        url: the receiver.
        secret: shared secret for the signature.
        max_attempts: attempts before an event is dead-lettered.
        backoff_s: wait before the second attempt; doubled each time after.
        timeout_s: limit for one POST.
        redeliver_every_s: how often dead letters are retried.
        events: event kinds to send; empty sends all.
        redaction: what this destination may receive; None sends events unredacted (only
            for a receiver trusted with personal data).
        senders: deliveries side by side.
        max_queued: events waiting in memory at most; more go to the dead-letter record.
        redeliver_batch: dead letters claimed at a time (a claim is a lease: a batch must be
            sent well within it, or another worker would claim it again).
        retention_days: dead letters older than this are deleted, delivered or not; None keeps
            them.
    """

    url: str
    secret: str
    max_attempts: int = 4
    backoff_s: float = 0.5
    timeout_s: float = 5.0
    redeliver_every_s: float = 60.0
    events: frozenset[str] = frozenset()
    redaction: RedactionPolicy | None = field(default_factory=RedactionPolicy)
    senders: int = 4
    max_queued: int = 1000
    redeliver_batch: int = 20
    retention_days: float | None = 30.0

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError("a webhook needs a secret: receivers could not tell forged events")


def redact_event(data: Mapping[str, Any], policy: RedactionPolicy) -> dict[str, Any]:
    """The event data per the policy; values of name fields are names wherever they appear
    (and their parts alone: "Thanks Ada")."""
    redacted: dict[str, Any] = Redactor(policy).with_field_names(data).value(dict(data))
    return redacted


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(secret: str, header: str, body: bytes, tolerance_s: float = 300.0) -> bool:
    """What a receiver does: checks the signature and that it is recent."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


class WebhookSender:
    """Delivers events in the background. Call `start()` in the running loop, `close()` at exit.

    Args:
        options: receiver and retry policy.
        outbox: the record behind it (`integrations/outbox.py`), or the path of a SQLite file
            for this worker's dead letters.
    """

    def __init__(self, options: WebhookOptions, outbox: WebhookOutbox | Path | str) -> None:
        self.options = options
        self._outbox = outbox if not isinstance(outbox, Path | str) else SqliteOutbox(outbox)
        self._queue: asyncio.Queue[tuple[str, str, bytes]] = asyncio.Queue(options.max_queued)
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self.delivered = 0
        self.overflowed = 0  # events that went straight to the dead-letter record

    async def start(self) -> None:
        """Opens the record and starts delivery and redelivery."""
        await self._outbox.open()
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.options.timeout_s)
        )
        self._tasks = [
            *(
                asyncio.create_task(self._deliver_loop(), name=f"webhooks-{n}")
                for n in range(max(1, self.options.senders))
            ),
            asyncio.create_task(self._redeliver_loop(), name="webhooks-redeliver"),
        ]

    async def emit(self, kind: str, data: dict[str, Any]) -> None:
        """Queues an event; returns at once (an agent event hook)."""
        if self.options.events and kind not in self.options.events:
            return
        event_id = "evt_" + uuid.uuid4().hex[:16]
        if self.options.redaction is not None:
            data = redact_event(data, self.options.redaction)
        body = json.dumps(
            {"id": event_id, "type": kind, "created_at": time.time(), "data": data}, default=str
        ).encode()
        if self._closed:  # the record behind it is closed too
            log.warning("webhooks: %s event after shutdown not sent (%s)", kind, event_id)
            return
        if self._queue.full():  # kept for redelivery rather than held in memory
            self.overflowed += 1
            if self.overflowed == 1 or self.overflowed % 100 == 0:
                log.warning("webhooks: %d events past the queue's limit, kept for redelivery",
                            self.overflowed)  # fmt: skip
            await self._outbox.dead_letter(event_id, kind, body, "queue full: not sent yet", 0)
            return
        self._queue.put_nowait((event_id, kind, body))

    async def drain(self) -> None:
        """Waits until every queued event was delivered or dead-lettered."""
        await self._queue.join()

    async def _deliver_loop(self) -> None:
        while True:
            event_id, kind, body = await self._queue.get()
            try:
                try:
                    await self._outbox.sending(event_id, kind, body)
                except Exception:
                    log.exception("webhook %s: not recorded in the outbox; sent anyway", event_id)
                try:
                    error = await self._deliver(event_id, body)
                except asyncio.CancelledError:  # shutdown mid-delivery: kept, not lost
                    await self._outbox.dead_letter(
                        event_id, kind, body, "not sent before shutdown", 0
                    )
                    raise
                if error is not None:
                    await self._outbox.dead_letter(
                        event_id, kind, body, error, self.options.max_attempts
                    )
                    log.warning("webhook %s (%s) dead-lettered: %s", event_id, kind, error)
                else:
                    await self._outbox.delivered(event_id)
            except Exception:
                log.exception("webhook %s: outbox not updated", event_id)
            finally:
                self._queue.task_done()

    async def _deliver(self, event_id: str, body: bytes) -> str | None:
        """Tries every attempt; None on success, else the last error."""
        error = "not attempted"
        for attempt in range(self.options.max_attempts):
            if attempt:
                await asyncio.sleep(self.options.backoff_s * 2 ** (attempt - 1))
            error_or_none = await self._post(event_id, body)
            if error_or_none is None:
                self.delivered += 1
                return None
            error = error_or_none
        return error

    async def _post(self, event_id: str, body: bytes) -> str | None:
        assert self._session is not None
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.options.secret, int(time.time()), body),
            EVENT_ID_HEADER: event_id,
        }
        try:
            async with self._session.post(
                self.options.url, data=body, headers=headers, allow_redirects=False
            ) as r:
                if 200 <= r.status < 300:
                    return None
                if 300 <= r.status < 400:
                    return f"HTTP {r.status} (a redirect: not followed)"
                return f"HTTP {r.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"{type(exc).__name__}: {exc}"

    async def dead_letters(self) -> list[DeadLetter]:
        """The dead-letter record, delivered ones included."""
        return await self._outbox.dead_letters()

    async def redeliver(self) -> int:
        """Retries every undelivered dead letter once, a batch at a time; returns how many
        got through."""
        delivered, after = 0, None
        while True:
            batch = await self._outbox.claim_undelivered(self.options.redeliver_batch, after)
            for event_id, kind, body in batch:
                error = await self._post(event_id, body.encode())
                if error is None:
                    await self._outbox.delivered(event_id)
                    delivered += 1
                else:
                    await self._outbox.dead_letter(event_id, kind, body.encode(), error, 1)
            if len(batch) < self.options.redeliver_batch:
                return delivered
            after = batch[-1][0]

    async def purge_before(self, cutoff: float) -> int:
        """Deletes dead letters that failed before `cutoff`, delivered or not; returns how many."""
        deleted = await self._outbox.purge_before(cutoff)
        if deleted:
            log.info("retention: deleted %d webhook dead letters", deleted)
        return deleted

    async def _redeliver_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.redeliver_every_s)
            try:
                days = self.options.retention_days
                if days is not None:
                    await self.purge_before(time.time() - days * 86400.0)
                await self.redeliver()
            except Exception:
                log.exception("webhook redelivery failed")

    async def close(self) -> None:
        """Stops the background tasks; queued events not yet sent are dead-lettered."""
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while not self._queue.empty():
            event_id, kind, body = self._queue.get_nowait()
            error = "not sent before shutdown"
            await self._outbox.dead_letter(event_id, kind, body, error, 0)
        if self._session is not None:
            await self._session.close()
        await self._outbox.close()


def webhook_options_from_env(env: Mapping[str, str]) -> WebhookOptions:
    """The webhook destination from CALLWRIGHT_WEBHOOK_*; refuses one without a secret.

    Payloads follow the redaction policy (CALLWRIGHT_REDACT); CALLWRIGHT_WEBHOOK_REDACT
    overrides it for the webhook in the same "kind=action" form, or "none" for raw data.
    """
    url = read.text(env, "CALLWRIGHT_WEBHOOK_URL")
    secret = read.text(env, "CALLWRIGHT_WEBHOOK_SECRET")
    if url is None:
        raise ValueError("CALLWRIGHT_WEBHOOK_URL is not set")
    if secret is None:
        raise ValueError("CALLWRIGHT_WEBHOOK_SECRET is required when CALLWRIGHT_WEBHOOK_URL is set")
    policy = RedactionPolicy.from_env(env)
    override = read.text(env, "CALLWRIGHT_WEBHOOK_REDACT", "") or ""
    redaction: RedactionPolicy | None = policy
    if override.lower() in ("none", "off", "raw"):
        redaction = None
    elif override:
        redaction = RedactionPolicy.from_env({**env, "CALLWRIGHT_REDACT": override})
    return WebhookOptions(
        url,
        secret,
        redaction=redaction,
        retention_days=policy.retention_days,
    )
