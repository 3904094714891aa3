"""Prometheus metrics of one server (its own registry: nothing is process-global).

- `callwright_active_calls`: calls in progress.
- `callwright_turn_latency_seconds{stage}`: each stage of a turn (from the previous mark of
  its timeline: end_of_turn, transcript_ready, first_token, first_sentence, tts_first_audio,
  first_audio_sent) and `stage="ttfa"`, end of caller speech to first agent audio.
- `callwright_errors_total{stage,provider}`: failures of a provider (stt, tts, llm).
- `callwright_escalations_total`: escalation or transfer events.
- `callwright_calls_total{outcome,contained}`: calls ended; containment rate is
  `sum(callwright_calls_total{contained="true"}) / sum(callwright_calls_total)`, and
  `callwright_containment_ratio` gives the same over this process's lifetime.
- `callwright_event_loop_lag_seconds` (p95 over the load window),
  `callwright_process_cpu_percent` (of one core), `callwright_process_resident_bytes`,
  `callwright_stt_queue_wait_seconds` (p95 wait for the embedded recogniser over the load
  window): the worker's load (`server/load.py`).
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from callwright.core.timeline import TurnTimeline

_LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class CallMetrics:
    """The server's metrics, in a registry of their own.

    Args:
        registry: where to register; a new one by default.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.active_calls = Gauge("callwright_active_calls", "Calls in progress.", registry=r)
        self.turn_latency = Histogram(
            "callwright_turn_latency_seconds",
            "Latency of each stage of a turn, and time-to-first-audio (stage=ttfa).",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "callwright_errors", "Provider failures.", ["stage", "provider"], registry=r
        )
        self.escalations = Counter(
            "callwright_escalations", "Escalations and transfers to a human.", registry=r
        )
        self.calls = Counter(
            "callwright_calls",
            "Calls ended, by outcome and containment.",
            ["outcome", "contained"],
            registry=r,
        )
        self.containment = Gauge(
            "callwright_containment_ratio",
            "Share of the calls ended in this process that were contained.",
            registry=r,
        )
        self.loop_lag = Gauge(
            "callwright_event_loop_lag_seconds",
            "Event-loop lag, p95 over the load window.",
            registry=r,
        )
        self.cpu = Gauge(
            "callwright_process_cpu_percent", "Process CPU, percent of one core.", registry=r
        )
        self.resident = Gauge(
            "callwright_process_resident_bytes", "Resident memory of the process.", registry=r
        )
        self.stt_wait = Gauge(
            "callwright_stt_queue_wait_seconds",
            "Wait of transcriptions for the embedded recogniser, p95 over the load window.",
            registry=r,
        )
        self._ended = 0
        self._contained = 0

    def call_started(self) -> None:
        self.active_calls.inc()

    def call_ended(self, outcome: str, contained: bool) -> None:
        self.active_calls.dec()
        self.calls.labels(outcome=outcome, contained=str(contained).lower()).inc()
        self._ended += 1
        self._contained += int(contained)
        self.containment.set(self._contained / self._ended)

    def timeline(self, timeline: TurnTimeline) -> None:
        """Observes a finished turn's stage latencies."""
        for stage, ms in timeline.breakdown().items():
            if ms is not None and ms >= 0:
                self.turn_latency.labels(stage=stage).observe(ms / 1000.0)
        if timeline.ttfa_ms is not None and timeline.ttfa_ms >= 0:
            self.turn_latency.labels(stage="ttfa").observe(timeline.ttfa_ms / 1000.0)

    def worker_load(
        self, loop_lag_ms: float, cpu_percent: float, rss_bytes: int, stt_wait_ms: float = 0.0
    ) -> None:
        """The worker's current load (`server/load.py`)."""
        self.loop_lag.set(loop_lag_ms / 1000.0)
        self.cpu.set(cpu_percent)
        self.resident.set(rss_bytes)
        self.stt_wait.set(stt_wait_ms / 1000.0)

    def error(self, stage: str, provider: str) -> None:
        self.errors.labels(stage=stage, provider=provider).inc()

    def escalation(self) -> None:
        self.escalations.inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
