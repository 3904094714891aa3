"""Typed settings, read once from the environment and the command line.

Each stage gets its own options object; nothing reaches into a global.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from callwright.agent.limits import CallLimits
from callwright.degradation import DegradationSettings
from callwright.telephony.settings import TelephonySettings
from callwright.tts.normalize.dates import DateOrder
from callwright.turns.endpointer import TurnOptions
from callwright.turns.semantic import PatienceOptions

TtsEngine = Literal["piper", "espeak"]


@dataclass(frozen=True, slots=True)
class SttSettings:
    """Speech recognizer choice: "tiny.en" (default), "base", or a model directory."""

    model: str = "tiny.en"
    window: Literal["speech", "full"] = "speech"
    workers: int = 1
    cpu_threads: int = 2


@dataclass(frozen=True, slots=True)
class LlmSettings:
    """An OpenAI-compatible endpoint; when absent the deterministic demo agent answers."""

    base_url: str
    model: str
    api_key: str | None = None


def _optional_number(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    """A positive number from the environment; "0" or "none" turns the limit off."""
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    if raw.strip().lower() in ("0", "none", "off"):
        return None
    value = float(raw)
    if value <= 0:
        raise ValueError(f"{name} must be positive (or 0/none to turn it off)")
    return value


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
    """

    max_calls: int | None = 20
    max_calls_per_address: int | None = 8
    call: CallLimits = field(default_factory=CallLimits)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LimitSettings:
        base, call = cls(), CallLimits()
        max_calls = _optional_number(env, "CALLWRIGHT_MAX_CALLS", base.max_calls)
        per_address = _optional_number(
            env, "CALLWRIGHT_MAX_CALLS_PER_ADDRESS", base.max_calls_per_address
        )
        factor = float(env.get("CALLWRIGHT_MAX_REALTIME_FACTOR", call.max_realtime_factor))
        if factor < 1.0:
            raise ValueError("CALLWRIGHT_MAX_REALTIME_FACTOR must be at least 1")
        return cls(
            max_calls=None if max_calls is None else int(max_calls),
            max_calls_per_address=None if per_address is None else int(per_address),
            call=replace(
                call,
                max_call_s=_optional_number(env, "CALLWRIGHT_MAX_CALL_SECONDS", call.max_call_s),
                idle_timeout_s=_optional_number(
                    env, "CALLWRIGHT_IDLE_TIMEOUT_SECONDS", call.idle_timeout_s
                ),
                max_realtime_factor=factor,
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
        seconds = float(env.get("CALLWRIGHT_DRAIN_SECONDS", cls().seconds))
        if seconds < 0:
            raise ValueError("CALLWRIGHT_DRAIN_SECONDS must be >= 0")
        return cls(seconds=seconds)


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
        heartbeat = float(env.get("CALLWRIGHT_HEARTBEAT_SECONDS", base.heartbeat_s))
        stale = float(env.get("CALLWRIGHT_WORKER_STALE_SECONDS", base.stale_after_s))
        if heartbeat <= 0 or stale <= heartbeat:
            raise ValueError(
                "need 0 < CALLWRIGHT_HEARTBEAT_SECONDS < CALLWRIGHT_WORKER_STALE_SECONDS"
            )
        return cls(env.get("CALLWRIGHT_WORKER_ID") or None, heartbeat, stale)


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


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
        login_failures_per_name: failed sign-ins per user name per window before refusing.
        login_failures_per_address: failed sign-ins per client address per window.
        login_window_s: the window of both limits.
        outbound_allow: if set, outbound calls only to numbers starting with these prefixes.
        outbound_deny: prefixes refused on top of the premium-rate defaults.
        outbound_per_hour: outbound calls one credential may place per hour.
    """

    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    cookie_secure: bool | None = None
    session_hours: float = 12.0
    metrics_token: str | None = None
    login_failures_per_name: int = 5
    login_failures_per_address: int = 20
    login_window_s: float = 900.0
    outbound_allow: tuple[str, ...] = ()
    outbound_deny: tuple[str, ...] = ()
    outbound_per_hour: int = 30

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SecuritySettings:
        """Reads CALLWRIGHT_ALLOWED_HOSTS, CALLWRIGHT_TRUSTED_PROXIES and friends."""
        env = os.environ if env is None else env
        base = cls()
        secure = env.get("CALLWRIGHT_COOKIE_SECURE", "").strip().lower()
        return cls(
            allowed_hosts=_csv(env.get("CALLWRIGHT_ALLOWED_HOSTS")),
            allowed_origins=_csv(env.get("CALLWRIGHT_ALLOWED_ORIGINS")),
            trusted_proxies=_csv(env.get("CALLWRIGHT_TRUSTED_PROXIES")),
            cookie_secure=None if not secure else secure in ("1", "true", "yes", "on"),
            session_hours=float(env.get("CALLWRIGHT_SESSION_HOURS", base.session_hours)),
            metrics_token=env.get("CALLWRIGHT_METRICS_TOKEN") or None,
            outbound_allow=_csv(env.get("CALLWRIGHT_OUTBOUND_ALLOW")),
            outbound_deny=_csv(env.get("CALLWRIGHT_OUTBOUND_DENY")),
            outbound_per_hour=int(env.get("CALLWRIGHT_OUTBOUND_PER_HOUR", base.outbound_per_hour)),
        )


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

    @property
    def store_path(self) -> Path:
        return self.data_dir / "calls.sqlite3"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Reads CALLWRIGHT_* variables; unset ones keep their defaults."""
        env = os.environ if env is None else env
        base = cls()
        llm = None
        if env.get("CALLWRIGHT_LLM_BASE_URL"):
            llm = LlmSettings(
                base_url=env["CALLWRIGHT_LLM_BASE_URL"],
                model=env.get("CALLWRIGHT_LLM_MODEL", "default"),
                api_key=env.get("CALLWRIGHT_LLM_API_KEY"),
            )
        turns = base.turns
        if env.get("CALLWRIGHT_END_OF_TURN_MS"):
            turns = replace(turns, end_of_turn_ms=float(env["CALLWRIGHT_END_OF_TURN_MS"]))
        window = env.get("CALLWRIGHT_STT_WINDOW", base.stt.window)
        if window not in ("speech", "full"):
            raise ValueError("CALLWRIGHT_STT_WINDOW must be 'speech' or 'full'")
        tts = env.get("CALLWRIGHT_TTS", base.tts)
        if tts not in ("piper", "espeak"):
            raise ValueError("CALLWRIGHT_TTS must be 'piper' or 'espeak'")
        date_order = env.get("CALLWRIGHT_DATE_ORDER", base.date_order)
        if date_order not in ("mdy", "dmy"):
            raise ValueError("CALLWRIGHT_DATE_ORDER must be 'mdy' or 'dmy'")
        return cls(
            host=env.get("CALLWRIGHT_HOST", base.host),
            port=int(env.get("CALLWRIGHT_PORT", base.port)),
            data_dir=Path(env.get("CALLWRIGHT_DATA_DIR", str(base.data_dir))),
            stt=SttSettings(
                model=env.get("CALLWRIGHT_STT_MODEL", base.stt.model),
                window=window,  # type: ignore[arg-type]
            ),
            tts=tts,  # type: ignore[arg-type]
            llm=llm,
            turns=turns,
            patience=_patience(env, turns),
            log_level=env.get("CALLWRIGHT_LOG_LEVEL", base.log_level),
            telephony=TelephonySettings.from_env(env),
            degradation=DegradationSettings.from_env(env),
            date_order=date_order,  # type: ignore[arg-type]
            limits=LimitSettings.from_env(env),
            drain=DrainSettings.from_env(env),
            worker=WorkerSettings.from_env(env),
            security=SecuritySettings.from_env(env),
        )


def _patience(env: Mapping[str, str], turns: TurnOptions) -> PatienceOptions:
    """Semantic endpointing is on unless CALLWRIGHT_SEMANTIC_ENDPOINTING=0 (VAD silence only)."""
    if env.get("CALLWRIGHT_SEMANTIC_ENDPOINTING", "1") not in ("0", "false", "off"):
        return PatienceOptions()
    fixed = turns.end_of_turn_ms
    return PatienceOptions(fixed, fixed, fixed, per_resume_ms=0.0, max_ms=fixed)
