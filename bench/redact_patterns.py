"""Time per KB of each redaction pattern on adversarial and random text.

Run from the repository root: ``python bench/redact_patterns.py [--kb 256]``.

Prints, per pattern, the worst and the median microseconds per KB over the adversarial strings
of tests/security/adversarial_text.py and random strings of the same size. A linear pattern
shows a flat cost per KB whatever the size; a backtracking one explodes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Running as a script puts bench/ (not the repo root) on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callwright.observe.redact import PATTERNS, Redactor
from tests.security.adversarial_text import adversarial, random_strings


def per_kb_us(fn: Callable[[str], object], texts: list[str]) -> list[float]:
    costs = []
    for text in texts:
        started = time.perf_counter()
        fn(text)
        costs.append((time.perf_counter() - started) * 1e6 / (len(text) / 1024))
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kb", type=int, nargs="+", default=[1, 16, 256])
    args = parser.parse_args()
    print(f"{'pattern':10} {'KB':>5} {'worst µs/KB':>12} {'median µs/KB':>13} {'random µs/KB':>13}")
    redactor = Redactor()
    subjects: dict[str, Callable[[str], object]] = {
        kind: pattern.findall for kind, pattern in PATTERNS.items()
    }
    subjects["Redactor"] = redactor.text
    for name, fn in subjects.items():
        for kb in args.kb:
            texts = list(adversarial(kb * 1024))
            costs = per_kb_us(fn, texts)
            rand = per_kb_us(fn, list(random_strings(kb * 1024, 3)))
            print(
                f"{name:10} {kb:>5} {max(costs):>12.1f} {statistics.median(costs):>13.1f}"
                f" {statistics.median(rand):>13.1f}"
            )


if __name__ == "__main__":
    main()
