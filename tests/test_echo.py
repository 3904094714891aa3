"""Both echo cancellers remove the agent's own voice and keep the caller's."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from callwright.agent.echo import EchoCanceller, EchoKind, open_echo_canceller
from callwright.audio.resample import resample
from callwright.tts.espeak import EspeakTts


async def speech(text: str, voice: str) -> np.ndarray:
    tts = EspeakTts(voice=voice)
    audio = np.concatenate([c async for c in tts.synthesize(text)])
    return resample(audio, tts.sample_rate, 16000)


def rms_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-9)


KINDS: list[EchoKind] = ["webrtc", "correlation"]


CHUNK = 320  # 20 ms at 16 kHz, as the session feeds the canceller


def cancel_in_chunks(
    canceller: EchoCanceller, reference: np.ndarray, mic: np.ndarray
) -> list[np.ndarray]:
    """Plays `reference` (the agent) 20 ms at a time while the canceller cleans the same 20 ms
    of `mic`, as a call does; returns the cleaned chunks."""
    out = []
    for i in range(0, mic.size - CHUNK + 1, CHUNK):
        if i < reference.size:
            canceller.add_reference(reference[i : i + CHUNK], i / 16)
        out.append(canceller.process(mic[i : i + CHUNK], i / 16))
    return out


def run_canceller(
    kind: EchoKind, agent: np.ndarray, caller: np.ndarray, delay_ms: float, gain: float
) -> tuple[np.ndarray, np.ndarray]:
    """Plays `agent` as reference while the mic hears its delayed echo plus `caller`."""
    canceller = open_echo_canceller(kind, 16000)
    delay = int(delay_ms * 16)
    n = max(agent.size + delay, caller.size)
    echo = np.zeros(n)
    echo[delay : delay + agent.size] = gain * agent
    mic = echo.copy()
    mic[: caller.size] += caller
    mic16 = np.clip(mic, -32768, 32767).astype(np.int16)
    cleaned = np.concatenate(cancel_in_chunks(canceller, agent, mic16))
    return mic16[: cleaned.size], cleaned


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("delay_ms", [40.0, 180.0, 450.0])
async def test_echo_alone_is_removed(kind: EchoKind, delay_ms: float) -> None:
    agent = await speech("We are open from eight in the morning to six in the evening.", "en-us")
    mic, cleaned = run_canceller(kind, agent, np.zeros(0), delay_ms, gain=0.5)
    settle = 16 * 600  # the first estimate needs some echo to lock on
    assert rms_db(mic[settle:]) - rms_db(cleaned[settle:]) > 20.0


@pytest.mark.parametrize("kind", KINDS)
async def test_caller_speech_survives_double_talk(kind: EchoKind) -> None:
    agent = await speech("We are open from eight in the morning to six in the evening.", "en-us")
    caller = await speech("Wait, stop. What is your address?", "en-us+f2")
    lead = np.zeros(16000)  # the caller starts talking one second into the agent's reply
    caller_at = np.concatenate([lead, caller]).astype(np.float64)
    _mic, cleaned = run_canceller(kind, agent, caller_at, 120.0, gain=0.5)
    region = slice(16000 + 1600, 16000 + caller.size - 1600)
    kept = cleaned[region].astype(np.float64)
    target = caller_at[region]
    echo = _mic[region].astype(np.float64) - target
    # AEC3 reshapes the waveform (band filters, a few ms of delay, residual suppression), so
    # compare what a recogniser cares about: the caller's level and the shape of their speech.
    assert abs(rms_db(kept) - rms_db(target)) < 6.0
    assert np.corrcoef(envelope(kept), envelope(target))[0, 1] > 0.8
    assert np.corrcoef(envelope(kept), envelope(echo))[0, 1] < 0.3


def envelope(x: np.ndarray, frame: int = 320) -> np.ndarray:
    """Loudness every 20 ms."""
    usable = x[: x.size // frame * frame].astype(np.float64).reshape(-1, frame)
    return np.sqrt(np.mean(usable**2, axis=1))


async def test_webrtc_removes_a_rooms_echo_not_just_a_delayed_copy() -> None:
    """A speakerphone in a room: a direct path plus a reverberant tail the correlation
    canceller cannot model (its subtraction of one delayed copy leaves most of it)."""
    agent = await speech("We are open from eight in the morning to six in the evening.", "en-us")
    rng = np.random.default_rng(7)
    response = np.zeros(16 * 200)
    response[16 * 120] = 0.4  # the loudspeaker's direct path, 120 ms later
    decay = np.exp(-np.arange(16 * 60) / (16 * 15.0))  # 60 ms of reflections
    response[16 * 125 : 16 * 185] += 0.08 * rng.standard_normal(decay.size) * decay
    echo = np.convolve(agent.astype(np.float64), response)
    mic = np.clip(echo, -32768, 32767).astype(np.int16)
    canceller = open_echo_canceller("webrtc", 16000)
    cleaned = np.concatenate(cancel_in_chunks(canceller, agent, mic))
    settle = 16 * 600
    assert rms_db(mic[settle : cleaned.size]) - rms_db(cleaned[settle:]) > 20.0


def test_off_leaves_the_audio_alone() -> None:
    canceller = open_echo_canceller("off", 16000)
    canceller.add_reference(np.full(320, 1000, np.int16), 0.0)
    chunk = np.arange(320, dtype=np.int16)
    assert canceller.process(chunk, 0.0) is chunk


async def test_webrtc_skips_caller_audio_long_after_the_agent_stopped() -> None:
    """Listening to silence costs nothing: after the longest echo path, audio passes as is."""
    agent = await speech("We are open from eight in the morning.", "en-us")
    delay = 16 * 120
    mic = np.zeros(agent.size + delay, dtype=np.int16)
    mic[delay:] = agent // 2  # a speakerphone: the echo engages AEC3
    canceller = open_echo_canceller("webrtc", 16000)
    cleaned = np.concatenate(cancel_in_chunks(canceller, agent, mic))
    assert rms_db(mic[: cleaned.size]) - rms_db(cleaned) > 20.0  # it was cancelling
    stopped_ms = agent.size / 16
    caller = np.full(320, 300, dtype=np.int16)
    assert canceller.process(caller, stopped_ms + 500.0) is not caller  # echo may still come
    assert canceller.process(caller, stopped_ms + 1100.0) is caller


def play_then_echo_stops(kind: EchoKind, agent: np.ndarray, caller: np.ndarray) -> np.ndarray:
    """The canceller locks on a real echo of `agent`; then the echo is gone (the caller took
    the phone off speaker) and only `caller` reaches the mic while the agent speaks again.

    Returns what the canceller passed on while the agent spoke the second time.
    """
    canceller = open_echo_canceller(kind, 16000)
    delay = 16 * 120
    first = np.zeros(agent.size + delay + 16000)
    first[delay : delay + agent.size] = 0.5 * agent
    second = np.zeros(max(agent.size, caller.size) + delay)
    second[: caller.size] = caller
    mic = np.clip(np.concatenate([first, second]), -32768, 32767).astype(np.int16)
    reference = np.zeros(mic.size, dtype=np.int16)
    reference[: agent.size] = agent
    reference[first.size : first.size + agent.size] = agent
    passed = np.concatenate(cancel_in_chunks(canceller, reference, mic))
    settle = 16 * 600
    # The first echo was there and was removed: the canceller had locked on it.
    assert rms_db(mic[settle : first.size]) - rms_db(passed[settle : first.size]) > 20.0
    return passed[first.size :]


@pytest.mark.parametrize("kind", KINDS)
async def test_no_echo_no_agent_voice_in_the_caller_audio(kind: EchoKind) -> None:
    # An echo path estimate that outlives the echo must not subtract the agent's voice from
    # silence: that would put the agent's words into the caller's audio (a caller "turn").
    agent = await speech("We are open from eight in the morning to six in the evening.", "en-us")
    passed = play_then_echo_stops(kind, agent, np.zeros(0))
    if kind == "correlation":
        assert not passed.any()
    else:  # AEC3 adds comfort noise far below speech (VAD hears speech at 45 dB and up)
        assert rms_db(passed) < 25.0


@pytest.mark.parametrize("kind", KINDS)
async def test_a_stale_echo_estimate_leaves_the_callers_voice_alone(kind: EchoKind) -> None:
    agent = await speech("We are open from eight in the morning to six in the evening.", "en-us")
    caller = await speech("Sorry, could you repeat the opening hours?", "en-us+f2")
    passed = play_then_echo_stops(kind, agent, caller.astype(np.float64))
    kept = passed[: caller.size].astype(np.float64)
    if kind == "correlation":
        # Nothing of the agent was added: what is passed on is the caller's voice as it came.
        assert rms_db(caller) - rms_db(kept - caller) > 30.0
    else:  # AEC3 reshapes the waveform: compare level and loudness over time, as above
        # (it takes the caller for double talk until it has re-adapted: a few dB quieter).
        assert abs(rms_db(kept) - rms_db(caller)) < 6.0
        assert np.corrcoef(envelope(kept), envelope(caller))[0, 1] > 0.7
        spoken = agent[: caller.size].astype(np.float64)
        assert np.corrcoef(envelope(kept), envelope(spoken))[0, 1] < 0.3


def shifted_echo(agent: np.ndarray, delay_ms: float, shift_ms: float, at_ms: float) -> np.ndarray:
    """The mic of a speakerphone whose echo path grows by `shift_ms` at `at_ms` (mic time):
    the caller's playback buffer ran dry for that long, or its jitter buffer grew."""
    before, after, at = int(delay_ms * 16), int((delay_ms + shift_ms) * 16), int(at_ms * 16)
    mic = np.zeros(agent.size + max(before, after) + 3200)
    for delay, keep in ((before, lambda t: t < at), (after, lambda t: t >= at)):
        heard = np.arange(agent.size) + delay
        mask = keep(heard) & (heard < mic.size)
        mic[heard[mask]] += 0.5 * agent[mask]
    return np.clip(mic, -32768, 32767).astype(np.int16)


