"""The per-turn latency timeline.

Every mark is a time on the call's audio timeline, in milliseconds: caller audio time for the
speech marks, and the audio clock at the moment it happened for the processing marks. So
`first_audio_sent_ms - speech_end_ms` is time-to-first-audio as the caller experiences it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

STAGE_MARKS = (
    "speech_start_ms",
    "speech_end_ms",
    "end_of_turn_ms",
    "transcript_ready_ms",
    "first_token_ms",
    "first_sentence_ms",
    "tts_first_audio_ms",
    "first_audio_sent_ms",
)


@dataclass(slots=True)
class TurnTimeline:
    """When each stage of one turn happened (None: did not happen)."""

    turn_index: int
    speech_start_ms: float | None = None
    speech_end_ms: float | None = None
    end_of_turn_ms: float | None = None
    transcript_ready_ms: float | None = None
    first_token_ms: float | None = None
    first_sentence_ms: float | None = None
    tts_first_audio_ms: float | None = None
    first_audio_sent_ms: float | None = None
    stt_compute_ms: float | None = None
    speculative_hit: bool | None = None
    interrupted: bool = False

    def mark(self, name: str, at_ms: float) -> None:
        """Sets a mark once; later marks of the same name are ignored."""
        if getattr(self, name) is None:
            setattr(self, name, round(at_ms, 1))

    @property
    def ttfa_ms(self) -> float | None:
        """Caller's last speech sample to the agent's first audible sample on the wire.

        `speech_end_ms` is the last 10 ms block of speech near the VAD's end
        (`CallerAudio.last_speech_ms`); `first_audio_sent_ms` the first sample above the
        silence floor the playout sent, not its first (possibly silent) frame.
        """
        if self.speech_end_ms is None or self.first_audio_sent_ms is None:
            return None
        return round(self.first_audio_sent_ms - self.speech_end_ms, 1)

    def breakdown(self) -> dict[str, float | None]:
        """Duration of each stage from the previous mark that happened."""
        out: dict[str, float | None] = {}
        previous = self.speech_end_ms
        for name in STAGE_MARKS[2:]:
            value = getattr(self, name)
            stage = name.removesuffix("_ms")
            out[stage] = None if value is None or previous is None else round(value - previous, 1)
            if value is not None:
                previous = value
        return out

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["ttfa_ms"] = self.ttfa_ms
        return data

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def log_line(self) -> str:
        stages = " ".join(f"{k}={v}" for k, v in self.breakdown().items() if v is not None)
        return f"turn={self.turn_index} ttfa_ms={self.ttfa_ms} {stages}"
