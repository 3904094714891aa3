"""Speech the recogniser did not write: does it tell a misheard first half from an answer?

When Whisper makes an unfinished first half a finished sentence it often drops the last word
("My date of birth is" -> "My date of birth."). The VAD still heard that word, so its speech
would run on past the end of the last word Whisper wrote. This measures that gap, and the last
word's own probability and length, from Whisper's word alignment (the cross-attention
alignment faster-whisper uses for `word_timestamps=True`, run on the encoder output the
transcript was decoded from), on the labelled clips of bench/pause_prosody.py (six voices,
phone band, 200 ms of silence after each). Without the alignment: the VAD's speech per
syllable written, against the voice's own pace (a swallowed word leaves speech unaccounted for).
And without the rest of the sentence: the last `--tail` seconds of the speech transcribed on
their own, whose words may then end on one a sentence cannot end on ("...appointment to").

Prints, per measure, the area under the ROC curve (oriented so finished answers score high;
a measure that goes the other way is turned round, its medians printed negated),
over all clips and over the unfinished clips whose words look complete (those the words let
through), and the share of those pausers a threshold catches while 95 % and 98 % of finished
answers stay on the finished side; and what the alignment costs per clip.

    python bench/pause_words.py [--voices N] [--verbose]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from pathlib import Path

import ctranslate2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.caller_voices import caller_voices, voice_name  # noqa: E402
from bench.pause_prosody import clips  # noqa: E402
from bench.smart_turn import auc  # noqa: E402
from callwright.sim.pausing import default_stt  # noqa: E402
from callwright.stt.whisper import WhisperStt  # noqa: E402
from callwright.turns.semantic import Completeness, completeness, ends_mid_sentence  # noqa: E402
from callwright.vad.silero import SileroVadModel  # noqa: E402

RATE = 16000
SPEECH = 0.5  # the endpointer's speech threshold (turns/endpointer.py)


async def vad_span_s(model: SileroVadModel, audio: np.ndarray) -> tuple[float, float]:
    """Start of the first and end of the last window the VAD calls speech, in seconds."""
    stream = model.open_stream(RATE)
    windows = await stream.process(audio, 0.0)
    speech = [w for w in windows if w.probability >= SPEECH]
    if not speech:
        return 0.0, 0.0
    return speech[0].start_ms / 1000.0, speech[-1].end_ms / 1000.0


def syllables(text: str) -> int:
    """Roughly how many syllables `text` says: vowel groups of a word, one per digit."""
    count = 0
    for word in re.findall(r"[a-z']+|\d", text.lower()):
        count += 1 if word.isdigit() else max(1, len(re.findall(r"[aeiouy]+", word)))
    return count


def aligned_words(stt: WhisperStt, audio: np.ndarray) -> tuple[str, list[dict], float]:
    """(text, words with start/end/probability, alignment ms) as the runtime decodes it."""
    model = stt._model
    floats = audio.astype(np.float32) / 32768.0
    pad = max(RATE, 12 * RATE - floats.size)
    padded = np.concatenate((floats, np.zeros(pad, np.float32)))
    features = model.feature_extractor(padded)[:, :-1]
    frames = min(3000, features.shape[1] - features.shape[1] % 2)
    view = np.ascontiguousarray(features[np.newaxis, :, :frames], dtype=np.float32)
    encoded = model.model.encode(ctranslate2.StorageView.from_array(view), to_cpu=False)
    prompt = stt._plain_prompt
    result = model.model.generate(
        encoded, [prompt], beam_size=1, max_length=len(prompt) + 16 + 12 * floats.size // RATE,
        suppress_blank=True, suppress_tokens=stt._suppress,
    )[0]  # fmt: skip
    tokens = [t for t in result.sequences_ids[0] if t < stt._tokenizer.eot]
    text = stt._tokenizer.decode(tokens).strip()
    started = time.perf_counter()
    content_frames = floats.size // 160
    words = model.find_alignment(stt._tokenizer, [tokens], encoded, content_frames)[0]
    return text, words, 1000.0 * (time.perf_counter() - started)


async def tiny_en() -> WhisperStt:
    """The simulators' Whisper tiny.en, as the agent runs it (exits if it is not installed)."""
    stt = await asyncio.to_thread(default_stt)
    if not isinstance(stt, WhisperStt):
        raise SystemExit("Whisper tiny.en is not installed")
    return stt


def caught(pos: list[float], neg: list[float], keep: float) -> float:
    """Share of `neg` below the threshold that keeps `keep` of `pos` at or above it."""
    if not neg:
        return 0.0
    threshold = float(np.quantile(pos, 1.0 - keep))
    return float(np.mean(np.array(neg) < threshold))


