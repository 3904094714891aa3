"""Running scenario x condition pairs as real spoken calls against an in-process server.

The stack (models, store) is loaded once; each pair gets its own agent instance from the
agent builder with its own data folder, so pairs never see each other's bookings, and its own
loopback server. The caller speaks over the Twilio Media Streams protocol (signed webhook,
µ-law 8 kHz) or the native WebSocket, with the pair's voice and audio condition. The verdict
comes from the stored call record only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import math
import os
import secrets
import time
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from aiohttp import web

from callwright.agent.stack import AgentStack
from callwright.core.responder import ResponderFactory
from callwright.evals.callers import Caller, PersonaCaller, ScriptedCaller
from callwright.evals.ear import AgentEar, CachedVoice, as_said, finished_call
from callwright.evals.judge import JudgedState, judge, percentile
from callwright.evals.llm_caller import LlmCaller
from callwright.evals.scenario import CallerLine, Scenario
from callwright.observe.observer import Observability
from callwright.observe.redact import KINDS, RedactionPolicy
from callwright.server.app import create_app
from callwright.server.auth import new_api_key
from callwright.sim.caller import CallerSimulator, CallReport, ScriptLine
from callwright.sim.conditions import (
    Condition,
    EchoPath,
    FrameNetwork,
    NoiseSource,
    condition,
    insert_pause,
)
from callwright.sim.twilio_caller import KeyPresses, TwilioCallerSimulator
from callwright.sim.voices import VoiceAsTts, parse_voice
from callwright.store.access import AccessStore, SqlStore
from callwright.store.base import CallDetail
from callwright.telephony.settings import TelephonySettings

log = logging.getLogger(__name__)
AgentBuilder = Callable[[Path], Awaitable[ResponderFactory]]


def _finite(value: float | None) -> float | None:
    """A p95 for JSON: one that lands on a turn never answered is null (the counts say why)."""
    return None if value is None or math.isinf(value) else value


@dataclass(frozen=True, slots=True)
class EvalOptions:
    """How a suite runs.

    Attributes:
        transport: "ws" (native WebSocket, 16 kHz) or "twilio" (phone protocol, µ-law
            8 kHz) for the conditions that do not choose: phone-band ones ("phone", "lossy")
            always call over Twilio's protocol.
        parallel: pairs at once.
        work_dir: per-pair agent data and the calls' WAV recordings go here.
        turn_timeout_s: how long the caller waits for the agent at each step.
        pair_timeout_s: a pair still running after this fails.
        llm_caller: persona scenarios are played by the LLM in CALLWRIGHT_LLM_BASE_URL.
    """

    transport: str = "ws"
    parallel: int = 2
    work_dir: Path = Path("eval-out")
    turn_timeout_s: float = 15.0
    pair_timeout_s: float = 240.0
    llm_caller: bool = False


@dataclass(slots=True)
class PairResult:
    """One scenario under one condition."""

    scenario: str
    condition: str
    voice: str
    transport: str
    passed: bool
    reasons: list[str]
    state: JudgedState = field(default_factory=JudgedState)
    call_id: str = ""
    caller_ttfa_ms: list[float] = field(default_factory=list)
    caller_unanswered: int = 0  # the caller's lines that got no reply
    recording: str = ""  # WAV file, relative to the work folder
    seconds: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.scenario}@{self.condition}"

    @property
    def caller_p95_ms(self) -> float | None:
        """At the caller, over every line: one that got no reply counts as an endless wait."""
        missing = [math.inf] * self.caller_unanswered
        return percentile([*self.caller_ttfa_ms, *missing], 95)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario, "condition": self.condition, "voice": self.voice,
            "transport": self.transport, "passed": self.passed, "reasons": self.reasons,
            "call_id": self.call_id, "recording": self.recording, "seconds": self.seconds,
            "ttfa_ms": self.state.ttfa_ms, "ttfa_p95_ms": _finite(self.state.ttfa_p95_ms),
            "caller_ttfa_ms": self.caller_ttfa_ms, "caller_unanswered": self.caller_unanswered,
            "caller_ttfa_p95_ms": _finite(self.caller_p95_ms), "unanswered": self.state.unanswered,
            "tool_calls": self.state.tool_calls, "escalated": self.state.escalated,
            "outcome": self.state.outcome,
            "transcript": [{"role": r, "text": t} for r, t in self.state.transcript],
        }  # fmt: skip


class EvalRunner:
    """Runs pairs against a loaded stack.

    Args:
        stack: loaded once; each pair replaces only its `responders`.
        build_agent: makes a fresh agent (responder factory) with its data in a folder.
        options: see `EvalOptions`.
    """

    def __init__(self, stack: AgentStack, build_agent: AgentBuilder, options: EvalOptions) -> None:
        self.stack = stack
        self.build_agent = build_agent
        self.options = options
        self._voices: dict[str, CachedVoice] = {}
        self._token = secrets.token_hex(16)
        # The simulated callers present an operator key of their own (made in `run`).
        self._api_key: str | None = None
        # Every caller is synthetic, so the eval keeps personal data in its records: redacted,
        # a date argument reads "[DOB]" and could not be judged. Deployments stay redacted.
        observed = stack.observability.options
        keep = RedactionPolicy(**dict.fromkeys(KINDS, "keep"), name_parameters=())  # type: ignore[arg-type]
        self._observability = Observability(dataclasses.replace(observed, redaction=keep))

    async def run(
        self,
        pairs: list[tuple[Scenario, str]],
        progress: Callable[[PairResult], None] | None = None,
    ) -> list[PairResult]:
        """Runs every pair, `parallel` at once; results in the order of `pairs`."""
        if self._api_key is None:
            # /v1/ws needs an operator credential: a key of the eval's own in the stack's store.
            self._api_key, record = new_api_key("viewer", "callwright eval")
            access = await AccessStore.open(cast(SqlStore, self.stack.store))
            await access.add_key(record)
        gate = asyncio.Semaphore(self.options.parallel)

        async def one(scenario: Scenario, cond: str) -> PairResult:
            async with gate:
                result = await self.run_pair(scenario, cond)
            if progress is not None:
                progress(result)
            return result

        return list(await asyncio.gather(*(one(s, c) for s, c in pairs)))

    async def run_pair(self, scenario: Scenario, cond_name: str) -> PairResult:
        """One call; any failure of the machinery is a failed pair with the reason.

        Relative dates ("{date:friday}") are resolved against the day the call is placed,
        the agent's own clock, and the expectations again against the day the call record
        says it started, should midnight have passed in between.
        """
        started = time.monotonic()
        scenario = scenario.on(dt.date.today())
        transport = "twilio" if condition(cond_name).phone_band else self.options.transport
        result = PairResult(scenario.name, cond_name, scenario.voice, transport, False, [])
        folder = self.options.work_dir / "pairs" / result.key.replace("@", "--")
        folder.mkdir(parents=True, exist_ok=True)
        agent = await self.build_agent(folder)
        app_runner: web.AppRunner | None = None
        try:
            stack = dataclasses.replace(
                self.stack, responders=agent, observability=self._observability
            )
            settings = TelephonySettings(twilio_auth_token=self._token)
            app_runner = web.AppRunner(create_app(stack, settings))
            await app_runner.setup()
            site = web.TCPSite(app_runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            async with asyncio.timeout(self.options.pair_timeout_s):
                detail, report = await self._call(scenario, condition(cond_name), port)
            call_day = dt.datetime.fromtimestamp(detail.record.started_at).date()
            verdict = judge(scenario.on(call_day).expect, detail)
            result.passed, result.reasons, result.state = (
                verdict.passed,
                verdict.reasons,
                verdict.state,
            )
            result.call_id = detail.record.call_id
            result.caller_ttfa_ms = [t.ttfa_ms for t in report.turns if t.ttfa_ms is not None]
            result.caller_unanswered = sum(t.ttfa_ms is None for t in report.turns)
            result.recording = await self._save_recording(detail, folder)
        except Exception as exc:  # the pair fails; the suite goes on
            log.exception("pair %s failed to run", result.key)
            result.reasons = [f"did not run: {type(exc).__name__}: {exc}"]
        finally:
            if app_runner is not None:
                await app_runner.cleanup()
            close = getattr(agent, "close", None)
            if close is not None:
                await close()
            result.seconds = round(time.monotonic() - started, 1)
        return result

    def _voice(self, spec: str) -> CachedVoice:
        if spec not in self._voices:
            self._voices[spec] = CachedVoice(parse_voice(spec))
        return self._voices[spec]

    def _caller(self, scenario: Scenario, talks_over: bool = False) -> Caller:
        if scenario.lines:
            return ScriptedCaller(scenario.lines, talks_over=talks_over)
        base_url = os.environ.get("CALLWRIGHT_LLM_BASE_URL")
        if self.options.llm_caller and base_url:
            model = os.environ.get("CALLWRIGHT_LLM_MODEL", "default")
            return LlmCaller(scenario.persona, base_url, model,
                             os.environ.get("CALLWRIGHT_LLM_API_KEY"))  # fmt: skip
        return PersonaCaller(scenario.persona)

    async def _call(
        self, scenario: Scenario, cond: Condition, port: int
    ) -> tuple[CallDetail, CallReport]:
        # A phone-band condition is a phone call: Twilio's protocol carries µ-law 8 kHz.
        twilio = self.options.transport == "twilio" or cond.phone_band
        voice = VoiceAsTts(self._voice(scenario.voice))
        rate = 8000 if twilio else 16000
        noise = NoiseSource(cond.snr_db, cond.seed, rate) if cond.snr_db is not None else None
        network: FrameNetwork[Any] | None = None
        if cond.loss or cond.reorder:
            network = FrameNetwork(cond.loss, cond.reorder, cond.seed)
        timeout = self.options.turn_timeout_s
        sim: TwilioCallerSimulator | CallerSimulator
        if twilio:
            echo = EchoPath(cond.echo_gain, cond.echo_delay_ms, rate) if cond.echo_gain else None
            sim = TwilioCallerSimulator(f"http://127.0.0.1:{port}", voice, self._token,
                                        turn_timeout_s=timeout, noise=noise, network=network,
                                        echo=echo, trim=False)  # fmt: skip
        else:
            sim = CallerSimulator(f"ws://127.0.0.1:{port}/v1/ws", voice, turn_timeout_s=timeout,
                                  echo_gain=cond.echo_gain, echo_delay_ms=cond.echo_delay_ms,
                                  noise=noise, network=network, trim=False,
                                  api_key=self._api_key)  # fmt: skip
        ear = AgentEar(self.stack, sim, twilio)
        talking_over = cond.talk_over_ms is not None
        caller = self._caller(scenario, talking_over)
        texts = [x.say for x in scenario.lines]
        if isinstance(caller, PersonaCaller):
            texts = caller.phrases()
        said = scenario.pronounce
        voiced = [_spoken(as_said(t, said), cond) for t in texts if t]
        await self._voice(scenario.voice).warm(voiced)
        said_first = False

        async def next_line() -> ScriptLine | KeyPresses | None:
            nonlocal said_first
            heard = await ear.new_words(wait_s=0.0 if talking_over and said_first else 2.0)
            if not heard and isinstance(caller, PersonaCaller):
                # The reply ended but is not stored yet (a loaded machine): a persona answers
                # what it heard, so it waits for the words rather than say "pardon?".
                heard = await ear.new_words(wait_s=6.0)
            if isinstance(caller, ScriptedCaller) and not talking_over:
                deadline = time.monotonic() + timeout
                while not caller.ready(heard) and time.monotonic() < deadline:
                    caller.heard += " " + heard
                    heard = await ear.new_words(wait_s=1.0)
            repeat = False
            if isinstance(caller, ScriptedCaller) and talking_over and caller.done:
                heard = await _unanswered_reply(ear, heard, timeout)
                repeat = bool(heard)
            line = await caller.next_line(heard)
            if line is None:
                return None
            # A line said again waited for the question it answers.
            talk_over = cond.talk_over_ms if said_first and not repeat else None
            said_first = True
            return _to_sim_line(line, cond, twilio, talk_over, said)

        waits_for_agent = scenario.expect.outcome not in (None, "caller_hung_up")
        hang_up, wait = not waits_for_agent, not talking_over
        if isinstance(sim, TwilioCallerSimulator):
            report: CallReport = await sim.run(next_line, hang_up, wait_for_reply=wait)
        else:
            report = await sim.converse(next_line, hang_up, wait)  # type: ignore[arg-type]
        call_id = await ear.call_id()
        return await finished_call(self.stack, call_id), report

    async def _save_recording(self, detail: CallDetail, folder: Path) -> str:
        recording = await self.stack.store.get_recording(detail.record.call_id)
        if recording is None:
            return ""
        path = folder / "call.wav"

        def write() -> None:
            with wave.open(str(path), "wb") as out:
                out.setnchannels(recording.channels)
                out.setsampwidth(2)
                out.setframerate(recording.sample_rate)
                out.writeframes(recording.pcm)

        await asyncio.to_thread(write)
        return str(path.relative_to(self.options.work_dir))


async def _unanswered_reply(ear: AgentEar, heard: str, wait_s: float) -> str:
    """The reply a caller talking over the agent said its last line into, once that reply
    has ended, if the agent did not take the line as a turn (no answer to it follows);
    else "" (the caller was heard)."""
    heard = f"{heard} {await ear.new_words(wait_s=wait_s)}".strip()
    answered = await ear.new_words(wait_s=3.0)
    return "" if answered else heard


def _to_sim_line(
    line: CallerLine,
    cond: Condition,
    twilio: bool,
    talk_over_ms: float | None,
    pronounce: dict[str, str],
) -> ScriptLine | KeyPresses:
    if line.keys:
        return (
            KeyPresses(line.keys) if twilio else ScriptLine(f"[keys {line.keys}]", keys=line.keys)
        )
    text = _spoken(as_said(line.say, pronounce), cond)
    return ScriptLine(text, barge_in_after_ms=talk_over_ms, pause_ms=cond.pause_ms or 1000.0)


def _spoken(text: str, cond: Condition) -> str:
    return insert_pause(text) if cond.pause_ms else text
