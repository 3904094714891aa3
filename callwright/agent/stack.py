"""The shared, loaded stages a call session is wired from."""

from __future__ import annotations

from dataclasses import dataclass, field

from callwright.agent.silence import FillerOptions, SilenceOptions
from callwright.llm.base import ResponderFactory
from callwright.observe.observer import Observability
from callwright.store.base import CallStore
from callwright.stt.base import SpeechToText
from callwright.tts.base import TextToSpeech
from callwright.turns.endpointer import TurnOptions
from callwright.turns.semantic import PatienceOptions
from callwright.vad.base import VoiceActivityModel


@dataclass(frozen=True, slots=True)
class AgentStack:
    """Models and services loaded once per process and shared by every call."""

    vad: VoiceActivityModel
    stt: SpeechToText
    tts: TextToSpeech
    responders: ResponderFactory
    store: CallStore
    turns: TurnOptions = field(default_factory=TurnOptions)
    patience: PatienceOptions = field(default_factory=PatienceOptions)
    # Caller speech this long turns a pause into a real interruption without waiting for the
    # words; backchannels ("uh-huh", "okay, sure") are shorter, and shorter interruptions are
    # decided by their transcript.
    barge_in_confirm_ms: float = 1200.0
    silence: SilenceOptions = field(default_factory=SilenceOptions)
    filler: FillerOptions = field(default_factory=FillerOptions)
    # Metrics, traces, recordings, redaction and usage (per server, never process-global).
    observability: Observability = field(default_factory=Observability)
