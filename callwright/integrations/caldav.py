"""Appointments mirrored into an external CalDAV calendar (Radicale, Nextcloud, iCloud, ...).

Plain CalDAV over HTTP: MKCALENDAR once, then one iCalendar resource per appointment, PUT on
booking and rescheduling (same UID, so the event moves) and marked STATUS:CANCELLED on
cancellation, so the calendar keeps the history the way front desks expect. The embedded store
stays the system of record; the calendar is a copy the staff look at.

Writes go out in the background, in order, from a bounded queue: the hook returns at once, so a
slow or unreachable calendar never holds up the booking tool (whose timeout would then retry a
booking already made). A write that fails is tried twice more, then logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

MAX_PENDING_WRITES = 1000
RETRY_PAUSES_S = (1.0, 5.0)
_MKCALENDAR_BODY = """<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop><D:displayname>{name}</D:displayname></D:prop></D:set>
</C:mkcalendar>"""


@dataclass(frozen=True, slots=True)
class CalDavOptions:
    """A calendar collection.

    Attributes:
        url: the collection, e.g. "http://127.0.0.1:5232/office/appointments/".
        username: for basic auth, if the server needs it.
        password: for basic auth.
        slot_minutes: length of an appointment event.
        timeout_s: limit for one request.
    """

    url: str
    username: str | None = None
    password: str | None = None
    slot_minutes: int = 30
    timeout_s: float = 5.0


def _stamp(value: dt.datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%S")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def to_ical(appointment: dict[str, Any], summary: str, slot_minutes: int = 30) -> str:
    """One appointment (as `Appointment.to_dict()`) as an iCalendar VEVENT."""
    start = dt.datetime.fromisoformat(appointment["start"])
    end = start + dt.timedelta(minutes=slot_minutes)
    status = "CANCELLED" if appointment.get("status") == "cancelled" else "CONFIRMED"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//callwright//appointments//EN",
        "BEGIN:VEVENT",
        f"UID:{appointment['id']}",
        f"DTSTAMP:{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}",
        f"DTSTART:{_stamp(start)}",
        f"DTEND:{_stamp(end)}",
        f"SUMMARY:{_escape(summary)}",
        f"STATUS:{status}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(lines) + "\r\n"


class CalDavCalendar:
    """Writes appointments to one CalDAV calendar. An agent event hook: pass `on_event`."""

    def __init__(self, options: CalDavOptions) -> None:
        self.options = options
        self._session: aiohttp.ClientSession | None = None
        self._writes: asyncio.Queue[tuple[dict[str, Any], str]] = asyncio.Queue(MAX_PENDING_WRITES)
        self._writer: asyncio.Task[None] | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {}
            if self.options.username is not None:
                login, password = self.options.username, self.options.password or ""
                headers["Authorization"] = aiohttp.encode_basic_auth(login, password)
            self._session = aiohttp.ClientSession(
                headers=headers, timeout=aiohttp.ClientTimeout(total=self.options.timeout_s)
            )
        return self._session

    def _event_url(self, uid: str) -> str:
        return self.options.url.rstrip("/") + f"/{uid}.ics"

    async def ensure_calendar(self, name: str = "Appointments") -> None:
        """Creates the calendar collection unless it exists."""
        body = _MKCALENDAR_BODY.format(name=name)
        headers = {"Content-Type": "application/xml; charset=utf-8"}
        async with self._http().request(
            "MKCALENDAR", self.options.url, data=body, headers=headers
        ) as response:
            if response.status not in (201, 405, 409):
                text = await response.text()
                raise RuntimeError(f"MKCALENDAR {self.options.url}: HTTP {response.status} {text}")

    async def put(self, appointment: dict[str, Any], summary: str) -> None:
        """Creates or updates the event of an appointment."""
        ical = to_ical(appointment, summary, self.options.slot_minutes)
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        url = self._event_url(appointment["id"])
        async with self._http().put(url, data=ical.encode(), headers=headers) as response:
            if response.status not in (200, 201, 204):
                raise RuntimeError(f"PUT {url}: HTTP {response.status}")

    async def get(self, uid: str) -> str | None:
        """The iCalendar text of an event, or None."""
        async with self._http().get(self._event_url(uid)) as response:
            if response.status == 404:
                return None
            response.raise_for_status()
            return await response.text()

    async def on_event(self, kind: str, data: dict[str, Any]) -> None:
        """Event hook: mirrors booked, moved and cancelled appointments (queued; at once)."""
        if kind not in ("appointment_booked", "appointment_rescheduled", "appointment_cancelled"):
            return
        summary = f"Appointment {data.get('doctor_id', '')} / {data.get('patient_id', '')}"
        if self._writes.full():
            log.warning("calendar: %d writes waiting; appointment %s not mirrored",
                        self._writes.qsize(), data.get("id"))  # fmt: skip
            return
        self._writes.put_nowait((dict(data), summary))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="caldav-writes")

    async def flush(self) -> None:
        """Returns once every queued write was made (or given up on)."""
        await self._writes.join()

    async def _write_all(self) -> None:
        while True:
            appointment, summary = await self._writes.get()
            try:
                for attempt in range(len(RETRY_PAUSES_S) + 1):
                    try:
                        await self.put(appointment, summary)
                        break
                    except (aiohttp.ClientError, TimeoutError, RuntimeError) as exc:
                        if attempt == len(RETRY_PAUSES_S):
                            log.warning("calendar: appointment %s not mirrored: %s",
                                        appointment.get("id"), exc)  # fmt: skip
                        else:
                            await asyncio.sleep(RETRY_PAUSES_S[attempt])
                    except Exception:  # not the calendar's fault: trying again changes nothing
                        log.exception("calendar: appointment %s not mirrored",
                                      appointment.get("id"))  # fmt: skip
                        break
            finally:
                self._writes.task_done()

    async def close(self, flush_s: float = 5.0) -> None:
        """Makes the queued writes (for up to `flush_s`), then closes the HTTP session."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), flush_s)
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer
        if self._session is not None:
            await self._session.close()
