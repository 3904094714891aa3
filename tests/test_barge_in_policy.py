"""Barge-in decisions on text: duck at onset, look at the first words, restore or stop."""

from __future__ import annotations

import numpy as np

from callwright.agent.barge_in import BargeIn, BargeInOptions, BargeInPolicy, Decision
from callwright.agent.playout import Playout
from callwright.stt.base import Transcript
from callwright.turns.backchannel import takes_the_floor

OPTIONS = BargeInOptions(duck_gain=0.06, quick_look_ms=200.0, confirm_ms=1200.0)


def _words(text: str, confidence: float | None = 0.8) -> Transcript:
    return Transcript(text=text, confidence=confidence, audio_ms=400.0, compute_ms=50.0)


def _ducked(at_ms: float = 1000.0) -> BargeInPolicy:
    policy = BargeInPolicy(OPTIONS)
    assert policy.onset(agent_speaking=True) is Decision.DUCK
    policy.was_ducked(at_ms)
    return policy


def test_speech_over_the_agent_ducks_it_once_and_silence_over_nothing_does_nothing() -> None:
    policy = BargeInPolicy(OPTIONS)
    assert policy.onset(agent_speaking=False) is Decision.NOTHING
    assert policy.overlap(500.0, caller_speaking=True) is Decision.NOTHING  # nothing ducked
    policy = _ducked()
    assert policy.onset(agent_speaking=True) is Decision.NOTHING  # already ducked


def test_the_first_words_are_looked_at_once_then_long_speech_stops_the_agent() -> None:
    policy = _ducked()
    assert policy.overlap(100.0, caller_speaking=True) is Decision.NOTHING
    assert policy.overlap(210.0, caller_speaking=True) is Decision.LOOK
    assert policy.overlap(400.0, caller_speaking=True) is Decision.NOTHING  # looked already
    assert policy.overlap(900.0, caller_speaking=False) is Decision.NOTHING  # in a pause
    assert policy.overlap(1250.0, caller_speaking=True) is Decision.STOP


def test_first_words_stop_the_agent_unless_a_backchannel_or_unsure() -> None:
    policy = _ducked()
    assert policy.first_words(_words("Wait, stop."), True) is Decision.STOP
    assert policy.first_words(_words("Uh-huh."), True) is Decision.NOTHING  # may go on
    assert policy.first_words(_words("Uh-huh."), False) is Decision.RESTORE  # over already
    assert policy.first_words(_words(""), False) is Decision.NOTHING  # the pause decides
    assert policy.first_words(_words("And", confidence=0.1), True) is Decision.NOTHING
    policy.was_stopped()
    assert policy.first_words(_words("Wait, stop."), True) is Decision.NOTHING  # nothing left


def test_a_pause_restores_after_a_backchannel_and_stops_after_anything_else() -> None:
    assert _ducked().pause_words("Mm-hmm.") is Decision.RESTORE
    assert _ducked().pause_words("") is Decision.RESTORE  # a cough
    assert _ducked().pause_words("Sorry, where are you located?") is Decision.STOP
    assert BargeInPolicy(OPTIONS).pause_words("Where are you?") is Decision.NOTHING


def test_a_backchannel_turn_takes_no_turn_and_a_real_one_stops_a_ducked_agent() -> None:
    policy = _ducked()
    assert policy.pause_words("Yeah.") is Decision.RESTORE
    policy.was_restored(1400.0)
    # The same speech, ended as a turn: already taken as a backchannel, whatever its words.
    assert policy.turn_words(1400.0, "Yeah.", agent_speaking=True) is Decision.RESTORE
    assert policy.turn_words(2400.0, "Okay.", agent_speaking=True) is Decision.RESTORE
    assert policy.turn_words(3000.0, "What about Friday?", agent_speaking=True) is Decision.NOTHING
    assert _ducked().turn_words(3000.0, "What about Friday?", True) is Decision.STOP
    # The agent had finished: "okay" is an answer, not a backchannel.
    assert BargeInPolicy(OPTIONS).turn_words(5000.0, "Okay.", False) is Decision.NOTHING


