"""Cost of speech normalisation per sentence (it runs on the event loop, before every TTS call).

Run from the repository root: ``python bench/speech_normalization.py [--rounds N]``.

Prints one plain-text table: median, p95 and worst time per sentence for plain sentences,
sentences full of numbers, times, dates, money and addresses, and the hand-written test table
(``tests/data/speech_normalization.tsv``), each measured warm (after a pass over the same
sentences) and cold (num2words' memo cleared before each sentence).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# Running as a script puts bench/ (not the repo root) on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callwright.tts.normalize import SpeechNormalizer
from callwright.tts.normalize import numbers as spelled

ROOT = Path(__file__).resolve().parent.parent

PLAIN = [
    "Hello, thanks for calling Maple Street Clinic. How can I help you today?",
    "Of course, I can help you with that.",
    "Could you tell me your full name and date of birth, please?",
    "Is there anything else I can help you with?",
]
DENSE = [
    "Your appointment with Dr. Nguyen is on Dec 10 at 2:30 pm, and the copay is $45.",
    "We're open Mon-Fri, 9am-5pm, at 1200 St. Mary St., about 2.5 km from the station.",
    "Call us at (415) 555-0123 or write to billing@maple-clinic.com before 2026-12-10.",
    "The $1,250.50 balance is 15% lower than last year's, and it's due on the 21st.",
    "Your confirmation number is 48213377; arrive 15 min early, at 14:15.",
]


def _table() -> list[str]:
    lines = (ROOT / "tests" / "data" / "speech_normalization.tsv").read_text("utf-8").splitlines()
    return [line.split("\t")[0] for line in lines if line.strip() and not line.startswith("#")]


def _time(
    speech: SpeechNormalizer, sentences: Sequence[str], rounds: int, cold: bool
) -> list[float]:
    memos = (spelled.cardinal, spelled.ordinal, spelled.year)
    for sentence in sentences:  # warm-up: regex compilation, imports, first-call costs
        speech.normalize(sentence)
    timings = []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for sentence in sentences:
            if cold:
                for memo in memos:
                    memo.cache_clear()
            start = clock()
            speech.normalize(sentence)
            timings.append((clock() - start) / 1000.0)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="passes over each set")
    args = parser.parse_args()
    speech = SpeechNormalizer({"Nguyen": "win"})
    sets = {"plain sentences": PLAIN, "dense sentences": DENSE, "test table": _table()}
    print(f"{'sentences':<18} {'memo':<5} {'n':>6} {'median µs':>10} {'p95 µs':>8} {'max µs':>8}")
    for label, sentences in sets.items():
        for cold in (False, True):
            timings = np.array(_time(speech, sentences, args.rounds, cold))
            print(
                f"{label:<18} {'cold' if cold else 'warm':<5} {timings.size:>6} "
                f"{np.median(timings):>10.1f} {np.percentile(timings, 95):>8.1f} "
                f"{timings.max():>8.1f}"
            )


if __name__ == "__main__":
    main()
