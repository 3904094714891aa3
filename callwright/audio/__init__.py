"""Audio core: frames, resampling, G.711 µ-law, WAV helpers."""

from callwright.audio.frame import AudioFrame

__all__ = ["AudioFrame"]
