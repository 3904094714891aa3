"""Emergencies recognised by meaning, beside the keyword rules of `guardrails`.

Callers describe emergencies in their own words ("my throat is swelling up", "she collapsed
and won't wake up"); no phrase list holds them all. A turn is compared, whole or sentence by
sentence, with short descriptions of emergencies and of routine reasons to call, by sentence
embeddings (`callwright.kb.embed`). It is an emergency when its closest emergency
description is close enough (`floor`) and closer than any routine one by `margin`: "I have
a sore throat" lies near "a sore or scratchy throat", "my throat is closing up" near "a
severe allergic reaction". The two thresholds are chosen on a labelled set, not by hand:

    python -m callwright.kb.urgency LABELS.tsv   (one "text<TAB>1 or 0" line per turn)

Embedding costs 5 to 30 ms of CPU per turn: `check` runs it on a worker thread, on the texts
the knowledge base embeds for the same turn (the memo then serves one of them for free).
Turns of fewer than three words (yes, a name, a date) are not embedded.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from callwright.kb.base import embedded_texts, split_sentences
from callwright.kb.calibrate import middle_of_best
from callwright.kb.embed import Embedder, shared_embedder

# What emergencies sound like when described plainly: one line per kind, in lay words.
EMERGENCIES = (
    "I can't breathe, I'm gasping for air",
    "he's not breathing, he's turning blue",
    "I have chest pain or pressure, I think it's a heart attack",
    "her face is drooping, her speech is slurred and one side is weak or numb",
    "I'm having a severe allergic reaction",
    "my throat is swelling shut and I can't swallow",
    "my face, lips or tongue are swelling up",
    "she collapsed, fainted and won't wake up",
    "I'm bleeding heavily and it won't stop",
    "he's having a seizure, shaking and not responding",
    "I took too many pills, an overdose, or swallowed poison",
    "I want to kill myself or hurt myself",
    "he's choking and can't get air",
    "he hit his head badly in a fall or an accident",
    "I have severe burns",
    "I'm coughing up or vomiting blood",
)
# Routine reasons people call a practice, in the same voice, so that a symptom is weighed
# against its everyday reading ("my throat is sore" is routine, "my throat is closing" not).
ROUTINE = (
    "I've had a mild headache for a few days",
    "my throat is sore or scratchy",
    "my tonsils or glands are swollen and it hurts to swallow",
    "I have a cough, a cold and a runny nose",
    "I have a rash or itchy skin",
    "my back, knee or ankle hurts",
    "I have allergies or hay fever",
    "I need a checkup, a physical or vaccines",
    "I'd like to book, move or cancel an appointment",
    "I'd like to see a doctor about a problem I've had for a while",
    "my asthma or shortness of breath comes and goes",
    "I have heartburn or an upset stomach",
    "I have a question about insurance, prices, opening hours or directions",
    "I need a prescription refill or my test results",
    "I have a sinus infection, an earache or a fever",
    "my name and date of birth",
    "yes or no, a day and a time",
    "I'd like to speak to a person at the front desk",
)
# Chosen by this module's calibration on a labelled set of 76 caller turns (minilm-l6).
FLOOR = 0.46
MARGIN = 0.01
MIN_WORDS = 3


def units(text: str) -> list[str]:
    """What is embedded of a turn: its sentences when it has several, else the whole turn.

    Embedded in one batch with the texts the knowledge base embeds for the turn
    (`kb.base.embedded_texts`), so the embedder's memo serves the knowledge base and a turn
    costs one model call.
    """
    sentences = split_sentences(text)
    return sentences if len(sentences) > 1 else [text]


@dataclass(frozen=True, slots=True)
class UrgencyScore:
    """How a turn compares: its closest emergency, and how much closer than routine."""

    emergency: float
    margin: float
    nearest: str


class EmergencyMeaning:
    """Recognises emergencies by meaning.

    Args:
        embedder: a sentence embedder (`kb.embed.shared_embedder()`).
        emergencies: descriptions of emergencies.
        routine: descriptions of routine reasons to call.
        floor: lowest similarity to an emergency that counts.
        margin: how much closer to an emergency than to anything routine.
    """

    def __init__(
        self,
        embedder: Embedder,
        emergencies: Sequence[str] = EMERGENCIES,
        routine: Sequence[str] = ROUTINE,
        floor: float = FLOOR,
        margin: float = MARGIN,
    ) -> None:
        self.embedder = embedder
        self.emergencies = list(emergencies)
        self.floor = floor
        self.margin = margin
        self._emergency = embedder.embed(self.emergencies, "passage")
        self._routine = embedder.embed(list(routine), "passage")

    def score(self, text: str) -> UrgencyScore:
        """The sentence most like an emergency (blocking: a few ms of CPU)."""
        if len(text.split()) < MIN_WORDS:
            return UrgencyScore(0.0, -1.0, "")
        scored = units(text)
        # The knowledge base's texts for the turn ride in the same model call (see units).
        batch = list(dict.fromkeys([*scored, *embedded_texts(text)]))
        vectors = self.embedder.embed(batch, "query")[: len(scored)]
        to_emergency = vectors @ self._emergency.T
        best = to_emergency.max(axis=1)
        margins = best - (vectors @ self._routine.T).max(axis=1)
        row = int(np.argmax(np.where(best >= self.floor, margins, -np.inf)))
        if best[row] < self.floor:
            row = int(np.argmax(best))
        nearest = self.emergencies[int(np.argmax(to_emergency[row]))]
        return UrgencyScore(float(best[row]), float(margins[row]), nearest)

    def is_emergency(self, text: str) -> bool:
        """Whether the turn describes an emergency (blocking)."""
        found = self.score(text)
        return found.emergency >= self.floor and found.margin >= self.margin

    async def check(self, text: str) -> bool:
        """`is_emergency` on a worker thread, off the event loop."""
        if len(text.split()) < MIN_WORDS:
            return False
        return await asyncio.to_thread(self.is_emergency, text)


def read_labels(path: Path) -> list[tuple[str, bool]]:
    """(turn, is an emergency) pairs: a turn, a tab, and 1 or 0; "#" starts a comment."""
    labels = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            text, flag = line.rsplit("\t", 1)
            labels.append((text.strip(), flag.strip() == "1"))
    return labels


def calibrate(
    meaning: EmergencyMeaning, labels: list[tuple[str, bool]]
) -> tuple[float, float, int]:
    """(floor, margin, errors) making the fewest mistakes on the labels.

    A false alarm (a routine caller told to dial 911, the call ended) counts as much as a
    missed emergency. Among the margins that make the fewest mistakes, the middle one is
    taken (the farthest from both kinds of mistake), then the middle floor for it.
    """
    scored = [(meaning.score(text), flag) for text, flag in labels]

    def errors(floor: float, margin: float) -> int:
        return sum((s.emergency >= floor and s.margin >= margin) != flag for s, flag in scored)

    floors = [round(f, 2) for f in np.arange(0.30, 0.71, 0.02)]
    margins = [round(m, 2) for m in np.arange(0.0, 0.31, 0.01)]
    floor, margin, fewest = middle_of_best(errors, floors, margins)
    return floor, margin, int(fewest)


def main(argv: Sequence[str] | None = None) -> int:
    """Prints the calibrated thresholds and every label the current ones get wrong."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("labels", type=Path)
    args = parser.parse_args(argv)
    embedder = shared_embedder()
    if embedder is None:
        print("no sentence embedder installed", file=sys.stderr)
        return 1
    meaning = EmergencyMeaning(embedder)
    labels = read_labels(args.labels)
    floor, margin, errors = calibrate(meaning, labels)
    print(f"{len(labels)} labelled turns; best floor {floor}, margin {margin}: {errors} wrong")
    meaning.floor, meaning.margin = floor, margin
    for text, flag in labels:
        found = meaning.score(text)
        if meaning.is_emergency(text) != flag:
            kind = "missed" if flag else "false alarm"
            print(f"  {kind}: {found.emergency:.2f} / {found.margin:+.2f} {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
