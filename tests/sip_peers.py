"""Helpers for tests against real SIP peers: a callwright server with SIP on free ports, SIPp
runs from the scenario templates in tests/data/sip, and µ-law WAV files for their audio."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import socket
import string
import wave
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web

from callwright.agent.stack import AgentStack
from callwright.audio.mulaw import mulaw_encode
from callwright.config import LimitSettings
from callwright.server.admission import ADMISSION, Admission
from callwright.server.app import create_app
from callwright.server.sip import SIP, SipServer
from callwright.sim.sip_caller import SipCallReport
from callwright.sip.settings import SipSettings
from callwright.store.base import CallDetail
from tests.conftest import provision_operators
from tests.fakes.twilio_rest import DAYTIME

SCENARIOS = Path(__file__).resolve().parent / "data" / "sip"
LOOPBACK_NET = "127.0.0.0/8"


def free_port(kind: int = socket.SOCK_DGRAM, host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (for peers that cannot be told to pick their own)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(slots=True)
class SipServerUnderTest:
    port: int
    app: web.Application
    url: str = ""  # the HTTP API

    @property
    def sip(self) -> SipServer:
        return self.app[SIP]

    @property
    def admission(self) -> Admission:
        return self.app[ADMISSION]


@contextlib.asynccontextmanager
async def sip_server(
    stack: AgentStack, limits: LimitSettings | None = None, **options: Any
) -> AsyncIterator[SipServerUnderTest]:
    """A callwright server whose SIP user agent listens on a free UDP port of `host`."""
    import ipaddress

    options = {"allow_from": (ipaddress.ip_network(LOOPBACK_NET),)} | options
    settings = SipSettings(enabled=True, port=0, **options)
    await provision_operators(stack.store)
    app = create_app(stack, sip=settings, limits=limits, compliance=DAYTIME)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    http_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield SipServerUnderTest(app[SIP].ua.port, app, f"http://127.0.0.1:{http_port}")
    finally:
        await runner.cleanup()


def write_mulaw_wav(path: Path, samples: np.ndarray) -> Path:
    """A WAV of G.711 µ-law at 8 kHz (format 7), what SIPp's rtp_stream plays as PCMU."""
    data = mulaw_encode(samples.astype(np.int16))
    with path.open("wb") as out:
        fmt = (7).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
        fmt += (8000).to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little")
        chunks = b"fmt " + len(fmt).to_bytes(4, "little") + fmt
        chunks += b"data" + len(data).to_bytes(4, "little") + data
        out.write(b"RIFF" + (4 + len(chunks)).to_bytes(4, "little") + b"WAVE" + chunks)
    return path


def write_pcm_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype(np.int16).tobytes())
    return path


def scenario(name: str, keep: tuple[str, ...] = (), **values: object) -> str:
    """A scenario template: its @VALUES@ filled in, each `<!-- NAME -->...<!-- /NAME -->`
    block kept (markers gone) if its lower-case name is in `keep`, else cut out."""
    text = (SCENARIOS / name).read_text()
    while (end := text.find("<!-- /")) >= 0:
        block = text[end + 6 : text.index(" -->", end)]
        start = text.index(f"<!-- {block} -->")
        close = end + len(f"<!-- /{block} -->")
        inner = text[start + len(f"<!-- {block} -->") : end]
        text = text[:start] + (inner if block.lower() in keep else "") + text[close:]
    for key, value in values.items():
        text = text.replace(f"@{key.upper()}@", str(value))
    return text


@dataclass(frozen=True, slots=True)
class SippRun:
    returncode: int
    output: str
    errors: str


def _write_scenario(workdir: Path, xml: str) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"scenario-{free_port()}.xml"
    path.write_text(xml)
    return path