def longest_leak_ms(kind: EchoKind, mic: np.ndarray, agent: np.ndarray, from_ms: float) -> float:
    """The longest run of 20 ms chunks the canceller let through with the agent audible in
    them (what VAD would take for the caller starting to speak), after `from_ms`."""
    canceller = open_echo_canceller(kind, 16000)
    longest = run = 0
    for k, chunk in enumerate(cancel_in_chunks(canceller, agent, mic)):
        out = chunk.astype(np.float64)
        audible = k * CHUNK / 16 >= from_ms and np.sqrt(np.mean(out**2)) > 200.0
        run = run + 1 if audible else 0
        longest = max(longest, run)
    return longest * 20.0


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shift_ms", [-130.0, -30.0, 30.0, 130.0])
async def test_an_echo_path_that_shifts_mid_reply_is_not_let_through(
    kind: EchoKind, shift_ms: float
) -> None:
    # The reference is stamped where the agent's audio plays; under load the caller's
    # playback can still drift against it by tens of milliseconds in the middle of a reply.
    agent = await speech(
        "We are open from eight in the morning to six in the evening, Monday to Friday.", "en-us"
    )
    mic = shifted_echo(agent, delay_ms=200.0, shift_ms=shift_ms, at_ms=2000.0)
    # VAD starts a turn after 96 ms of speech: the echo must never leak that long.
    assert longest_leak_ms(kind, mic, agent, from_ms=600.0) < 96.0


