"""Registration with digest authentication against SIPp acting as a registrar, which checks
the credentials with its own digest code (verifyauth)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from callwright.sip.register import Registration, RegistrationError
from callwright.sip.settings import SipSettings
from callwright.sip.ua import InviteServer, SipUserAgent
from tests.sip_peers import free_port, scenario


async def no_calls(invite: InviteServer) -> None:
    raise AssertionError("no INVITE expected")


async def registrar(tmp_path: Path, port: int, password: str) -> asyncio.subprocess.Process:
    xml = tmp_path / f"registrar-{port}.xml"
    xml.write_text(scenario("registrar.xml", user="cw100", password=password))
    return await asyncio.create_subprocess_exec(
        "sipp", "-sf", str(xml), "-i", "127.0.0.1", "-p", str(port), "-m", "1", "-nostdin",
        "-nr", "-timeout", "20s", "-timeout_error", "-trace_err", cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def test_registers_with_digest_refreshes_and_unregisters(tmp_path: Path) -> None:
    port = free_port()
    sipp = await registrar(tmp_path, port, "s3cret")
    ua = SipUserAgent(SipSettings(enabled=True, port=0), no_calls)
    await ua.start()
    try:
        await asyncio.sleep(0.3)  # SIPp binds its port
        registration = Registration(ua, f"sip:127.0.0.1:{port}", "cw100", "s3cret")
        running = asyncio.create_task(registration.run())
        await asyncio.wait_for(registration.registered.wait(), 10)
        assert registration.granted_s == 60  # what the registrar granted, not what we asked
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)  # unregisters (Expires: 0)
        assert await asyncio.wait_for(sipp.wait(), 10) == 0  # SIPp checked every step
    finally:
        ua.close()
        with contextlib.suppress(ProcessLookupError):  # SIPp may have finished its scenario
            sipp.kill()


async def test_a_wrong_password_is_refused_by_the_registrar(tmp_path: Path) -> None:
    port = free_port()
    sipp = await registrar(tmp_path, port, "the-real-one")
    ua = SipUserAgent(SipSettings(enabled=True, port=0), no_calls)
    await ua.start()
    try:
        await asyncio.sleep(0.3)
        registration = Registration(ua, f"sip:127.0.0.1:{port}", "cw100", "a-guess")
        try:
            await registration.register()
        except RegistrationError as exc:
            assert "403" in str(exc)
        else:
            raise AssertionError("registered with a wrong password")
    finally:
        ua.close()
        with contextlib.suppress(ProcessLookupError):  # SIPp may have finished its scenario
            sipp.kill()
        await sipp.wait()