class _Voice:
    """Records what barge-in made the voice do."""

    def __init__(self) -> None:
        self.speaking = True
        self.done: list[tuple[str, float]] = []

    async def duck(self, at_ms: float, gain: float) -> None:
        self.done.append(("duck", gain))

    def restore(self, end_ms: float, text: str) -> None:
        self.done.append(("restore", end_ms))

    async def barge_in(self, at_ms: float) -> None:
        self.done.append(("stop", at_ms))
        self.speaking = False


async def _looked_at(text: str, confidence: float) -> list[tuple[str, float]]:
    voice = _Voice()
    events: list[str] = []

    async def first_words(since_ms: float) -> Transcript:
        assert since_ms == 1000.0  # from the onset the agent was ducked at
        return _words(text, confidence)

    barge_in = BargeIn(OPTIONS, voice, first_words, lambda k, _t, _d: events.append(k), lambda: 0)
    await barge_in.onset(1000.0)
    await barge_in.heard(1250.0, caller_speaking=True)  # past the quick look
    for task in list(barge_in._tasks):
        await task
    assert ("interruption_heard" in events) == (voice.done[-1][0] == "stop")
    return voice.done


async def test_a_confident_interruption_is_stopped_at_the_quick_look() -> None:
    assert await _looked_at("Hold on, where are you?", 0.7) == [("duck", 0.06), ("stop", 1000.0)]
    assert await _looked_at("Right.", 0.9) == [("duck", 0.06)]  # the pause will decide


async def test_a_reply_that_ends_while_ducked_leaves_nothing_to_judge() -> None:
    voice = _Voice()

    async def never(since_ms: float) -> Transcript:
        raise AssertionError("no quick look once the reply is over")

    barge_in = BargeIn(OPTIONS, voice, never, lambda *_: None, lambda: 0)
    await barge_in.onset(1000.0)
    voice.speaking = False
    await barge_in.heard(1300.0, caller_speaking=True)
    assert not barge_in.ducked
    assert await barge_in.turn_words(1600.0, "Okay.") is False  # an answer: a turn
    assert voice.done == [("duck", 0.06)]


async def test_after_a_clear_the_ducked_lead_is_resent_at_once() -> None:
    sent: list[np.ndarray] = []

    async def send(frame: np.ndarray) -> None:
        sent.append(frame)

    playout = Playout(send, 8000, frame_ms=20, lead_ms=60.0)  # no playout loop running
    playout.begin_reply(1)
    playout.enqueue(np.full(8000, 10_000, dtype=np.int16), "We open at eight.")
    assert playout.pause() == 0.0  # nothing heard yet: the whole reply is still to play
    playout.duck(0.06)
    await playout.refill_lead()
    assert 3 <= len(sent) <= 4  # the 60 ms lead in 20 ms frames, without waiting for the loop
    assert all(frame.size == 160 and abs(int(frame.max()) - 600) <= 1 for frame in sent)


def test_words_with_no_content_over_the_agent_do_not_take_the_floor() -> None:
    # What the recogniser made of murmured "uh-huh" / "mm-hmm" over the agent's voice.
    heard_as = ("Aha", "M-H-M-M.", "And then.", "You have.", "That's why I've...", "")
    # flite's "Mm-hmm" spelled out: hums are no words, so it is not "four words".
    for heard in (*heard_as, "And HN and M.", "And NHN and"):
        assert not takes_the_floor(heard), heard
        assert _ducked().pause_words(heard) is Decision.RESTORE, heard
    # A question, a request, a refusal or more than a few words do.
    for said in ("Stop.", "No.", "Nah.", "Hello?", "What?", "Hold on", "Sorry, one question."):
        assert takes_the_floor(said), said
        assert _ducked().pause_words(said) is Decision.STOP, said
    assert takes_the_floor("and then I was thinking")  # four words: more than a murmur
    assert takes_the_floor("Hmm, and then I was thinking")