async def test_webrtc_leaves_a_line_without_echo_untouched() -> None:
    """A handset or headset: the caller talks over the agent, no echo ever comes back. AEC3
    would take that for double talk and turn the caller down; it is not engaged."""
    agent = await speech("We are open from eight in the morning to six in the evening.", "en-us")
    caller = await speech("Wait, stop. What is your address?", "en-us+f2")
    mic = np.zeros(agent.size, dtype=np.int16)
    mic[8000 : 8000 + caller.size] = caller[: agent.size - 8000]
    canceller = open_echo_canceller("webrtc", 16000)
    out = cancel_in_chunks(canceller, agent, mic)
    assert np.array_equal(np.concatenate(out), mic[: len(out) * CHUNK])


def noise(n: int, rms: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, rms, n).astype(np.int16)


def count_checks(canceller: EchoCanceller) -> list[int]:
    """The timeline ends of the canceller's echo checks, as they happen."""
    checks: list[int] = []
    path = canceller._path  # type: ignore[attr-defined]
    looked = path.echo_likeness

    def counted(end: int) -> float:
        checks.append(end)
        return float(looked(end))

    path.echo_likeness = counted
    return checks


async def test_webrtc_checks_a_quiet_handset_line_for_echo_ever_less_often() -> None:
    """Line noise under the agent's voice is below speech: the correlations that look for an
    echo run on it 100 ms after the first look, then ever less often (200, 400, then every
    800 ms) while it looks nothing like the echo, and on every frame once the caller's audio
    is speech-loud."""
    agent = await speech("We are open from eight in the morning to six in the evening.", "en-us")
    canceller = open_echo_canceller("webrtc", 16000)
    checks = count_checks(canceller)
    hiss = noise(agent.size, 20.0, 1)  # about -64 dBFS, a phone line's own noise
    out = cancel_in_chunks(canceller, agent, hiss)
    assert np.array_equal(np.concatenate(out), hiss[: len(out) * CHUNK])
    seconds = len(out) * CHUNK / 16000
    assert len(out) > 100 and seconds > 2.5
    gaps_ms = [(b - a) / 16 for a, b in itertools.pairwise(checks)]
    assert gaps_ms[:3] == [100.0, 200.0, 400.0]
    assert all(gap == 800.0 for gap in gaps_ms[3:])
    assert len(checks) <= 4 + (seconds - 0.7) / 0.8
    checks.clear()
    loud = noise(CHUNK * 10, 2000.0, 2)  # the caller talking over the agent
    for i in range(10):
        canceller.process(loud[i * CHUNK : (i + 1) * CHUNK], (agent.size - 3200 + i * CHUNK) / 16)
    assert len(checks) == 10
    # The speech-loud frames started the quiet checks afresh: 100 ms after the last one.
    checks.clear()
    tail = noise(CHUNK * 10, 20.0, 3)
    for i in range(10):
        canceller.process(tail[i * CHUNK : (i + 1) * CHUNK], (agent.size + i * CHUNK) / 16)
    assert [(end - (agent.size - 3200 + 10 * CHUNK)) / 16 for end in checks[:1]] == [100.0]


