"""Intents recognised by meaning: a caller's words compared with each intent's examples.

Callers ask for a task in words no cue list holds ("could you squeeze me in", "please call
off my visit"). Each intent's examples (`Intent.examples`) are embedded once, at start-up,
with the knowledge base's sentence embedder (`kb.embed`); a turn is scored against them
(`IntentMeaning.similarities`), and `flows.requests.Recogniser` weighs these scores with the
cue words: an intent is taken when its score clears a floor and beats the runner-up by a
margin, and between the two the caller is asked which they mean.

Texts that are no request (the knowledge base's questions and topics, as `others`) are
scored as one more class, `OTHER`: "what's your cancellation policy" is more like the
knowledge base's "cancellation policy" than like "I want to cancel my appointment", so it is
a question, not a cancel.

The floor and margin are chosen on a labelled set, not by hand:

    python -m callwright.kb.intents MODULE:INTENTS LABELS.tsv... --knowledge FOLDER --items NOUNS

(a labelled turn is a line: the turn, a tab, and its intent; "-" or a knowledge base's passage
key for none).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from callwright.flows.intents import Intent
from callwright.flows.requests import OTHER, Recogniser
from callwright.kb.base import Passage, load_passages
from callwright.kb.calibrate import middle_of_best
from callwright.kb.embed import Embedder, shared_embedder
from callwright.kb.urgency import units


class IntentMeaning:
    """Scores a turn against the examples of each intent (blocking: a few ms of CPU).

    Args:
        embedder: a sentence embedder (`kb.embed.shared_embedder()`).
        intents: the intents; those without examples are left to their cues.
        others: texts that are no intent (questions the knowledge base answers).
    """

    def __init__(
        self, embedder: Embedder, intents: Sequence[Intent], others: Sequence[str] = ()
    ) -> None:
        self.embedder = embedder
        owners: list[str] = []
        texts: list[str] = []
        for intent in intents:
            owners += [intent.name] * len(intent.examples)
            texts += list(intent.examples)
        self.names = list(dict.fromkeys(owners))
        vectors = embedder.embed(texts + list(others), "query") if texts else np.zeros((0, 1))
        self._vectors = vectors
        self._owners = np.array(owners + [OTHER] * (len(vectors) - len(owners)))

    def similarities(self, text: str) -> dict[str, float]:
        """Per intent (and `OTHER`), the best similarity of the turn or one of its sentences."""
        if not self.names or not text.strip():
            return {}
        # The turn's sentences, as the emergency check embeds them: the memo serves them.
        cosines = (self.embedder.embed(units(text), "query") @ self._vectors.T).max(axis=0)
        return {
            name: float(cosines[self._owners == name].max())
            for name in [*self.names, OTHER]
            if (self._owners == name).any()
        }


def read_labels(path: Path) -> list[tuple[str, str | None]]:
    """(turn, intent or None) pairs: a turn, a tab, and an intent or "-"; "#" a comment."""
    labels: list[tuple[str, str | None]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            text, label = line.rsplit("\t", 1)
            labels.append((text.strip(), None if label.strip() == "-" else label.strip()))
    return labels


def calibrate(
    recogniser: Recogniser, labels: Sequence[tuple[str, str | None]]
) -> tuple[float, float, float]:
    """(floor, margin, cost) of the settings with the least cost on the labels.

    A wrong task, or a task taken for a turn that asks none, costs 1; a request missed costs
    0.5 (the caller says it again); a question between two tasks, the right one among them,
    0.25 (the caller answers it). Guessing is dearer than asking. Among the settings of least
    cost, the middle margin, then its middle floor.
    """
    assert recogniser.meaning is not None
    scored = [(recogniser.meaning.similarities(t), t, want) for t, want in labels]

    def cost(floor: float, margin: float) -> float:
        trial = recogniser.tuned(floor, margin)
        total = 0.0
        for sims, text, want in scored:
            verdict = trial.decide(text, sims)
            if verdict.intent is not None:
                total += verdict.intent != want
            elif want is not None:
                total += 0.25 if want in verdict.choices else 0.5
        return total

    floors = [round(f, 2) for f in np.arange(0.20, 0.61, 0.02)]
    margins = [round(m, 2) for m in np.arange(0.0, 0.21, 0.02)]
    return middle_of_best(cost, floors, margins)


def knowledge_texts(passages: Iterable[Passage]) -> list[str]:
    """What a knowledge base answers, as texts that ask for no task: each passage's title,
    example questions and keyword phrases of two words or more ("cancellation policy")."""
    texts: list[str] = []
    for passage in passages:
        phrases = [k.strip() for k in passage.keywords.split(",") if len(k.split()) > 1]
        texts += [passage.title, *passage.questions, *phrases]
    return list(dict.fromkeys(texts))


def main(argv: Sequence[str] | None = None) -> int:
    """Prints the calibrated floor and margin and every label they get wrong."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("intents", help="MODULE:NAME of a list of intents with examples")
    parser.add_argument("labels", type=Path, nargs="+")
    parser.add_argument("--items", default="", help="comma-separated nouns the intents act on")
    parser.add_argument(
        "--knowledge", type=Path, help="a knowledge folder: its questions ask no task"
    )
    args = parser.parse_args(argv)
    embedder = shared_embedder()
    if embedder is None:
        print("no sentence embedder installed", file=sys.stderr)
        return 1
    module, _, name = args.intents.partition(":")
    intents: list[Intent] = getattr(importlib.import_module(module), name)
    names = {i.name for i in intents}
    # Other label files (the knowledge base's: a passage key per question) count as none.
    labels = [
        (text, want if want in names else None)
        for path in args.labels
        for text, want in read_labels(path)
    ]
    items = tuple(i for i in args.items.split(",") if i)
    others = knowledge_texts(load_passages(args.knowledge)) if args.knowledge else []
    recogniser = Recogniser(intents, items, IntentMeaning(embedder, intents, others))
    floor, margin, cost = calibrate(recogniser, labels)
    print(f"{len(labels)} labelled turns; best floor {floor}, margin {margin}: cost {cost}")
    tuned = recogniser.tuned(floor, margin)
    for text, want in labels:
        assert tuned.meaning is not None
        verdict = tuned.decide(text, tuned.meaning.similarities(text))
        if verdict.intent != want:
            print(f"  {want or '-'} → {verdict.intent or verdict.choices or '-'}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
