"""Would batching several calls' utterances into one Whisper run raise embedded capacity?

An embedded worker's calls queue for one Whisper pool, one utterance per run. This bench
transcribes the same utterances (flite voices, padded to one length as a batch must be) one at
a time and as one batch through CTranslate2, as the server's speech-window path does (encoder,
then greedy decoding after the plain prompt), and prints the wall and CPU time of each and
whether the words came out the same. With `--window S`, every clip is padded to at least S
seconds (the server pads to 12) and the CPU of one utterance is split into the encoder's and
the decoder's.

Run from the repository root:

    .venv/bin/python bench/whisper_batch.py [--batch 4] [--rounds 3] [--threads 2] [--window 12]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import ctranslate2
import numpy as np

from callwright.sim.voices import parse_voice
from callwright.stt.whisper import WhisperOptions, WhisperStt

LINES = (
    "I'd like to book an appointment for Tuesday morning.",
    "What are your opening hours on Saturday?",
    "My date of birth is March third, nineteen eighty.",
    "Can I see Doctor Patel sometime next week?",
    "I need to cancel my appointment for Friday.",
    "Is there parking near the clinic?",
    "The best number to reach me is five five five, one two three four.",
    "My insurance provider is Blue Cross Blue Shield.",
)
VOICES = ("flite:slt", "flite:kal", "flite:awb", "flite:rms")


def features(stt: WhisperStt, clips: list[np.ndarray], window_s: float = 0.0) -> list[np.ndarray]:
    """Log-mel features of each clip, padded with silence to the longest plus one second, and
    to at least `window_s` seconds."""
    model = stt._model
    length = max(max(c.shape[0] for c in clips) + 16000, int(window_s * 16000))
    out = []
    for clip in clips:
        audio = clip.astype(np.float32) / 32768.0
        padded = np.concatenate((audio, np.zeros(length - audio.shape[0], np.float32)))
        feats = model.feature_extractor(padded)[:, :-1]
        out.append(feats[:, : feats.shape[1] - feats.shape[1] % 2])
    return out


def encode(stt: WhisperStt, batch: list[np.ndarray]) -> ctranslate2.StorageView:
    """The encoder's output for `batch`, in one CTranslate2 call."""
    stacked = np.ascontiguousarray(np.stack(batch), dtype=np.float32)
    return stt._model.model.encode(ctranslate2.StorageView.from_array(stacked), to_cpu=False)


def decode(stt: WhisperStt, encoded: ctranslate2.StorageView, count: int) -> list[str]:
    """Greedy decoding of `count` encoded utterances after the plain prompt, in one call."""
    prompt = stt._plain_prompt
    results = stt._model.model.generate(encoded, [prompt] * count, beam_size=1, max_length=80)
    return [stt._tokenizer.decode(r.sequences_ids[0]).strip() for r in results]


def run(stt: WhisperStt, batch: list[np.ndarray]) -> list[str]:
    """Encodes and greedily decodes `batch` in one CTranslate2 call each."""
    return decode(stt, encode(stt, batch), len(batch))


def split_cpu(stt: WhisperStt, feats: np.ndarray) -> tuple[float, float]:
    """CPU milliseconds of the encoder and of the greedy decoding of one utterance."""
    start = time.process_time()
    encoded = encode(stt, [feats])
    encoded_at = time.process_time()
    decode(stt, encoded, 1)
    return 1000 * (encoded_at - start), 1000 * (time.process_time() - encoded_at)


def one_by_one(stt: WhisperStt, batch: list[np.ndarray]) -> list[str]:
    return [run(stt, [x])[0] for x in batch]


def timed(fn: Callable[[], list[str]]) -> tuple[float, float, list[str]]:
    """Wall and CPU milliseconds of `fn`, and what it returned."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return 1000 * (time.perf_counter() - wall), 1000 * (time.process_time() - cpu), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=4, help="utterances per batched run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="CTranslate2 threads a run uses")
    parser.add_argument(
        "--window", type=float, default=0.0, help="pad every clip to at least this many seconds"
    )
    args = parser.parse_args()
    stt = WhisperStt.load(WhisperOptions(model="tiny.en", cpu_threads=args.threads))
    voices = [parse_voice(v) for v in VOICES]
    clips = [voices[i % len(voices)].speak_blocking(line) for i, line in enumerate(LINES)]
    groups = [clips[i : i + args.batch] for i in range(0, len(clips), args.batch)]
    feats = [features(stt, group, args.window) for group in groups]
    run(stt, feats[0])  # warm-up
    if args.window:
        splits = [split_cpu(stt, f) for group in feats for f in group for _ in range(args.rounds)]
        encoder, decoder = np.median([s[0] for s in splits]), np.median([s[1] for s in splits])
        print(
            f"one utterance in a {feats[0][0].shape[1] / 100:.1f} s window: encoder {encoder:.0f}"
            f" ms CPU, decoder {decoder:.0f} ms CPU (medians of {len(splits)})"
        )
    print(
        f"{len(clips)} utterances in groups of {args.batch}, tiny.en on {args.threads} "
        "thread(s), ms per group"
    )
    print("round  one-by-one wall / cpu   batched wall / cpu   cpu saved   same words")
    for round_ in range(args.rounds):
        one = [timed(partial(one_by_one, stt, f)) for f in feats]
        together = [timed(partial(run, stt, f)) for f in feats]
        same = all(a[2] == b[2] for a, b in zip(one, together, strict=True))
        one_wall, one_cpu = np.mean([o[0] for o in one]), np.mean([o[1] for o in one])
        bat_wall, bat_cpu = np.mean([t[0] for t in together]), np.mean([t[1] for t in together])
        print(
            f"{round_:5d}  {one_wall:8.0f} / {one_cpu:5.0f}      {bat_wall:8.0f} / {bat_cpu:5.0f}"
            f"   {100 * (1 - bat_cpu / one_cpu):7.0f} %   {same}"
        )
    stt.close()


if __name__ == "__main__":
    main()
