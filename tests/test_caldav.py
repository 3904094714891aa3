"""Appointments mirrored into a real CalDAV server (Radicale, started locally)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import aiohttp.web
import pytest

from callwright.agent.stack import AgentStack
from callwright.flows.slots import extract_date
from callwright.integrations.caldav import CalDavCalendar, CalDavOptions
from callwright.sim.caller import CallerSimulator, ScriptLine
from callwright.tts.espeak import EspeakTts
from examples.clinic.factory import ClinicResponderFactory
from tests.conftest import brief_clinic, serve
from tests.fakes.clinic import open_test_clinic, start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def radicale(tmp_path: Path) -> AsyncIterator[str]:
    """A Radicale server on a free port; yields its root URL."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "radicale",
        "--server-hosts",
        f"127.0.0.1:{port}",
        "--auth-type",
        "none",
        "--storage-filesystem-folder",
        str(tmp_path / "collections"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(url) as response:
                        if response.status < 500:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("radicale did not start")
        yield url
    finally:
        process.terminate()
        await process.wait()


async def test_booking_rescheduling_and_cancelling_reach_the_calendar(
    tmp_path: Path, radicale: str
) -> None:
    calendar = CalDavCalendar(
        CalDavOptions(radicale + "clinic/appointments/", username="clinic", password="pw")
    )
    await calendar.ensure_calendar()
    await calendar.ensure_calendar()  # exists already: fine
    try:
        async with open_test_clinic(tmp_path) as clinic:
            clinic.add_hook(calendar.on_event)
            talk = await start(clinic, "cal-1")
            await talk.say("Book me with Doctor Nguyen on Wednesday at 9 30 in the morning")
            await talk.say("John Smith, July 4th, 1990")
            await talk.say("Yes please")
            [booked] = await clinic.data.store.appointments("pat_john")
            await calendar.flush()  # the hook queues; the calendar is written behind it
            event = await calendar.get(booked.id)
            assert event is not None
            assert "DTSTART:20261125T093000" in event and "STATUS:CONFIRMED" in event

            await talk.say("Actually I need to reschedule that appointment.")
            await talk.say("Thursday at 3 pm")
            await talk.say("Yes")
            await calendar.flush()  # the hook queues; the calendar is written behind it
            event = await calendar.get(booked.id)
            assert event is not None and "DTSTART:20261126T150000" in event

            await talk.say("Sorry, I want to cancel my appointment.")
            await talk.say("Yes")
            await calendar.flush()  # the hook queues; the calendar is written behind it
            event = await calendar.get(booked.id)
            assert event is not None and "STATUS:CANCELLED" in event
            [cancelled] = await clinic.data.store.appointments("pat_john")
            assert cancelled.status == "cancelled"
            assert cancelled.start == dt.datetime(2026, 11, 26, 15, 0)
    finally:
        await calendar.close()


@pytest.fixture(scope="module")
async def stack(
    stack: AgentStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AgentStack]:
    """The process's models with this module's own clinic (its database, a one-word greeting)."""
    async with brief_clinic(stack, tmp_path_factory.mktemp("caldav-clinic")) as own:
        yield own


@pytest.fixture(scope="module")
async def server_url(stack: AgentStack) -> AsyncIterator[str]:
    async with serve(stack) as url:
        yield url


async def test_a_spoken_booking_lands_in_the_calendar(
    stack: AgentStack, server_url: str, radicale: str
) -> None:
    clinic = stack.responders
    assert isinstance(clinic, ClinicResponderFactory)
    calendar = CalDavCalendar(
        CalDavOptions(radicale + "clinic/spoken/", username="clinic", password="pw")
    )
    await calendar.ensure_calendar()
    clinic.add_hook(calendar.on_event)
    # Only this call's booking counts (the module's clinic is its own, but seeded).
    before = {a.id for a in await clinic.data.store.appointments("pat_sarah")}
    try:
        simulator = CallerSimulator(
            server_url, EspeakTts(voice="en-us", words_per_minute=160), turn_timeout_s=30.0
        )
        await simulator.run(
            [
                ScriptLine("I want to book an appointment with Doctor Nguyen."),
                ScriptLine("My name is Sarah Thompson, born on October the first, two thousand."),
                ScriptLine("Please make it Thursday at eleven in the morning."),
                ScriptLine("Yes, that is correct."),
            ]
        )
        thursday = extract_date("Thursday", dt.date.today())
        assert thursday is not None
        appointments = await clinic.data.store.appointments("pat_sarah")
        [booked] = [a for a in appointments if a.id not in before]
        assert booked.start == dt.datetime.combine(thursday, dt.time(11, 0))
        await calendar.flush()  # the hook queues; the calendar is written behind it
        event = await calendar.get(booked.id)
        assert event is not None and "STATUS:CONFIRMED" in event
        assert f"DTSTART:{thursday:%Y%m%d}T110000" in event
    finally:
        clinic.data.hooks.remove(calendar.on_event)
        await calendar.close()


@contextlib.asynccontextmanager
async def calendar_at(
    put: Callable[[aiohttp.web.Request], Awaitable[aiohttp.web.Response]], timeout_s: float = 5.0
) -> AsyncIterator[CalDavCalendar]:
    """A calendar whose server answers each PUT with `put`; both closed on exit."""
    app = aiohttp.web.Application()
    app.router.add_put("/cal/{uid}", put)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await aiohttp.web.TCPSite(runner, "127.0.0.1", port).start()
    calendar = CalDavCalendar(CalDavOptions(f"http://127.0.0.1:{port}/cal/", timeout_s=timeout_s))
    try:
        yield calendar
    finally:
        await calendar.close()
        await runner.cleanup()


async def test_a_calendar_that_does_not_answer_never_holds_up_the_booking() -> None:
    # The hook returns while the calendar still holds the first write: a booking tool that
    # awaits its events is not kept waiting (its timeout would retry a booking already made).
    arrived, release = asyncio.Event(), asyncio.Event()
    written: list[str] = []

    async def slow_put(request: aiohttp.web.Request) -> aiohttp.web.Response:
        arrived.set()
        await release.wait()
        written.append(request.path)
        return aiohttp.web.Response(status=201)

    async with calendar_at(slow_put, timeout_s=60.0) as calendar:
        booked = {"id": "apt_1", "start": "2026-12-09T09:30:00", "status": "booked"}
        moved = booked | {"start": "2026-12-10T15:00:00"}
        await calendar.on_event("appointment_booked", booked)
        await calendar.on_event("appointment_rescheduled", moved)
        await asyncio.wait_for(arrived.wait(), 30)  # the calendar has the first write now
        assert written == []  # and both hooks have long returned
        release.set()
        await calendar.flush()
        assert written == ["/cal/apt_1.ics", "/cal/apt_1.ics"]  # in order, both made


async def test_a_bad_appointment_does_not_stop_the_writes_behind_it() -> None:
    written: list[str] = []

    async def put(request: aiohttp.web.Request) -> aiohttp.web.Response:
        written.append(request.path)
        return aiohttp.web.Response(status=201)

    async with calendar_at(put) as calendar:
        await calendar.on_event("appointment_booked", {"id": "apt_bad", "start": "someday"})
        good = {"id": "apt_2", "start": "2026-12-09T09:30:00", "status": "booked"}
        await calendar.on_event("appointment_booked", good)
        await asyncio.wait_for(calendar.flush(), 30)
        assert written == ["/cal/apt_2.ics"]
