"""SIGKILL a real worker mid-call: the record is complete up to the kill, cut off after restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from callwright.sim.caller import CallerSimulator, ScriptLine
from callwright.store.sql_common import ORPHAN_END_REASON
from callwright.store.sqlite import SqliteCallStore
from callwright.tts.espeak import EspeakTts
from tests.conftest import operator_http, provision_operators

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CLINIC = "examples/clinic/agent.py"


@contextlib.asynccontextmanager
async def worker(data_dir: Path, port: int, log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """`callwright serve` in a subprocess, yielded once it answers /healthz."""
    env = {**os.environ, "CALLWRIGHT_TTS": "espeak", "CALLWRIGHT_LOG_LEVEL": "INFO"}
    store = await SqliteCallStore.open(data_dir / "calls.sqlite3")
    await provision_operators(store)  # the test admin's key, for the API and the caller
    await store.close()
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "callwright", "serve", "--agent", CLINIC, "--port", str(port),
            "--data-dir", str(data_dir), cwd=REPO, env=env, stdout=out, stderr=out,
        )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                        if r.status == 200:
                            break
                assert process.returncode is None, "worker exited; see its log"
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("worker never became healthy")
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()


async def test_killed_worker_leaves_a_complete_record(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "worker.log"
    db = tmp_path / "calls.sqlite3"
    script = [
        ScriptLine("What are your opening hours?"),
        ScriptLine("What is your address?"),
        ScriptLine("Is there parking nearby?"),
        ScriptLine("Thank you, goodbye."),
    ]
    async with worker(tmp_path, port, log) as process:
        simulator = CallerSimulator(f"ws://127.0.0.1:{port}/v1/ws", EspeakTts(voice="en-us"))
        call = asyncio.create_task(simulator.run(script))
        reader = await SqliteCallStore.open(db)
        try:
            call_id = None
            for _ in range(600):  # until the first question has been answered
                await asyncio.sleep(0.1)
                active = [c for c in await reader.list_calls(10) if c.status == "active"]
                if not active:
                    continue
                call_id = active[0].call_id
                detail = await reader.get_call(call_id)
                assert detail is not None
                if [u.role for u in detail.utterances][:3] == ["agent", "caller", "agent"]:
                    break
            assert call_id is not None, "no call reached its first answer"
            await asyncio.sleep(1.5)  # let a recording chunk or two be written
            process.send_signal(signal.SIGKILL)
            await process.wait()
            before = await reader.get_call(call_id)
        finally:
            await reader.close()
        call.cancel()
        with contextlib.suppress(BaseException):
            await call
    assert before is not None and before.record.status == "active"
    assert before.has_recording and before.usage.stt_audio_s > 0 and before.usage.tts_chars > 0
    assert any(e.kind == "transcript" for e in before.events)
    assert any(t.turn_index == 1 for t in before.timelines)

    async with worker(tmp_path, port, log), operator_http() as http:
        base = f"http://127.0.0.1:{port}"
        async with http.get(f"{base}/v1/calls/{call_id}") as response:
            assert response.status == 200
            after = await response.json()
        async with http.get(f"{base}{after['recording_url']}") as response:
            assert response.status == 200
            wav = await response.read()
        async with http.get(f"{base}/v1/calls?status=cut_off") as response:
            cut = (await response.json())["calls"]
    record = after["call"]
    assert record["status"] == "cut_off" and record["end_reason"] == ORPHAN_END_REASON
    assert record["ended_at"] is not None and record["ended_at"] >= record["started_at"]
    assert [c["call_id"] for c in cut] == [call_id]
    assert [u["text"] for u in after["utterances"]] == [u.text for u in before.utterances]
    assert len(after["events"]) == len(before.events)
    assert after["usage"]["stt_audio_s"] == before.usage.stt_audio_s
    # Recorded audio up to shortly before the kill: at least the greeting and the first turn.
    seconds = (len(wav) - 44) / (2 * 2 * 16000)
    turn1 = next(t for t in before.timelines if t.turn_index == 1)
    assert turn1.first_audio_sent_ms is not None
    assert seconds * 1000 >= turn1.first_audio_sent_ms
