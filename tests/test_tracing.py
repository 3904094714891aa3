"""Traces: call → turn → stage spans and tool spans, in memory and over OTLP/HTTP to a receiver."""

from __future__ import annotations

import asyncio

from aiohttp import web
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from callwright.core.timeline import TurnTimeline
from callwright.observe.tracing import CallTracer, otlp_endpoint
from tests.conftest import serving

START_NS = 1_700_000_000 * 10**9


def _emit(tracer: CallTracer) -> None:
    trace = tracer.start_call({"call.id": "t1", "call.channel": "websocket"}, START_NS)
    timeline = TurnTimeline(
        1,
        speech_start_ms=1000.0,
        speech_end_ms=2000.0,
        end_of_turn_ms=2300.0,
        transcript_ready_ms=2350.0,
        first_token_ms=2360.0,
        first_sentence_ms=2370.0,
        tts_first_audio_ms=2480.0,
        first_audio_sent_ms=2500.0,
    )
    trace.turn(timeline)
    trace.tool_call(3000.0, {"name": "book", "arguments": {"day": "monday"}, "latency_ms": 120.0})
    trace.event("escalation", 3500.0, {"reason": "asked for a human"})
    trace.end("completed", "goodbye", START_NS + 4_000_000_000, {"usage.tts_chars": 10})


def test_span_tree_in_memory() -> None:
    exporter = InMemorySpanExporter()
    tracer = CallTracer(exporter, batch=False)
    _emit(tracer)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    call, turn = spans["call"], spans["turn 1"]
    assert turn.parent is not None and turn.parent.span_id == call.context.span_id
    stages = [s for s in spans.values() if s.name.startswith("stage ")]
    assert {s.name for s in stages} == {
        "stage end_of_turn",
        "stage transcript_ready",
        "stage first_token",
        "stage first_sentence",
        "stage tts_first_audio",
        "stage first_audio_sent",
    }
    assert all(s.parent is not None and s.parent.span_id == turn.context.span_id for s in stages)
    eot = spans["stage end_of_turn"]
    assert (eot.start_time, eot.end_time) == (START_NS + 2000 * 10**6, START_NS + 2300 * 10**6)
    assert turn.attributes is not None and turn.attributes["turn.ttfa_ms"] == 500.0
    tool = spans["tool book"]
    assert tool.parent is not None and tool.parent.span_id == call.context.span_id
    assert tool.end_time is not None and tool.start_time is not None
    assert tool.end_time - tool.start_time == 120 * 10**6
    assert call.attributes is not None and call.attributes["call.outcome"] == "completed"
    assert [e.name for e in call.events] == ["escalation"]


def test_a_tool_the_agent_does_not_have_gets_one_span_name() -> None:
    exporter = InMemorySpanExporter()
    tracer = CallTracer(exporter, batch=False)
    trace = tracer.start_call({"call.id": "c1", "call.channel": "twilio"}, START_NS)
    invented = [f"free_refund_{n}" for n in range(5)] + ["x" * 5000, "a b\nc"]
    for name in invented:
        trace.tool_call(1000.0, {"name": name, "error": f"unknown tool {name!r}"})
    trace.tool_call(1000.0, {"name": "y" * 5000})  # no such name can be a tool's
    trace.tool_call(1000.0, {"name": "book"})
    trace.end("completed", "bye", START_NS + 2_000_000_000, {})
    names = [s.name for s in exporter.get_finished_spans() if s.name.startswith("tool")]
    assert names == ["tool (unknown)"] * (len(invented) + 1) + ["tool book"]
    cut = [s for s in exporter.get_finished_spans() if s.name == "tool (unknown)"][5]
    assert cut.attributes is not None and cut.attributes["tool.name"] == "x" * 64


def test_endpoint_from_env() -> None:
    assert otlp_endpoint({}) is None
    assert otlp_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}) == (
        "http://c:4318/v1/traces"
    )
    assert otlp_endpoint({"CALLWRIGHT_OTLP_ENDPOINT": "http://x/v1/traces"}) == "http://x/v1/traces"


async def test_spans_reach_an_otlp_http_receiver() -> None:
    received: list[ExportTraceServiceRequest] = []

    async def traces(request: web.Request) -> web.Response:
        assert request.content_type == "application/x-protobuf"
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        received.append(message)
        return web.Response(body=b"", content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    async with serving(app) as base:
        exporter = OTLPSpanExporter(endpoint=f"{base}/v1/traces")
        tracer = CallTracer(exporter)  # batched on the SDK's thread: never blocks the loop
        _emit(tracer)
        assert await asyncio.to_thread(tracer.force_flush)
        await asyncio.to_thread(tracer.shutdown)
    names = [
        span.name
        for message in received
        for resource in message.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    assert {"call", "turn 1", "stage first_audio_sent", "tool book"} <= set(names)
    service = {
        attr.value.string_value
        for message in received
        for resource in message.resource_spans
        for attr in resource.resource.attributes
        if attr.key == "service.name"
    }
    assert service == {"callwright"}
