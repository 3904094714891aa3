"""The head start: the first clause of a speculative reply is synthesized while the end of the
turn is still being decided, played at once when the turn ends with the same words, and thrown
away (LLM stream and audio) when it does not. Text-driven, against the scripted model server."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from callwright.agent.head_start import FIRST_PHRASE_WORDS, HeadStart
from callwright.agent.playout import Playout
from callwright.agent.reply import Reply, ReplyDeps, ReplyResult
from callwright.agent.sentences import SentenceBuffer
from callwright.agent.silence import CannedResponder
from callwright.agents.definition import Agent, AgentRuntime, Lines
from callwright.agents.responder import AgentResponderFactory
from callwright.agents.tool import tool
from callwright.core.responder import CallInfo, Message, Responder, TurnContext
from callwright.core.timeline import TurnTimeline
from callwright.llm.completion_stream import CompletionStream
from callwright.llm.openai_compat import LlmOptions, OpenAICompatResponderFactory
from callwright.observe.usage import MeteredResponder, UsageMeter
from callwright.tts.espeak import EspeakTts
from callwright.tts.normalize import SpeechNormalizer
from tests.fakes.openai_server import FakeToolCall, start_fake_openai

CALL = CallInfo(call_id="call-head-start", channel="test")
CLOSING = "We close at six tonight, and we open again at eight tomorrow morning."
ADDRESS = "We are on Main Street, right next to the old bank on the corner."


class RecordingTts:
    """espeak-ng that notes each text it is asked for, and when each synthesis finished."""

    def __init__(self) -> None:
        self.inner = EspeakTts()
        self.name = self.inner.name
        self.sample_rate = self.inner.sample_rate
        self.texts: list[str] = []
        self.done: list[str] = []
        self.finished = asyncio.Event()

    async def synthesize(self, text: str) -> AsyncIterator[np.ndarray]:
        self.texts.append(text)
        async for chunk in self.inner.synthesize(text):
            yield chunk
        self.done.append(text)
        self.finished.set()


def turn(text: str) -> TurnContext:
    history = (Message(role="assistant", content="Hello, how can I help?"), Message("user", text))
    return TurnContext(CALL, history, "user_turn")


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def first_piece(text: str) -> str:
    """The first piece a reply's sentence buffer cuts from `text` (its first clause)."""
    buffer = SentenceBuffer(first_phrase_min_words=FIRST_PHRASE_WORDS)
    pieces = buffer.push(text) or buffer.flush()
    return pieces[0]


async def settled(head: HeadStart, tts: RecordingTts) -> None:
    """Waits until the head start has synthesized its piece (or found none)."""
    async with asyncio.timeout(30):
        while "synthesized_ms" not in head.marks:
            if head.outcome is not None:
                return
            await asyncio.sleep(0.01)


# What the head start synthesizes of CLOSING: its first two words as a clause of their own (as
# soon as they are known), then the rest of the first piece.
CLOSING_AHEAD = ["We close,", "at six tonight,"]


async def play(
    responder: Responder, context: TurnContext, tts: RecordingTts, head: HeadStart | None
) -> ReplyResult:
    """Runs the turn's reply with the head start, as the voice does once the turn ended."""

    async def send(frame: np.ndarray) -> None:
        return None

    playout = Playout(send, 16000)
    playing = asyncio.create_task(playout.run())
    deps = ReplyDeps(
        tts=tts,
        playout=playout,
        now_ms=lambda: time.monotonic() * 1000.0,
        speech=SpeechNormalizer(),
        head_start=head,
    )
    try:
        return await Reply(1, responder, deps, TurnTimeline(turn_index=1)).run(context)
    finally:
        playing.cancel()


def head_start(
    responder: Any, tts: RecordingTts, closed: list[HeadStart], split: bool = True
) -> HeadStart:
    """The head start of `responder`'s prepared reply; `split`: its first words go to TTS on
    their own however fast the voice is (False: never), so no test depends on the machine."""
    return HeadStart(
        responder.preview(),
        tts,
        SpeechNormalizer(),
        lambda: 0.0,
        on_closed=closed.append,
        max_split_pace=float("inf") if split else -1.0,
    )


