"""Kamailio (Debian) as the SIP edge in front of two callwright workers, with the shipped
configuration (deploy/kamailio/kamailio.cfg): calls placed through it by SIPp land on both
workers (round robin), and every in-dialog request follows the record-route to its worker."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np

from callwright.agent.stack import AgentStack
from tests.sip_peers import (
    demo_stack,
    free_port,
    run_sipp,
    scenario,
    sip_record,
    sip_server,
    write_mulaw_wav,
)

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "kamailio" / "kamailio.cfg"
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"


def dispatcher_list(folder: Path, workers: list[int]) -> Path:
    """Dispatcher set 1: the workers on loopback."""
    folder.mkdir(parents=True, exist_ok=True)
    listing = folder / "dispatcher.list"
    listing.write_text("".join(f"1 sip:127.0.0.1:{port}\n" for port in workers))
    return listing


@contextlib.asynccontextmanager
async def kamailio(workers: list[int], folder: Path) -> AsyncIterator[int]:
    """Runs kamailio with the shipped config on a free UDP port; its port."""
    listing = dispatcher_list(folder, workers)
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        KAMAILIO, "-f", str(CONFIG), "-DD", "-E", "-m", "64", "-M", "8",
        "-l", f"udp:127.0.0.1:{port}", "-Y", str(folder), "-w", str(folder),
        "-P", str(folder / "kamailio.pid"),
        "-A", f'DISPATCHER_LIST="{listing}"', "-A", 'TRUNK_NET="127.0.0.0/8"',
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        await asyncio.sleep(1.5)  # it forks its workers
        assert proc.returncode is None, "kamailio did not start"
        yield port
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def test_calls_through_kamailio_reach_both_workers_and_end_cleanly(
    stack: AgentStack, tmp_path: Path
) -> None:
    line = write_mulaw_wav(tmp_path / "line.wav", np.random.default_rng(3).normal(0, 30, 24000))
    demo = demo_stack(stack)
    async with sip_server(demo) as one, sip_server(demo) as two:
        async with kamailio([one.port, two.port], tmp_path / "kamailio") as edge:
            call_id = uuid.uuid4().hex
            xml = scenario("call.xml", ("reinvite",), hold=1500, audio=line)
            run = await run_sipp(xml, edge, tmp_path / "sipp", calls=2, rate=1,
                                 call_id=call_id)  # fmt: skip
            assert run.returncode == 0, run.output + run.errors
        # Round robin: one call on each worker.
        assert (one.sip.answered, two.sip.answered) == (1, 1)
    records = [await sip_record(stack, f"{call_id}-{n}") for n in (1, 2)]
    assert [r.record.outcome for r in records] == ["caller_hung_up", "caller_hung_up"]