def _read_errors(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


async def run_sipp(
    xml: str,
    port: int,
    workdir: Path,
    *,
    calls: int = 1,
    rate: float | None = None,
    timeout_s: float = 30.0,
    target: str = "127.0.0.1",
    local: str = "127.0.0.1",
    call_id: str | None = None,
) -> SippRun:
    """Runs SIPp (UAC) with a scenario against `target:port`; its exit code (0: every call
    went as the scenario says), its statistics and its error log. Call-IDs are
    `<call_id>-<call number>` when `call_id` is given."""
    path = _write_scenario(workdir, xml)
    media = free_port()
    args = [
        "-sf",
        str(path),
        "-m",
        str(calls),
        "-i",
        local,
        "-p",
        str(free_port(host=local)),
        "-mi",
        local,
        "-mp",
        str(media),
        "-nostdin",
        "-trace_err",
        "-error_file",
        str(workdir / f"{path.stem}.err"),
        "-timeout",
        f"{int(timeout_s)}s",
        "-timeout_error",
        "-nr",
    ]
    if call_id is not None:
        args += ["-cid_str", f"{call_id}-%u"]
    if rate is not None:
        args += ["-r", str(rate), "-l", str(calls)]
    proc = await asyncio.create_subprocess_exec(
        "sipp",
        f"{target}:{port}",
        *args,
        cwd=workdir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s + 10)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
    errors = (
        (workdir / f"{path.stem}.err").read_text()
        if (workdir / f"{path.stem}.err").exists()
        else ""
    )
    return SippRun(
        proc.returncode or 0,
        out.decode(errors="replace")[-3000:],
        errors[-3000:] + err.decode(errors="replace")[-1000:],
    )


async def sip_record(stack: AgentStack, sip_call_id: str, timeout_s: float = 20.0) -> CallDetail:
    """The finished call record of the SIP call with this Call-ID."""
    for _ in range(int(timeout_s * 10)):
        for record in await stack.store.list_calls(1000):
            if record.parameters.get("sip_call_id") == sip_call_id and record.status != "active":
                detail = await stack.store.get_call(record.call_id)
                assert detail is not None
                return detail
        await asyncio.sleep(0.1)
    raise AssertionError(f"no finished record for SIP call {sip_call_id}")


def demo_stack(stack: AgentStack) -> AgentStack:
    """The deterministic demo agent: its lines are known word for word; a SIP call is a phone
    call, so it opens with the (brief) recording disclosure."""
    from examples.clinic.front_desk import DemoResponderFactory
    from tests.conftest import brief_opening

    return dataclasses.replace(
        stack, responders=DemoResponderFactory(), disclosure=brief_opening(stack)
    )


@dataclass(frozen=True, slots=True)
class VethNamespace:
    """A network namespace joined to this one by a veth pair: `host_ip` here, `peer_ip` there."""

    name: str
    host_ip: str
    peer_ip: str

    def command(self, *argv: str) -> list[str]:
        """`argv` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]


def _ip(*argv: str) -> None:
    import subprocess

    subprocess.run(["ip", *argv], check=True, capture_output=True, timeout=10)


@contextlib.contextmanager
def veth_namespace() -> Iterator[VethNamespace]:
    """A fresh namespace and veth pair with a random /30 of 10.214.0.0/16 (own names: tests
    may run in parallel). baresip needs an interface other than loopback."""
    import secrets

    tag = secrets.token_hex(4)
    net = secrets.randbelow(16384) * 4
    host_ip, peer_ip = (
        f"10.214.{net // 256}.{net % 256 + 1}",
        f"10.214.{net // 256}.{net % 256 + 2}",
    )
    name, here, there = f"cw-{tag}", f"cw{tag}a", f"cw{tag}b"
    _ip("netns", "add", name)
    try:
        _ip("link", "add", here, "type", "veth", "peer", "name", there)
        _ip("link", "set", there, "netns", name)
        _ip("addr", "add", f"{host_ip}/30", "dev", here)
        _ip("link", "set", here, "up")
        _ip("netns", "exec", name, "ip", "addr", "add", f"{peer_ip}/30", "dev", there)
        _ip("netns", "exec", name, "ip", "link", "set", there, "up")
        _ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        yield VethNamespace(name, host_ip, peer_ip)
    finally:
        with contextlib.suppress(Exception):
            _ip("link", "del", here)
        with contextlib.suppress(Exception):
            _ip("netns", "del", name)


def baresip_config(folder: Path, listen: str, source_wav: Path) -> Path:
    """A baresip configuration: G.711 only, speaks `source_wav`, dumps what it hears (sndfile)
    into `folder`, plays nothing (aubridge), takes commands from `-e`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config").write_text(
        "\n".join(
            [
                "poll_method epoll",
                f"sip_listen {listen}",
                "audio_player aubridge,nil",
                f"audio_source aufile,{source_wav}",
                "audio_alert aubridge,nil",
                "module_path /usr/lib/baresip/modules",
                "module g711.so",
                "module aufile.so",
                "module aubridge.so",
                "module sndfile.so",
                "module_app account.so",
                "module_app menu.so",
                f"snd_path {folder}",
                "",
            ]
        )
    )
    user_host = listen.rsplit(":", 1)[0]
    (folder / "accounts").write_text(f"<sip:caller@{user_host}>;regint=0;audio_codecs=PCMU\n")
    return folder


def called_user(prefix: str) -> str:
    """A user for one test to dial: letters only, since a run of digits in a record's
    parameters ("agent-38391826") is redacted as a phone number and would not be found."""
    return f"{prefix}-{''.join(random.choices(string.ascii_lowercase, k=10))}"


async def records_called(
    stack: AgentStack,
    to_user: str,
    count: int = 1,
    timeout_s: float = 20.0,
    phone: SipCallReport | None = None,
) -> list[CallDetail]:
    """The finished SIP call records of calls to the user `to_user` (each test dials its own);
    `phone`: the calling phone's report, told in the failure (a refusal has no `to`)."""
    for _ in range(int(timeout_s * 10)):
        found = [
            r
            for r in await stack.store.list_calls(5000)
            if r.channel == "sip" and r.parameters.get("to") == to_user and r.status != "active"
        ]
        if len(found) >= count:
            details = [await stack.store.get_call(r.call_id) for r in found]
            return [d for d in details if d is not None]
        await asyncio.sleep(0.1)
    # What the store holds for that user, if anything: a call still active, and how far it got.
    sip_call_id = phone.sip_call_id if phone is not None else None
    held = [
        r
        for r in await stack.store.list_calls(5000)
        if r.parameters.get("to") == to_user
        or (sip_call_id and r.parameters.get("sip_call_id") == sip_call_id)
    ]
    story: list[Any] = []
    for r in held:
        detail = await stack.store.get_call(r.call_id)
        kinds = [e.kind for e in detail.events] if detail is not None else []
        story.append((r.channel, r.status, r.end_reason, kinds[-12:]))
    if phone is not None:
        heard = (phone.final_status, len(phone.lines), phone.frames_received, phone.ended_by_agent)
        story.append(("phone: final status, lines, frames, hung up by agent", heard))
    raise AssertionError(f"no finished SIP call to {to_user}; the store has {story}")
