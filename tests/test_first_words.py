"""The first words of a streamed reply that the head start synthesizes on their own: whole
words that can end a spoken clause, never a number or a word that needs the next one."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest

from callwright.agent.first_words import (
    INITIAL_PACE,
    VoicePace,
    first_words,
    rest_after,
    trim_trailing_silence,
)
from callwright.agent.stack import AgentStack, SpokenLanguage
from callwright.tts.normalize import SpeechNormalizer


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("Your order 4711", "Your order"),  # "order" is whole: a space came after it
        ("Your order", None),  # "order" may still grow ("orders")
        ("Sure", None),
        ("We close at six", "We close"),
        ("The parcel left", "The parcel"),
        ("I can check that", "I can check"),  # not after "I" or "can"
        ("Let me look that up", "Let me look"),
        ("It is at 3 p.m. today", None),  # "3" binds to "p.m.", "p.m." is no word end
        ("It is at 3 p.m. today and", "It is at 3 p.m. today"),
        ("Ok. Yes ", None),  # shorter than 8 characters
        ("Hello there, how are", "Hello there,"),  # a clause mark may end them
        ("**Your order** is ", "Your order"),  # as spoken: markdown removed
        ("Su pedido salió ayer", "Su pedido"),  # Spanish: not after "su"
        ("Lo siento mucho", "Lo siento"),
    ],
)
def test_first_words(written: str, expected: str | None) -> None:
    assert first_words(written) == expected


def test_the_rest_of_a_piece_after_its_first_words() -> None:
    assert rest_after("Your order left our warehouse", "Your order") == "left our warehouse"
    assert rest_after("Your order", "Your order") == ""
    assert rest_after("Your orders left", "Your order") is None  # not a whole word
    assert rest_after("Our order left", "Your order") is None


def test_the_first_words_keep_a_comma_of_the_silence_after_them() -> None:
    speech = np.full(300, 2000, dtype=np.int16)
    clip = np.concatenate([np.zeros(50, np.int16), speech, np.full(900, 3, np.int16)])
    # 1 kHz: 100 ms are 100 samples of the 900 of near-silence at the end.
    assert trim_trailing_silence(clip, 1000, keep_ms=100.0).size == 50 + 300 + 100
    quiet = np.zeros(500, np.int16)
    assert trim_trailing_silence(quiet, 1000).size == 500


def test_the_first_words_go_out_alone_only_while_the_voice_is_fast() -> None:
    pace = VoicePace()
    assert pace.pace == INITIAL_PACE and pace.allows_split(max_pace=0.2)
    pace.note(spent_s=0.05, audio_s=1.0)  # the first measure replaces the assumption
    assert pace.pace == pytest.approx(0.05) and pace.allows_split(max_pace=0.1)
    for _ in range(10):  # the machine got loaded: synthesis takes as long as the audio
        pace.note(spent_s=1.0, audio_s=1.0)
    assert not pace.allows_split(max_pace=0.1)
    pace.note(spent_s=1.0, audio_s=0.0)  # no audio: nothing measured
    assert 0.9 < pace.pace <= 1.0


def test_every_call_speaking_with_a_voice_shares_its_pace() -> None:
    none = cast(Any, None)
    voice, spanish = cast(Any, SimpleNamespace(name="main")), cast(Any, SimpleNamespace())
    other = SpokenLanguage(spanish, SpeechNormalizer(language="es"))
    stack = AgentStack(none, none, voice, none, none, languages={"es": other})
    # The main voice's pace is one object whatever language asks for it; another voice has
    # its own (one slow voice does not stop the other's split).
    assert stack.spoken("en").pace is stack.pace is stack.spoken("fr").pace
    assert stack.spoken("es").pace is other.pace and other.pace is not stack.pace
    # A campaign's agent on the served stack speaks with the same voice, and shares its pace.
    assert dataclasses.replace(stack, language="en").pace is stack.pace
