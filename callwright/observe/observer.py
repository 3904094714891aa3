"""What the session tells observability, and where it goes: store, recording, metrics, traces.

The session calls `CallObserver.attach(stack, transport)` once, at the start of a call, and
uses what it returns. That gives the call its own view of the shared stack (usage-metered STT,
TTS and responder; a store view that redacts and fans every record write out to metrics and
traces) and of its transport (every caller frame in and agent frame out goes to the stereo
recording; `clear_audio` marks where the agent was cut). Nothing else in the session changes, and
a failure here is logged, never raised into the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

import numpy as np

from callwright.core import env as read
from callwright.core.clock import AudioClock
from callwright.core.responder import CallInfo, ResponderFactory
from callwright.core.timeline import TurnTimeline
from callwright.observe.audio_recording import RECORDING_RATE, StereoRecording
from callwright.observe.metrics import CallMetrics
from callwright.observe.redact import KINDS, RedactionPolicy, Redactor
from callwright.observe.tracing import CallTrace, CallTracer
from callwright.observe.usage import (
    MeteredResponderFactory,
    MeteredStt,
    MeteredTts,
    PriceTable,
    UsageMeter,
)
from callwright.store.base import ESCALATION_KINDS, CallRecord, CallStore, Utterance
from callwright.stt.base import SpeechToText
from callwright.transports.base import AudioIn, CallTransport, InboundEvent
from callwright.tts.base import TextToSpeech


class Stack(Protocol):
    """What the observer wraps of a call's stack (`agent.AgentStack`, a dataclass)."""

    @property
    def stt(self) -> SpeechToText: ...

    @property
    def tts(self) -> TextToSpeech: ...

    @property
    def responders(self) -> ResponderFactory: ...

    @property
    def store(self) -> CallStore: ...


S = TypeVar("S", bound=Stack)

log = logging.getLogger(__name__)

SETTLE_MS = 500.0  # recording audio older than the clock by this much can no longer change


@dataclass(frozen=True, slots=True)
class ObserveOptions:
    """Observability settings.

    Attributes:
        redaction: what personal data to redact, keep raw, and for how long.
        prices: the price table for cost by layer.
        record_audio: keep a stereo recording of each call.
        flush_interval_s: how often a call's recording and usage are written while it runs.
    """

    redaction: RedactionPolicy = field(default_factory=RedactionPolicy)
    prices: PriceTable = field(default_factory=PriceTable)
    record_audio: bool = True
    flush_interval_s: float = 1.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ObserveOptions:
        import os

        env = os.environ if env is None else env
        return cls(
            redaction=RedactionPolicy.from_env(env),
            prices=PriceTable.from_env(env),
            record_audio=read.flag(env, "CALLWRIGHT_RECORD_AUDIO", True),
        )


class Observability:
    """The server's observability: options, metrics registry and tracer, shared by its calls.

    Args:
        options: settings; defaults redact everything and record audio.
        metrics: the metrics (a fresh registry by default).
        tracer: the tracer (spans go nowhere by default).
    """

    def __init__(
        self,
        options: ObserveOptions | None = None,
        metrics: CallMetrics | None = None,
        tracer: CallTracer | None = None,
    ) -> None:
        self.options = options or ObserveOptions()
        self.metrics = metrics or CallMetrics()
        self.tracer = tracer or CallTracer()
        self.redactor = Redactor(self.options.redaction)

    @classmethod
    def from_env(cls) -> Observability:
        return cls(ObserveOptions.from_env(), tracer=CallTracer.from_env())

    def for_call(self, call: CallInfo) -> CallObserver:
        return CallObserver(self, call)


