"""Speech normalisation: what a voice reads, from what a reply wrote."""

from callwright.tts.normalize.lexicon import PronunciationLexicon
from callwright.tts.normalize.normalizer import SpeechNormalizer, accepts_ssml
from callwright.tts.normalize.ssml import is_ssml, strip_ssml

__all__ = ["PronunciationLexicon", "SpeechNormalizer", "accepts_ssml", "is_ssml", "strip_ssml"]