@dataclass
class Prepared:
    """A call's responder on the scripted model server, a turn prepared, and its head start."""

    fake: Any
    responder: Any
    tts: RecordingTts
    closed: list[HeadStart]
    head: HeadStart


@contextlib.asynccontextmanager
async def prepared(
    script: list[Any],
    question: str,
    tts: RecordingTts | None = None,
    max_split_pace: float = float("inf"),
    **fake_options: Any,
) -> AsyncIterator[Prepared]:
    """The scripted model server answering with `script`, a responder that prepared a reply to
    `question`, and the head start of that reply (its first words split off at any pace by
    default, so no test depends on the machine)."""
    async with start_fake_openai(script, **fake_options) as fake:
        factory = OpenAICompatResponderFactory(LlmOptions(fake.base_url, "main"))
        try:
            responder = factory.for_call(CALL)
            voice, closed = tts or RecordingTts(), list[HeadStart]()
            responder.prepare(turn(question))
            head = HeadStart(
                responder.preview(),
                voice,
                SpeechNormalizer(),
                lambda: 0.0,
                on_closed=closed.append,
                max_split_pace=max_split_pace,
            )
            yield Prepared(fake, responder, voice, closed, head)
        finally:
            await factory.close()


async def test_the_first_clause_is_ready_before_the_turn_ends_and_is_not_synthesized_again() -> (
    None
):
    async with prepared([CLOSING], "What time do you close?") as call:
        fake, tts, closed, head = call.fake, call.tts, call.closed, call.head
        await settled(head, tts)
        # Before the turn ended: the first clause, and only it, was synthesized (its first words
        # first); nothing played.
        assert tts.texts == CLOSING_AHEAD and head.outcome is None
        assert words(" ".join(CLOSING_AHEAD)) == words(first_piece(CLOSING))
        # The turn ends with the same words (case and punctuation aside).
        result = await play(call.responder, turn("what time do you close"), tts, head)
    assert result.text == CLOSING
    assert len(fake.requests) == 1, "the prepared request answered the turn"
    assert tts.texts[:2] == CLOSING_AHEAD, "the head start's audio was played"
    assert words(" ".join(tts.texts[2:])) == words(CLOSING.removeprefix(first_piece(CLOSING)))
    assert closed == [head] and head.outcome == "used"
    assert {"first_token_ms", "first_clause_ms", "audio_ready_ms", "taken_ms"} <= set(head.marks)


async def test_other_final_words_throw_the_head_start_away() -> None:
    async with prepared([CLOSING, ADDRESS], "What time do you close?") as call:
        fake, tts, closed, head = call.fake, call.tts, call.closed, call.head
        await settled(head, tts)
        result = await play(call.responder, turn("Where are you?"), tts, head)
    assert result.text == ADDRESS, "a new request answered the words really said"
    assert len(fake.requests) == 2
    # Synthesized ahead, never played: the reply's own pieces were synthesized instead.
    assert tts.texts[:2] == CLOSING_AHEAD
    assert words(" ".join(tts.texts[2:])) == words(ADDRESS)
    assert closed == [head] and head.outcome == "discarded" and head.reason == "other words"


async def test_the_caller_going_on_drops_the_stream_and_the_audio() -> None:
    async with prepared([CLOSING, ADDRESS], "What time do you close") as call:
        fake, tts, closed, head = call.fake, call.tts, call.closed, call.head
        await settled(head, tts)
        call.responder.prepare(None)  # the caller went on talking: what the session does
        head.close("dropped", "the caller went on")
        result = await play(call.responder, turn("What time do you close on Sunday?"), tts, None)
    assert head.outcome == "dropped" and closed == [head]
    assert result.text == ADDRESS and len(fake.requests) == 2
    assert tts.texts[:2] == CLOSING_AHEAD
    assert words(" ".join(tts.texts[2:])) == words(ADDRESS)


