"""OpenTelemetry traces: one trace per call, call → turn → stage spans, tool-call spans.

Turn and stage spans are created when a turn's timeline is finished, with the start and end
times its marks give (audio-timeline milliseconds after the call's start), so they show the
latency the caller experienced rather than when the session happened to process things.

Export is configured by environment: `CALLWRIGHT_OTLP_ENDPOINT` (or the standard
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`) sends OTLP/HTTP protobuf to
any collector; without one, spans are made but go nowhere. The provider belongs to the server,
never installed as OpenTelemetry's global one. Attributes carry only redacted text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import Span, Status, StatusCode

from callwright.core import env as read
from callwright.core.timeline import STAGE_MARKS, TurnTimeline

_TOOL_NAME_CHARS = 64
_TOOL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")  # a function name a model may call


def otlp_endpoint(env: Mapping[str, str] | None = None) -> str | None:
    """The OTLP/HTTP traces URL from the environment, or None."""
    env = os.environ if env is None else env
    endpoint = read.text(env, "CALLWRIGHT_OTLP_ENDPOINT") or read.text(
        env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    if endpoint:
        return endpoint
    base = read.text(env, "OTEL_EXPORTER_OTLP_ENDPOINT")
    return f"{base.rstrip('/')}/v1/traces" if base else None


class CallTracer:
    """The server's tracer provider and the spans of its calls.

    Args:
        exporter: where spans go (e.g. an in-memory exporter in tests); None: nowhere.
        batch: export in batches on a background thread (False: as each span ends).
        service_name: the `service.name` resource attribute.
    """

    def __init__(
        self,
        exporter: SpanExporter | None = None,
        batch: bool = True,
        service_name: str = "callwright",
    ) -> None:
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        if exporter is not None:
            processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
            self.provider.add_span_processor(processor)
        self._tracer = self.provider.get_tracer("callwright")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CallTracer:
        endpoint = otlp_endpoint(env)
        if endpoint is None:
            return cls()
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return cls(OTLPSpanExporter(endpoint=endpoint))

    def start_call(self, attributes: Mapping[str, Any], start_ns: int) -> CallTrace:
        """Opens the span of a call starting at `start_ns` (epoch nanoseconds)."""
        span = self._tracer.start_span(
            "call", start_time=start_ns, attributes=_clean(attributes), kind=trace.SpanKind.SERVER
        )
        return CallTrace(self._tracer, span, start_ns)

    def force_flush(self, timeout_ms: int = 5000) -> bool:
        return self.provider.force_flush(timeout_ms)

    def shutdown(self) -> None:
        self.provider.shutdown()


class CallTrace:
    """The spans of one call."""

    def __init__(self, tracer: trace.Tracer, span: Span, start_ns: int) -> None:
        self._tracer = tracer
        self.span = span
        self._start_ns = start_ns
        self._context = trace.set_span_in_context(span)

    def _ns(self, at_ms: float) -> int:
        return self._start_ns + int(at_ms * 1_000_000)

    def turn(self, timeline: TurnTimeline) -> None:
        """Adds a turn span with one child span per stage that happened."""
        marks = [(n, getattr(timeline, n)) for n in STAGE_MARKS if getattr(timeline, n) is not None]
        if not marks:
            return
        start = min(at for _, at in marks)
        end = max(at for _, at in marks)
        attributes: dict[str, Any] = {
            "turn.index": timeline.turn_index,
            "turn.interrupted": timeline.interrupted,
        }
        for key in ("ttfa_ms", "stt_compute_ms", "speculative_hit"):
            value = getattr(timeline, key)
            if value is not None:
                attributes[f"turn.{key}"] = value
        turn = self._tracer.start_span(
            f"turn {timeline.turn_index}",
            context=self._context,
            start_time=self._ns(start),
            attributes=attributes,
        )
        turn_context = trace.set_span_in_context(turn)
        previous: float | None = timeline.speech_end_ms
        for name in STAGE_MARKS[2:]:
            at = getattr(timeline, name)
            if at is None:
                continue
            if previous is not None and at >= previous:
                stage = self._tracer.start_span(
                    f"stage {name.removesuffix('_ms')}",
                    context=turn_context,
                    start_time=self._ns(previous),
                    attributes={"stage.ms": round(at - previous, 1)},
                )
                stage.end(end_time=self._ns(at))
            previous = at
        turn.end(end_time=self._ns(end))

    def tool_call(self, at_ms: float, data: Mapping[str, Any]) -> None:
        """Adds a tool-call span ending at `at_ms` and lasting its latency."""
        latency = float(data.get("latency_ms") or 0.0)
        span = self._tracer.start_span(
            _tool_span_name(data),
            context=self._context,
            start_time=self._ns(at_ms - latency),
            attributes=_clean(
                {
                    "tool.name": str(data.get("name", "?"))[:_TOOL_NAME_CHARS],
                    "tool.arguments": data.get("arguments"),
                    "tool.result": data.get("result"),
                    "tool.latency_ms": latency,
                }
            ),
        )
        if data.get("error"):
            span.set_status(Status(StatusCode.ERROR, str(data["error"])))
        span.end(end_time=self._ns(at_ms))

    def event(self, name: str, at_ms: float, attributes: Mapping[str, Any]) -> None:
        """Records something that happened at a point in time (escalation, error...)."""
        self.span.add_event(name, _clean(attributes), timestamp=self._ns(at_ms))

    def error(self, stage: str, provider: str, message: str) -> None:
        self.span.add_event(
            "provider_error", {"stage": stage, "provider": provider, "message": message}
        )

    def end(self, outcome: str, reason: str, end_ns: int, attributes: Mapping[str, Any]) -> None:
        self.span.set_attributes(_clean({"call.outcome": outcome, "call.end_reason": reason}))
        self.span.set_attributes(_clean(attributes))
        if outcome == "error":
            self.span.set_status(Status(StatusCode.ERROR, reason))
        self.span.end(end_time=max(end_ns, self._start_ns))


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """OpenTelemetry attribute values must be primitives: others become their JSON/str form."""
    import json

    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, bool | int | float | str):
            out[key] = value
        else:
            out[key] = json.dumps(value, default=str, ensure_ascii=False)
    return out


def _tool_span_name(data: Mapping[str, Any]) -> str:
    """`tool <name>` for a tool the agent has; one name for any other. A model can be talked
    into calling tools that do not exist, and each new span name is a new series in a
    tracing backend."""
    name = data.get("name")
    unknown = str(data.get("error") or "").startswith("unknown tool")
    if isinstance(name, str) and _TOOL_NAME.fullmatch(name) and not unknown:
        return f"tool {name}"
    return "tool (unknown)"
