"""Voice activity detection: is the caller speaking in this window of audio?"""

from callwright.vad.base import VadStream, VadWindow, VoiceActivityModel

__all__ = ["VadStream", "VadWindow", "VoiceActivityModel"]
