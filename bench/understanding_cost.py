"""What understanding a caller turn costs, without an LLM: p50 and p95 per stage and per turn.

Stages, on transcripts as Whisper writes them (varied phrasings, misheard names):
- slots: every slot of the clinic flow read from the turn (dates, times, corrections, DOB);
- names: the doctor and patient directories matched by sound;
- retrieval: the knowledge base's verdict (BM25 + MiniLM embedding of the question, on the
  KB's worker thread, timed from the event loop as the agent waits for it);
- urgency: emergencies by meaning (`kb/urgency.py`: the turn and its clauses embedded and
  compared with emergency and routine descriptions), on a worker thread as the agent runs it;
- respell: a question the knowledge base did not answer, respelled by sound against the
  doctors, the clinic's terms and the KB's topic names ("opening errors" → opening hours) and
  judged again, as the receptionist does before saying it is not sure; 0 when the KB
  answered or, as in the receptionist, when the turn names a task or gives a slot (a doctor,
  a day, a time: that turn starts the task instead);
- turn: all five, as a knowledge question in the menu costs them (the worst case).

"turn CPU" is the process's CPU time over the turn (all threads), which waiting for a core
does not inflate. The embedder's memo is emptied before every question and the phonetic caches
are cleared every round, as for a call that says everything for the first time. The 1-minute
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
from callwright.flows.phonetic import phonetic_keys, respell, sounds_like  # noqa: E402
from callwright.kb import KnowledgeBase  # noqa: E402
from callwright.kb.embed import _Cached, shared_embedder  # noqa: E402
from callwright.kb.urgency import EmergencyMeaning  # noqa: E402
from examples.clinic.factory import GENERIC_WORDS, KB_THRESHOLDS, KNOWLEDGE_DIR  # noqa: E402
from examples.clinic.flow import CLINIC_FLOW, DOMAIN_TERMS  # noqa: E402
from examples.clinic.receptionist import task_intent  # noqa: E402
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
    "Hi, what are your opening errors?",
    "Can I get to you, my mouse?",
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
    assert embedder is not None, "the sentence embedder is not installed"
    urgency = EmergencyMeaning(embedder)
    topics = [t.lower() for t in kb.topic_names()]
    vocabulary = [f"Doctor {d[2]}" for d in DOCTORS] + [*DOMAIN_TERMS, *topics]
    stages: dict[str, list[float]] = {
        "slots": [],
        "names": [],
        "urgency": [],
        "retrieval": [],
        "respell": [],
        "turn": [],
    }
    # CPU time of the process over the whole turn (every thread): what the turn costs the
    # machine, which a queue for a busy core does not inflate the way it inflates wall time.
    cpu: dict[str, list[float]] = {"turn": []}
    for _ in range(ROUNDS):
        sounds_like.cache_clear()
        phonetic_keys.cache_clear()
        for text in TURNS:
            cpu_started = time.process_time()
            state = FlowState("book")
            slots = timed(lambda: fill(state, specs, text, ctx))  # noqa: B023
            names = timed(lambda: (doctors.match(text), patients.match(text)))  # noqa: B023
            if isinstance(embedder, _Cached):
                embedder.forget()  # every question new to the embedder, as on a real call
            started = time.perf_counter()
            await urgency.check(text)  # first, as the agent runs it: the KB reuses its vectors
            checked = 1000 * (time.perf_counter() - started)
            started = time.perf_counter()
            verdict = await kb.judge(text)
            retrieval = 1000 * (time.perf_counter() - started)
            second = 0.0
            given, unsure = fill(FlowState("book"), specs, text, ctx)
            task = task_intent(text) is not None or unsure is not None
            task = task or any(name != "reason" for name in given)
            if verdict.answer is None and not task:
                started = time.perf_counter()
                respelled, terms = respell(text, vocabulary)
                if terms:
                    await kb.judge(respelled)
                second = 1000 * (time.perf_counter() - started)
            for name, ms in (
                ("slots", slots),
                ("names", names),
                ("urgency", checked),
                ("retrieval", retrieval),
                ("respell", second),
            ):
                stages[name].append(ms)
            stages["turn"].append(slots + names + checked + retrieval + second)
            cpu["turn"].append(1000 * (time.process_time() - cpu_started))
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
    values = cpu["turn"]
    print(
        f"{'turn CPU':10} {percentile(values, 0.5):8.2f} {percentile(values, 0.95):8.2f} "
        f"{statistics.mean(values):8.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
