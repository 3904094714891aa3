"""Choose a knowledge base's answer and clarify thresholds on a labelled set of questions.

    python -m callwright.kb.calibrate KNOWLEDGE_DIR LABELS.tsv [--generic w1,w2] [--write OUT]

LABELS.tsv holds one caller question per line, a tab, and the key of the passage that answers
it ("visits/address") or "-" when the knowledge base does not answer it; "#" starts a comment.

The answer threshold maximises the questions handled right: in-scope ones answered from the
right passage, out-of-scope ones not answered (a wrong answer counts double: it misleads the
caller, while a missed one only costs a follow-up). Below it, the clarify threshold opens a
band where the caller is asked "do you mean A or B?": it is the lowest score at which asking
still helps callers (their passage is one of the two offered) more than it bothers others
(out of scope, or neither passage is theirs; a needless question costs half). `--write`
stores both as JSON; written to `KNOWLEDGE_DIR/kb_thresholds.json`, every agent whose
knowledge is that folder loads them (`kb.open.open_knowledge`) unless it sets its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from callwright.kb.base import KnowledgeBase
from callwright.kb.embed import Embedder, MiniLmEmbedder, shared_embedder

WRONG_ANSWER_COST = 2.0
# Asking "do you mean A or B?" of a caller it does not help costs a turn, not a wrong answer.
NEEDLESS_QUESTION_COST = 0.5


@dataclass(frozen=True, slots=True)
class Scored:
    """One labelled question and what the knowledge base made of it."""

    question: str
    expected: str | None
    top: str
    second: str
    score: float


def read_labels(path: Path) -> list[tuple[str, str | None]]:
    """(question, passage key or None) pairs of a labels file."""
    labels: list[tuple[str, str | None]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        question, key = line.split("\t")
        labels.append((question.strip(), None if key.strip() == "-" else key.strip()))
    return labels


async def score_all(kb: KnowledgeBase, labels: list[tuple[str, str | None]]) -> list[Scored]:
    """The best two passages and the best score for every labelled question."""
    scored: list[Scored] = []
    for question, expected in labels:
        ranked = await kb.rank(question, 2)  # what the agent's verdict is made from
        top = ranked[0].passage.key if ranked else ""
        second = ranked[1].passage.key if len(ranked) > 1 else ""
        scored.append(
            Scored(question, expected, top, second, ranked[0].confidence if ranked else 0)
        )
    return scored


def utility(scored: list[Scored], threshold: float) -> float:
    """Questions handled right minus the weighted cost of wrong answers, at `threshold`."""
    total = 0.0
    for s in scored:
        answered = s.score >= threshold
        if s.expected is None:
            total += 0 if answered else 1
        elif answered:
            total += 1 if s.top == s.expected else -WRONG_ANSWER_COST
    return total


def choose_thresholds(scored: list[Scored]) -> tuple[float, float]:
    """(answer threshold, clarify threshold) for these scores (see the module doc)."""
    candidates = sorted({round(s.score, 3) for s in scored} | {1.0})
    # Highest utility; among ties the middle of the widest gap keeps a margin both ways.
    best = max(utility(scored, t) for t in candidates)
    tied = [t for t in candidates if utility(scored, t) == best]
    below = [s.score for s in scored if s.score < tied[0]]
    threshold = round((tied[0] + max(below)) / 2, 3) if below else tied[0]
    clarify = threshold
    gain = 0.0
    for floor in sorted((c for c in candidates if c < threshold), reverse=True):
        band = [s for s in scored if floor <= s.score < threshold]
        helped = sum(1 for s in band if s.expected in (s.top, s.second))
        bothered = len(band) - helped
        if helped - NEEDLESS_QUESTION_COST * bothered > gain:
            gain, clarify = helped - NEEDLESS_QUESTION_COST * bothered, floor
    return threshold, clarify


def middle_of_best(
    cost: Callable[[float, float], float], floors: Sequence[float], margins: Sequence[float]
) -> tuple[float, float, float]:
    """The (floor, margin) of least `cost` over the grid, and that cost. Each is taken from
    the middle of its run of equally good values: a value at the edge of a plateau is the one
    most likely to be wrong on turns the labels did not hold."""
    table = {(f, m): cost(f, m) for f in floors for m in margins}
    fewest = min(table.values())
    good_margins = sorted({m for (f, m), c in table.items() if c == fewest})
    margin = good_margins[len(good_margins) // 2]
    good_floors = sorted(f for f in floors if table[(f, margin)] == fewest)
    return good_floors[len(good_floors) // 2], margin, fewest


def report(scored: list[Scored], threshold: float, clarify: float) -> str:
    """A short table of what the thresholds do on the labelled set."""
    inside = [s for s in scored if s.expected is not None]
    outside = [s for s in scored if s.expected is None]
    right = sum(1 for s in inside if s.score >= threshold and s.top == s.expected)
    wrong = sum(1 for s in inside if s.score >= threshold and s.top != s.expected)
    asked = sum(1 for s in scored if clarify <= s.score < threshold)
    refused = sum(1 for s in outside if s.score < threshold)
    top1 = sum(1 for s in inside if s.top == s.expected)
    return (
        f"questions: {len(inside)} in scope, {len(outside)} out of scope\n"
        f"top-1 passage right: {top1}/{len(inside)}\n"
        f"answer threshold {threshold:.3f}: answered right {right}, answered wrong {wrong}, "
        f"out of scope refused {refused}/{len(outside)}\n"
        f"clarify threshold {clarify:.3f}: {asked} questions asked to clarify"
    )


def _embedder(name: str, tokenizer: Path | None) -> Embedder | None:
    if name == "none":
        return None
    if name == "minilm-l6" and tokenizer is not None:
        return MiniLmEmbedder(tokenizer)
    return shared_embedder(name)


async def _main(args: argparse.Namespace) -> None:
    embedder = _embedder(args.embedder, args.tokenizer)
    generic = [w for w in args.generic.split(",") if w]
    started = time.perf_counter()
    kb = KnowledgeBase.from_folder(args.folder, generic=generic, embedder=embedder)
    built = time.perf_counter() - started
    try:
        labels = read_labels(args.labels)
        started = time.perf_counter()
        scored = await score_all(kb, labels)
        per_question = 1000 * (time.perf_counter() - started) / max(1, len(labels))
    finally:
        kb.close()
    threshold, clarify = choose_thresholds(scored)
    print(
        f"embedder: {args.embedder}; index built in {built:.2f} s; {per_question:.1f} ms/question"
    )
    print(report(scored, threshold, clarify))
    if args.verbose:
        for s in sorted(scored, key=lambda s: -s.score):
            mark = "ok" if (s.expected == s.top or s.expected is None) else "XX"
            print(f"  {s.score:.3f} {mark} {s.top:40} {s.expected or '-':40} {s.question}")
    if args.write:
        values = {"embedder": args.embedder, "threshold": threshold, "clarify": clarify}
        args.write.write_text(json.dumps(values, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.write}")


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="folder of markdown passages")
    parser.add_argument("labels", type=Path, help="labelled questions (TSV)")
    parser.add_argument("--generic", default="", help="comma-separated domain stopwords")
    parser.add_argument(
        "--embedder", default="minilm-l6", choices=["minilm-l6", "e5-small", "none"]
    )
    parser.add_argument("--tokenizer", type=Path, help="another tokenizer.json for minilm-l6")
    parser.add_argument("--write", type=Path, help="write the thresholds to this JSON file")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every question")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
