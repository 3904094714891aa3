"""The head start's first audio with and without its first words synthesized on their own.

In one process, alternating the two ways turn by turn (so a changing load on the machine
falls on both), against the scripted OpenAI-compatible server (300 ms to the first token, 50
tokens/s, a different reply each time) and the embedded Piper voice:

    python bench/first_words.py --turns 10

Prints, from the first token, when audio can start playing (the first words' audio; or the
whole first piece's, which a reply takes once it has written that piece), and, for the first
words, how long after they finished playing the rest of the piece was ready (above 0: a gap
mid-clause; the runtime splits only while the voice's measured pace allows,
`agent/first_words.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callwright.agent.head_start import HeadStart  # noqa: E402
from callwright.core.responder import CallInfo, Message, TurnContext  # noqa: E402
from callwright.llm.openai_compat import LlmOptions, OpenAICompatResponderFactory  # noqa: E402
from callwright.tts.normalize import SpeechNormalizer  # noqa: E402
from callwright.tts.piper import PiperTts  # noqa: E402
from tests.fakes.openai_server import spoken_reply, start_fake_openai  # noqa: E402

CALL = CallInfo(call_id="bench-first-words", channel="bench")


def now_ms() -> float:
    return time.monotonic() * 1000.0


async def one_turn(
    factory: OpenAICompatResponderFactory, piper: PiperTts, turn: int, split: bool
) -> tuple[float, float | None]:
    """(first token → first audio playable, the gap after the first words or None)."""
    responder = factory.for_call(CALL)
    history = (Message("assistant", "Hello."), Message("user", f"Where is my order {turn}?"))
    responder.prepare(TurnContext(CALL, history, "user_turn"))
    head = HeadStart(
        responder.preview(),
        piper,
        SpeechNormalizer(),
        now_ms,
        max_split_pace=float("inf") if split else -1.0,
    )
    try:
        if not split:
            await head.decided()
            whole = await head.take(head.piece or "")
            assert whole is not None, "the head start had no piece"
            await anext(whole)
            return now_ms() - head.marks["first_token_ms"], None
        while head.first_words is None:  # noqa: ASYNC110 (a bench: the marks have no event)
            await asyncio.sleep(0.002)
        words = head.take_first_words(head.first_words)
        assert words is not None
        first = await anext(words)
        playable = now_ms()
        played_ms = first.size * 1000.0 / piper.sample_rate
        async for chunk in words:
            played_ms += chunk.size * 1000.0 / piper.sample_rate
        await head.decided()
        rest = await head.take_rest(head.piece or "")
        gap = None
        if rest is not None:
            await anext(rest)
            gap = now_ms() - (playable + played_ms)
        return playable - head.marks["first_token_ms"], gap
    finally:
        head.close("dropped")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=10, help="turns of each way")
    args = parser.parse_args()
    piper = await PiperTts.load_async()
    await piper.warm_up()
    results: dict[bool, list[tuple[float, float | None]]] = {True: [], False: []}
    async with start_fake_openai([], ttft_ms=300, tokens_per_s=50, default=spoken_reply) as fake:
        factory = OpenAICompatResponderFactory(LlmOptions(fake.base_url, "bench"))
        for turn in range(args.turns):
            for split in (True, False) if turn % 2 == 0 else (False, True):
                results[split].append(await one_turn(factory, piper, turn, split))
        await factory.close()
    piper.close()
    print(f"{'first token → first audio playable':40} {'p50 ms':>8} {'max ms':>8}")
    for split, label in ((False, "whole first piece"), (True, "first words on their own")):
        values = [r[0] for r in results[split]]
        print(f"{label:40} {statistics.median(values):8.0f} {max(values):8.0f}")
    gaps = [r[1] for r in results[True] if r[1] is not None]
    if gaps:
        print(
            f"{'rest ready after the words played':40} {statistics.median(gaps):8.0f} "
            f"{max(gaps):8.0f}   (above 0: a gap mid-clause)"
        )


if __name__ == "__main__":
    asyncio.run(main())
