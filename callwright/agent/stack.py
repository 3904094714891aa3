"""The shared, loaded stages a call session is wired from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from callwright.agent.echo import EchoKind
from callwright.agent.first_words import VoicePace
from callwright.agent.limits import CallLimits
from callwright.agent.session_lines import SessionLines
from callwright.agent.silence import FillerOptions, SilenceOptions
from callwright.campaigns.machine import MachineListening
from callwright.compliance.disclosure import DisclosureOptions
from callwright.compliance.optout import OptOutOptions
from callwright.core.responder import ResponderFactory
from callwright.handoff.desk import Desk, HandoffDesk
from callwright.handoff.options import HandoffOptions
from callwright.handoff.packet import PacketSummarizer
from callwright.handoff.triggers import EscalationOptions
from callwright.observe.observer import Observability
from callwright.store.base import CallStore
from callwright.stt.base import SpeechToText
from callwright.tts.base import TextToSpeech
from callwright.tts.normalize import SpeechNormalizer
from callwright.turns.endpointer import TurnOptions
from callwright.turns.semantic import PatienceOptions
from callwright.vad.base import VoiceActivityModel


@dataclass(frozen=True, slots=True)
class SpokenLanguage:
    """How the agent speaks one of its other languages: its voice, its normalisation, and
    how fast the voice synthesizes now (shared by every call that speaks with it)."""

    tts: TextToSpeech
    speech: SpeechNormalizer
    pace: VoicePace = field(default_factory=VoicePace)


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
    # While overlapping speech is judged the agent plays on at this volume (-24 dB): it yields
    # at once, with no gap for a backchannel. The first words are looked at this long into the
    # overlap, and anything but a backchannel stops the agent then.
    duck_gain: float = 0.06
    quick_look_ms: float = 200.0
    silence: SilenceOptions = field(default_factory=SilenceOptions)
    filler: FillerOptions = field(default_factory=FillerOptions)
    # When a call goes to a person (triggers), how (routing, queue), and the shared queue.
    escalation: EscalationOptions = field(default_factory=EscalationOptions)
    # Callers who ask not to be called again (compliance/optout.py): on for every agent.
    opt_out: OptOutOptions = field(default_factory=OptOutOptions)
    # What phone calls open with: the disclosure and, where needed, recording consent.
    disclosure: DisclosureOptions = field(default_factory=DisclosureOptions)
    # Outbound calls: listen first, tell a person from an answering machine, leave voicemail.
    machine: MachineListening = field(default_factory=MachineListening)
    handoff: HandoffOptions = field(default_factory=HandoffOptions)
    desk: Desk = field(default_factory=HandoffDesk)  # PostgresDesk with the PostgreSQL store
    summarizer: PacketSummarizer | None = None  # an LLM improving handoff summaries
    # Integration events (webhooks) that are not the responder's: handoffs, callbacks.
    events: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None
    # Metrics, traces, recordings, redaction and usage (per server, never process-global).
    observability: Observability = field(default_factory=Observability)
    # What every reply's text goes through before TTS (rules and the pronunciation lexicon).
    speech: SpeechNormalizer = field(default_factory=SpeechNormalizer)
    # How fast `tts` synthesizes now, measured across calls (the head start's split).
    pace: VoicePace = field(default_factory=VoicePace)
    # Wall-clock limits of one call: maximum length, idle timeout, real-time pacing.
    limits: CallLimits = field(default_factory=CallLimits)
    # Which canceller removes the agent's voice coming back from a speakerphone (agent/echo.py).
    echo_canceller: EchoKind = "webrtc"
    # The agent's main language (spoken by `tts` and `speech`) and its others, which a call
    # switches to when the caller speaks them (the recognizer must detect languages).
    language: str = "en"
    languages: Mapping[str, SpokenLanguage] = field(default_factory=dict)
    # The session's own lines by language (`Agent.session_lines`, `Language.session_lines`).
    session_lines: Mapping[str, SessionLines] = field(default_factory=dict)

    def spoken(self, language: str) -> SpokenLanguage:
        """The voice and normalisation of `language` (the main ones for any other)."""
        return self.languages.get(language) or SpokenLanguage(self.tts, self.speech, self.pace)

    def lines(self, language: str) -> SessionLines:
        """What the session says in `language`: the agent's set for it, else the main
        language's set, else the lines of the options above (English unless configured)."""
        found = self.session_lines.get(language) or self.session_lines.get(self.language)
        if found is not None:
            return found
        return SessionLines.of(
            self.disclosure, self.silence, self.filler, self.limits, self.opt_out, self.handoff
        )
