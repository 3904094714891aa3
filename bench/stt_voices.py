"""Word error rate on phone audio across the eval suite's caller voices: tiny.en vs base.

Every eval voice (Festival HTS, four flite voices, three espeak-ng voices and speeds) says
clinic callers' sentences; each clip goes through an 8 kHz µ-law line and back to 16 kHz,
then Whisper transcribes it with the speech-length window, one utterance at a time as in a
call. Prints WER per voice and model, overall WER and compute time per utterance.

Numbers are compared as words ("10" and "ten" are the same word; "Dr." is "doctor").

Run from the repository root:

    .venv/bin/python -m bench.stt_voices [--models tiny.en,base] [--verbose]
    .venv/bin/python -m bench.stt_voices --models tiny.en --stream-back VR,HB

`--stream-back` brings each line's 8 kHz audio back to 16 kHz as a call does, in 20 ms frames
through the server's streaming resampler with each given quality, one column each.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections import defaultdict
from typing import cast

import numpy as np

from bench.stt_window import edit_distance
from callwright.audio.mulaw import mulaw_decode, mulaw_encode
from callwright.audio.resample import QUALITIES, Quality, StreamResampler, resample
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


def streamed_back(audio: np.ndarray, quality: Quality) -> np.ndarray:
    """16 kHz speech over an 8 kHz µ-law line, brought back in 20 ms frames as a call does."""
    line = mulaw_decode(mulaw_encode(resample(audio, 16000, 8000)))
    resampler = StreamResampler(8000, 16000, quality)
    frames = [resampler.process(line[i : i + 160]) for i in range(0, line.size, 160)]
    return np.concatenate([*frames, resampler.flush()])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny.en,base")
    parser.add_argument(
        "--stream-back", default="", help=f"comma-separated qualities of {', '.join(QUALITIES)}"
    )
    parser.add_argument("--verbose", action="store_true", help="print every wrong transcript")
    args = parser.parse_args()
    backs: list[Quality | None] = [cast(Quality, q) for q in args.stream_back.split(",") if q]
    backs = backs or [None]

    clips = []
    for spec in EVAL_VOICES:
        voice = parse_voice(spec)
        for text in SENTENCES:
            speech = await voice.speak(text)
            heard = {
                back: phone_line(speech) if back is None else streamed_back(speech, back)
                for back in backs
            }
            clips.append((spec, text, heard))
    seconds = [audio[backs[0]].size / 16000 for _, _, audio in clips]
    print(f"{len(clips)} utterances ({len(EVAL_VOICES)} voices), {min(seconds):.1f}-"
          f"{max(seconds):.1f} s, 8 kHz µ-law, speech-length window\n")  # fmt: skip

    table: dict[str, dict[str, tuple[int, int]]] = {}
    compute: dict[str, list[float]] = {}
    for model_name, back in ((m, b) for m in args.models.split(",") for b in backs):
        model = model_name if back is None else f"{model_name}/{back}"
        stt = WhisperStt.load(WhisperOptions(model=model_name, window="speech"))
        await stt.warm_up()
        errors: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        compute[model] = []
        for spec, text, heard in clips:
            transcript = await stt.transcribe(heard[back])
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
