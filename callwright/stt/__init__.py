"""Speech to text."""

from callwright.stt.base import SpeechToText, Transcript

__all__ = ["SpeechToText", "Transcript"]
