"""What understanding a caller turn costs, without an LLM: p50 and p95 per stage and per turn.

Stages, on transcripts as Whisper writes them (varied phrasings, misheard names):
- slots: every slot of the clinic flow read from the turn (dates, times, corrections, DOB);
- names: the doctor and patient directories matched by sound;
- retrieval: the knowledge base's verdict (BM25 + MiniLM embedding of the question, on the
  KB's worker thread, timed from the event loop as the agent waits for it);
- turn: all three, as a knowledge question in the menu costs them (the worst case).

The embedder's memo is emptied before every question and the phonetic caches are cleared
every round, as for a call that says everything for the first time. The 1-minute
load average is printed: on a shared machine, waiting for a core inflates every figure.

    python bench/understanding_cost.py
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callwright.flows.engine import FlowState, SlotContext, fill  # noqa: E402
from callwright.flows.names import Directory, Person  # noqa: E402
from callwright.flows.phonetic import phonetic_keys, sounds_like  # noqa: E402
from callwright.kb import KnowledgeBase  # noqa: E402
from callwright.kb.embed import _Cached, shared_embedder  # noqa: E402
from examples.clinic.factory import GENERIC_WORDS, KB_THRESHOLDS, KNOWLEDGE_DIR  # noqa: E402
from examples.clinic.flow import CLINIC_FLOW  # noqa: E402
from examples.clinic.seed import DOCTORS, PATIENTS  # noqa: E402

TURNS = [
    "I'd like to make an appointment with Dr. New Year for Thursday, December 10th at 10 in "
    "the morning.",
    "Actually, could we do 11 instead of 10?",
    "Hi, where exactly are you located?",
    "How much is a visit if I don't have insurance?",
    "My name is John Smith and I was born on July 4th, 1990.",
    "Can I see Dr. Pachel sometime next week, maybe Tuesday afternoon?",
    "No, not Wednesday, Friday at half past two.",
    "Do you take that now?",
    "Yes, that's right.",
    "Um, is there somewhere I can leave my car when I come in?",
    "I'm not sure, what times do you have on the 3rd?",
    "Could I speak to someone at the front desk please?",
]
ROUNDS = 5


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - started)


async def main() -> None:
    embedder = shared_embedder()
    calibrated = json.loads(KB_THRESHOLDS.read_text())
    kb = KnowledgeBase.from_folder(
        KNOWLEDGE_DIR,
        calibrated["threshold"],
        GENERIC_WORDS,
        embedder,
        calibrated["clarify"],
    )
    doctors = Directory([Person(d[0], d[1], d[2], f"Doctor {d[2]}") for d in DOCTORS])
    patients = Directory([Person(p[0], p[1], p[2], f"{p[1]} {p[2]}") for p in PATIENTS])
    ctx = SlotContext(today=dt.date(2026, 11, 23), directories={"doctors": doctors})
    specs = [s for s in CLINIC_FLOW.all_slots() if s.directory != "patients"]
    stages: dict[str, list[float]] = {"slots": [], "names": [], "retrieval": [], "turn": []}
    for _ in range(ROUNDS):
        sounds_like.cache_clear()
        phonetic_keys.cache_clear()
        for text in TURNS:
            state = FlowState("book")
            slots = timed(lambda: fill(state, specs, text, ctx))  # noqa: B023
            names = timed(lambda: (doctors.match(text), patients.match(text)))  # noqa: B023
            if isinstance(embedder, _Cached):
                embedder.forget()  # every question new to the embedder, as on a real call
            started = time.perf_counter()
            await kb.judge(text)
            retrieval = 1000 * (time.perf_counter() - started)
            for name, ms in (("slots", slots), ("names", names), ("retrieval", retrieval)):
                stages[name].append(ms)
            stages["turn"].append(slots + names + retrieval)
    kb.close()
    print(
        f"{len(TURNS)} caller turns x {ROUNDS} rounds; embedder {embedder and embedder.name}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"{'stage':10} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    for name, values in stages.items():
        print(
            f"{name:10} {percentile(values, 0.5):8.2f} {percentile(values, 0.95):8.2f} "
            f"{statistics.mean(values):8.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