def test_the_quick_look_stops_only_on_a_content_word_read_with_confidence() -> None:
    # A stray, unsure word in the first 200 ms ("bruh" for "right") does not stop the agent...
    assert _ducked().first_words(_words("bruh", confidence=0.40), True) is Decision.NOTHING
    # ...nor do function words, however sure; the caller already quiet: restore now.
    assert _ducked().first_words(_words("And then...", 0.9), True) is Decision.NOTHING
    assert _ducked().first_words(_words("And then...", 0.9), False) is Decision.RESTORE
    assert _ducked().first_words(_words("Sorry.", confidence=0.6), True) is Decision.STOP


def test_a_turn_of_words_with_no_content_over_the_agent_takes_no_turn() -> None:
    policy = BargeInPolicy(OPTIONS)
    assert policy.turn_words(2000.0, "You have.", agent_speaking=True) is Decision.RESTORE
    assert policy.turn_words(2000.0, "You have.", agent_speaking=False) is Decision.NOTHING


def test_more_words_than_the_overlap_could_hold_are_a_sound_not_a_turn() -> None:
    # Whisper's reading of flite's 0.9 s "Mm-hmm" over the agent: ten words.
    made_up = "And in each and in the end of the presentation,"
    policy = _ducked()
    onset = policy.ducked_at_ms
    assert onset is not None
    assert policy.pause_words(made_up, onset + 930.0) is Decision.RESTORE
    assert _ducked().turn_words(onset + 930.0, made_up, agent_speaking=True) is Decision.RESTORE
    # The same words over four seconds were said; a quick short interruption is one.
    assert _ducked().pause_words(made_up, onset + 4000.0) is Decision.STOP
    assert _ducked().pause_words("Sorry, one question.", onset + 600.0) is Decision.STOP
    assert _ducked().pause_words("No, no, no, stop.", onset + 700.0) is Decision.STOP


def test_words_that_went_on_after_a_restored_pause_are_timed_from_their_first_duck() -> None:
    # "I will like" [pause: restored] "... to speak to a real" [pause]: the second pause reads
    # the turn's words so far, said over 1.7 s since the first duck, not the 1 s since the
    # second: 4.7 words a second is speech, so the agent stops.
    policy = _ducked(4928.0)
    assert policy.pause_words("I will like", 5472.0) is Decision.RESTORE
    policy.was_restored(5472.0)
    assert policy.onset(agent_speaking=True) is Decision.DUCK
    policy.was_ducked(5664.0)
    assert policy.pause_words("I would like to speak to a real", 6656.0) is Decision.STOP
    # Once that turn is over, the next overlap is timed from its own duck.
    policy.turn_words(7776.0, "I would like to speak to a real person please.", True)
    policy.was_stopped()
    policy.was_ducked(20000.0)
    made_up = "And in each and in the end of the presentation,"
    assert policy.pause_words(made_up, 20930.0) is Decision.RESTORE


async def test_a_reply_built_from_many_chunks_plays_exactly_what_was_queued() -> None:
    sent: list[np.ndarray] = []

    async def send(frame: np.ndarray) -> None:
        sent.append(frame.copy())

    playout = Playout(send, 8000, frame_ms=20, lead_ms=10_000.0)
    rng = np.random.default_rng(7)
    # Chunks of odd sizes, past several growths of the reply's buffer; and a second reply,
    # which must not see the first one's audio.
    for reply, text in ((1, "first"), (2, "second")):
        playout.begin_reply(reply)
        chunks = [
            rng.integers(-9000, 9000, size, dtype=np.int16) for size in rng.integers(1, 3000, 40)
        ]
        for chunk in chunks:
            playout.enqueue(chunk, text)
        sent.clear()
        while playout._pending() > 0:
            await playout._send_next()
        played = np.concatenate(sent)
        expected = np.concatenate(chunks)
        assert np.array_equal(played[: expected.size], expected)
        assert not played[expected.size :].any()  # the last frame padded with silence