async def test_a_preview_reads_the_stream_without_taking_from_it() -> None:
    async with start_fake_openai([CLOSING]) as fake:
        factory = OpenAICompatResponderFactory(LlmOptions(fake.base_url, "main"))
        responder = factory.for_call(CALL)
        responder.prepare(turn("What time do you close?"))
        previewed = "".join([text async for text in responder.preview()])
        answered = "".join(
            [
                e.text
                async for e in responder.respond(turn("What time do you close?"))
                if hasattr(e, "text")
            ]
        )
        await factory.close()
    assert previewed == CLOSING == answered
    assert len(fake.requests) == 1


async def test_a_replay_ends_when_its_stream_is_closed() -> None:
    never = asyncio.Event()

    async def post() -> Any:
        await never.wait()

    stream = CompletionStream(post)
    replay = stream.replay()
    waiting = asyncio.create_task(anext(replay, None))
    await asyncio.sleep(0.01)
    stream.close()
    assert await asyncio.wait_for(waiting, 5) is None


tools_called: list[str] = []


@tool
async def cancel_order(order_id: str) -> str:
    """Cancels an order (a side effect: must never run before the caller's turn is answered).

    Args:
        order_id: the order number.
    """
    tools_called.append(order_id)
    return "cancelled"


async def test_no_tool_runs_before_the_turn_is_answered(tmp_path: Path) -> None:
    tools_called.clear()
    script: list[Any] = [[FakeToolCall("cancel_order", {"order_id": "42"})], "It is cancelled."]
    async with start_fake_openai(script) as fake:
        runtime = AgentRuntime(data_dir=tmp_path, llm=LlmOptions(fake.base_url, "main"))
        agent = Agent(name="orders", instructions="Be brief.", tools=[cancel_order])
        factory = await AgentResponderFactory.open(agent, runtime)
        responder = factory.for_call(CALL)
        tts, closed = RecordingTts(), list[HeadStart]()
        responder.prepare(turn("Please cancel order 42."))
        head = head_start(responder, tts, closed)
        async with asyncio.timeout(30):
            await head.decided()  # the preview has seen the tool call
        await asyncio.sleep(0.2)  # anything that would run it has had its chance
        assert tools_called == [], "the model asked for a tool: nothing runs speculatively"
        assert head.piece is None and tts.texts == []
        result = await play(responder, turn("Please cancel order 42."), tts, head)
        await factory.close()
    assert tools_called == ["42"], "the tool ran once, after the turn ended"
    assert result.text.endswith("It is cancelled.")
    assert head.outcome == "discarded"


async def test_a_fixed_line_keeps_its_cached_pieces_when_the_model_prepared_nothing(
    tmp_path: Path,
) -> None:
    goodbye = "Thank you so much for calling us today and have a lovely evening."
    async with start_fake_openai([]) as fake:
        runtime = AgentRuntime(data_dir=tmp_path, llm=LlmOptions(fake.base_url, "main"))
        agent = Agent(name="desk", instructions="Be brief.", lines=Lines(goodbye=goodbye))
        factory = await AgentResponderFactory.open(agent, runtime)
        responder = factory.for_call(CALL)
        tts, closed = RecordingTts(), list[HeadStart]()
        responder.prepare(turn("Okay, goodbye."))  # the goodbye line answers: no model
        assert not responder.has_preview(), "nothing to synthesize ahead: no head start"
        head = head_start(responder, tts, closed)
        await head.decided()
        result = await play(responder, turn("Okay, goodbye."), tts, head)
        await factory.close()
    assert fake.requests == []
    assert result.text == goodbye
    assert tts.texts == [goodbye], "cut as the phrase cache cuts it, not at its first phrase"
    assert head.outcome == "discarded"


async def test_the_same_words_prepared_again_keep_the_request_in_flight() -> None:
    async with prepared([CLOSING, ADDRESS], "What time do you close") as call:
        fake, head = call.fake, call.head
        await settled(head, call.tts)
        # A second look at the pause wrote a full stop: the same request, not a new one.
        call.responder.prepare(turn("What time do you close?"))
        result = await play(call.responder, turn("What time do you close?"), call.tts, head)
    assert result.text == CLOSING and len(fake.requests) == 1
    assert head.outcome == "used"


