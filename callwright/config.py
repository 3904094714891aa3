"""Typed settings, read once from the environment (every `CALLWRIGHT_*` variable of the server).

Each stage gets its own options object; nothing reaches into a global. Every value is parsed
with `core.env` (one meaning of "1/true/yes/on", one error naming the variable); an unset or
empty variable keeps its default. The README lists the variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from callwright.agent.echo import ECHO_KINDS, EchoKind
from callwright.agent.limits import CallLimits
from callwright.agent.silence import SilenceOptions
from callwright.core import env as read
from callwright.llm.fallback import LlmFallbackOptions
from callwright.observe.observer import ObserveOptions
from callwright.resilience import BreakerOptions
from callwright.stt.fallback import SttFallbackOptions
from callwright.stt.openai_compat import RemoteSttOptions
from callwright.telephony.settings import TelephonySettings
from callwright.tts.normalize.dates import DateOrder
from callwright.tts.openai_compat import RemoteTtsOptions
from callwright.turns.endpointer import TurnOptions
from callwright.turns.semantic import PatienceOptions

TtsEngine = Literal["piper", "espeak"]


@dataclass(frozen=True, slots=True)
class SttSettings:
    """Speech recognizer choice: "tiny.en" (default), "base", or a model directory."""

    model: str = "tiny.en"
    window: Literal["speech", "full"] = "speech"
    workers: int = 2
    cpu_threads: int = 1
    solo_threads: int = 2


@dataclass(frozen=True, slots=True)
class LlmSettings:
    """An OpenAI-compatible endpoint; when absent the deterministic demo agent answers.

    Attributes:
        hedge_after_ms: CALLWRIGHT_LLM_HEDGE_MS: no first token this long after a request,
            a second request goes out and the first to answer is used (None/off: never).
        hedge_base_url: CALLWRIGHT_LLM_HEDGE_BASE_URL: where the hedge goes (None: the same).
        hedge_model: CALLWRIGHT_LLM_HEDGE_MODEL: the hedge's model (None: the same).
        preemptive: CALLWRIGHT_LLM_PREEMPTIVE (on): start on the speculative transcript.
    """

    base_url: str
    model: str
    api_key: str | None = None
    hedge_after_ms: float | None = None
    hedge_base_url: str | None = None
    hedge_model: str | None = None
    preemptive: bool = True


@dataclass(frozen=True, slots=True)
class LimitSettings:
    """What a worker admits, and what one call may take.

    Attributes:
        max_calls: live calls per worker (CALLWRIGHT_MAX_CALLS); beyond it calls are refused
            politely (busy). None: no cap.
        max_calls_per_address: open call WebSockets per client address
            (CALLWRIGHT_MAX_CALLS_PER_ADDRESS). None: no cap.
        call: per-call limits: CALLWRIGHT_MAX_CALL_SECONDS, CALLWRIGHT_IDLE_TIMEOUT_SECONDS,
            CALLWRIGHT_MAX_REALTIME_FACTOR.
        ready_max_loop_lag_ms: `/readyz` fails while the event loop's lag (p95 over the last
            `load_window_s`) is above this (CALLWRIGHT_READY_MAX_LOOP_LAG_MS). None: never.
        ready_max_cpu_percent: `/readyz` fails while the process uses more CPU than this, in
            percent of one core, averaged over `load_window_s`
            (CALLWRIGHT_READY_MAX_CPU_PERCENT). None: never.
        ready_max_stt_wait_ms: `/readyz` fails while transcriptions wait longer than this for the
            shared embedded recogniser (p95 over `load_window_s`; CALLWRIGHT_READY_MAX_STT_WAIT_MS):
            every turn's end then comes that much later, while the event loop stays on time.
            None: never.
        load_window_s: the window those are measured over (CALLWRIGHT_LOAD_WINDOW_SECONDS).
    """

    max_calls: int | None = 20
    max_calls_per_address: int | None = 8
    call: CallLimits = field(default_factory=CallLimits)
    ready_max_loop_lag_ms: float | None = 250.0
    ready_max_cpu_percent: float | None = None
    ready_max_stt_wait_ms: float | None = 300.0
    load_window_s: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LimitSettings:
        base, call = cls(), CallLimits()
        max_calls = read.limit(env, "CALLWRIGHT_MAX_CALLS", base.max_calls)
        per_address = read.limit(
            env, "CALLWRIGHT_MAX_CALLS_PER_ADDRESS", base.max_calls_per_address
        )
        factor = read.number(
            env, "CALLWRIGHT_MAX_REALTIME_FACTOR", call.max_realtime_factor, minimum=1.0
        )
        return cls(
            max_calls=None if max_calls is None else int(max_calls),
            max_calls_per_address=None if per_address is None else int(per_address),
            call=replace(
                call,
                max_call_s=read.limit(env, "CALLWRIGHT_MAX_CALL_SECONDS", call.max_call_s),
                idle_timeout_s=read.limit(
                    env, "CALLWRIGHT_IDLE_TIMEOUT_SECONDS", call.idle_timeout_s
                ),
                max_realtime_factor=factor,
            ),
            ready_max_loop_lag_ms=read.limit(
                env, "CALLWRIGHT_READY_MAX_LOOP_LAG_MS", base.ready_max_loop_lag_ms
            ),
            ready_max_cpu_percent=read.limit(
                env, "CALLWRIGHT_READY_MAX_CPU_PERCENT", base.ready_max_cpu_percent
            ),
            ready_max_stt_wait_ms=read.limit(
                env, "CALLWRIGHT_READY_MAX_STT_WAIT_MS", base.ready_max_stt_wait_ms
            ),
            load_window_s=read.number(
                env, "CALLWRIGHT_LOAD_WINDOW_SECONDS", base.load_window_s, positive=True
            ),
        )


@dataclass(frozen=True, slots=True)
class DrainSettings:
    """Graceful drain on SIGTERM.

    Attributes:
        seconds: how long live calls may go on once draining starts
            (CALLWRIGHT_DRAIN_SECONDS); then each is ended with a short line, outcome
            "server_shutdown".
    """

    seconds: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DrainSettings:
        return cls(seconds=read.number(env, "CALLWRIGHT_DRAIN_SECONDS", cls().seconds, minimum=0))


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """Who this worker is in a shared store, for orphaned-call recovery.

    Attributes:
        worker_id: CALLWRIGHT_WORKER_ID; None: made from the host name and port, so a worker
            restarted in the same place recognises its own calls at once.
        heartbeat_s: how often the worker's heartbeat row is refreshed
            (CALLWRIGHT_HEARTBEAT_SECONDS).
        stale_after_s: a worker whose heartbeat is older than this is dead: its active calls
            are marked cut off (CALLWRIGHT_WORKER_STALE_SECONDS).
    """

    worker_id: str | None = None
    heartbeat_s: float = 5.0
    stale_after_s: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WorkerSettings:
        base = cls()
        heartbeat = read.number(env, "CALLWRIGHT_HEARTBEAT_SECONDS", base.heartbeat_s)
        stale = read.number(env, "CALLWRIGHT_WORKER_STALE_SECONDS", base.stale_after_s)
        if heartbeat <= 0 or stale <= heartbeat:
            raise ValueError(
                "need 0 < CALLWRIGHT_HEARTBEAT_SECONDS < CALLWRIGHT_WORKER_STALE_SECONDS"
            )
        return cls(read.text(env, "CALLWRIGHT_WORKER_ID"), heartbeat, stale)


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    """Who may reach the operator side, and from where (docs/security.md).

    Attributes:
        allowed_hosts: `Host` values accepted besides the public base URL's host and
            localhost/127.0.0.1/[::1] on the listening port (DNS rebinding defence).
        allowed_origins: browser origins accepted besides those same hosts.
        trusted_proxies: addresses whose `X-Forwarded-*` headers are believed.
        cookie_secure: force the session cookie's `Secure` flag on (True) or off (False);
            None: on when the public base URL or the request is https.
        session_hours: how long a sign-in lasts.
        metrics_token: the scrape token `/metrics` also accepts (`Authorization: Bearer`).
        login_failures_per_name: failed sign-ins per user name from one address (an IPv6
            /64) per window before that address is refused for that name.
        login_failures_per_address: failed sign-ins per client address per window.
        login_failures_per_name_total: failed sign-ins per user name from all addresses per
            window; past it, addresses that already failed for the name are refused (others
            still get their password checked: strangers cannot lock an operator out).
        login_window_s: the window of the limits.
        outbound_allow: if set, outbound calls only to numbers starting with these prefixes.
        outbound_deny: prefixes refused on top of the premium-rate defaults.
        outbound_per_hour: outbound calls one credential may place per hour (held-back
            calls included: docs/compliance.md, "Calling hours").
        scheduled_per_minute: held-back calls the campaign runners of the whole deployment
            place per minute, one at a time, when calling hours open.
    """

    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    cookie_secure: bool | None = None
    session_hours: float = 12.0
    metrics_token: str | None = None
    login_failures_per_name: int = 5
    login_failures_per_address: int = 20
    login_failures_per_name_total: int = 50
    login_window_s: float = 900.0
    outbound_allow: tuple[str, ...] = ()
    outbound_deny: tuple[str, ...] = ()
    outbound_per_hour: int = 30
    scheduled_per_minute: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SecuritySettings:
        """Reads CALLWRIGHT_ALLOWED_HOSTS, CALLWRIGHT_TRUSTED_PROXIES and friends."""
        env = os.environ if env is None else env
        base = cls()
        return cls(
            allowed_hosts=read.items(env, "CALLWRIGHT_ALLOWED_HOSTS"),
            allowed_origins=read.items(env, "CALLWRIGHT_ALLOWED_ORIGINS"),
            trusted_proxies=read.items(env, "CALLWRIGHT_TRUSTED_PROXIES"),
            cookie_secure=read.optional_flag(env, "CALLWRIGHT_COOKIE_SECURE"),
            session_hours=read.number(
                env, "CALLWRIGHT_SESSION_HOURS", base.session_hours, positive=True
            ),
            metrics_token=read.text(env, "CALLWRIGHT_METRICS_TOKEN"),
            outbound_allow=read.items(env, "CALLWRIGHT_OUTBOUND_ALLOW"),
            outbound_deny=read.items(env, "CALLWRIGHT_OUTBOUND_DENY"),
            outbound_per_hour=read.integer(
                env, "CALLWRIGHT_OUTBOUND_PER_HOUR", base.outbound_per_hour, minimum=0
            ),
            scheduled_per_minute=read.number(
                env,
                "CALLWRIGHT_SCHEDULED_CALLS_PER_MINUTE",
                base.scheduled_per_minute,
                positive=True,
            ),
        )


@dataclass(frozen=True, slots=True)
class DegradationSettings:
    """Remote providers (None: not used) and the deadlines of the chains around them.

    Nothing is on by default: with no CALLWRIGHT_STT_BASE_URL or CALLWRIGHT_TTS_BASE_URL the
    embedded models serve alone. Variables: CALLWRIGHT_STT_BASE_URL (an OpenAI-compatible
    ".../v1"), CALLWRIGHT_STT_API_KEY, CALLWRIGHT_STT_REMOTE_MODEL ("whisper-1"),
    CALLWRIGHT_STT_LANGUAGE ("en"; empty: detected), CALLWRIGHT_STT_DEADLINE_MS (800: then the
    embedded Whisper takes over); CALLWRIGHT_TTS_BASE_URL, CALLWRIGHT_TTS_API_KEY,
    CALLWRIGHT_TTS_REMOTE_MODEL ("tts-1"), CALLWRIGHT_TTS_VOICE ("alloy"),
    CALLWRIGHT_TTS_FORMAT ("pcm" or "wav"), CALLWRIGHT_TTS_FIRST_AUDIO_MS (800);
    CALLWRIGHT_LLM_FIRST_TOKEN_MS (1000: then the flow answers the turn),
    CALLWRIGHT_LLM_STALL_MS (1200: the longest silence of a started LLM stream).

    Attributes:
        stt: a remote recognizer, with the embedded Whisper as its fallback.
        tts: a remote voice, with the embedded voice chain (Piper, espeak-ng) as its fallback.
        stt_fallback: deadlines and breaker of the recognizer chain.
        llm_fallback: deadlines, lines and breaker of the LLM → flow chain.
        tts_breaker: when to stop trying a remote voice that keeps failing.
    """

    stt: RemoteSttOptions | None = None
    tts: RemoteTtsOptions | None = None
    stt_fallback: SttFallbackOptions = field(default_factory=SttFallbackOptions)
    llm_fallback: LlmFallbackOptions = field(default_factory=LlmFallbackOptions)
    tts_breaker: BreakerOptions = field(default_factory=BreakerOptions)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DegradationSettings:
        """Reads the CALLWRIGHT_* variables listed in the module docstring.

        Raises:
            ValueError: a value is malformed.
        """
        env = os.environ if env is None else env
        base = cls()
        stt = None  # remote STT/TTS and the fallback deadlines: see the README
        if read.text(env, "CALLWRIGHT_STT_BASE_URL"):
            stt = RemoteSttOptions(
                base_url=env["CALLWRIGHT_STT_BASE_URL"],
                model=env.get("CALLWRIGHT_STT_REMOTE_MODEL", "whisper-1"),
                api_key=env.get("CALLWRIGHT_STT_API_KEY") or None,
                language=env.get("CALLWRIGHT_STT_LANGUAGE", "en") or None,
            )
        stt_fallback = base.stt_fallback
        if env.get("CALLWRIGHT_STT_DEADLINE_MS"):
            budget = read.number(env, "CALLWRIGHT_STT_DEADLINE_MS", 0.0, positive=True)
            stt_fallback = replace(stt_fallback, budget_ms=budget, attempt_ms=budget * 0.875)
        tts = None
        if read.text(env, "CALLWRIGHT_TTS_BASE_URL"):
            fmt = read.choice(env, "CALLWRIGHT_TTS_FORMAT", "pcm", ("pcm", "wav"))
            tts = RemoteTtsOptions(
                base_url=env["CALLWRIGHT_TTS_BASE_URL"],
                model=env.get("CALLWRIGHT_TTS_REMOTE_MODEL", "tts-1"),
                voice=env.get("CALLWRIGHT_TTS_VOICE", "alloy"),
                api_key=env.get("CALLWRIGHT_TTS_API_KEY") or None,
                response_format=fmt,  # type: ignore[arg-type]
            )
            if env.get("CALLWRIGHT_TTS_FIRST_AUDIO_MS"):
                first = read.number(env, "CALLWRIGHT_TTS_FIRST_AUDIO_MS", 0.0, positive=True)
                tts = replace(tts, first_audio_ms=first)
        llm_fallback = base.llm_fallback
        if env.get("CALLWRIGHT_LLM_FIRST_TOKEN_MS"):
            first = read.number(env, "CALLWRIGHT_LLM_FIRST_TOKEN_MS", 0.0, positive=True)
            llm_fallback = replace(llm_fallback, first_event_ms=first)
        if env.get("CALLWRIGHT_LLM_STALL_MS"):
            llm_fallback = replace(
                llm_fallback,
                stall_ms=read.number(env, "CALLWRIGHT_LLM_STALL_MS", 0.0, positive=True),
            )
        return cls(stt=stt, tts=tts, stt_fallback=stt_fallback, llm_fallback=llm_fallback)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything `callwright serve` needs."""

    host: str = "127.0.0.1"
    port: int = 8765
    data_dir: Path = Path("var")
    stt: SttSettings = field(default_factory=SttSettings)
    tts: TtsEngine = "piper"
    llm: LlmSettings | None = None
    turns: TurnOptions = field(default_factory=TurnOptions)
    patience: PatienceOptions = field(default_factory=PatienceOptions)
    log_level: str = "INFO"
    telephony: TelephonySettings = field(default_factory=TelephonySettings)
    # Remote STT/TTS and the fallback chains' deadlines (nothing remote unless configured).
    degradation: DegradationSettings = field(default_factory=DegradationSettings)
    # How the voice reads numeric dates such as 12/10/2026: month first or day first.
    date_order: DateOrder = "mdy"
    limits: LimitSettings = field(default_factory=LimitSettings)
    drain: DrainSettings = field(default_factory=DrainSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    # Redaction, retention, prices and audio recording (CALLWRIGHT_REDACT, ..._PRICES, ...).
    observe: ObserveOptions = field(default_factory=ObserveOptions)
    # PostgreSQL (postgresql://...) for the call store; None: SQLite in the data folder.
    database_url: str | None = None
    # CALLWRIGHT_ECHO_CANCELLER: webrtc (AEC3, default), correlation (numpy only) or off.
    echo_canceller: EchoKind = "webrtc"
    # Dead air: CALLWRIGHT_SILENCE_REPROMPT_SECONDS, CALLWRIGHT_SILENCE_MAX_REPROMPTS.
    silence: SilenceOptions = field(default_factory=SilenceOptions)

    @property
    def store_path(self) -> Path:
        return self.data_dir / "calls.sqlite3"

    @property
    def store_env(self) -> dict[str, str]:
        """What `store.open.open_store` reads: the database URL, if any."""
        return {"CALLWRIGHT_DATABASE_URL": self.database_url or ""}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Reads CALLWRIGHT_* variables; unset ones keep their defaults."""
        env = os.environ if env is None else env
        base = cls()
        llm = None
        if read.text(env, "CALLWRIGHT_LLM_BASE_URL"):
            llm = LlmSettings(
                base_url=env["CALLWRIGHT_LLM_BASE_URL"].strip(),
                model=read.text(env, "CALLWRIGHT_LLM_MODEL", "default") or "default",
                api_key=read.text(env, "CALLWRIGHT_LLM_API_KEY"),
                hedge_after_ms=read.limit(env, "CALLWRIGHT_LLM_HEDGE_MS", None),
                hedge_base_url=read.text(env, "CALLWRIGHT_LLM_HEDGE_BASE_URL"),
                hedge_model=read.text(env, "CALLWRIGHT_LLM_HEDGE_MODEL"),
                preemptive=read.flag(env, "CALLWRIGHT_LLM_PREEMPTIVE", True),
            )
        turns = replace(
            base.turns,
            end_of_turn_ms=read.number(
                env, "CALLWRIGHT_END_OF_TURN_MS", base.turns.end_of_turn_ms, positive=True
            ),
        )
        return cls(
            host=read.text(env, "CALLWRIGHT_HOST", base.host) or base.host,
            port=read.integer(env, "CALLWRIGHT_PORT", base.port, minimum=0),
            data_dir=Path(read.text(env, "CALLWRIGHT_DATA_DIR", str(base.data_dir)) or "var"),
            stt=SttSettings(
                model=read.text(env, "CALLWRIGHT_STT_MODEL", base.stt.model) or base.stt.model,
                window=read.choice(  # type: ignore[arg-type]
                    env, "CALLWRIGHT_STT_WINDOW", base.stt.window, ("speech", "full")
                ),
                workers=read.integer(env, "CALLWRIGHT_STT_WORKERS", base.stt.workers, minimum=1),
                cpu_threads=read.integer(
                    env, "CALLWRIGHT_STT_THREADS", base.stt.cpu_threads, minimum=1
                ),
                solo_threads=read.integer(
                    env, "CALLWRIGHT_STT_SOLO_THREADS", base.stt.solo_threads, minimum=1
                ),
            ),
            tts=read.choice(env, "CALLWRIGHT_TTS", base.tts, ("piper", "espeak")),  # type: ignore[arg-type]
            llm=llm,
            turns=turns,
            patience=_patience(env, turns),
            log_level=read.text(env, "CALLWRIGHT_LOG_LEVEL", base.log_level) or base.log_level,
            telephony=TelephonySettings.from_env(env),
            degradation=DegradationSettings.from_env(env),
            date_order=read.choice(  # type: ignore[arg-type]
                env, "CALLWRIGHT_DATE_ORDER", base.date_order, ("mdy", "dmy")
            ),
            limits=LimitSettings.from_env(env),
            drain=DrainSettings.from_env(env),
            worker=WorkerSettings.from_env(env),
            security=SecuritySettings.from_env(env),
            observe=ObserveOptions.from_env(env),
            database_url=read.text(env, "CALLWRIGHT_DATABASE_URL"),
            echo_canceller=read.choice(  # type: ignore[arg-type]
                env, "CALLWRIGHT_ECHO_CANCELLER", base.echo_canceller, ECHO_KINDS
            ),
            silence=_silence(env, base.silence),
        )


def _silence(env: Mapping[str, str], base: SilenceOptions) -> SilenceOptions:
    """When a silent caller is asked "Are you still there?", and how often before goodbye."""
    seconds = read.number(
        env, "CALLWRIGHT_SILENCE_REPROMPT_SECONDS", base.reprompt_after_ms / 1000.0, positive=True
    )
    reprompts = read.integer(env, "CALLWRIGHT_SILENCE_MAX_REPROMPTS", base.max_reprompts, 0)
    return replace(base, reprompt_after_ms=seconds * 1000.0, max_reprompts=reprompts)


def _patience(env: Mapping[str, str], turns: TurnOptions) -> PatienceOptions:
    """How long a pause must last before the agent answers.

    Semantic endpointing (on unless CALLWRIGHT_SEMANTIC_ENDPOINTING=0) waits by how complete
    the caller's words sound (`PatienceOptions`), so CALLWRIGHT_END_OF_TURN_MS then only
    applies when the pause could not be transcribed. Off, every turn ends after
    CALLWRIGHT_END_OF_TURN_MS of silence.
    """
    if read.flag(env, "CALLWRIGHT_SEMANTIC_ENDPOINTING", True):
        return PatienceOptions()
    fixed = turns.end_of_turn_ms
    return PatienceOptions(fixed, fixed, fixed, per_resume_ms=0.0, max_ms=fixed)
