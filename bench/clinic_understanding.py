"""How well the receptionist understands spoken callers, without an LLM.

Each caller line is synthesized with espeak-ng (the simulator's voice), transcribed with the
embedded Whisper tiny.en, and run through the slot extractors; a line counts as understood
when every expected slot comes out right. Also times the deterministic responder per turn
(text in, reply out, tools on SQLite included).

    python bench/clinic_understanding.py
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callwright.audio.resample import resample  # noqa: E402
from callwright.core.responder import CallInfo, Message, TextDelta, TurnContext  # noqa: E402
from callwright.flows.names import Directory, Person  # noqa: E402
from callwright.flows.slots import extract_dob, extract_time, extract_yes_no  # noqa: E402
from callwright.stt.whisper import WhisperOptions, WhisperStt  # noqa: E402
from callwright.tts.espeak import EspeakTts  # noqa: E402
from examples.clinic.factory import ClinicOptions, ClinicResponderFactory  # noqa: E402

DOCTORS = Directory(
    [
        Person("patel", "Anita", "Patel", ""),
        Person("nguyen", "Linh", "Nguyen", ""),
        Person("park", "James", "Park", ""),
        Person("lopez", "Sofia", "Lopez", ""),
    ]
)
# (what the caller says, expected slots)
CASES: list[tuple[str, dict[str, Any]]] = [
    ("I want to book an appointment with Doctor Nguyen.", {"doctor": "nguyen"}),
    ("I would like to book an appointment with Doctor Patel.", {"doctor": "patel"}),
    ("Can I see Doctor Lopez please?", {"doctor": "lopez"}),
    ("I'd like to see Doctor Park for my son.", {"doctor": "park"}),
    ("I was born on July fourth, nineteen ninety.", {"dob": "1990-07-04"}),
    ("My date of birth is March twelfth, nineteen eighty four.", {"dob": "1984-03-12"}),
    ("I was born on the fifth of May, nineteen seventy eight.", {"dob": "1978-05-05"}),
    ("Born June second, nineteen sixty five.", {"dob": "1965-06-02"}),
    ("Please make it Friday at three in the afternoon.", {"time": "15:00"}),
    ("Please make it Thursday at eleven in the morning.", {"time": "11:00"}),
    ("How about half past two?", {"time": "14:30"}),
    ("Could we do quarter past nine?", {"time": "09:15"}),
    ("Is noon free?", {"time": "12:00"}),
    ("Ten o'clock would be great.", {"time": "10:00"}),
    ("Yes, that is correct.", {"yes": True}),
    ("Yeah, go ahead.", {"yes": True}),
    ("No, that's not right.", {"yes": False}),
    ("Nope, not that one.", {"yes": False}),
]


def understood(text: str, expected: dict[str, Any]) -> bool:
    today = dt.date(2026, 11, 23)
    for slot, want in expected.items():
        if slot == "doctor":
            best = DOCTORS.match(text).best
            got: Any = best.key if best else None
        elif slot == "dob":
            dob = extract_dob(text, today)
            got = dob.isoformat() if dob else None
        elif slot == "time":
            spec = extract_time(text)
            got = spec.time.isoformat("minutes") if spec and spec.time else None
        else:
            got = extract_yes_no(text)
        if got != want:
            return False
    return True


async def understanding() -> None:
    tts = EspeakTts(voice="en-us", words_per_minute=160)
    stt = WhisperStt.load(WhisperOptions())
    await stt.warm_up()
    ok = 0
    for line, expected in CASES:
        chunks = [chunk async for chunk in tts.synthesize(line)]
        audio = resample(np.concatenate(chunks), tts.sample_rate, 16000)
        heard = (await stt.transcribe(audio)).text
        good = understood(heard, expected)
        ok += good
        print(f"{'ok  ' if good else 'MISS'} {line!r} -> {heard!r}")
    print(f"understood {ok}/{len(CASES)} spoken lines ({100.0 * ok / len(CASES):.0f} %)")


async def responder_latency() -> None:
    with tempfile.TemporaryDirectory() as folder:
        factory = await ClinicResponderFactory.open(
            ClinicOptions(Path(folder) / "c.db", today=lambda: dt.date(2026, 11, 23))
        )
        turns = [
            "I want to book an appointment with Doctor Nguyen.",
            "My name is John Smith and I was born on July 4, 1990.",
            "Please make it Friday at 3 in the afternoon.",
            "Yes, that is correct.",
            "What are your opening hours?",
        ]
        timings: list[float] = []
        for index in range(20):
            call = CallInfo(f"bench-{index}", "bench")
            responder = factory.for_call(call)
            history: list[Message] = []
            for text in turns:
                history.append(Message("user", text))
                started = time.perf_counter()
                reply = [
                    e.text
                    async for e in responder.respond(TurnContext(call, tuple(history)))
                    if isinstance(e, TextDelta)
                ]
                timings.append((time.perf_counter() - started) * 1000.0)
                history.append(Message("assistant", "".join(reply)))
            await factory.data.store.cancel(
                (await factory.data.store.appointments("pat_john"))[-1].id, "pat_john"
            )
        timings.sort()
        p95 = timings[int(len(timings) * 0.95) - 1]
        print(
            f"responder per turn: p50 {statistics.median(timings):.1f} ms, "
            f"p95 {p95:.1f} ms over {len(timings)} turns"
        )
        await factory.close()


if __name__ == "__main__":
    asyncio.run(responder_latency())
    asyncio.run(understanding())