class CallObserver:
    """One call's observability; see the module docstring."""

    def __init__(self, hub: Observability, call: CallInfo) -> None:
        self.hub = hub
        self.call = call
        self.redactor = hub.redactor.for_call(call.parameters)
        self.meter = UsageMeter()
        self.clock = AudioClock()
        self.recording: StereoRecording | None = None
        self.recording_held = False  # kept, not written, until the caller's consent
        self.trace: CallTrace | None = None
        self._store: CallStore | None = None
        self._escalated = False
        self._caller_lines = 0
        self._chunk_seq = 0
        self._usage_saved = -1
        self._flusher: asyncio.Task[None] | None = None
        self._started = False

    def attach(self, stack: S, transport: CallTransport) -> tuple[S, CallTransport]:
        """The call's views of the stack and its transport."""
        self._store = stack.store
        if self.hub.options.record_audio:
            caller_rate, agent_rate = transport.input_sample_rate, transport.output_sample_rate
            # A line with one rate both ways up to 16 kHz (a phone's 8 kHz) is recorded at it:
            # nothing to resample on every frame, nothing lost the line carried.
            same = caller_rate == agent_rate and caller_rate <= RECORDING_RATE
            rate = caller_rate if same else RECORDING_RATE
            self.recording = StereoRecording(caller_rate, agent_rate, rate)
        # The voices of the agent's other languages are metered like its main one.
        others: dict[str, Any] = {}
        if getattr(stack, "events", None) is not None:
            others["events"] = self._events_knowing_names(cast(Any, stack).events)
        if getattr(stack, "languages", None):
            others["languages"] = {
                code: dataclasses.replace(
                    spoken, tts=MeteredTts(spoken.tts, self.meter, self.provider_error)
                )
                for code, spoken in cast(Any, stack).languages.items()
            }
        view = dataclasses.replace(
            cast(Any, stack),
            **others,
            stt=MeteredStt(stack.stt, self.meter, self.provider_error),
            tts=MeteredTts(stack.tts, self.meter, self.provider_error),
            responders=MeteredResponderFactory(stack.responders, self.meter, self.provider_error),
            store=cast(CallStore, ObservedStore(stack.store, self)),
        )
        return cast(S, view), cast(CallTransport, ObservedTransport(transport, self))

    def _events_knowing_names(
        self, sink: Callable[[str, dict[str, Any]], Awaitable[None]]
    ) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
        """The integration events (webhooks) of this call with the names it learned redacted:
        a receiver's own redaction sees one event, not the caller who said "I'm Ada" earlier.
        Only names: what else the receiver gets is its own policy's to decide."""

        async def emit(kind: str, data: dict[str, Any]) -> None:
            known = self.redactor
            others = {k: "keep" for k in KINDS if k != "name"}
            names_only = dataclasses.replace(known.policy, **others)  # type: ignore[arg-type]
            await sink(kind, Redactor(names_only, known.names).value(data))

        return emit

    # --- from the store view -------------------------------------------------------------

    def started(self, record: CallRecord) -> None:
        if self._started:
            return
        self._started = True
        self.hub.metrics.call_started()
        attributes = {
            "call.id": record.call_id,
            "call.channel": record.channel,
            "call.caller": record.caller,
        }
        self.trace = self.hub.tracer.start_call(attributes, int(record.started_at * 1e9))
        self._flusher = asyncio.create_task(self._flush_loop(), name=f"observe-{record.call_id}")

    def event(self, kind: str, at_ms: float, data: Mapping[str, Any]) -> None:
        with _guard("event"):
            if kind in ESCALATION_KINDS:
                self._escalated = True
                self.hub.metrics.escalation()
            if self.trace is None:
                return
            if kind == "tool_call":
                self.trace.tool_call(at_ms, data)
            elif kind in (*ESCALATION_KINDS, "barge_in", "error", "dtmf", "rejected"):
                self.trace.event(kind, at_ms, data)

    def utterance(self, utterance: Utterance) -> None:
        if utterance.role == "caller":
            self._caller_lines += 1

    def timeline(self, timeline: TurnTimeline) -> None:
        with _guard("timeline"):
            self.hub.metrics.timeline(timeline)
            if self.trace is not None:
                self.trace.turn(timeline)

    def provider_error(self, stage: str, provider: str, error: BaseException) -> None:
        with _guard("provider error"):
            self.hub.metrics.error(stage, provider)
            if self.trace is not None:
                message = self.redactor.text(f"{type(error).__name__}: {error}")
                self.trace.error(stage, provider, message)

    async def ending(self, outcome: str, reason: str) -> None:
        """Before the call's end is written: flush everything, close metrics and trace."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(BaseException):
                await self._flusher
        with _guard("final flush"):
            await self._flush(final=True)
        if not self._started:
            return
        with _guard("call end"):
            escalated = self._escalated or outcome in ("transferred", "escalated")
            dropped = self._caller_lines == 0 or outcome == "error"
            self.hub.metrics.call_ended(outcome, contained=not escalated and not dropped)
            if self.trace is not None:
                usage = dataclasses.asdict(self.meter.snapshot())
                self.trace.end(
                    outcome,
                    reason,
                    time.time_ns(),
                    {f"usage.{k}": v for k, v in usage.items()},
                )

    # --- from the transport view ---------------------------------------------------------

    def caller_audio(self, event: AudioIn) -> None:
        self.clock.on_inbound(event.frame.end_ms)
        if self.recording is not None:
            with _guard("recording"):
                self.recording.caller(event.frame)

    def agent_audio(self, samples: np.ndarray) -> None:
        if self.recording is not None:
            with _guard("recording"):
                self.recording.agent(samples, self.clock.now_ms())

    def agent_cut(self) -> None:
        if self.recording is not None:
            with _guard("recording"):
                self.recording.cut(self.clock.now_ms())

    # --- recording consent (compliance/disclosure.py) ------------------------------------

    def hold_recording(self) -> None:
        """Keeps the recording in memory only, until `release_recording` or `stop_recording`."""
        self.recording_held = True

    def release_recording(self) -> None:
        """The caller agreed: the recording is written from its start."""
        self.recording_held = False

    def stop_recording(self) -> None:
        """The caller declined: nothing of the recording is kept, and nothing more is taken."""
        self.recording = None
        self.recording_held = False

    # --- writing as the call goes --------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.hub.options.flush_interval_s)
            try:
                await self._flush(final=False)
            except Exception:
                log.exception("call %s: recording/usage write failed", self.call.call_id)

    async def _flush(self, final: bool) -> None:
        store = self._store
        if store is None:
            return
        call_id = self.call.call_id
        if self.recording is not None and not self.recording_held:
            rec = self.recording
            chunk = rec.take_all() if final else rec.take_settled(self.clock.now_ms() - SETTLE_MS)
            if chunk is not None:
                seq, self._chunk_seq = self._chunk_seq, self._chunk_seq + 1
                await store.add_recording_chunk(call_id, seq, chunk[0], rec.rate, chunk[1])
        if self.meter.version != self._usage_saved:
            self._usage_saved = self.meter.version
            await store.set_usage(call_id, self.meter.snapshot())


class ObservedStore:
    """A call's view of the store: redacts what is written and tells the observer."""

    def __init__(self, inner: CallStore, observer: CallObserver) -> None:
        self._inner = inner
        self._observer = observer
        self._keep_raw = observer.hub.options.redaction.keep_raw_transcript
        # The call's lines as stored: a name learned later ("Ada Lovelace" said to "your full
        # name?", known as a name once a tool is given it) is redacted in them too.
        self._stored: dict[int, Utterance] = {}

    @property
    def _redact(self) -> Redactor:
        return self._observer.redactor

    def _redacted(self, record: CallRecord) -> CallRecord:
        return dataclasses.replace(
            record,
            caller=None if record.caller is None else self._redact.text(record.caller),
            parameters=self._redact.value(dict(record.parameters)),
        )

    async def start_call(self, record: CallRecord) -> None:
        record = self._redacted(record)
        await self._inner.start_call(record)
        self._observer.started(record)

    async def update_call_details(self, record: CallRecord) -> None:
        record = self._redacted(record)
        await self._inner.update_call_details(record)
        self._observer.started(record)

    async def add_event(
        self, call_id: str, kind: str, at_ms: float, data: Mapping[str, Any]
    ) -> None:
        if kind == "tool_call":
            # A name a tool was given or found ({"name": "Ada Lovelace"} in its arguments, not
            # the tool's own name) is the caller's for the rest of the call, as one they said.
            about_caller = [data.get("arguments"), data.get("result")]
            known = self._redact.names
            self._observer.redactor = self._redact.with_field_names(about_caller)
            await self._redact_stored_lines(call_id, known)
        clean = self._redact.value(dict(data))
        await self._inner.add_event(call_id, kind, at_ms, clean)
        self._observer.event(kind, at_ms, clean)

    async def add_utterance(self, call_id: str, utterance: Utterance) -> None:
        if utterance.role == "caller":
            known = self._redact.names
            self._observer.redactor = self._redact.learn(utterance.text)
            await self._redact_stored_lines(call_id, known)
        if self._keep_raw:
            await self._inner.add_raw_utterance(call_id, utterance)
        clean = dataclasses.replace(utterance, text=self._redact.text(utterance.text))
        await self._inner.add_utterance(call_id, clean)
        self._stored[utterance.index] = clean
        self._observer.utterance(clean)

    async def _redact_stored_lines(self, call_id: str, known: tuple[str, ...]) -> None:
        """Stores again, by their index, the lines the names learned since `known` now redact,
        and the events recorded before them (a transcript event holds the words too).

        Only the new names are looked for, in what was stored: a name learned four hours into
        a call costs a substring test per stored string, not a full redaction of each.
        """
        new = [name for name in self._redact.names if name not in known]
        if not new:
            return
        again = self._redact.names_again(new)
        await self._inner.rewrite_events(call_id, again)
        for index, stored in list(self._stored.items()):
            text = again(stored.text)
            if text != stored.text:
                redone = dataclasses.replace(stored, text=text)
                await self._inner.add_utterance(call_id, redone)
                self._stored[index] = redone

    async def add_timeline(self, call_id: str, timeline: TurnTimeline) -> None:
        await self._inner.add_timeline(call_id, timeline)
        self._observer.timeline(timeline)

    async def end_call(self, call_id: str, outcome: str, end_reason: str) -> None:
        reason = self._redact.text(end_reason)
        await self._observer.ending(outcome, reason)
        await self._inner.end_call(call_id, outcome, reason)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class ObservedTransport:
    """A call's view of its transport: audio both ways goes to the recording."""

    def __init__(self, inner: CallTransport, observer: CallObserver) -> None:
        self._inner = inner
        self._observer = observer
        self.channel = inner.channel
        self.input_sample_rate = inner.input_sample_rate
        self.output_sample_rate = inner.output_sample_rate

    async def inbound(self) -> AsyncIterator[InboundEvent]:
        async for event in self._inner.inbound():
            if isinstance(event, AudioIn):
                self._observer.caller_audio(event)
            yield event

    async def send_audio(self, samples: np.ndarray) -> None:
        self._observer.agent_audio(samples)
        await self._inner.send_audio(samples)

    async def clear_audio(self) -> None:
        self._observer.agent_cut()
        await self._inner.clear_audio()

    async def send_event(self, event: Mapping[str, Any]) -> None:
        await self._inner.send_event(event)

    async def close(self, reason: str) -> None:
        await self._inner.close(reason)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@contextlib.contextmanager
def _guard(what: str) -> Any:
    try:
        yield
    except Exception:
        log.exception("observability: %s failed", what)
