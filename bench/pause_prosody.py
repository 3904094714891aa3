"""Does the voice tell a caller who stopped mid-sentence from one who finished?

A labelled set in the six caller voices, through the phone band (8 kHz µ-law), each clip ending
with 200 ms of silence as when the end of the turn is decided: finished (every answer of
bench/turn_taking.py and every pauser spoken whole) and unfinished (the same pausers, and the
answers with a pause marked as the eval's "pauses" condition marks it, each synthesized whole
and cut at the pause as the simulated caller does: callwright/sim/pausing.py).

For each clip, measures of its last 300-500 ms that are documented turn-end cues across
languages, and the signals the runtime has:
- F0 end: median pitch of the last 300 ms of voicing against the utterance's median, in
  semitones (final lowering: finished utterances end lower);
- F0 slope: pitch slope over the last 400 ms of voicing, semitones per second;
- energy end: level of the last 300 ms of speech against the utterance's median, dB;
- last run: length of the last voiced stretch against the median voiced stretch (final
  lengthening);
- Smart Turn v3.2's probability of "finished" (when installed);
- text: the words Whisper writes for the clip judged by `turns.semantic.completeness`;
- confidence: Whisper's mean token probability for them (`Transcript.confidence`), and what a
  floor on it would hold among clips whose words look complete.
Prints the area under the ROC curve of each (0.5: chance; under 0.5: the other way round), over
all clips and over the unfinished clips whose words look complete (where a second signal would
have to help), and the share of each class a threshold keeps at 95 % of finished answers.

    python bench/pause_prosody.py [--voices N] [--verbose] [--beam N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.caller_voices import caller_voices, voice_name  # noqa: E402
from bench.smart_turn import auc, phone_band  # noqa: E402
from bench.turn_taking import ANSWER_CALLS, PAUSERS  # noqa: E402
from callwright.sim.conditions import insert_pause  # noqa: E402
from callwright.sim.pausing import default_stt, speak_line, split_marks  # noqa: E402
from callwright.turns.semantic import Completeness, completeness  # noqa: E402

RATE = 16000
TAIL_S = 0.2
FRAME = 640  # 40 ms pitch frames
HOP = 160  # every 10 ms
VERBOSE = "--verbose" in sys.argv


def pitch_track(audio: np.ndarray) -> np.ndarray:
    """F0 in Hz per 10 ms (0: unvoiced), by normalized autocorrelation, 70-350 Hz."""
    x = audio.astype(np.float64)
    low, high = RATE // 350, RATE // 70
    level = np.sqrt(np.mean(x**2)) if x.size else 0.0
    out = []
    for start in range(0, x.size - FRAME - high, HOP):
        frame = x[start : start + FRAME] - x[start : start + FRAME].mean()
        if np.sqrt(np.mean(frame**2)) < 0.3 * level:
            out.append(0.0)
            continue
        segment = x[start : start + FRAME + high]
        r = np.correlate(segment, frame, mode="valid")[low : high + 1]
        squares = np.concatenate([[0.0], np.cumsum(segment**2)])
        energies = squares[FRAME + low : FRAME + high + 1] - squares[low : high + 1]
        r = r / np.sqrt(np.maximum(1e-9, energies * float(np.dot(frame, frame))))
        best = int(np.argmax(r))
        out.append(RATE / (low + best) if r[best] > 0.6 else 0.0)
    return np.array(out)


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def features(audio: np.ndarray) -> dict[str, float]:
    """The prosodic measures of one clip (speech, then its trailing silence)."""
    speech = audio[: audio.size - int(TAIL_S * RATE)]
    f0 = pitch_track(speech)
    voiced = f0 > 0
    out = {"F0 end": 0.0, "F0 slope": 0.0, "energy end": 0.0, "last run": 1.0}
    if voiced.sum() >= 10:
        semis = 12 * np.log2(f0[voiced] / np.median(f0[voiced]))
        index = np.flatnonzero(voiced)
        last = index[-1]
        end = semis[index > last - 30]
        out["F0 end"] = float(np.median(end))
        recent = index > last - 40
        if recent.sum() >= 4:
            out["F0 slope"] = float(np.polyfit(index[recent] / 100.0, semis[recent], 1)[0])
        stretches = [b - a for a, b in runs(voiced) if b - a >= 3]
        if stretches:
            out["last run"] = stretches[-1] / float(np.median(stretches))
    n = speech.size // HOP
    rms = np.sqrt(np.mean(speech[: n * HOP].astype(np.float64).reshape(n, HOP) ** 2, axis=1))
    loud = rms > 0.05 * rms.max()
    if loud.sum() >= 30:
        levels = 20 * np.log10(rms[loud] + 1e-9)
        out["energy end"] = float(np.median(levels[-30:]) - np.median(levels))
    return out


async def clips(voice: object) -> list[tuple[np.ndarray, bool]]:
    """(phone-band audio at 16 kHz, finished?) of every line for one voice."""
    lines = [line for call in ANSWER_CALLS for line in call]
    finished = [*lines, *(split_marks(p)[0] for p in PAUSERS)]
    paused = [*PAUSERS, *(p for p in map(insert_pause, lines) if "|" in p)]
    tail = np.zeros(int(TAIL_S * RATE), dtype=np.int16)
    out: list[tuple[np.ndarray, bool]] = []
    for text in finished:
        audio = await speak_line(voice, text, 0.0, RATE)  # type: ignore[arg-type]
        out.append((phone_band(np.concatenate([audio, tail])), True))
    gap_ms = 1000.0
    for text in paused:
        audio = await speak_line(voice, text, gap_ms, RATE)  # type: ignore[arg-type]
        silent = np.flatnonzero(audio == 0)
        run = [r for r in runs(audio == 0) if r[1] - r[0] >= int(gap_ms * RATE / 1000)]
        if not run or silent.size == 0:
            continue
        out.append((phone_band(np.concatenate([audio[: run[0][0]], tail])), False))
    return out


def keep_rate(pos: list[float], neg: list[float]) -> tuple[float, float]:
    """With the threshold that keeps 95 % of finished clips on the finished side (the measure
    oriented so finished scores high): the share of unfinished clips it catches."""
    threshold = float(np.quantile(pos, 0.05))
    return 0.95, float(np.mean(np.array(neg) < threshold)) if neg else 0.0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--voices", type=int, default=6)
    parser.add_argument("--verbose", action="store_true", help="print every clip's words")
    parser.add_argument("--beam", type=int, default=1, help="Whisper's beam (1: greedy, as calls)")
    args = parser.parse_args()
    if args.beam == 1:
        stt = await asyncio.to_thread(default_stt)
    else:
        from callwright.stt.whisper import WhisperOptions, WhisperStt

        options = WhisperOptions(cpu_threads=1, solo_threads=1, beam_size=args.beam)
        stt = await asyncio.to_thread(WhisperStt.load, options)
    if stt is None:
        raise SystemExit("Whisper tiny.en is not installed")
    smart = None
    try:
        from callwright.turns.smart_turn import SmartTurn

        smart = SmartTurn.load()
    except Exception as error:  # an optional comparison: say why it is missing
        print(f"Smart Turn not measured: {error}")
    rows: list[tuple[str, bool, dict[str, float], bool]] = []
    for voice in caller_voices()[: args.voices]:
        for audio, finished in await clips(voice):
            measures = features(audio)
            if smart is not None:
                measures["Smart Turn"] = smart.probability(audio)
            transcript = await stt.transcribe(audio)
            said = transcript.text
            text_complete = completeness(said) is Completeness.COMPLETE
            measures["text"] = float(text_complete)
            # The recogniser's own certainty: a misheard first half ("My date of Darth Vader.")
            # may read as a finished sentence, but was it heard clearly?
            measures["confidence"] = transcript.confidence or 0.0
            if VERBOSE:
                print(f"  {'finished' if finished else 'pauser  '} {text_complete:d} "
                      f"{measures['confidence']:.2f} {said!r}")  # fmt: skip
            rows.append((voice_name(voice), finished, measures, text_complete))
        print(f"{voice_name(voice)}: {sum(1 for r in rows if r[0] == voice_name(voice))} clips")
    names = list(rows[0][2])
    pos_all = [r for r in rows if r[1]]
    neg_all = [r for r in rows if not r[1]]
    neg_looks_done = [r for r in neg_all if r[3]]
    print(f"\nfinished {len(pos_all)}, unfinished {len(neg_all)} "
          f"(of which {len(neg_looks_done)} whose words look complete)")  # fmt: skip
    print(f"{'measure':12} {'AUC all':>8} {'AUC words-done':>14} {'caught@95%':>10} "
          f"{'finished mean':>13} {'unfinished mean':>15}")  # fmt: skip
    for name in names:
        pos = [r[2][name] for r in pos_all]
        neg = [r[2][name] for r in neg_all]
        hard = [r[2][name] for r in neg_looks_done]
        area = auc(pos, neg)
        sign = 1.0 if area >= 0.5 else -1.0  # orient so finished scores high
        _, caught = keep_rate([sign * p for p in pos], [sign * n for n in neg])
        hard_area = f"{auc(pos, hard):.2f}" if hard else "-"
        print(f"{name:12} {area:>8.2f} {hard_area:>14} {caught:>10.2f} "
              f"{np.mean(pos):>13.2f} {np.mean(neg):>15.2f}")  # fmt: skip
    # What a confidence floor would do where it could act: on words that look complete, the
    # share of finished answers it would hold back, and of pausers it would save.
    done = [r[2]["confidence"] for r in pos_all if r[3]]
    hard = [r[2]["confidence"] for r in neg_looks_done]
    print(f"\nconfidence floor, over clips whose words look complete ({len(done)} finished, "
          f"{len(hard)} pausers): share below it")  # fmt: skip
    for floor in (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7):
        held = float(np.mean(np.array(done) < floor)) if done else 0.0
        saved = float(np.mean(np.array(hard) < floor)) if hard else 0.0
        print(f"  {floor:.2f}: finished {held:.2f}, pausers {saved:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
