"""Turning a simulated call into something a person can read."""

from __future__ import annotations

from typing import TextIO

import numpy as np

from callwright.audio.resample import resample
from callwright.sim.caller import CallReport
from callwright.stt.base import SpeechToText


async def transcribe_report(
    report: CallReport, sample_rate: int, stt: SpeechToText | None = None
) -> None:
    """Transcribes the agent's audio of every turn (what the caller actually heard)."""
    if stt is None:
        from callwright.stt.whisper import WhisperOptions, WhisperStt

        stt = WhisperStt.load(WhisperOptions(window="full"))  # accuracy over speed here
    for turn in report.turns:
        if turn.agent_audio:
            audio = resample(np.concatenate(turn.agent_audio), sample_rate, stt.sample_rate)
            turn.agent_heard = (await stt.transcribe(audio)).text


def print_report(report: CallReport, out: TextIO) -> None:
    """Prints the conversation with each turn's time-to-first-audio."""
    transcripts = [e["text"] for e in report.of_type("transcript")]
    timelines = {t["turn_index"]: t for t in report.of_type("turn_timeline")}
    greeting = " ".join(e["text"] for e in report.of_type("agent_text") if e.get("turn") == 0)
    out.write(f"call {report.call_id}\n")
    out.write(f"  agent : {greeting}\n")
    for index, turn in enumerate(report.turns, start=1):
        heard = transcripts[index - 1] if index - 1 < len(transcripts) else "(nothing)"
        said = " ".join(e["text"] for e in report.of_type("agent_text") if e.get("turn") == index)
        server = timelines.get(index, {})
        out.write(f"  caller: {turn.line}\n")
        out.write(f"          (server heard: {heard})\n")
        out.write(f"  agent : {said}\n")
        if turn.agent_heard:
            out.write(f"          (caller heard: {turn.agent_heard})\n")
        out.write(
            f"          time to first audio: {turn.ttfa_ms} ms at the caller, "
            f"{server.get('ttfa_ms')} ms at the server\n"
        )
    out.write("  call ended by the agent\n" if report.ended_by_agent else "  caller hung up\n")
