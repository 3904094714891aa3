"""Word error rate on phone audio across the eval suite's caller voices: tiny.en vs base.

Every eval voice (Festival HTS, four flite voices, three espeak-ng voices and speeds) says
clinic callers' sentences; each clip goes through an 8 kHz µ-law line and back to 16 kHz,
then Whisper transcribes it with the speech-length window, one utterance at a time as in a
call. Prints WER per voice and model, overall WER and compute time per utterance.

Numbers are compared as words ("10" and "ten" are the same word; "Dr." is "doctor").

Run from the repository root:

    .venv/bin/python -m bench.stt_voices [--models tiny.en,base] [--verbose]
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections import defaultdict

import numpy as np

from bench.stt_window import edit_distance
from callwright.evals.callers import number_words, ordinal_words, year_words
from callwright.sim.conditions import phone_line
from callwright.sim.voices import EVAL_VOICES, parse_voice
from callwright.stt.whisper import WhisperOptions, WhisperStt

SENTENCES = (
    "I'd like to make an appointment with Doctor Nguyen.",
    "Could I see Doctor Patel on Thursday at ten in the morning?",
    "My name is John Smith and I was born on July fourth, nineteen ninety.",
    "Actually, could we do eleven instead of ten?",
    "Wednesday, December ninth, at two in the afternoon.",
    "Hi, where exactly are you located?",
    "How much is a visit if I don't have insurance?",
    "Do you take Aetna insurance?",
    "Yes, that's right.",
    "Can I please talk to a real person?",
)


def normalize(text: str) -> list[str]:
    """Lower-case words; digits, ordinals and years spelled out; "dr" as "doctor"."""
    out: list[str] = []
    for token in re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split():
        ordinal = re.fullmatch(r"(\d+)(st|nd|rd|th)", token)
        if ordinal and 0 < int(ordinal.group(1)) < 32:
            out += ordinal_words(int(ordinal.group(1))).replace("-", " ").split()
        elif token.isdigit() and len(token) == 4:
            out += year_words(int(token)).replace("-", " ").split()
        elif token.isdigit() and int(token) < 100:
            out += number_words(int(token)).replace("-", " ").split()
        else:
            out.append({"dr": "doctor", "i'd": "i'd"}.get(token, token))
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny.en,base")
    parser.add_argument("--verbose", action="store_true", help="print every wrong transcript")
    args = parser.parse_args()

    clips = []
    for spec in EVAL_VOICES:
        voice = parse_voice(spec)
        for text in SENTENCES:
            clips.append((spec, text, phone_line(await voice.speak(text))))
    seconds = [audio.size / 16000 for _, _, audio in clips]
    print(f"{len(clips)} utterances ({len(EVAL_VOICES)} voices), {min(seconds):.1f}-"
          f"{max(seconds):.1f} s, 8 kHz µ-law, speech-length window\n")  # fmt: skip

    table: dict[str, dict[str, tuple[int, int]]] = {}
    compute: dict[str, list[float]] = {}
    for model in args.models.split(","):
        stt = WhisperStt.load(WhisperOptions(model=model, window="speech"))
        await stt.warm_up()
        errors: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        compute[model] = []
        for spec, text, audio in clips:
            transcript = await stt.transcribe(audio)
            compute[model].append(transcript.compute_ms)
            reference = normalize(text)
            distance = edit_distance(normalize(transcript.text), reference)
            errors[spec][0] += distance
            errors[spec][1] += len(reference)
            if args.verbose and distance:
                print(f"  {model} [{spec}] {text!r} -> {transcript.text!r}")
        stt.close()
        table[model] = {k: (v[0], v[1]) for k, v in errors.items()}

    models = list(table)
    print("| voice | " + " | ".join(f"{m} WER" for m in models) + " |")
    print("|---|" + "---|" * len(models))
    for spec in EVAL_VOICES:
        cells = [f"{100 * table[m][spec][0] / table[m][spec][1]:.1f} %" for m in models]
        print(f"| {spec} | " + " | ".join(cells) + " |")
    overall = []
    for m in models:
        e = sum(v[0] for v in table[m].values())
        n = sum(v[1] for v in table[m].values())
        overall.append(f"**{100 * e / n:.1f} %**")
    print("| all voices | " + " | ".join(overall) + " |")
    print("| compute per utterance, p50 / p95 | " + " | ".join(
        f"{np.percentile(compute[m], 50):.0f} / {np.percentile(compute[m], 95):.0f} ms"
        for m in models) + " |")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
