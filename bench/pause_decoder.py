"""What the recogniser's decoder knows about a first half it wrote as a finished sentence.

When Whisper writes an unfinished first half as a whole sentence ("My date of birth is" as
"My date of birth."), its language model chose the full stop over the word it heard. Two
ways to ask the decoder about that, on the labelled clips of bench/pause_prosody.py (six
voices, phone band, 200 ms of silence after each):

- **end probability**: at the step after the last word, the probability the decoder gives to
  ending the sentence (".", "?", "!", "...", end of text), and to anything but a new word;
- **disfluent prompt**: the same encoder output decoded again after a previous-text prompt of
  hesitant speech ("Um, so I was, uh... I wanted to..."), which makes Whisper keep the
  fillers and fragments it otherwise drops: does the first half then end mid-sentence?

Prints, over the clips whose words look complete (`turns/semantic.completeness`), the area
under the ROC curve of each probability (oriented so finished answers score high) and the
share of pausers a threshold catches while 95 % / 98 % of finished answers stay unheld; and
for the prompt, how many pausers and how many finished answers it holds.

    python bench/pause_decoder.py [--voices N] [--verbose]
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import ctranslate2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.caller_voices import caller_voices, voice_name  # noqa: E402
from bench.pause_prosody import clips  # noqa: E402
from bench.pause_words import caught, clip_args, tiny_en  # noqa: E402
from bench.smart_turn import auc  # noqa: E402
from callwright.stt.whisper import WhisperStt  # noqa: E402
from callwright.turns.semantic import Completeness, completeness, ends_mid_sentence  # noqa: E402

RATE = 16000
# Hesitant speech in general, none of the bench's lines: the style, not the words, is the cue.
DISFLUENT = (
    "Um, so I was, uh... I wanted to... Well, the thing is... and then we, um... It's for my..."
)
ENDINGS = (".", "?", "!", "...", "…")


def decode(stt: WhisperStt, audio: np.ndarray) -> tuple[str, dict[str, float], str, float]:
    """(text, end probabilities, text after the disfluent prompt, decoder ms) for one clip."""
    model, tokenizer = stt._model, stt._tokenizer
    floats = audio.astype(np.float32) / 32768.0
    padded = np.concatenate((floats, np.zeros(max(RATE, 12 * RATE - floats.size), np.float32)))
    features = model.feature_extractor(padded)[:, :-1]
    frames = min(3000, features.shape[1] - features.shape[1] % 2)
    view = np.ascontiguousarray(features[np.newaxis, :, :frames], dtype=np.float32)
    encoded = model.model.encode(ctranslate2.StorageView.from_array(view), to_cpu=False)
    prompt = stt._prompt if floats.size >= RATE else stt._plain_prompt  # as the runtime does
    limit = len(prompt) + 16 + 12 * floats.size // RATE
    options = {"beam_size": 1, "suppress_blank": True, "suppress_tokens": stt._suppress}
    result = model.model.generate(
        encoded, [prompt], max_length=limit, return_logits_vocab=True, **options
    )[0]
    tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
    text = tokenizer.decode(tokens).strip()
    step = len(tokens)
    while step > 0 and tokenizer.decode([tokens[step - 1]]).strip() in ENDINGS:
        step -= 1
    logits = np.asarray(result.logits[0][step], dtype=np.float64)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    ends, words = _token_classes(stt)
    probabilities = {"end": float(p[ends].sum()), "no new word": 1.0 - float(p[words].sum())}
    plain = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    styled = [tokenizer.sot_prev, *tokenizer.encode(" " + DISFLUENT), *plain]
    started = time.perf_counter()
    again = model.model.generate(encoded, [styled], max_length=len(styled) + limit, **options)[0]
    cost = 1000.0 * (time.perf_counter() - started)
    return text, probabilities, tokenizer.decode(again.sequences_ids[0]).strip(), cost


_CLASSES: dict[str, np.ndarray] = {}


def _token_classes(stt: WhisperStt) -> tuple[np.ndarray, np.ndarray]:
    """Token ids that end a sentence (with end of text), and those that start a new word."""
    if not _CLASSES:
        tokenizer = stt._tokenizer
        pieces = [tokenizer.decode([t]) for t in range(tokenizer.eot)]
        ends = [t for t, s in enumerate(pieces) if s.strip() in ENDINGS] + [tokenizer.eot]
        words = [t for t, s in enumerate(pieces) if s.startswith(" ") and s[1:2].isalnum()]
        _CLASSES["ends"], _CLASSES["words"] = np.array(ends), np.array(words)
    return _CLASSES["ends"], _CLASSES["words"]


def held(text: str) -> bool:
    """The words would hold the turn: not complete, or ending on dots or a cut."""
    ended = text.strip().endswith(("...", "…", ",", "-"))
    return ended or ends_mid_sentence(text) or completeness(text) is not Completeness.COMPLETE


async def main() -> None:
    args = clip_args(__doc__)
    stt = await tiny_en()
    rows: list[tuple[bool, dict[str, float], bool]] = []
    costs: list[float] = []
    for voice in caller_voices()[: args.voices]:
        for audio, finished in await clips(voice):
            text, probabilities, styled, cost = await asyncio.to_thread(decode, stt, audio)
            if completeness(text) is not Completeness.COMPLETE:
                continue  # the words already hold it (or say nothing): no second signal needed
            costs.append(cost)
            rows.append((finished, probabilities, held(styled)))
            if args.verbose:
                label = "finished" if finished else "pauser  "
                print(f"  {label} end {probabilities['end']:.3f} {text!r} -> {styled!r}")
        print(f"{voice_name(voice)}: done, {len(rows)} clips whose words look complete", flush=True)
    done = [r for r in rows if r[0]]
    hard = [r for r in rows if not r[0]]
    print(f"\nwords look complete: {len(done)} finished answers, {len(hard)} pausers")
    print(f"{'measure':22} {'AUC':>6} {'caught@95%':>10} {'caught@98%':>10}")
    for name in ("end", "no new word"):
        d = [r[1][name] for r in done]
        h = [r[1][name] for r in hard]
        print(
            f"{name:22} {auc(d, h):>6.2f} {caught(d, h, 0.95):>10.2f} {caught(d, h, 0.98):>10.2f}"
        )
    print(f"disfluent prompt holds {sum(r[2] for r in hard)}/{len(hard)} pausers and "
          f"{sum(r[2] for r in done)}/{len(done)} finished answers; its decoding "
          f"{np.median(costs):.0f} ms p50 a clip")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