async def test_a_turn_answered_before_its_preparation_began_sends_one_request(
    tmp_path: Path,
) -> None:
    async with start_fake_openai([CLOSING]) as fake:
        runtime = AgentRuntime(data_dir=tmp_path, llm=LlmOptions(fake.base_url, "main"))
        factory = await AgentResponderFactory.open(Agent(name="desk"), runtime)
        responder = factory.for_call(CALL)
        # The turn ends before the preparation had its first turn of the event loop.
        responder.prepare(turn("What time do you close?"))
        events = [e async for e in responder.respond(turn("What time do you close?"))]
        await asyncio.sleep(0.3)  # a late preparation would have sent its request by now
        await factory.close()
    assert "".join(getattr(e, "text", "") for e in events) == CLOSING
    assert len(fake.requests) == 1, "no unused request was sent after the answer"


async def test_a_first_piece_cut_before_a_phrase_is_read_as_a_clause() -> None:
    parcel = "Your parcel left our warehouse on Monday morning, and it arrives soon."
    async with prepared([parcel], "Where is my parcel?") as call:
        tts, head = call.tts, call.head
        await settled(head, tts)
        result = await play(call.responder, turn("Where is my parcel?"), tts, head)
    assert head.outcome == "used" and head.piece == "Your parcel left our warehouse"
    # The voice got a comma to read it as a clause (its first words too, synthesized first);
    # the reply's text is the model's own.
    assert tts.texts[:2] == ["Your parcel,", "left our warehouse,"]
    assert tts.texts[2:] == ["on Monday morning, and it arrives soon."]
    assert result.text == parcel


class LabelledPlayout(Playout):
    """A playout that notes the text each queued chunk of audio belongs to, in order."""

    def __init__(self) -> None:
        async def send(frame: np.ndarray) -> None:
            return None

        super().__init__(send, 16000)
        self.labels: list[str] = []

    def enqueue(self, samples: np.ndarray, text: str) -> None:
        if not self.labels or self.labels[-1] != text:
            self.labels.append(text)
        super().enqueue(samples, text)


async def test_the_first_words_play_before_the_first_piece_is_written() -> None:
    # 20 tokens a second: the first piece ("We close at six tonight,") is written 200 ms
    # after the first words ("We close") are known.
    async with start_fake_openai([CLOSING], tokens_per_s=20) as fake:
        factory = OpenAICompatResponderFactory(LlmOptions(fake.base_url, "main"))
        responder = factory.for_call(CALL)
        tts, closed = RecordingTts(), list[HeadStart]()
        responder.prepare(turn("What time do you close?"))
        head = head_start(responder, tts, closed)
        taken: list[str] = []
        take_first_words = head.take_first_words

        def noting(words: str) -> AsyncIterator[np.ndarray] | None:
            taken.append(words)
            return take_first_words(words)

        head.take_first_words = noting  # type: ignore[method-assign]
        playout = LabelledPlayout()
        playing = asyncio.create_task(playout.run())
        deps = ReplyDeps(
            tts=tts,
            playout=playout,
            now_ms=lambda: time.monotonic() * 1000.0,
            speech=SpeechNormalizer(),
            head_start=head,
        )
        try:
            async with asyncio.timeout(30):
                while "first_token_ms" not in head.marks:  # noqa: ASYNC110 (marks: no event)
                    await asyncio.sleep(0.005)
            # The turn ends at its first token: the reply reads the same stream from its start.
            result = await Reply(1, responder, deps, TurnTimeline(turn_index=1)).run(
                turn("What time do you close?")
            )
        finally:
            playing.cancel()
            await factory.close()
    assert result.text == CLOSING and len(fake.requests) == 1
    # The reply took the first words' audio before it had cut its own first piece.
    assert taken == ["We close"]
    assert playout.labels[:2] == ["We close", "at six tonight,"]
    assert words(" ".join(playout.labels)) == words(CLOSING)
    # Synthesized once each: the first words and the rest of the piece by the head start.
    assert tts.texts[:2] == CLOSING_AHEAD
    assert not {"We close", "We close,", "at six tonight,"} & set(tts.texts[2:])
    assert head.outcome == "used" and head.reason == ""


