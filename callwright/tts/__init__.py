"""Text to speech."""

from callwright.tts.base import TextToSpeech, TtsError

__all__ = ["TextToSpeech", "TtsError"]