def clip_parser(doc: str | None) -> argparse.ArgumentParser:
    """`--voices N` and `--verbose`, as the benches over bench/pause_prosody.py's clips take."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--voices", type=int, default=6)
    parser.add_argument("--verbose", action="store_true", help="print every clip")
    return parser


def clip_args(doc: str | None) -> argparse.Namespace:
    """The arguments of `clip_parser`, parsed."""
    return clip_parser(doc).parse_args()


async def tail_ends_mid_sentence(
    stt: WhisperStt, audio: np.ndarray, start: float, end: float, seconds: float
) -> tuple[bool, str]:
    """Whether the last `seconds` of the speech, transcribed alone (and 200 ms after it), end
    on a word no sentence ends on: without the sentence before it the recogniser has no
    reason to round it off."""
    first = int(max(start, end - seconds) * RATE)
    last = min(audio.size, int((end + 0.2) * RATE))
    heard = await stt.transcribe(audio[first:last])
    return ends_mid_sentence(heard.text), heard.text


async def main() -> None:
    parser = clip_parser(__doc__)
    parser.add_argument(
        "--tail", type=float, default=1.0, help="seconds of speech transcribed alone (0: off)"
    )
    args = parser.parse_args()
    stt = await tiny_en()
    vad = SileroVadModel.load()
    rows: list[tuple[bool, bool, dict[str, float]]] = []
    tails: list[tuple[bool, bool, bool]] = []  # (finished, words look done, the tail holds)
    costs: list[float] = []
    for voice in caller_voices()[: args.voices]:
        voice_clips = await clips(voice)
        finished_count = sum(1 for _, done in voice_clips if done)
        voice_rows: list[dict[str, float]] = []
        for audio, finished in voice_clips:
            text, words, cost = await asyncio.to_thread(aligned_words, stt, audio)
            costs.append(cost)
            start, end = await vad_span_s(vad, audio)
            looks_done = completeness(text) is Completeness.COMPLETE
            last = words[-1] if words else {"end": 0.0, "start": 0.0, "probability": 0.0}
            measures = {
                # Oriented so finished scores high: speech past the last word is negative.
                "unwritten speech": -(end - float(last["end"])) * 1000.0,
                "last word prob": float(last["probability"]),
                "last word ms": (float(last["end"]) - float(last["start"])) * 1000.0,
                # Speech the words do not account for, without Whisper's alignment: the
                # VAD's speech per written syllable (normalized per voice below).
                "ms per syllable": -1000.0 * (end - start) / max(1, syllables(text)),
            }
            if args.verbose:
                print(f"  {'finished' if finished else 'pauser  '} {looks_done:d} "
                      f"gap {-measures['unwritten speech']:5.0f} ms "
                      f"p {measures['last word prob']:.2f} {text!r}")  # fmt: skip
            if args.tail > 0:
                held, tail = await tail_ends_mid_sentence(stt, audio, start, end, args.tail)
                tails.append((finished, looks_done, held))
                if args.verbose:
                    print(f"    last {args.tail:.1f} s alone: {tail!r}{' (held)' if held else ''}")
            rows.append((finished, looks_done, measures))
            voice_rows.append(measures)
        # A caller's pace is known from their earlier turns; here, from the voice's finished
        # clips (its median), so a slow voice is not taken for one that swallowed a word.
        pace = float(np.median([m["ms per syllable"] for m in voice_rows[:finished_count]]))
        for m in voice_rows:  # both negative: the ratio to the voice's pace, negated
            m["ms per syllable"] = -m["ms per syllable"] / pace
        print(f"{voice_name(voice)}: done, {len(rows)} clips so far", flush=True)
    pos = [r for r in rows if r[0]]
    neg = [r for r in rows if not r[0]]
    hard = [r for r in neg if r[1]]
    # A hold acts only where the words look complete: the finished answers it could delay.
    done = [r for r in pos if r[1]]
    print(f"\nfinished {len(pos)} ({len(done)} whose words look complete), unfinished "
          f"{len(neg)} ({len(hard)} whose words look complete; caught@: thresholds keeping "
          f"95 / 98 % of those {len(done)} finished unheld)")  # fmt: skip
    print(f"{'measure':18} {'AUC all':>8} {'AUC words-done':>14} {'caught@95%':>10} "
          f"{'caught@98%':>10} {'finished p50':>12} {'pauser p50':>10}")  # fmt: skip
    for name in rows[0][2]:
        p = [r[2][name] for r in pos]
        n = [r[2][name] for r in neg]
        h = [r[2][name] for r in hard]
        d = [r[2][name] for r in done]
        if auc(p, n) < 0.5:  # it goes the other way: orient it so finished scores high
            p, n, h, d = ([-v for v in x] for x in (p, n, h, d))
        print(f"{name:18} {auc(p, n):>8.2f} {auc(p, h) if h else 0.0:>14.2f} "
              f"{caught(d, h, 0.95):>10.2f} {caught(d, h, 0.98):>10.2f} "
              f"{np.median(p):>12.2f} {np.median(n):>10.2f}")  # fmt: skip
    if tails:
        done_held = [held for fin, looks, held in tails if fin and looks]
        hard_held = [held for fin, looks, held in tails if not fin and looks]
        print(f"the last {args.tail:.1f} s transcribed alone end mid-sentence, of those whose "
              f"words look complete: {sum(hard_held)}/{len(hard_held)} pausers, "
              f"{sum(done_held)}/{len(done_held)} finished answers")  # fmt: skip
    print(f"\nword alignment per clip: p50 {np.median(costs):.0f} ms, "
          f"p95 {np.quantile(costs, 0.95):.0f} ms")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
