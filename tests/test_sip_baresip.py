"""baresip (Debian), a real softphone, calls the agent from its own network namespace (it
needs an interface other than loopback: a veth pair the test creates): audio both ways in
G.711, and a transfer by REFER that baresip carries out by calling the desk (SIPp)."""

from __future__ import annotations

import asyncio
import ipaddress
import wave
from pathlib import Path

import numpy as np

from callwright.agent.stack import AgentStack
from callwright.audio.resample import resample
from callwright.stt.whisper import WhisperStt
from callwright.tts.espeak import EspeakTts
from tests.conftest import normalize
from tests.sip_peers import (
    baresip_config,
    called_user,
    demo_stack,
    free_port,
    records_called,
    sip_server,
    veth_namespace,
    write_pcm_wav,
)

CALLER_LINE = "I would like to speak to a real person please."


async def caller_audio(path: Path) -> Path:
    """What baresip says: 3 s of line noise, the line, then 25 s more (it hangs up when its
    file ends, so the file outlasts the call)."""
    voice = EspeakTts(voice="en-us", words_per_minute=140)
    speech = np.concatenate([c async for c in voice.synthesize(CALLER_LINE)])
    speech = resample(speech, voice.sample_rate, 8000)
    rng = np.random.default_rng(11)
    noise = [rng.normal(0, 20, int(8000 * s)).astype(np.int16) for s in (3.0, 25.0)]
    return write_pcm_wav(path, np.concatenate([noise[0], speech, noise[1]]), 8000)


def heard_by_baresip(folder: Path) -> np.ndarray:
    """The audio baresip decoded from the first call (sndfile's `dump-*-dec.wav`), 16 kHz."""
    dumps = sorted(folder.glob("dump-*-dec.wav"), key=lambda p: p.stat().st_mtime)
    assert dumps, f"baresip wrote no audio dump in {folder}"
    with wave.open(str(dumps[0])) as dump:
        samples = np.frombuffer(dump.readframes(dump.getnframes()), np.int16)
        rate = dump.getframerate()
    return resample(samples, rate, 16000)


async def test_baresip_call_has_audio_both_ways_and_is_transferred_by_refer(
    stack: AgentStack, tmp_path: Path, oracle_stt: WhisperStt
) -> None:
    source = await caller_audio(tmp_path / "caller.wav")
    with veth_namespace() as ns:
        desk_port = free_port(host=ns.host_ip)
        desk = await asyncio.create_subprocess_exec(
            "sipp", "-sn", "uas", "-i", ns.host_ip, "-p", str(desk_port), "-m", "1",
            "-nostdin", "-nr", "-timeout", "60s", cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        peer = ipaddress.ip_network(f"{ns.peer_ip}/32")
        async with sip_server(
            demo_stack(stack),
            host=ns.host_ip,
            allow_from=(peer,),
            transfer_target=f"sip:desk@{ns.host_ip}:{desk_port}",
        ) as server:
            called = called_user("agent")
            folder = baresip_config(tmp_path / "baresip", f"{ns.peer_ip}:5060", source)
            phone = await asyncio.create_subprocess_exec(
                *ns.command("baresip", "-f", str(folder), "-t", "45",
                            "-e", f"/dial sip:{called}@{ns.host_ip}:{server.port}"),
                cwd=folder, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            log, _ = await asyncio.wait_for(phone.communicate(), 90)
            [detail] = await records_called(stack, called, timeout_s=40)
        try:
            desk_code = await asyncio.wait_for(desk.wait(), 10)
        except TimeoutError:
            desk.kill()
            desk_code = await desk.wait()
    output = log.decode(errors="replace")[-3000:]
    # The agent heard the caller (its words are in the record), and the caller heard the
    # agent (Whisper, independent of the server, on what baresip decoded).
    caller_lines = " ".join(u.text for u in detail.utterances if u.role == "caller")
    assert {"real", "person"} <= set(normalize(caller_lines)), (caller_lines, output)
    heard = (await oracle_stt.transcribe(heard_by_baresip(folder))).text
    assert {"thanks", "calling"} <= set(normalize(heard)), heard
    # The transfer: REFER to the desk, accepted by baresip, which called the desk itself.
    assert detail.record.outcome == "transferred", (detail.record, output)
    transfers = [e for e in detail.events if e.kind == "transfer"]
    assert transfers, [e.kind for e in detail.events]
    assert desk_code == 0, output  # the desk (SIPp UAS) took baresip's call and its BYE