async def test_webrtc_engages_on_a_quiet_echo_that_comes_after_seconds_of_line_noise() -> None:
    """The quiet checks' ever longer waits on a noisy line still find an echo that starts late
    in a reply (a caller who switched to the speakerphone) within a second of it starting."""
    words = "We are open from eight in the morning to six in the evening, Monday to Friday."
    agent = await speech(words, "en-us")
    delay, late = 16 * 150, 16 * 2000  # the echo path; the echo starts 2 s into the reply
    scale = 40.0 / max(1.0, float(np.sqrt(np.mean(agent.astype(np.float64) ** 2))))
    echo = np.zeros(agent.size + delay)
    echo[delay:] = agent * scale
    echo[:late] = 0.0
    mic = np.rint(echo + noise(echo.size, 10.0, 4)).astype(np.int16)
    assert float(np.sqrt(np.mean(mic[late:].astype(np.float64) ** 2))) < 64
    canceller = open_echo_canceller("webrtc", 16000)
    checks = count_checks(canceller)
    out = np.concatenate(cancel_in_chunks(canceller, agent, mic))
    assert len([end for end in checks if end <= late]) <= 6  # backed off on the noise alone
    after = slice(late + 16 * 1000, out.size)  # found and removed within a second
    assert out.size > after.start + 16 * 500
    assert rms_db(mic[after]) - rms_db(out[after]) > 10.0


async def test_webrtc_engages_on_a_quiet_echo() -> None:
    """An echo quieter than speech is still found (at the 100 ms checks) and removed."""
    agent = await speech("We are open from eight in the morning to six in the evening.", "en-us")
    delay = 16 * 150
    scale = 40.0 / max(1.0, float(np.sqrt(np.mean(agent.astype(np.float64) ** 2))))
    mic = np.zeros(agent.size + delay, dtype=np.int16)
    mic[delay:] = np.rint(agent * scale).astype(np.int16)
    quiet = np.sqrt(np.mean(mic[delay:].astype(np.float64) ** 2))
    assert 0 < quiet < 64  # below the level checked on every frame
    canceller = open_echo_canceller("webrtc", 16000)
    out = np.concatenate(cancel_in_chunks(canceller, agent, mic))
    later = slice(16 * 1000, out.size)  # a second in: found and removed by then
    assert rms_db(mic[later]) - rms_db(out[later]) > 15.0


def test_echo_likeness_is_the_best_normalized_correlation_of_history_or_its_newest_part() -> None:
    """Checked against a direct computation (no FFT): the newest 100 ms alone is the delayed
    reference (an echo path that just shifted), the rest of the history is not."""
    from callwright.agent.echo import ReferenceLine
    from callwright.agent.echo_correlation import EchoOptions, EchoPathTracker, options_span

    rng = np.random.default_rng(7)
    options = EchoOptions()
    line = ReferenceLine(16000, 4 * options_span(options, 16000) / 16000)
    tracker = EchoPathTracker(line, options)
    reference = rng.normal(0.0, 3000.0, 16000).astype(np.int16)
    line.add(reference, 0.0)
    end, delay, recent = 16000, 16 * 230, 1600
    mic = rng.normal(0.0, 500.0, 5120).astype(np.float32)  # history: unrelated sound
    mic[-recent:] = 0.7 * reference[end - recent - delay : end - delay]
    tracker.push_mic(mic)
    likeness = tracker.echo_likeness(end)

    def direct(window: np.ndarray) -> float:
        best = -1.0
        for lag in range(0, tracker.max_delay + 1, 1):
            seg = reference[end - window.size - lag : end - lag].astype(np.float64)
            denom = np.sqrt(np.dot(seg, seg) * np.dot(window, window))
            best = max(best, float(np.dot(seg, window) / denom))
        return best

    expected = max(direct(mic.astype(np.float64)), direct(mic[-recent:].astype(np.float64)))
    assert expected > 0.99  # the newest part is the echo
    assert likeness == pytest.approx(expected, abs=1e-4)
    assert tracker.only_echo(end)