async def test_only_a_reply_the_model_was_started_on_gets_a_head_start(tmp_path: Path) -> None:
    question = turn("What time do you close?")
    # No LLM: the flow and fixed lines answer, so nothing is previewed (or synthesized ahead).
    plain = await AgentResponderFactory.open(Agent(name="desk"), AgentRuntime(data_dir=tmp_path))
    responder = plain.for_call(CALL)
    responder.prepare(question)
    assert not responder.has_preview()
    # As the call sees it, behind its metering: a responder that cannot preview, none either.
    receptionist = CannedResponder("We close at six.")
    metered = MeteredResponder(receptionist, UsageMeter(), lambda *_: None, "test", False)
    metered.prepare(question)
    assert not metered.has_preview()
    assert not MeteredResponder(responder, UsageMeter(), lambda *_: None, "t", False).has_preview()
    async with start_fake_openai([CLOSING]) as fake:
        runtime = AgentRuntime(data_dir=tmp_path, llm=LlmOptions(fake.base_url, "main"))
        factory = await AgentResponderFactory.open(Agent(name="desk"), runtime)
        with_llm = factory.for_call(CALL)
        with_llm.prepare(question)
        assert with_llm.has_preview()
        assert MeteredResponder(with_llm, UsageMeter(), lambda *_: None, "t", True).has_preview()
        with_llm.prepare(None)  # the caller went on
        assert not with_llm.has_preview()
        await factory.close()


async def test_a_slow_voice_synthesizes_the_first_piece_whole() -> None:
    # A voice too slow to have the rest of the piece ready before the first words have played
    # (a loaded machine) would open a gap mid-clause: the piece is synthesized whole.
    async with prepared([CLOSING], "What time do you close?", max_split_pace=-1.0) as call:
        tts, head = call.tts, call.head
        await settled(head, tts)
        result = await play(call.responder, turn("What time do you close?"), tts, head)
    assert tts.texts[0] == first_piece(CLOSING) and head.first_words is None
    assert result.text == CLOSING and head.outcome == "used"


class SlowTts(RecordingTts):
    """A voice on a machine loaded since its pace was measured: every synthesis waits first."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s

    async def synthesize(self, text: str) -> AsyncIterator[np.ndarray]:
        await asyncio.sleep(self.delay_s)
        async for chunk in super().synthesize(text):
            yield chunk


async def first_words_audio(head: HeadStart) -> list[np.ndarray]:
    """The head start's first words' audio, taken by a reply as soon as they are known."""
    async with asyncio.timeout(30):
        while head.first_words is None and head.outcome is None:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
    audio = head.take_first_words(head.first_words or "")
    assert audio is not None
    return [chunk async for chunk in audio]


async def test_first_words_slower_than_the_split_allows_wait_for_the_rest_of_their_clause() -> None:
    # The split was allowed (the pace known before), but the first words' own synthesis took
    # longer than their audio allows: played at once, the rest would follow after a gap.
    slow = SlowTts(delay_s=1.0)
    async with prepared([CLOSING], "When do you close?", slow, max_split_pace=0.2) as call:
        tts, head = call.tts, call.head
        chunks = await first_words_audio(head)
        # Handed out only once the rest of the piece was synthesized too.
        assert tts.done[:2] == CLOSING_AHEAD and sum(c.size for c in chunks) > 0
        assert head.words_held and "words_held_ms" in head.marks
        head.close("discarded")


async def test_first_words_synthesized_fast_enough_play_before_the_rest_is_written() -> None:
    # Four tokens a second: the rest of the first piece is written about a second after them.
    async with prepared([CLOSING], "When do you close?", tokens_per_s=4) as call:
        head = call.head
        chunks = await first_words_audio(head)
        assert call.tts.done == CLOSING_AHEAD[:1] and sum(c.size for c in chunks) > 0
        assert not head.words_held and "words_held_ms" not in head.marks
        head.close("discarded")
