"""Typed settings, read once from the environment and the command line.

Each stage gets its own options object; nothing reaches into a global.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

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
        )


def _patience(env: Mapping[str, str], turns: TurnOptions) -> PatienceOptions:
    """Semantic endpointing is on unless CALLWRIGHT_SEMANTIC_ENDPOINTING=0 (VAD silence only)."""
    if env.get("CALLWRIGHT_SEMANTIC_ENDPOINTING", "1") not in ("0", "false", "off"):
        return PatienceOptions()
    fixed = turns.end_of_turn_ms
    return PatienceOptions(fixed, fixed, fixed, per_resume_ms=0.0, max_ms=fixed)
